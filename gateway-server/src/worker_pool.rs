//! The worker pool: a fixed set of threads fed by a bounded crossbeam
//! channel. Nothing here knows about HTTP: a job is a value, each thread has
//! a state it reuses between jobs, and closing the channel stops the pool.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

/// Threads that run jobs of type `J`.
#[derive(Debug)]
pub(crate) struct WorkerPool<J> {
    sender: Option<Sender<J>>,
    threads: Vec<JoinHandle<()>>,
}

impl<J: Send + 'static> WorkerPool<J> {
    /// Start `workers` threads with a queue of at most `queue` waiting jobs.
    /// Each thread makes its state with `make_state` and runs `run` per job.
    pub(crate) fn start<S, M, R>(
        workers: usize,
        queue: usize,
        make_state: M,
        run: R,
    ) -> std::io::Result<WorkerPool<J>>
    where
        M: Fn() -> S + Send + Sync + 'static,
        R: Fn(J, &mut S) + Send + Sync + 'static,
    {
        let (sender, receiver) = crossbeam_channel::bounded::<J>(queue.max(1));
        let make_state = Arc::new(make_state);
        let run = Arc::new(run);
        let mut threads = Vec::with_capacity(workers);
        for n in 0..workers.max(1) {
            let receiver = receiver.clone();
            let (make_state, run) = (Arc::clone(&make_state), Arc::clone(&run));
            let thread = std::thread::Builder::new()
                .name(format!("gateway-worker-{n}"))
                .spawn(move || {
                    let mut state = make_state();
                    for job in receiver.iter() {
                        // Last line of defence: a bug in the server must not
                        // shrink the pool. (Application panics never get here.)
                        if catch_unwind(AssertUnwindSafe(|| run(job, &mut state))).is_err() {
                            log::error!("a worker recovered from a panic in the server; the connection was dropped");
                            state = make_state();
                        }
                    }
                })?;
            threads.push(thread);
        }
        Ok(WorkerPool {
            sender: Some(sender),
            threads,
        })
    }

    /// Queue a job; when the queue is full the job comes back.
    pub(crate) fn try_dispatch(&self, job: J) -> Result<(), J> {
        match &self.sender {
            Some(sender) => sender.try_send(job).map_err(|err| match err {
                TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
            }),
            None => Err(job),
        }
    }

    /// Jobs waiting for a thread.
    pub(crate) fn queued(&self) -> usize {
        self.sender.as_ref().map_or(0, Sender::len)
    }

    /// Stop taking jobs, let queued ones finish, and join the threads,
    /// waiting at most until `deadline`. Returns how many threads were still
    /// busy then (they are left to finish on their own).
    pub(crate) fn stop(mut self, deadline: Instant) -> usize {
        self.sender = None;
        let mut stuck = 0;
        for thread in self.threads.drain(..) {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                stuck += 1;
            }
        }
        stuck
    }
}
