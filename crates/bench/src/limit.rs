//! The limit: an HTTP server that reads the request and answers a fixed CloudEvent
//! without parsing anything, on the same hyper/axum stack as the functions. No function
//! can be faster.

use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderValue;
use axum::response::IntoResponse;
use axum::routing::post;

/// The argument that makes this program the limit server (on `PORT`).
pub const LIMIT_ARG: &str = "--serve-limit";

const REPLY: &str = r#"{"id":0,"message":"hello - handled"}"#;

async fn answer(_body: Bytes) -> impl IntoResponse {
    let headers = [
        ("ce-specversion", HeaderValue::from_static("1.0")),
        ("ce-id", HeaderValue::from_static("limit-1")),
        ("ce-source", HeaderValue::from_static("/limit")),
        ("ce-type", HeaderValue::from_static("bench.reply")),
        ("content-type", HeaderValue::from_static("application/json")),
    ];
    (headers, REPLY)
}

/// Serves until killed.
pub fn serve() -> ExitCode {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread().enable_all().build() else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(async move {
        let Ok(listener) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await else { return ExitCode::FAILURE };
        let app = Router::new().route("/", post(answer));
        match axum::serve(listener, app).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        }
    })
}
