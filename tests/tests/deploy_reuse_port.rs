//! Two `echo --reuse-port` processes on one port (SO_REUSEPORT): the kernel
//! spreads new connections over both, and when one stops gracefully the
//! other goes on serving the port alone.

mod deploy_support;

use std::net::SocketAddr;

use deploy_support::client::get;
use deploy_support::echo::{Echo, Listen};
use deploy_support::ScratchDir;
use tests::process::free_port;

#[test]
fn two_processes_share_a_port_and_the_kernel_spreads_connections_over_both() {
    let dir = ScratchDir::new("reuse-port");
    let port = free_port();
    let listen = Listen::Tcp(port);
    let mut first = Echo::start(&listen, &dir.join("first.log"), &["--reuse-port"]);
    let mut second = Echo::start(&listen, &dir.join("second.log"), &["--reuse-port"]);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    // Each request on a connection of its own: the kernel picks a process
    // per connection (by a hash of its addresses and ports).
    for i in 0..64 {
        get(addr, &format!("/both/{i}"), &[]);
    }
    assert!(first.terminate().success(), "SIGTERM: a clean exit");
    let by_first = first.requests_served();

    for i in 0..16 {
        get(addr, &format!("/second-alone/{i}"), &[]);
    }
    assert!(second.terminate().success(), "SIGTERM: a clean exit");
    let by_second = second.requests_served();

    assert!(by_first > 0, "the first process got connections");
    assert_eq!(by_first + by_second, 64 + 16, "each request served once");
    assert!(
        by_second > 16,
        "the second process got connections while both ran ({by_second} in all)"
    );
}
