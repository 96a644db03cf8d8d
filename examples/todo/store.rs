//! The todos themselves: kept in memory, in id order, behind one lock.
//!
//! Every change is checked before the lock is taken (a [`Title`] can only
//! be made from a non-empty title), so a refused request changes nothing:
//! not the list, and not the next id either.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;

/// One todo, as the JSON API shows it: `{"id": 1, "title": "...", "done": false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Todo {
    pub(crate) id: i64,
    pub(crate) title: String,
    pub(crate) done: bool,
}

/// A title known to hold more than white space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Title(String);

impl Title {
    /// The title, trimmed; `None` when nothing is left.
    pub(crate) fn new(text: &str) -> Option<Title> {
        let text = text.trim();
        (!text.is_empty()).then(|| Title(text.to_owned()))
    }
}

/// What a PATCH may change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub(crate) struct Change {
    pub(crate) title: Option<Title>,
    pub(crate) done: Option<bool>,
}

/// The list and the id the next todo gets. A `BTreeMap` keeps the ids in
/// order, which is the order `GET /api/todos` promises.
#[derive(Debug)]
struct Todos {
    next_id: i64,
    items: BTreeMap<i64, Todo>,
}

/// The app's state, shared by every request (`App::with_state`).
#[derive(Debug)]
pub(crate) struct Store(Mutex<Todos>);

impl Default for Store {
    fn default() -> Store {
        Store(Mutex::new(Todos {
            next_id: 1,
            items: BTreeMap::new(),
        }))
    }
}

impl Store {
    /// Every todo, in id order.
    pub(crate) fn list(&self) -> Vec<Todo> {
        self.todos().items.values().cloned().collect()
    }

    /// The todo `id`, if there is one.
    pub(crate) fn get(&self, id: i64) -> Option<Todo> {
        self.todos().items.get(&id).cloned()
    }

    /// Add a todo with the next id.
    pub(crate) fn add(&self, title: Title, done: bool) -> Todo {
        let mut todos = self.todos();
        let id = todos.next_id;
        todos.next_id += 1;
        let todo = Todo {
            id,
            title: title.0,
            done,
        };
        todos.items.insert(id, todo.clone());
        todo
    }

    /// Apply `change` to todo `id`; `None` if there is no such todo.
    pub(crate) fn update(&self, id: i64, change: Change) -> Option<Todo> {
        let mut todos = self.todos();
        let todo = todos.items.get_mut(&id)?;
        if let Some(title) = change.title {
            todo.title = title.0;
        }
        if let Some(done) = change.done {
            todo.done = done;
        }
        Some(todo.clone())
    }

    /// Remove todo `id`; whether there was one.
    pub(crate) fn remove(&self, id: i64) -> bool {
        self.todos().items.remove(&id).is_some()
    }

    fn todos(&self) -> MutexGuard<'_, Todos> {
        // A panic while the lock was held cannot have left a half-made
        // change: each change is one insert, assignment or removal. So a
        // poisoned lock is still good data, and the app keeps serving.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
