//! The todo application that the `todo` and `mount` examples serve: a JSON
//! API over an in-memory list, and an HTML page that uses it.
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | the page |
//! | `GET /api/todos` | every todo, in id order |
//! | `POST /api/todos` `{"title": ..}` | `201`, the new todo, `Location` |
//! | `GET /api/todos/<id>` | the todo |
//! | `PATCH /api/todos/<id>` `{"title"?: .., "done"?: ..}` | the changed todo |
//! | `DELETE /api/todos/<id>` | `204` |
//!
//! Errors are JSON too, `{"error": "..."}`: 404 for an unknown id, 400 for
//! a body that is not JSON, lacks a title or has an empty one, 415 for a
//! body that is not declared as JSON, 405 (with `Allow`) for a wrong method.
//!
//! Both examples include this file with `#[path]`: the `examples` library
//! is shared by others, and an example is one binary, so this is the way
//! for two binaries to share a module of their own.

mod store;
mod write_guard;

pub(crate) use write_guard::{guard_writes, token_from_args};

use mini_framework::{App, Html, HttpError, Json, Request};
use serde::Deserialize;
use serde_json::json;

use store::{Change, Store, Title, Todo};

/// The page; `{{api}}` is replaced by the URL of the list.
const PAGE: &str = include_str!("index.html");

/// The body of `POST /api/todos`. Unknown fields are refused so that a
/// typo (`"titel"`) is a 400 that names it, not a silent default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTodo {
    title: String,
    #[serde(default)]
    done: bool,
}

/// The body of `PATCH /api/todos/<id>`: any of the fields, or none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TodoChange {
    title: Option<String>,
    done: Option<bool>,
}

/// The routes, the shared list, and JSON error pages.
pub(crate) fn app() -> App {
    let mut app = App::new().with_state(Store::default());
    app.get("/", page);
    app.get("/api/todos", list).name("todos");
    app.post("/api/todos", create);
    app.get("/api/todos/<id:int>", show).name("todo");
    app.patch("/api/todos/<id:int>", update);
    app.delete("/api/todos/<id:int>", remove);
    // A client of a JSON API reads its errors as JSON too. The error keeps
    // its status and headers (Allow on a 405); only the page changes.
    for status in [400, 404, 405, 413, 415, 500] {
        app.error_handler(status, |_req: &Request, err: &HttpError| {
            Json(json!({ "error": err.public_message() }))
        });
    }
    app
}

/// The page, told where the API is. The URL comes from `url_for`, so it
/// carries SCRIPT_NAME: mounted under `/todo`, the page calls `/todo/api/todos`.
fn page(req: &Request) -> Result<Html<String>, HttpError> {
    let api = req.url_for("todos", &[])?;
    Ok(Html(PAGE.replace("{{api}}", &escape_attribute(&api))))
}

fn list(req: &Request) -> Result<Json<Vec<Todo>>, HttpError> {
    Ok(Json(req.state::<Store>()?.list()))
}

type Created = (u16, [(&'static str, String); 1], Json<Todo>);

fn create(req: &Request) -> Result<Created, HttpError> {
    let new: NewTodo = req.json()?;
    let title = title(&new.title)?;
    let todo = req.state::<Store>()?.add(title, new.done);
    let location = req.url_for("todo", &[("id", &todo.id)])?;
    Ok((201, [("Location", location)], Json(todo)))
}

fn show(req: &Request) -> Result<Json<Todo>, HttpError> {
    let id = req.param("id")?;
    req.state::<Store>()?
        .get(id)
        .map(Json)
        .ok_or_else(|| no_such_todo(id))
}

fn update(req: &Request) -> Result<Json<Todo>, HttpError> {
    let id = req.param("id")?;
    let change: TodoChange = req.json()?;
    let change = Change {
        title: change.title.as_deref().map(title).transpose()?,
        done: change.done,
    };
    req.state::<Store>()?
        .update(id, change)
        .map(Json)
        .ok_or_else(|| no_such_todo(id))
}

fn remove(req: &Request) -> Result<(), HttpError> {
    let id = req.param("id")?;
    let removed = req.state::<Store>()?.remove(id);
    removed.then_some(()).ok_or_else(|| no_such_todo(id))
}

fn title(text: &str) -> Result<Title, HttpError> {
    Title::new(text).ok_or_else(|| HttpError::new(400, "the title must not be empty"))
}

fn no_such_todo(id: i64) -> HttpError {
    HttpError::new(404, format!("there is no todo {id}"))
}

/// Text made safe inside a double-quoted HTML attribute: SCRIPT_NAME comes
/// from outside the app (a proxy's prefix), so it is never trusted as HTML.
fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
