//! tiny_http 0.12: its own accept and connection threads, requests handled
//! one at a time on the main thread (`incoming_requests`), as its docs show.

use tiny_http::{Header, Response, Server};

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let server = Server::http(("127.0.0.1", bench::port_from_args()))?;
    let text: Header = "Content-Type: text/plain".parse().expect("a valid header");
    let json: Header = "Content-Type: application/json"
        .parse()
        .expect("a valid header");
    for request in server.incoming_requests() {
        let response = match request.url() {
            "/json" => Response::from_data(bench::json_body()).with_header(json.clone()),
            _ => Response::from_data(bench::PLAINTEXT).with_header(text.clone()),
        };
        let _ = request.respond(response);
    }
    Ok(())
}
