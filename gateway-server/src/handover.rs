//! Stage 1b, the handover: the poller's thread runs a ready request itself
//! while the application answers quickly, and a standby thread takes the
//! poller over the moment a request holds it up.
//!
//! Why: handing every request to a worker costs a thread switch per batch
//! of requests, about 4 us of CPU each on one core, which is the whole gap
//! between a worker pool and hyper at 16 keep-alive connections
//! (`../shared/PERFORMANCE.md`). Running the application on the event loop
//! removes it, as hyper does, but one request that blocks (a database call,
//! a sleep, a slow upload) would then stop every other connection.
//!
//! So two threads take turns at the poller, as Go's runtime hands a
//! processor to another thread when a goroutine blocks in a system call:
//! - the **leader** polls and runs each ready request itself;
//! - the **standby** looks at the leader every [`TICK`]. When the leader has
//!   been in the same request for a whole tick, the standby takes the poller
//!   (the leader holds no lock while it runs a request), hands what is
//!   queued to the worker pool and leads from then on. The old leader
//!   finishes its request and becomes the standby.
//! - When the stuck leader sleeps (`/proc`'s state of its thread), requests
//!   go to the worker pool for a spell (one second, doubling while
//!   takeovers keep coming, up to a minute), then the leader tries again:
//!   an application that blocks often is served by the pool, one that
//!   never blocks by the poller, at the cost of one stall of a tick or two
//!   per spell. A leader that was running (computing, or preempted on a
//!   busy machine) only loses the polling, unless that happens twice within
//!   a second.
//! - A wait too short for a takeover is caught afterwards: when a request
//!   of 20 us or more ran (or was taken over) and the thread slept since
//!   the last count (`getrusage`), a spell starts too.
//! - With more than one core, a turn's requests beyond a quarter of a
//!   millisecond of work go to the pool, whose threads use the other cores.
//!
//! The standby sleeps for good while no request runs, so an idle server has
//! no timer. `ServerConfig::dispatch` = `Dispatch::Pool` turns this off.
//! Next stage: `connection.rs`.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::connection::Conn;
use crate::poller::Poller;
use crate::server::{Shared, WorkerState};

/// How often the standby looks at the leader: a request that runs longer
/// than one to two ticks hands the poller over.
const TICK: Duration = Duration::from_millis(1);

/// A request that took longer than this on the poller's thread is looked
/// at: if the thread slept during it, the application blocks. A shorter
/// wait costs the requests behind it little, and the look costs a syscall.
const SUSPECT: Duration = Duration::from_micros(20);

/// With more than one core, the inline work a turn may do before the rest
/// of its requests go to the worker pool (and its other cores).
const SPILL_AFTER: Duration = Duration::from_micros(250);

/// How long requests may wait for a leader taken over while running to
/// stand by again; a request that computes longer starts a spell, so the
/// pool's queue and its 503s apply again.
const HOLD_MS: u64 = 100;

/// The first spell of worker-pool dispatch after a takeover.
const FIRST_SPELL_MS: u64 = 1_000;
/// The longest spell; takeovers further apart than this start again at
/// the first.
const LONGEST_SPELL_MS: u64 = 60_000;

/// The leader's current request, as one word the standby can read and
/// change in one step: the bits below, and a count of requests above them.
const IN_JOB: u64 = 1;
const TAKEN_OVER: u64 = 2;
const ONE_JOB: u64 = 4;

/// What the two poller threads share.
#[derive(Debug, Default)]
pub(crate) struct Handover {
    job: AtomicU64,
    /// A thread stands by, ready to take over: without one, no request may
    /// run on the poller.
    standing_by: AtomicBool,
    /// The standby sleeps without a timer (nothing ran for a whole tick).
    standby_asleep: AtomicBool,
    standby: Mutex<Option<Thread>>,
    /// The leading thread's id in `/proc/self/task` (0: unknown).
    leader_tid: AtomicU64,
    /// Until when (`Shared::now_ms`) requests go to the worker pool.
    pool_until_ms: AtomicU64,
    last_spell_ms: AtomicU64,
    last_takeover_ms: AtomicU64,
    /// When a takeover last found the leader running (0: never).
    last_running_takeover_ms: AtomicU64,
    finished: AtomicBool,
    /// With more than one core to run on, the requests a turn found beyond
    /// this much work on the poller's thread go to the worker pool, whose
    /// threads run on the other cores. With one core, the pool would only
    /// add thread switches.
    spill_after: Option<Duration>,
}

impl Handover {
    /// The handover for a process allowed to run on `cores` cores.
    pub(crate) fn for_cores(cores: usize) -> Handover {
        Handover {
            spill_after: (cores > 1).then_some(SPILL_AFTER),
            ..Handover::default()
        }
    }

    /// Whether a standby watches the leader (so a request it runs that
    /// blocks is taken over), spell or not.
    pub(crate) fn watched(&self) -> bool {
        self.standing_by.load(Ordering::Acquire)
    }

    /// Whether requests go to the worker pool at `now_ms` (a spell runs).
    pub(crate) fn in_spell(&self, now_ms: u64) -> bool {
        now_ms < self.pool_until_ms.load(Ordering::Relaxed)
    }

    /// Whether a leader was taken over while running within the last
    /// `HOLD_MS`: the moment requests may wait for the old leader to stand
    /// by again rather than go to the pool.
    pub(crate) fn just_taken_over_running(&self, now_ms: u64) -> bool {
        let last = self.last_running_takeover_ms.load(Ordering::Relaxed);
        last > 0 && now_ms.saturating_sub(last) <= HOLD_MS
    }

    /// Whether a request may run on the poller's thread at `now_ms`.
    pub(crate) fn allows_inline(&self, now_ms: u64) -> bool {
        self.watched() && !self.in_spell(now_ms)
    }

    /// The leader starts a request; a sleeping standby is woken to watch it.
    fn begin_job(&self) -> u64 {
        // Only the leader writes the word while no request runs.
        let word = (self.job.load(Ordering::Relaxed) & !(IN_JOB | TAKEN_OVER)) + ONE_JOB + IN_JOB;
        self.job.store(word, Ordering::SeqCst);
        // Pairs with `sleep`: either the standby sees the request, or this
        // sees the standby asleep.
        if self.standby_asleep.load(Ordering::SeqCst)
            && self.standby_asleep.swap(false, Ordering::SeqCst)
        {
            self.wake_standby();
        }
        word
    }

    /// The leader finished a request: false when the standby took over
    /// meanwhile.
    fn end_job(&self, word: u64) -> bool {
        self.job
            .compare_exchange(word, word & !IN_JOB, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The standby takes over from a leader stuck in the request `word`.
    /// `spell`: the leader sleeps in it (a blocking application), so the
    /// requests after it go to the worker pool for a while; a leader that
    /// computes or was preempted only loses the polling.
    fn take_over(&self, word: u64, now_ms: u64, spell: bool) -> bool {
        // Before the exchange: once it succeeds, the old leader may finish
        // its request and stand by at once, and its `true` must stand.
        self.standing_by.store(false, Ordering::Release);
        // IN_JOB goes too: the request is the old leader's business now,
        // and a standby that sees none running may sleep.
        let taken = self
            .job
            .compare_exchange(
                word,
                (word & !IN_JOB) | TAKEN_OVER,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        // A leader that keeps running past a tick, request after request,
        // is as good as blocked for the clients beside it.
        let last_running = self.last_running_takeover_ms.load(Ordering::Relaxed);
        let running_again =
            last_running > 0 && now_ms.saturating_sub(last_running) < FIRST_SPELL_MS;
        if taken && !spell {
            self.last_running_takeover_ms
                .store(now_ms.max(1), Ordering::Relaxed);
        }
        if taken && (spell || running_again) {
            self.start_pool_spell(now_ms);
        } else if !taken {
            self.standing_by.store(true, Ordering::Release); // still the standby
        }
        taken
    }

    /// Requests go to the worker pool for a while: twice as long as last
    /// time when takeovers keep coming, the first spell when they stopped.
    pub(crate) fn start_pool_spell(&self, now_ms: u64) {
        let last = self.last_spell_ms.load(Ordering::Relaxed);
        let recent = now_ms.saturating_sub(self.last_takeover_ms.load(Ordering::Relaxed))
            < last + LONGEST_SPELL_MS;
        let spell = if recent && last > 0 {
            (last * 2).min(LONGEST_SPELL_MS)
        } else {
            FIRST_SPELL_MS
        };
        self.last_spell_ms.store(spell, Ordering::Relaxed);
        self.last_takeover_ms.store(now_ms, Ordering::Relaxed);
        self.pool_until_ms.store(now_ms + spell, Ordering::Release);
    }

    /// Whether the leader sleeps (waits for I/O, a lock, a timer) rather
    /// than runs or waits for a core. A preempted leader looks stuck too on
    /// a busy machine, and must not send every request to the pool for a
    /// second. Asked only when the leader looks stuck; unknown counts as
    /// waiting, the safe side.
    fn leader_waits(&self) -> bool {
        let tid = self.leader_tid.load(Ordering::Acquire);
        if tid == 0 {
            return true;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
            return true;
        };
        // "tid (name) S ...": the state follows the name, which may itself
        // hold spaces and parentheses.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        !matches!(state, Some('R'))
    }

    /// The calling thread leads from now on.
    fn now_leading(&self) {
        self.leader_tid.store(this_thread_id(), Ordering::Release);
    }

    fn stand_by(&self, me: Thread) {
        *lock(&self.standby) = Some(me);
        self.standing_by.store(true, Ordering::Release);
    }

    fn wake_standby(&self) {
        if let Some(thread) = lock(&self.standby).as_ref() {
            thread.unpark();
        }
    }

    /// Sleep until a request starts, unless one started since `seen`.
    fn sleep(&self, seen: u64) {
        self.standby_asleep.store(true, Ordering::SeqCst);
        if self.job.load(Ordering::SeqCst) == seen && !self.is_finished() {
            std::thread::park();
        }
        self.standby_asleep.store(false, Ordering::SeqCst);
    }

    fn finish(&self) {
        self.finished.store(true, Ordering::Release);
        self.wake_standby();
    }

    fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }
}

/// How many times this thread has slept (`getrusage`'s `ru_nvcsw`):
/// waiting for I/O, a lock or a timer, but not being preempted.
///
/// Why ask the kernel: a request that blocks for less than a [`TICK`] is
/// never taken over, and the poller would run such requests one after
/// another (a 200 us database call at 64 connections: 3,200 requests/s
/// against the pool's 28,000 and more). The clock cannot tell a sleep from a
/// preemption; this count can. std has no `getrusage`; libc is already a
/// dependency (`deferred_accept.rs`), hence the `unsafe` here. It costs
/// about 330 ns, once per turn and after a slow request.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn voluntary_switches() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a live, writable `rusage` for the whole call and the
    // kernel writes only within it; RUSAGE_THREAD asks about the calling
    // thread, which exists.
    let result = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    if result != 0 {
        return 0;
    }
    // SAFETY: zeroed above, and all-zero is a valid `rusage`; on success the
    // kernel filled it.
    let usage = unsafe { usage.assume_init() };
    u64::try_from(usage.ru_nvcsw).unwrap_or(0)
}

/// Elsewhere only a takeover (a request longer than a tick) is seen.
#[cfg(not(target_os = "linux"))]
fn voluntary_switches() -> u64 {
    0
}

/// The calling thread's id as `/proc` knows it (0 where there is none):
/// `/proc/thread-self` links to `PID/task/TID`.
fn this_thread_id() -> u64 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| link.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Run the poller on two threads taking turns (see the module docs) until
/// the server has stopped. The calling thread only waits for the end, so a
/// request stuck on a poller thread cannot hold up the return.
pub(crate) fn serve(poller: Poller) -> io::Result<()> {
    let handover = poller.handover();
    let shared = poller.shared();
    let poller = Arc::new(Mutex::new(poller));
    let (done, outcome) = mpsc::channel();
    // The standby first, and known as such before the leader's first turn,
    // so even the first request may run on the poller.
    for (n, leads) in [(1, false), (0, true)] {
        let relay = Relay {
            poller: Arc::clone(&poller),
            handover: Arc::clone(&handover),
            shared: Arc::clone(&shared),
            done: done.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("gateway-poller-{n}"))
            .spawn(move || relay.run(leads));
        let thread = spawned.inspect_err(|_| handover.finish())?;
        if !leads {
            handover.stand_by(thread.thread().clone());
        }
    }
    drop(done);
    outcome.recv().unwrap_or_else(|_| {
        Err(io::Error::other(
            "the poller threads ended without stopping the server (a bug: see the log)",
        ))
    })
}

/// One of the two poller threads.
struct Relay {
    poller: Arc<Mutex<Poller>>,
    handover: Arc<Handover>,
    shared: Arc<Shared>,
    done: mpsc::Sender<io::Result<()>>,
}

enum Role {
    Lead,
    StandBy,
    Done,
}

/// What the leader notes about the requests it serves in one turn.
#[derive(Default)]
struct TurnWatch {
    /// This thread's voluntary switches when last counted: before the
    /// turn's first request, then after each request that was looked at
    /// and after each handing of work to the pool.
    switches: Option<u64>,
    first_started: Option<Instant>,
    job_started: Option<Instant>,
    last_ended: Option<Instant>,
}

impl TurnWatch {
    /// A request starts (after the poller was let go: its work is not the
    /// request's). After the turn's first, a request starts when the one
    /// before it ended: one clock read per request, not two, at the price of
    /// counting the queue pop between them (well under a microsecond) as
    /// the request's. `fresh`: the poller did more than pop (it handed
    /// requests over the budget to the pool, which may wait on the pool's
    /// lock), so the clock and the count of sleeps are read afresh: that
    /// work, and a wait in it, is not the request's.
    fn start_job(&mut self, fresh: bool) {
        let now = match self.last_ended {
            Some(end) if !fresh => end,
            _ => Instant::now(),
        };
        self.first_started.get_or_insert(now);
        self.job_started = Some(now);
        if fresh {
            self.switches = Some(voluntary_switches());
        } else {
            self.switches.get_or_insert_with(voluntary_switches);
        }
    }

    /// The request ended: how long it took.
    fn end_job(&mut self) -> Duration {
        let now = Instant::now();
        self.last_ended = Some(now);
        self.job_started.map_or(Duration::ZERO, |start| now - start)
    }

    /// Whether the thread slept since the count was last taken (before the
    /// turn's first request, or after the last request looked at); counts
    /// afresh.
    fn slept(&mut self) -> bool {
        let now = voluntary_switches();
        let before = self.switches.replace(now).unwrap_or(now);
        now > before
    }

    /// Time spent serving requests since the turn's first one started.
    fn inline_time(&self) -> Duration {
        match (self.first_started, self.last_ended) {
            (Some(first), Some(last)) => last - first,
            _ => Duration::ZERO,
        }
    }
}

impl Relay {
    fn run(self, leads: bool) {
        let mut state = WorkerState::new();
        let mut role = if leads { Role::Lead } else { Role::StandBy };
        let taking_turns = catch_unwind(AssertUnwindSafe(|| loop {
            role = match role {
                Role::Lead => self.lead(&mut state),
                Role::StandBy => self.stand_by(),
                Role::Done => return,
            };
        }));
        if taking_turns.is_err() {
            // A bug in the poller: stop the other thread too, so that
            // `serve_forever` returns the error instead of waiting forever.
            self.finish(Err(io::Error::other(
                "the poller panicked (a bug in gateway-server: see the log); the server stopped",
            )));
        }
    }

    /// Poll, and run each ready request here while that is allowed.
    fn lead(&self, state: &mut WorkerState) -> Role {
        self.handover.now_leading();
        let mut turn = TurnWatch::default();
        loop {
            if self.handover.is_finished() {
                return Role::Done; // the other thread failed
            }
            let mut poller = lock(&self.poller);
            let over_budget = self
                .handover
                .spill_after
                .is_some_and(|budget| turn.inline_time() >= budget);
            if let Some(conn) = poller.next_inline_job(over_budget) {
                // The poller is free while the request runs: that is what
                // lets the standby take it over.
                drop(poller);
                turn.start_job(over_budget);
                let still_leading = self.run_here(&conn, state);
                // Taken over: the standby judged the leader by one look at
                // its state, and a leader just woken from a wait looks
                // running; the count of its sleeps does not mislead.
                if (!still_leading || turn.end_job() >= SUSPECT) && turn.slept() {
                    let now_ms = self.shared.now_ms();
                    if !self.handover.in_spell(now_ms) {
                        log::debug!("a request waited on the poller thread: requests go to the worker pool for a while");
                        self.handover.start_pool_spell(now_ms);
                    }
                }
                if !still_leading {
                    return Role::StandBy;
                }
                continue;
            }
            turn = TurnWatch::default();
            match poller.turn() {
                Ok(false) => {}
                Ok(true) => return self.finish(Ok(())),
                Err(err) => return self.finish(Err(err)),
            }
        }
    }

    /// Serve `conn` on this thread; false when the standby took over.
    fn run_here(&self, conn: &Arc<Conn>, state: &mut WorkerState) -> bool {
        let word = self.handover.begin_job();
        let served = catch_unwind(AssertUnwindSafe(|| conn.handle(&self.shared, state)));
        if served.is_err() {
            // A bug in the server (application panics are answered with a
            // 500 long before this): close the connection, renew the buffers.
            log::error!(
                "a panic while serving a connection on the poller thread: connection closed"
            );
            conn.close(&self.shared);
            *state = WorkerState::new();
        }
        self.handover.end_job(word)
    }

    /// Watch the leader; take over when it is stuck in one request.
    fn stand_by(&self) -> Role {
        self.handover.stand_by(std::thread::current());
        let mut seen = self.handover.job.load(Ordering::Acquire);
        let mut seen_since = Instant::now();
        let mut quiet = false;
        loop {
            if quiet {
                self.handover.sleep(seen);
            } else {
                std::thread::park_timeout(TICK);
            }
            if self.handover.is_finished() {
                return Role::Done;
            }
            let word = self.handover.job.load(Ordering::Acquire);
            // By the clock, not by wake-ups: a wake-up left pending by
            // `begin_job` would end the next tick at once.
            let stuck = word & (IN_JOB | TAKEN_OVER) == IN_JOB
                && word == seen
                && seen_since.elapsed() >= TICK;
            if stuck {
                let waits = self.handover.leader_waits();
                if self.handover.take_over(word, self.shared.now_ms(), waits) {
                    log::debug!("a request held the poller for over {TICK:?} (waiting: {waits}): another thread polls");
                    return Role::Lead;
                }
            }
            // Nothing ran for a whole tick: sleep until a request starts.
            quiet = word & IN_JOB == 0 && word == seen;
            if word != seen {
                seen = word;
                seen_since = Instant::now();
            }
        }
    }

    fn finish(&self, outcome: io::Result<()>) -> Role {
        self.handover.finish();
        let _ = self.done.send(outcome);
        Role::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_takeover_needs_the_same_request_still_running() {
        let handover = Handover::default();
        handover.standing_by.store(true, Ordering::Release);
        let word = handover.begin_job();
        assert!(handover.end_job(word), "nobody took over");
        // A finished request cannot be taken over.
        assert!(!handover.take_over(word, 0, true));
        let next = handover.begin_job();
        assert_ne!(next, word, "each request has its own word");
        assert!(
            !handover.take_over(word, 0, true),
            "an older request's word"
        );
        assert!(handover.allows_inline(0), "failed attempts leave a standby");
        assert!(handover.take_over(next, 0, true));
        assert_eq!(
            handover.job.load(Ordering::Acquire) & IN_JOB,
            0,
            "no request is watched after a takeover, so the standby may sleep"
        );
        assert!(
            !handover.end_job(next),
            "the leader learns it was taken over"
        );
        assert!(!handover.allows_inline(0), "no standby and a pool spell");
        handover.stand_by(std::thread::current()); // the old leader
        assert!(!handover.allows_inline(999), "the spell still runs");
        assert!(
            handover.allows_inline(1_000),
            "then the poller serves again"
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_sleeping_leader_waits_and_a_running_one_does_not() {
        let handover = Arc::new(Handover::default());
        assert!(handover.leader_waits(), "unknown counts as waiting");
        if this_thread_id() == 0 {
            return; // no /proc/thread-self here: takeovers always start a spell
        }
        handover.now_leading();
        assert!(!handover.leader_waits(), "this thread runs");
        let sleeper = Arc::clone(&handover);
        let (ready, is_ready) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            sleeper.now_leading();
            ready.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        });
        is_ready.recv().unwrap();
        // It is asleep within a moment, however busy the machine.
        let deadline = Instant::now() + Duration::from_millis(250);
        while !handover.leader_waits() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(handover.leader_waits(), "that thread sleeps");
        thread.join().unwrap();
    }

    #[test]
    fn a_leader_taken_over_while_running_starts_no_spell() {
        let handover = Handover::default();
        handover.standing_by.store(true, Ordering::Release);
        let word = handover.begin_job();
        assert!(handover.take_over(word, 5, false));
        assert!(
            !handover.allows_inline(5),
            "nobody watches until the old leader stands by"
        );
        assert!(handover.just_taken_over_running(5 + HOLD_MS));
        assert!(
            !handover.just_taken_over_running(6 + HOLD_MS),
            "then the poller starts a spell"
        );
        assert!(!handover.end_job(word));
        handover.stand_by(std::thread::current()); // the old leader
        assert!(handover.allows_inline(5), "no spell: the poller serves on");
        // A second running takeover within a second: a spell after all.
        let word = handover.begin_job();
        assert!(handover.take_over(word, 500, false));
        handover.stand_by(std::thread::current());
        assert!(
            !handover.allows_inline(500),
            "computing request after request"
        );
        assert!(handover.allows_inline(1_500));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_sleep_counts_as_a_voluntary_switch() {
        let before = voluntary_switches();
        std::thread::sleep(Duration::from_millis(1));
        assert!(voluntary_switches() > before);
    }

    #[test]
    fn pool_spells_double_while_takeovers_keep_coming_then_start_again() {
        let handover = Handover::default();
        handover.standing_by.store(true, Ordering::Release);
        let spell_after = |now: u64| {
            handover.start_pool_spell(now);
            handover.pool_until_ms.load(Ordering::Acquire) - now
        };
        assert_eq!(spell_after(10), 1_000);
        assert_eq!(spell_after(1_010), 2_000);
        assert_eq!(spell_after(3_010), 4_000);
        assert!(!handover.allows_inline(3_010 + 3_999));
        assert!(handover.allows_inline(3_010 + 4_000));
        let mut now = 7_010;
        for _ in 0..10 {
            now += 60_000;
            spell_after(now);
        }
        assert_eq!(spell_after(now + 60_000), LONGEST_SPELL_MS, "capped");
        assert_eq!(
            spell_after(now + 60_000 + 200_000),
            FIRST_SPELL_MS,
            "a quiet spell resets"
        );
    }
}
