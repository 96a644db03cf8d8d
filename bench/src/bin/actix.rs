//! actix-web 4 with one worker (`.workers(1)`): its system thread plus one
//! worker thread.

use actix_web::{get, App, HttpResponse, HttpServer, Responder};

#[get("/")]
async fn plaintext() -> impl Responder {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(bench::PLAINTEXT)
}

#[get("/json")]
async fn json() -> impl Responder {
    HttpResponse::Ok().json(bench::Message {
        message: "Hello, World!",
    })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    HttpServer::new(|| App::new().service(plaintext).service(json))
        .workers(1)
        .bind(("127.0.0.1", bench::port_from_args()))?
        .run()
        .await
}
