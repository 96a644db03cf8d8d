//! may_minihttp on the `may` coroutine runtime with one worker thread
//! (`may::config().set_workers(1)`), as its one-thread example does.

use std::io;

use may_minihttp::{HttpServer, HttpService, Request, Response};

#[derive(Clone)]
struct Peer;

impl HttpService for Peer {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        if req.path() == "/json" {
            rsp.header("Content-Type: application/json");
            rsp.body_vec(bench::json_body());
        } else {
            rsp.header("Content-Type: text/plain");
            rsp.body("Hello from server.");
        }
        Ok(())
    }
}

fn main() -> io::Result<()> {
    may::config().set_workers(1);
    let server = HttpServer(Peer).start(("127.0.0.1", bench::port_from_args()))?;
    server
        .join()
        .map_err(|_| io::Error::other("the server thread panicked"))
}
