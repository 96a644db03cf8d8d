//! Did a job wait on something? The pool's threads ask after a job that took
//! a while: one that blocked (on a database, a lock, a slow client) leaves
//! the core idle, so the jobs queued behind it should get another thread,
//! while one that only computed should not (on a busy core a second thread
//! would only take turns with it, a switch each time).
//!
//! The kernel counts, per thread, the times it gave up the CPU of its own
//! accord (`ru_nvcsw`): a thread that waits makes one; a thread that is
//! preempted does not. Wall-clock time cannot tell the two apart.

/// Voluntary context switches of the calling thread so far, where the
/// system counts them per thread (Linux); `None` elsewhere.
///
/// No safe crate of the field wraps `getrusage(RUSAGE_THREAD)` (std does
/// not; nix and rustix lack the per-thread form or are not dependencies),
/// and it keeps a pool from serialising short blocking calls (bench/README.md,
/// profile item 2), hence this second `unsafe` block.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn voluntary_switches() -> Option<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a live, writable `rusage` for the whole call, and
    // the kernel writes only within it; RUSAGE_THREAD asks about the calling
    // thread, which exists. On success every field has been written (it was
    // zeroed anyway, and all-zero is a valid `rusage`).
    let result = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    if result != 0 {
        return None;
    }
    // SAFETY: zero-initialised above, so initialised whatever the kernel did.
    let usage = unsafe { usage.assume_init() };
    u64::try_from(usage.ru_nvcsw).ok()
}

/// Elsewhere there is no per-thread count: the pool falls back to time.
#[cfg(not(target_os = "linux"))]
pub(crate) fn voluntary_switches() -> Option<u64> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn waiting_counts_and_computing_does_not() {
        let before = voluntary_switches().expect("Linux counts per thread");
        let started = Instant::now();
        let mut spins = 0u64;
        while started.elapsed() < Duration::from_millis(20) {
            spins = std::hint::black_box(spins + 1);
        }
        let after_computing = voluntary_switches().expect("still counted");
        assert_eq!(after_computing, before, "computing is not waiting");
        std::thread::sleep(Duration::from_millis(1));
        let after_waiting = voluntary_switches().expect("still counted");
        assert!(after_waiting > after_computing, "sleeping is waiting");
    }
}
