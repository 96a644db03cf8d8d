//! This project's server: `gateway --port P [--app raw|framework] [--workers N] [--pool]`.

fn main() -> std::io::Result<()> {
    bench::gateway_apps::serve_from_args()
}
