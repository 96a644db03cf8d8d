//! axum 0.8 on tokio's current-thread runtime (one thread), `axum::serve`.

use axum::routing::get;
use axum::{Json, Router};

async fn plaintext() -> &'static str {
    "Hello from server."
}

async fn json() -> Json<bench::Message> {
    Json(bench::Message {
        message: "Hello, World!",
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(plaintext))
        .route("/json", get(json));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", bench::port_from_args())).await?;
    axum::serve(listener, app).await
}
