//! The HTTP service around a function's router, and how it is served and drained.
//!
//! [`service`] adds what every function answers the same way: `GET /healthz`, a JSON
//! 404, the body limit, and `traceparent`/`tracestate` copied onto replies.
//! [`serve`] runs it until a shutdown signal, then stops accepting, lets in-flight
//! requests finish for at most the grace period, and returns.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderName, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::binding::BodyLimit;
use crate::{Error, ServeConfig};

/// W3C trace-context headers a function keeps on its reply.
const TRACE_HEADERS: [HeaderName; 2] = [HeaderName::from_static("traceparent"), HeaderName::from_static("tracestate")];

/// `handler` for `POST`; any other method answers a JSON `405` with `Allow: POST`.
pub fn ce_post<H, T>(handler: H) -> MethodRouter
where
    H: axum::handler::Handler<T, ()>,
    T: 'static,
{
    post(handler)
        .fallback(|method: Method| async move { Error::MethodNotAllowed { method: method.to_string(), allow: "POST" } })
}

/// A router that sends events posted to any path to `route`, as Go's CloudEvents
/// receiver does (Knative posts to `/`, users often post elsewhere).
pub fn any_path(route: MethodRouter) -> Router {
    Router::new().route("/", route.clone()).route("/{*path}", route)
}

/// `router` with what every function shares: `GET /healthz` (204), a JSON `404`
/// for unknown paths, the body limit from `config`, and trace context on replies.
pub fn service(router: Router, config: &ServeConfig) -> Router {
    router
        .route("/healthz", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(|uri: Uri| async move { Error::NotFound(uri.path().to_owned()) })
        .layer(Extension(BodyLimit(config.body_limit)))
        .layer(middleware::from_fn(trace_context))
}

/// Copies `traceparent`/`tracestate` from the request onto the reply (unless the
/// handler set its own) and logs the request at debug level.
async fn trace_context(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let kept: Vec<_> =
        TRACE_HEADERS.iter().filter_map(|name| Some((name.clone(), request.headers().get(name)?.clone()))).collect();
    let mut response = next.run(request).await;
    for (name, value) in kept {
        response.headers_mut().entry(name).or_insert(value);
    }
    tracing::debug!(%method, path, status = response.status().as_u16(), elapsed = ?started.elapsed(), "request");
    response
}

/// Serves `router` on `listener` until `shutdown` completes, then drains: no new
/// connections, in-flight requests get at most `grace` to finish. Returns `Ok` after a
/// clean drain or when the grace period ran out (requests still running are dropped).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = started_tx.send(());
    };
    let server = axum::serve(listener, router).with_graceful_shutdown(signal).into_future();
    let deadline = async move {
        if started_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(?grace, "shutdown grace period elapsed; dropping requests still in flight");
            Ok(())
        }
    }
}

/// Completes on the first SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, draining"),
        () = terminate => tracing::info!("SIGTERM received, draining"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn app() -> Router {
        let route = ce_post(|| async { "posted" });
        service(any_path(route), &ServeConfig::default())
    }

    async fn call(router: Router, request: http::Request<Body>) -> (StatusCode, http::HeaderMap, String) {
        let response = router.oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn healthz_is_204() {
        let (status, _, body) = call(app(), http::Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(body, "");
    }

    #[tokio::test]
    async fn get_on_an_event_path_is_a_json_405() {
        let (status, headers, body) = call(app(), http::Request::get("/").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers["allow"], "POST");
        assert_eq!(body, r#"{"error":"method GET is not allowed here; use POST"}"#);
    }

    #[tokio::test]
    async fn events_are_accepted_on_any_path() {
        for path in ["/", "/a", "/a/b/c"] {
            let (status, _, body) = call(app(), http::Request::post(path).body(Body::empty()).unwrap()).await;
            assert_eq!((status, body.as_str()), (StatusCode::OK, "posted"), "{path}");
        }
    }

    #[tokio::test]
    async fn unknown_path_is_a_json_404() {
        let router = service(Router::new().route("/only", ce_post(|| async {})), &ServeConfig::default());
        let (status, _, body) = call(router, http::Request::post("/other").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, r#"{"error":"no route for /other"}"#);
    }

    #[tokio::test]
    async fn trace_context_is_kept_on_replies_and_errors() {
        for method in [Method::POST, Method::GET] {
            let request = http::Request::builder()
                .method(method.clone())
                .uri("/")
                .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .header("tracestate", "congo=t61rcWkgMzE")
                .body(Body::empty())
                .unwrap();
            let (_, headers, _) = call(app(), request).await;
            assert_eq!(headers["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "{method}");
            assert_eq!(headers["tracestate"], "congo=t61rcWkgMzE", "{method}");
        }
        let (_, headers, _) = call(app(), http::Request::post("/").body(Body::empty()).unwrap()).await;
        assert!(headers.get("traceparent").is_none());
    }

    /// A router whose `/slow` handler reports that it started, then waits for `release`.
    fn slow_router() -> (Router, tokio::sync::mpsc::Receiver<()>, tokio::sync::oneshot::Sender<()>) {
        let (entered_tx, entered_rx) = tokio::sync::mpsc::channel::<()>(1);
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let release_rx = std::sync::Arc::new(tokio::sync::Mutex::new(Some(release_rx)));
        let router = Router::new().route(
            "/slow",
            post(move || {
                let (entered_tx, release_rx) = (entered_tx.clone(), release_rx.clone());
                async move {
                    let _ = entered_tx.send(()).await;
                    if let Some(rx) = release_rx.lock().await.take() {
                        let _ = rx.await;
                    }
                    "done"
                }
            }),
        );
        (router, entered_rx, release_tx)
    }

    type Task<T> = tokio::task::JoinHandle<T>;

    /// Serves `router` on a loopback port and starts a `POST /slow`; returns the server
    /// task, the sender that stops it, and the request task.
    async fn serve_and_post(
        router: Router,
        grace: Duration,
    ) -> (Task<io::Result<()>>, oneshot::Sender<()>, Task<reqwest::Result<reqwest::Response>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let stop = async move {
            let _ = stop_rx.await;
        };
        let server = tokio::spawn(serve(listener, router, stop, grace));
        let request = tokio::spawn(reqwest::Client::new().post(format!("http://{addr}/slow")).send());
        (server, stop_tx, request)
    }

    #[tokio::test]
    async fn drain_finishes_in_flight_requests_then_returns() {
        let (router, mut entered, release) = slow_router();
        let (server, stop_tx, in_flight) = serve_and_post(router, Duration::from_secs(60)).await;
        entered.recv().await.unwrap();
        stop_tx.send(()).unwrap();
        // The server may not return while the request is in flight, however long we wait.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!server.is_finished(), "the server must wait for the in-flight request");
        release.send(()).unwrap();
        let response = in_flight.await.unwrap().unwrap();
        assert_eq!(response.text().await.unwrap(), "done");
        tokio::time::timeout(Duration::from_secs(30), server).await.unwrap().unwrap().unwrap();
    }

    #[tokio::test]
    async fn drain_gives_up_after_the_grace_period() {
        let (router, mut entered, _never_released) = slow_router();
        let (server, stop_tx, _stuck) = serve_and_post(router, Duration::from_millis(100)).await;
        entered.recv().await.unwrap();
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(30), server).await.unwrap().unwrap().unwrap();
    }
}
