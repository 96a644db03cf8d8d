//! The worker pool: a fixed set of threads fed by a bounded crossbeam
//! channel. Nothing here knows about HTTP: a job is a value, each thread has
//! a state it reuses between jobs, and stopping (or dropping) the pool lets
//! the queued jobs finish, then ends the threads.
//!
//! Why the pool parks its own idle threads instead of blocking in
//! `Receiver::recv`: a blocking receive spins and calls `sched_yield` before
//! it sleeps, and sleeping receivers are woken one per job. With the server
//! pinned to one core that meant a thread switch for most requests (0.41
//! `sched_yield` and 0.59 context switches per request in the bench profile
//! before this design; 0 and 0.21 after). Here
//! the channel is only the queue (`try_send`/`try_recv`), an idle thread
//! sleeps at once, and a sleeping thread is woken only when no other thread
//! is already on its way to the queue: a thread that finds work behind the
//! job it took wakes the next one, so a burst spreads over as many threads as
//! it needs, and a steady stream is served by the threads already awake.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

/// Threads that run jobs of type `J`.
#[derive(Debug)]
pub(crate) struct WorkerPool<J> {
    sender: Option<Sender<J>>,
    idle: Arc<IdleThreads>,
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
        let idle = Arc::new(IdleThreads::default());
        let make_state = Arc::new(make_state);
        let run = Arc::new(run);
        let mut threads = Vec::with_capacity(workers);
        for n in 0..workers.max(1) {
            let worker = Worker {
                receiver: receiver.clone(),
                idle: Arc::clone(&idle),
                searching: false,
            };
            let (make_state, run) = (Arc::clone(&make_state), Arc::clone(&run));
            let thread = std::thread::Builder::new()
                .name(format!("gateway-worker-{n}"))
                .spawn(move || worker.run(&*make_state, &*run))?;
            threads.push(thread);
        }
        Ok(WorkerPool {
            sender: Some(sender),
            idle,
            threads,
        })
    }

    /// Queue a job and see that a thread comes for it; when the queue is
    /// full the job comes back.
    #[cfg(test)]
    pub(crate) fn try_dispatch(&self, job: J) -> Result<(), J> {
        self.try_queue(job)?;
        self.wake_for_queued();
        Ok(())
    }

    /// Queue a job without waking a thread: the caller has more to queue
    /// and calls [`wake_for_queued`](Self::wake_for_queued) after the last.
    /// When the queue is full the job comes back.
    ///
    /// Why wait: with the server on one core, a thread woken for the first
    /// job of a batch can take the core from the poller at once, serve that
    /// one job and sleep again, once per job. Woken after the batch, it
    /// finds them all (`Connection: close` at 16 connections: 1.78-1.80 ->
    /// 1.62-1.70 context switches per request).
    pub(crate) fn try_queue(&self, job: J) -> Result<(), J> {
        let Some(sender) = &self.sender else {
            return Err(job);
        };
        sender.try_send(job).map_err(|err| match err {
            TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
        })
    }

    /// Wake a sleeping thread if jobs wait and no thread is on its way.
    pub(crate) fn wake_for_queued(&self) {
        // Pairs with the fences in `Worker::found_job` and
        // `IdleThreads::sleep_while_empty`: either the searching thread sees
        // the queued jobs, or this sees it no longer searching.
        fence(Ordering::SeqCst);
        if self.queued() > 0 {
            self.idle.wake_one_unless_searching();
        }
    }

    /// How many more jobs the queue takes now.
    pub(crate) fn room(&self) -> usize {
        self.sender.as_ref().map_or(0, |sender| {
            let capacity = sender.capacity().unwrap_or(usize::MAX);
            capacity.saturating_sub(sender.len())
        })
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
        self.idle.wake_all_to_stop();
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

impl<J> Drop for WorkerPool<J> {
    /// A pool dropped without `stop` (the poller failed, or a thread could
    /// not be started) must not leave threads asleep forever.
    fn drop(&mut self) {
        self.sender = None;
        self.idle.wake_all_to_stop();
    }
}

/// One thread's loop: take a job if there is one, else sleep until woken.
struct Worker<J> {
    receiver: Receiver<J>,
    idle: Arc<IdleThreads>,
    /// Woken and not yet holding a job (counted in `IdleThreads::searching`).
    searching: bool,
}

impl<J> Worker<J> {
    fn run<S>(mut self, make_state: &dyn Fn() -> S, run: &dyn Fn(J, &mut S)) {
        let mut state = make_state();
        loop {
            match self.receiver.try_recv() {
                Ok(job) => {
                    self.found_job();
                    // Last line of defence: a bug in the server must not
                    // shrink the pool. (Application panics never get here.)
                    if catch_unwind(AssertUnwindSafe(|| run(job, &mut state))).is_err() {
                        log::error!("a worker recovered from a panic in the server and carries on; its job was abandoned");
                        state = make_state();
                    }
                }
                Err(TryRecvError::Empty) => {
                    self.stop_searching();
                    if !self.idle.sleep_while_empty(&self.receiver) {
                        return;
                    }
                    self.searching = true;
                }
                Err(TryRecvError::Disconnected) => {
                    self.stop_searching();
                    return;
                }
            }
        }
    }

    /// This thread is about to be busy: if more jobs wait and no other
    /// thread is coming for them, wake one, so a slow job never holds up the
    /// ones queued behind it.
    fn found_job(&mut self) {
        if self.stop_searching() {
            fence(Ordering::SeqCst);
            if !self.receiver.is_empty() {
                self.idle.wake_one_unless_searching();
            }
        }
    }

    /// Returns whether this thread was searching.
    fn stop_searching(&mut self) -> bool {
        let was = std::mem::take(&mut self.searching);
        if was {
            self.idle.searching.fetch_sub(1, Ordering::SeqCst);
        }
        was
    }
}

/// Where idle threads sleep, and how many woken ones have not found a job yet.
#[derive(Debug, Default)]
struct IdleThreads {
    sleep: Mutex<Sleepers>,
    wake: Condvar,
    searching: AtomicUsize,
}

#[derive(Debug, Default)]
struct Sleepers {
    asleep: usize,
    /// Wake-ups granted and not yet taken by a sleeping thread.
    permits: usize,
    stopping: bool,
}

impl IdleThreads {
    /// Wake a sleeping thread, unless one woken earlier is still on its way
    /// to the queue (it will take the job, or wake the next thread).
    fn wake_one_unless_searching(&self) {
        if self.searching.load(Ordering::SeqCst) > 0 {
            return;
        }
        let mut sleepers = self.lock();
        if sleepers.asleep > sleepers.permits {
            sleepers.permits += 1;
            self.searching.fetch_add(1, Ordering::SeqCst);
            self.wake.notify_one();
        }
    }

    /// Sleep until woken, unless a job arrived since the queue was found
    /// empty. Returns false when the pool is stopping.
    fn sleep_while_empty<J>(&self, receiver: &Receiver<J>) -> bool {
        // Pairs with the fence in `wake_for_queued`, for senders that saw a
        // searching thread and so never take the lock.
        fence(Ordering::SeqCst);
        let mut sleepers = self.lock();
        // Checked under the lock a waker takes: a job sent before this
        // check is seen here; a sender that found no thread searching takes
        // the lock after it, and finds this thread asleep.
        if !receiver.is_empty() {
            // Whoever sent it may have counted on this thread: search.
            self.searching.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        if sleepers.stopping {
            return false;
        }
        sleepers.asleep += 1;
        while sleepers.permits == 0 && !sleepers.stopping {
            sleepers = self
                .wake
                .wait(sleepers)
                .unwrap_or_else(PoisonError::into_inner);
        }
        sleepers.asleep -= 1;
        if sleepers.permits > 0 {
            sleepers.permits -= 1;
            return true;
        }
        // Stopping: go back for whatever is still queued, then exit.
        self.searching.fetch_add(1, Ordering::SeqCst);
        true
    }

    fn wake_all_to_stop(&self) {
        self.lock().stopping = true;
        self.wake.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sleepers> {
        // No code under this lock can panic, but a poisoned lock must not
        // stop the pool either.
        self.sleep.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn pool_reporting_to(
        workers: usize,
        queue: usize,
    ) -> (WorkerPool<u32>, mpsc::Receiver<(u32, String)>) {
        let (done, results) = mpsc::channel();
        let done = Mutex::new(done);
        let pool = WorkerPool::start(
            workers,
            queue,
            || (),
            move |job: u32, _state: &mut ()| {
                if job % 7 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let name = std::thread::current().name().unwrap_or("").to_owned();
                let _ = done.lock().map(|done| done.send((job, name)));
            },
        )
        .expect("threads start");
        (pool, results)
    }

    fn dispatch_all(pool: &WorkerPool<u32>, jobs: std::ops::Range<u32>) {
        for job in jobs {
            let mut job = job;
            // A full queue hands the job back; the test retries, as a
            // client would after a 503.
            for _ in 0..10_000 {
                match pool.try_dispatch(job) {
                    Ok(()) => break,
                    Err(back) => {
                        job = back;
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
            }
        }
    }

    #[test]
    fn every_job_runs_exactly_once_through_bursts_and_lulls() {
        let (pool, results) = pool_reporting_to(4, 8);
        let mut seen = std::collections::BTreeSet::new();
        for burst in 0..50u32 {
            let jobs = burst * 20..burst * 20 + 20;
            dispatch_all(&pool, jobs.clone());
            for _ in jobs {
                // A lost wake-up would leave a job in the queue with every
                // thread asleep: this wait would then run out.
                let (job, _) = results
                    .recv_timeout(Duration::from_secs(10))
                    .expect("a queued job is picked up");
                assert!(seen.insert(job), "job {job} ran twice");
            }
            if burst % 5 == 0 {
                std::thread::sleep(Duration::from_millis(2)); // let all sleep
            }
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(pool.stop(Instant::now() + Duration::from_secs(5)), 0);
    }

    #[test]
    fn one_wake_after_a_batch_gets_every_job_of_it_run() {
        let (pool, results) = pool_reporting_to(4, 64);
        for round in 0..20u32 {
            // What the poller does with one readiness batch.
            for job in round * 30..round * 30 + 30 {
                assert!(pool.try_queue(job).is_ok(), "the queue has room");
            }
            pool.wake_for_queued();
            let mut ran: Vec<u32> = (0..30)
                .map(|_| results.recv_timeout(Duration::from_secs(10)))
                .map(|result| result.expect("a queued job is picked up").0)
                .collect();
            ran.sort_unstable();
            assert_eq!(ran, (round * 30..round * 30 + 30).collect::<Vec<_>>());
        }
        assert_eq!(pool.stop(Instant::now() + Duration::from_secs(5)), 0);
    }

    #[test]
    fn a_slow_job_does_not_hold_up_the_jobs_behind_it() {
        let (release, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let (done, results) = mpsc::channel();
        let done = Mutex::new(done);
        let pool = WorkerPool::start(
            2,
            8,
            || (),
            move |job: u32, _state: &mut ()| {
                if job == 0 {
                    let _ = gate
                        .lock()
                        .map(|gate| gate.recv_timeout(Duration::from_secs(10)));
                }
                let _ = done.lock().map(|done| done.send(job));
            },
        )
        .expect("threads start");
        dispatch_all(&pool, 0..3);
        // Job 0 blocks its thread; the other thread must be woken for 1, 2.
        let mut quick: Vec<u32> = (0..2)
            .map(|_| results.recv_timeout(Duration::from_secs(10)))
            .collect::<Result<_, _>>()
            .expect("jobs behind a blocked one still run");
        quick.sort_unstable();
        assert_eq!(quick, vec![1, 2]);
        let _ = release.send(());
        assert_eq!(results.recv_timeout(Duration::from_secs(10)), Ok(0));
        assert_eq!(pool.stop(Instant::now() + Duration::from_secs(5)), 0);
    }

    #[test]
    fn stopping_finishes_queued_jobs_and_joins_every_thread() {
        let (pool, results) = pool_reporting_to(3, 64);
        dispatch_all(&pool, 0..40);
        assert_eq!(pool.stop(Instant::now() + Duration::from_secs(5)), 0);
        let mut ran: Vec<u32> = results.try_iter().map(|(job, _)| job).collect();
        ran.sort_unstable();
        assert_eq!(ran, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn dropping_the_pool_ends_its_sleeping_threads() {
        // Each thread's state says goodbye when its thread ends.
        struct Goodbye(mpsc::Sender<()>);
        impl Drop for Goodbye {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let (said, goodbyes) = mpsc::channel();
        let said = Mutex::new(said);
        let pool = WorkerPool::start(
            3,
            4,
            move || Goodbye(said.lock().map(|s| s.clone()).expect("lock")),
            |_job: u32, _state: &mut Goodbye| {},
        )
        .expect("threads start");
        dispatch_all(&pool, 0..5);
        drop(pool);
        for _ in 0..3 {
            goodbyes
                .recv_timeout(Duration::from_secs(10))
                .expect("every thread ends once its pool is dropped");
        }
    }

    #[test]
    fn a_full_queue_hands_the_job_back() {
        let (release, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let pool = WorkerPool::start(
            1,
            1,
            || (),
            move |_job: u32, _state: &mut ()| {
                let _ = gate
                    .lock()
                    .map(|gate| gate.recv_timeout(Duration::from_secs(10)));
            },
        )
        .expect("threads start");
        // The one thread takes a job and blocks; one more fits the queue.
        let mut refused = None;
        for job in 0..50 {
            if let Err(back) = pool.try_dispatch(job) {
                refused = Some(back);
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(refused.is_some(), "a one-slot queue must fill up");
        for _ in 0..3 {
            let _ = release.send(());
        }
        assert_eq!(pool.stop(Instant::now() + Duration::from_secs(10)), 0);
    }
}
