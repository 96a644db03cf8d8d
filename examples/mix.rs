//! `mix`: pick a gateway and an application kind, and put them together.
//!
//! Run with `cargo run --example mix -- --server http --app framework`
//! (`--server http|cgi`, `--app raw|framework|wrapped`, plus `--host`/`--port`
//! for `http`, and `--validate` to check the contract with
//! `middleware::Validator` on every request). With `--server cgi` it is a CGI program: a web server such as
//! lighttpd runs it once per request. The application never knows which
//! gateway runs it: that is the point of the contract.

use examples::apps::AppKind;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server = examples::flag_value(&args, "--server").unwrap_or_else(|| "http".into());
    let kind_name = examples::flag_value(&args, "--app").unwrap_or_else(|| "raw".into());
    let Some(kind) = AppKind::from_name(&kind_name) else {
        eprintln!("--app must be raw, framework or wrapped (got {kind_name:?})");
        std::process::exit(2);
    };
    let app = kind.build();
    let app: std::sync::Arc<dyn gateway_spec::Application> =
        if args.iter().any(|a| a == "--validate") {
            std::sync::Arc::new(middleware::validator(app))
        } else {
            app
        };
    match server.as_str() {
        "cgi" => {
            // Log lines go to standard error, which the CGI host keeps in its error log.
            examples::init_logging();
            gateway_server::run_cgi(app)
        }
        "http" => {
            examples::init_logging();
            let (host, port) = examples::host_and_port(args, "localhost", 8000);
            gateway_server::make_server(&host, port, app)?.serve_forever()
        }
        other => {
            eprintln!("--server must be http or cgi (got {other:?})");
            std::process::exit(2);
        }
    }
}
