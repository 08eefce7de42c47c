//! The ceiling for bench/run.sh: `GET /` answers a fixed ~50-byte JSON body, nothing else
//! (no middleware, no storage, no logging). Same axum, hyper and tokio as Tessera, with
//! tokio's default multi-threaded runtime (one worker per core), so the difference between
//! this and an endpoint of Tessera is the work Tessera does per request.
//!
//! Usage: ceiling [ADDRESS]   (or CEILING_LISTEN; default 127.0.0.1:3999)

use axum::{http::header, routing::get, Router};

const BODY: &str = r#"{"status":"ok","service":"ceiling","version":1}"#;

async fn root() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/json")], BODY)
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("CEILING_LISTEN").ok())
        .unwrap_or_else(|| "127.0.0.1:3999".into());
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ceiling: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("ceiling: listening on http://{addr}");
    let app = Router::new().route("/", get(root));
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("ceiling: {e}");
        std::process::exit(1);
    }
}
