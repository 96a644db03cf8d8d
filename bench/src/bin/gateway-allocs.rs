//! `gateway` with a counting allocator: SIGUSR1 prints `allocs N BYTES`.
//! For the profile only; the atomics cost a little, so the tables use
//! `gateway`.

use bench::alloc_counter::{report_on_sigusr1, CountingAlloc};

#[global_allocator]
static COUNTER: CountingAlloc = CountingAlloc::new();

fn main() -> std::io::Result<()> {
    report_on_sigusr1(&COUNTER)?;
    bench::gateway_apps::serve_from_args()
}
