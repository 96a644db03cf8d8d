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
//!
//! A thread that finds the queue empty first looks for more work itself
//! ([`WorkerPool::before_sleep`]: the server polls its connections there), and
//! queues what it finds for itself. It wakes another thread for that work
//! only while fewer threads are awake than the process has cores, or once a
//! job has waited on something (`job_blocking.rs`); otherwise the two
//! would only take turns on one core, a switch each time. The pool counts its awake threads
//! and their progress ([`Activity`]), so whoever fed the queue can stay out
//! of the way while they keep busy, and step in when they stall or all sleep.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::job_blocking;

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
        let idle = Arc::new(IdleThreads {
            cores: AtomicUsize::new(std::thread::available_parallelism().map_or(1, usize::from)),
            ..IdleThreads::default()
        });
        // Every thread starts awake, on its way to an empty queue.
        idle.activity.awake.store(workers.max(1), Ordering::SeqCst);
        let make_state = Arc::new(make_state);
        let run = Arc::new(run);
        let mut threads = Vec::with_capacity(workers);
        for n in 0..workers.max(1) {
            let worker = Worker {
                receiver: receiver.clone(),
                idle: Arc::clone(&idle),
                searching: false,
                switches: None,
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
    /// and calls [`wake_for_queued`](Self::wake_for_queued) after the last
    /// (or is a pool thread looking for work, which takes them itself).
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

    /// Give the threads something to do before they sleep, once: they call
    /// `look_for_work` when the queue is empty (it returns whether it queued
    /// anything), and `nobody_looking` when they stop looking: the last one
    /// to fall asleep, and one that leaves the looking to others (see
    /// `IdleThreads::look_for_work`).
    pub(crate) fn before_sleep(&self, before_sleep: BeforeSleep) {
        let _ = self.idle.before_sleep.set(before_sleep);
    }

    /// Behave as on a machine with `cores` cores.
    #[cfg(test)]
    fn pretend_cores(&self, cores: usize) {
        self.idle.cores.store(cores, Ordering::Relaxed);
    }

    /// What the threads are up to.
    pub(crate) fn activity(&self) -> Arc<Activity> {
        Arc::clone(&self.idle.activity)
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
    /// This thread's voluntary switches when last looked at (see
    /// `job_blocking.rs`), so a job that waited shows as a change.
    switches: Option<u64>,
}

impl<J> Worker<J> {
    fn run<S>(mut self, make_state: &dyn Fn() -> S, run: &dyn Fn(J, &mut S)) {
        let mut state = make_state();
        self.switches = job_blocking::voluntary_switches();
        loop {
            match self.receiver.try_recv() {
                Ok(job) => {
                    self.found_job();
                    let started = Instant::now();
                    // Last line of defence: a bug in the server must not
                    // shrink the pool. (Application panics never get here.)
                    if catch_unwind(AssertUnwindSafe(|| run(job, &mut state))).is_err() {
                        log::error!("a worker recovered from a panic in the server and carries on; its job was abandoned");
                        state = make_state();
                    }
                    self.finished_job(started.elapsed());
                }
                Err(TryRecvError::Empty) => {
                    self.stop_searching();
                    if self.idle.look_for_work() {
                        self.found_work();
                        continue;
                    }
                    if !self.idle.sleep_while_empty(&self.receiver) {
                        return;
                    }
                    self.searching = true;
                    // Sleeping was a voluntary switch too: start counting anew.
                    self.switches = job_blocking::voluntary_switches();
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
        self.idle.activity.progress.fetch_add(1, Ordering::Relaxed);
        if self.stop_searching() {
            fence(Ordering::SeqCst);
            if !self.receiver.is_empty() {
                self.idle.wake_one_unless_searching();
            }
        }
    }

    /// A job that waited on something (a database, a lock, a slow client)
    /// left the core idle, and the next may too: the jobs behind it get
    /// another thread rather than wait their turn on this one. A job that
    /// only computed wakes no one: on a busy core a woken thread would only
    /// take turns with this one.
    fn finished_job(&mut self, took: Duration) {
        if took >= MIGHT_HAVE_WAITED && !self.receiver.is_empty() && self.waited(took) {
            self.idle.wake_one_unless_searching();
        }
    }

    /// Whether this thread gave up the CPU of its own accord since it last
    /// looked (or, where that is not counted, the job took `SLOW_JOB`).
    fn waited(&mut self, took: Duration) -> bool {
        match job_blocking::voluntary_switches() {
            Some(now) => self.switches.replace(now).is_some_and(|then| now > then),
            None => took >= SLOW_JOB,
        }
    }

    /// Looking for work queued several jobs: wake a thread to share them
    /// while fewer threads are awake than the process has cores.
    fn found_work(&self) {
        let cores = self.idle.cores.load(Ordering::Relaxed);
        if self.receiver.len() > 1 && self.idle.activity.awake() < cores {
            self.idle.wake_one_unless_searching();
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

/// A job quicker than this is not asked whether it waited (asking is a
/// syscall): waiting and coming back takes longer than a keep-alive
/// request's whole cost (about 8 us here).
const MIGHT_HAVE_WAITED: Duration = Duration::from_micros(20);

/// Where a thread's waits are not counted, a job that ran this long is taken
/// to have waited. Far above a request's own cost (about 10 us, 30 us for 16
/// pipelined), far below a database round trip.
const SLOW_JOB: Duration = Duration::from_micros(100);

/// Where idle threads sleep, how many woken ones have not found a job yet,
/// and what a thread does before it sleeps.
#[derive(Debug, Default)]
struct IdleThreads {
    sleep: Mutex<Sleepers>,
    wake: Condvar,
    searching: AtomicUsize,
    activity: Arc<Activity>,
    before_sleep: OnceLock<BeforeSleep>,
    /// Cores this process may use, as `available_parallelism` says when the
    /// pool starts (CPU affinity, and a cgroup quota rounded down).
    cores: AtomicUsize,
}

/// What a thread does when the queue is empty, and whom the last thread to
/// fall asleep tells (see [`WorkerPool::before_sleep`]).
pub(crate) struct BeforeSleep {
    /// Queue more jobs if there are any; returns whether it queued one.
    pub(crate) look_for_work: Box<dyn Fn() -> bool + Send + Sync>,
    /// Threads stopped looking for work: every one is asleep, or one left
    /// it to the others while the rest are busy (maybe blocked) in jobs.
    /// Whoever looks otherwise should look now.
    pub(crate) nobody_looking: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for BeforeSleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BeforeSleep")
    }
}

/// How many threads are awake, and whether they got anywhere lately: what
/// the thread feeding the pool needs to know to leave them to it.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    /// Threads not asleep, counting those woken and not yet running.
    awake: AtomicUsize,
    /// Jobs started, wake-ups granted and looks for work, ever.
    progress: AtomicUsize,
    /// `progress` when [`progressed`](Self::progressed) last looked.
    seen: AtomicUsize,
}

impl Activity {
    /// Threads awake (busy, or about to look at the queue).
    pub(crate) fn awake(&self) -> usize {
        self.awake.load(Ordering::SeqCst)
    }

    /// Whether a thread started a job, was woken for one or looked for
    /// one since the last call. Meant for one caller, checking now and then:
    /// awake threads that did none of these are stuck in long jobs.
    pub(crate) fn progressed(&self) -> bool {
        let now = self.progress.load(Ordering::Relaxed);
        self.seen.swap(now, Ordering::Relaxed) != now
    }
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
            // Counted awake from now, not from when it runs: whoever woke
            // it must see at once that the pool has a thread on its way.
            self.activity.awake.fetch_add(1, Ordering::SeqCst);
            self.activity.progress.fetch_add(1, Ordering::Relaxed);
            self.wake.notify_one();
        }
    }

    /// The queue is empty: let the pool's owner find more work for this
    /// thread. Returns whether it queued any.
    fn look_for_work(&self) -> bool {
        let Some(before_sleep) = self.before_sleep.get() else {
            return false;
        };
        // More threads awake than cores: this one would only take turns
        // with the others, and a connection held by a thread waiting for
        // its turn waits too (tens of milliseconds with 32 threads on one
        // core). It sleeps instead. The others may all be blocked in jobs
        // (an application waiting on a database), so whoever looks when
        // the threads do not is told to.
        if self.activity.awake() > self.cores.load(Ordering::Relaxed) {
            (before_sleep.nobody_looking)();
            return false;
        }
        self.activity.progress.fetch_add(1, Ordering::Relaxed);
        // A bug there must not cost the pool a thread.
        catch_unwind(AssertUnwindSafe(|| (before_sleep.look_for_work)())).unwrap_or_else(|_| {
            log::error!("a worker recovered from a panic while looking for work");
            false
        })
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
        if self.activity.awake.fetch_sub(1, Ordering::SeqCst) == 1 {
            if let Some(before_sleep) = self.before_sleep.get() {
                (before_sleep.nobody_looking)();
            }
        }
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
        self.activity.awake.fetch_add(1, Ordering::SeqCst);
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
        pool_reporting_to_after(workers, queue, Work::Sleep(Duration::ZERO))
    }

    /// What each job does before it reports.
    #[derive(Clone, Copy)]
    enum Work {
        /// Wait, as on a database.
        Sleep(Duration),
        /// Compute, never giving up the CPU.
        Spin(Duration),
    }

    /// A pool whose jobs report which thread ran them, after `each` (and
    /// every seventh after a millisecond more).
    fn pool_reporting_to_after(
        workers: usize,
        queue: usize,
        each: Work,
    ) -> (WorkerPool<u32>, mpsc::Receiver<(u32, String)>) {
        let (done, results) = mpsc::channel();
        let done = Mutex::new(done);
        let pool = WorkerPool::start(
            workers,
            queue,
            || (),
            move |job: u32, _state: &mut ()| {
                match each {
                    Work::Sleep(time) => std::thread::sleep(time),
                    Work::Spin(time) => {
                        let started = Instant::now();
                        while started.elapsed() < time {
                            std::hint::spin_loop();
                        }
                    }
                }
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
    fn a_thread_looks_for_work_before_it_sleeps_and_the_last_one_says_so() {
        let (pool, results) = pool_reporting_to(2, 8);
        let pool = Arc::new(pool);
        // What the server's poll would find: three more jobs, once.
        let found = Arc::new(Mutex::new(vec![102u32, 101, 100]));
        let (weak, found_here) = (Arc::downgrade(&pool), Arc::clone(&found));
        let (asleep_tx, asleep) = mpsc::channel();
        let asleep_tx = Mutex::new(asleep_tx);
        pool.before_sleep(BeforeSleep {
            look_for_work: Box::new(move || {
                let (Some(pool), Ok(mut found)) = (weak.upgrade(), found_here.lock()) else {
                    return false;
                };
                let job = found.pop();
                job.is_some_and(|job| pool.try_queue(job).is_ok())
            }),
            nobody_looking: Box::new(move || {
                let _ = asleep_tx.lock().map(|tx| tx.send(()));
            }),
        });
        // One job dispatched; the rest only the looking finds, and no one
        // wakes a thread for them.
        dispatch_all(&pool, 0..1);
        let mut ran: Vec<u32> = (0..4)
            .map(|_| results.recv_timeout(Duration::from_secs(10)))
            .map(|result| result.expect("a found job is run").0)
            .collect();
        ran.sort_unstable();
        assert_eq!(ran, vec![0, 100, 101, 102]);
        asleep
            .recv_timeout(Duration::from_secs(10))
            .expect("the last thread to sleep says so");
        // (It may have said so first as the threads started: wait for more.)
        while pool.activity().awake() > 0 {
            asleep
                .recv_timeout(Duration::from_secs(10))
                .expect("the last thread to sleep says so");
        }
    }

    /// How many threads ran five jobs that one thread found at once by
    /// looking for work (and woke no one for), on `cores` pretend cores.
    fn threads_running_found_jobs(cores: usize, work: Work) -> usize {
        let (pool, results) = pool_reporting_to_after(2, 8, work);
        pool.pretend_cores(cores);
        let pool = Arc::new(pool);
        let found = Arc::new(Mutex::new(vec![104u32, 103, 102, 101, 100]));
        let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (weak, found_here, armed_here) = (
            Arc::downgrade(&pool),
            Arc::clone(&found),
            Arc::clone(&armed),
        );
        pool.before_sleep(BeforeSleep {
            look_for_work: Box::new(move || {
                let (Some(pool), Ok(mut found)) = (weak.upgrade(), found_here.lock()) else {
                    return false;
                };
                let mut queued = false;
                while armed_here.load(Ordering::SeqCst) {
                    let Some(job) = found.pop() else { break };
                    queued |= pool.try_queue(job).is_ok();
                }
                queued
            }),
            nobody_looking: Box::new(|| {}),
        });
        // Both threads asleep, then one woken: it alone finds the five.
        for _ in 0..10_000 {
            if pool.activity().awake() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        armed.store(true, Ordering::SeqCst);
        dispatch_all(&pool, 1..2);
        let ran: Vec<(u32, String)> = (0..6)
            .map(|_| results.recv_timeout(Duration::from_secs(10)))
            .collect::<Result<_, _>>()
            .expect("every job runs");
        let threads: std::collections::BTreeSet<&String> = ran
            .iter()
            .filter(|(job, _)| *job >= 100)
            .map(|(_, thread)| thread)
            .collect();
        threads.len()
    }

    #[test]
    fn jobs_found_behind_ones_that_wait_get_another_thread() {
        // One core, jobs that wait 5 ms each (as on a database): they must
        // not all wait their turn on the thread that found them.
        assert_eq!(
            threads_running_found_jobs(1, Work::Sleep(Duration::from_millis(5))),
            2
        );
    }

    #[test]
    fn jobs_found_that_only_compute_stay_on_a_busy_core() {
        // One core, jobs that compute for 1 ms each: a second thread could
        // only take turns with the first, a switch each time.
        assert_eq!(
            threads_running_found_jobs(1, Work::Spin(Duration::from_millis(1))),
            1
        );
    }

    #[test]
    fn jobs_found_while_a_core_is_idle_are_shared() {
        // Two cores, the same jobs: the second core takes some.
        assert_eq!(
            threads_running_found_jobs(2, Work::Spin(Duration::from_millis(1))),
            2
        );
    }

    #[test]
    fn a_thread_beyond_one_per_core_leaves_the_looking_to_others() {
        // One core, one thread blocked in a job: the other, done with its
        // own, must not look for work (it would only take turns with the
        // first) but say that nobody is looking, so the owner looks.
        let (release, gate) = mpsc::channel::<()>();
        let (gate, (started, job_started)) = (Mutex::new(gate), mpsc::channel::<u32>());
        let started = Mutex::new(started);
        let pool = WorkerPool::start(
            2,
            8,
            || (),
            move |job: u32, _state: &mut ()| {
                let _ = started.lock().map(|started| started.send(job));
                if job == 0 {
                    let _ = gate
                        .lock()
                        .map(|gate| gate.recv_timeout(Duration::from_secs(10)));
                }
            },
        )
        .expect("threads start");
        pool.pretend_cores(1);
        let looks = Arc::new(AtomicUsize::new(0));
        let (told_tx, told) = mpsc::channel();
        let (looks_here, told_tx) = (Arc::clone(&looks), Mutex::new(told_tx));
        pool.before_sleep(BeforeSleep {
            look_for_work: Box::new(move || {
                looks_here.fetch_add(1, Ordering::SeqCst);
                false
            }),
            nobody_looking: Box::new(move || {
                let _ = told_tx.lock().map(|tx| tx.send(()));
            }),
        });
        for _ in 0..10_000 {
            if pool.activity().awake() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        while told.try_recv().is_ok() {}
        let looked_before = looks.load(Ordering::SeqCst);
        dispatch_all(&pool, 0..1);
        assert_eq!(job_started.recv_timeout(Duration::from_secs(10)), Ok(0));
        dispatch_all(&pool, 1..2);
        assert_eq!(job_started.recv_timeout(Duration::from_secs(10)), Ok(1));
        told.recv_timeout(Duration::from_secs(10))
            .expect("the second thread says nobody is looking");
        assert_eq!(looks.load(Ordering::SeqCst), looked_before, "it looked");
        let _ = release.send(());
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
