//! The HTTP service around a function's router, and how it is served and drained.
//!
//! [`service`] adds what every function answers the same way: `GET /healthz` (unless
//! the function answers it itself, with [`health`]), a JSON 404, the header, body and
//! JSON depth limits, and `traceparent`/`tracestate` copied onto replies. [`serve`]
//! accepts HTTP/1.1 connections with hyper (with a hard cap on headers past the
//! configured limits) until a shutdown signal, then stops accepting, lets in-flight
//! requests finish for at most the grace period, and returns.
//! What a client can hold is bounded there, for every router served, the `fnmesh run`
//! ingress included: connections (`FNMESH_MAX_CONNECTIONS`, idle ones closed after
//! `FNMESH_IDLE_TIMEOUT`, see `connections`), the time a body and a reply may take
//! (`FNMESH_BODY_TIMEOUT`, see `exchange`) and the bytes of bodies held at once
//! (`FNMESH_MAX_INFLIGHT_BYTES`, see `budget`).

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::binding::RequestLimits;
use crate::budget::Budget;
use crate::connections::{Connections, MeteredIo};
use crate::exchange::{ExchangeLimits, Exchanges};
use crate::guard::Guard;
use crate::{Error, ServeConfig};

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

/// `router` with what every function shares: `GET /healthz` (204, unless `router`
/// routes `GET /healthz` itself, see [`health`]), a JSON `404` for unknown paths, the
/// limits from `config` (headers: a JSON `431`; body and JSON depth: read by the event
/// extractor), and trace context on replies.
pub fn service(router: Router, config: &ServeConfig) -> Router {
    let router = router
        // A fallback, not a GET route: axum merges it with the function's own
        // `GET /healthz` if there is one, and that route wins.
        .route("/healthz", MethodRouter::new().fallback(healthy))
        .fallback(|uri: Uri| async move { Error::NotFound(uri.path().to_owned()) });
    // One layer for the three, not a layer each: every layer clones the service and
    // boxes a future per request.
    router.layer(Guard {
        headers: HeaderLimits { count: config.max_headers, bytes: config.max_header_bytes },
        request: RequestLimits { body: config.body_limit, json_depth: config.json_depth, ..RequestLimits::default() },
    })
}

/// `GET /healthz` for a function whose health can change (an engine pool that can get
/// stuck): `204` while `check` returns `Ok`, `503` with `{"error": <the reason>}`
/// otherwise. The function adds it to its router, `.route("/healthz", health(check))`,
/// and [`service`] keeps it in place of its plain `204`. `check` runs on every probe:
/// keep it cheap and non-blocking.
pub fn health<F>(check: F) -> MethodRouter
where
    F: Fn() -> Result<(), String> + Clone + Send + Sync + 'static,
{
    get(move || {
        let answer = match check() {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(reason) => Error::Unavailable(reason).into_response(),
        };
        async move { answer }
    })
}

/// `/healthz` of a function with no check of its own: `204` for `GET` and `HEAD`.
async fn healthy(method: Method) -> Response {
    if method == Method::GET || method == Method::HEAD {
        StatusCode::NO_CONTENT.into_response()
    } else {
        Error::MethodNotAllowed { method: method.to_string(), allow: "GET" }.into_response()
    }
}

/// `router` refusing requests over `FNMESH_MAX_HEADERS` or `FNMESH_MAX_HEADER_BYTES`
/// with a JSON `431` (part of [`service`]; `fnmesh run`'s ingress uses it alone).
pub fn limit_headers(router: Router, config: &ServeConfig) -> Router {
    let headers = HeaderLimits { count: config.max_headers, bytes: config.max_header_bytes };
    router.layer(middleware::from_fn(move |request: Request, next: Next| header_limits(headers, request, next)))
}

/// `FNMESH_MAX_HEADERS` and `FNMESH_MAX_HEADER_BYTES`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderLimits {
    count: usize,
    bytes: usize,
}

/// Refuses a request with more headers, or more bytes of them, than the limits: a JSON
/// `431` naming the limit, before any handler runs.
async fn header_limits(limits: HeaderLimits, request: Request, next: Next) -> Response {
    match over_header_limits(limits, &request) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// The JSON `431` for a request over the limits, if it is.
pub(crate) fn over_header_limits(limits: HeaderLimits, request: &Request) -> Option<Response> {
    let headers = request.headers();
    if headers.len() > limits.count {
        let error = format!(
            "the request has {} headers; at most {} are accepted (FNMESH_MAX_HEADERS)",
            headers.len(),
            limits.count
        );
        return Some(Error::HeadersTooLarge(error).into_response());
    }
    let bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if bytes > limits.bytes {
        let error = format!(
            "the request's headers hold {bytes} bytes; at most {} are accepted (FNMESH_MAX_HEADER_BYTES)",
            limits.bytes
        );
        return Some(Error::HeadersTooLarge(error).into_response());
    }
    None
}

/// hyper's own caps: twice the configured limits, so that a request over a limit
/// reaches [`header_limits`] and gets its JSON `431`; past the caps hyper answers a
/// bare `431` and closes the connection without reading further.
fn http1(config: &ServeConfig) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    let header_bytes = config.max_header_bytes.saturating_mul(2).saturating_add(8 * 1024);
    // hyper's header read timeout runs from the end of one exchange to the end of the
    // next request's headers: it is the idle timeout as well. FNMESH_IDLE_TIMEOUT (120 s)
    // is longer than a pooling proxy keeps a connection idle (90 s: queue-proxy, the
    // activator), so the proxy closes first and never sends a request into a close; it
    // does not retry a POST that meets a reset.
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(config.idle_timeout)
        .max_headers(config.max_headers.saturating_mul(2))
        .max_header_size(header_bytes)
        // The read buffer holds the headers, and no more: an idle connection keeps its
        // buffer, at the size the largest read made it.
        .max_buf_size(header_bytes);
    builder
}

/// Serves `router` on `listener` until `shutdown` completes, then drains: no new
/// connections, in-flight requests get at most `config.shutdown_grace` to finish.
/// Returns `Ok` after a clean drain or when the grace period ran out (requests still
/// running are dropped).
pub fn serve<F>(
    listener: TcpListener,
    router: Router,
    shutdown: F,
    config: &ServeConfig,
) -> impl Future<Output = io::Result<()>> + Send + use<F>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (http, grace) = (http1(config), config.shutdown_grace);
    let connections = Connections::new(config.max_connections);
    let limits = ExchangeLimits {
        budget: Budget::new(config.max_inflight_bytes),
        body_timeout: config.body_timeout,
        body_limit: config.body_limit,
    };
    async move { serve_with(listener, router, shutdown, http, grace, connections, limits).await }
}

async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send,
    http: hyper::server::conn::http1::Builder,
    grace: Duration,
    connections: Arc<Connections>,
    limits: ExchangeLimits,
) -> io::Result<()> {
    // Handlers become routes once, here, not on every request: a router that was never
    // given its state converts each handler (with its layers) into a route per call, as
    // `axum::serve` avoids with the same call.
    let router: Router = router.with_state(());
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // At FNMESH_MAX_CONNECTIONS, an idle connection makes room, or the
                    // loop waits for one to close (accepting nothing meanwhile).
                    let admitted = tokio::select! {
                        admitted = connections.admit() => admitted,
                        () = &mut shutdown => break,
                    };
                    let io = TokioIo::new(MeteredIo::new(stream, admitted.state()));
                    let service = Exchanges::new(router.clone(), limits.clone(), admitted.state());
                    let connection = graceful.watch(http.serve_connection(io, service));
                    tokio::spawn(admitted.serve(connection));
                }
                Err(err) => accept_failed(&err).await,
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(?grace, "shutdown grace period elapsed; dropping requests still in flight");
    }
    Ok(())
}

/// A failed `accept`: a connection reset before it was taken is nothing; anything else
/// (out of file descriptors, usually) is logged and waited out briefly, as hyper did.
async fn accept_failed(err: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tracing::error!(%err, "cannot accept a connection");
        tokio::time::sleep(Duration::from_millis(100)).await;
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
    use tokio::sync::oneshot;
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
    async fn a_function_answers_healthz_itself_with_health() {
        let sick = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let check = {
            let sick = sick.clone();
            move || if sick.load(std::sync::atomic::Ordering::Relaxed) { Err("stuck".to_owned()) } else { Ok(()) }
        };
        let router = any_path(ce_post(|| async { "posted" })).route("/healthz", health(check));
        let app = service(router, &ServeConfig::default());
        let get = || http::Request::get("/healthz").body(Body::empty()).unwrap();
        let (status, _, body) = call(app.clone(), get()).await;
        assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
        sick.store(true, std::sync::atomic::Ordering::Relaxed);
        let (status, _, body) = call(app.clone(), get()).await;
        assert_eq!((status, body.as_str()), (StatusCode::SERVICE_UNAVAILABLE, r#"{"error":"stuck"}"#));
        let (status, headers, _) = call(app, http::Request::post("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers["allow"], "GET");
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

    fn limited() -> ServeConfig {
        ServeConfig { max_headers: 10, max_header_bytes: 2048, json_depth: 4, ..ServeConfig::default() }
    }

    fn event_app(config: &ServeConfig) -> Router {
        let route = ce_post(|event: crate::IncomingEvent| async move { event.event.id().to_owned() });
        service(any_path(route), config)
    }

    fn post_with(headers: &[(String, String)], body: &str) -> http::Request<Body> {
        let mut request = http::Request::post("/");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.body(Body::from(body.to_owned())).unwrap()
    }

    fn ce_headers(extra: usize) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = [("ce-specversion", "1.0"), ("ce-id", "e1"), ("ce-source", "/s")]
            .iter()
            .chain(&[("ce-type", "t"), ("content-type", "application/json")])
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        headers.extend((0..extra).map(|i| (format!("ce-x{i}"), "v".to_owned())));
        headers
    }

    use cloudevents::AttributesReader;

    #[tokio::test]
    async fn requests_over_the_header_limits_get_a_json_431() {
        let app = event_app(&limited());
        let (status, _, body) = call(app.clone(), post_with(&ce_headers(5), "{}")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "e1"), "10 headers are within the limit");
        let (status, _, body) = call(app.clone(), post_with(&ce_headers(6), "{}")).await;
        assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(body, r#"{"error":"the request has 11 headers; at most 10 are accepted (FNMESH_MAX_HEADERS)"}"#);
        let mut big = ce_headers(0);
        big.push(("ce-big".into(), "v".repeat(2048)));
        let (status, _, body) = call(app, post_with(&big, "{}")).await;
        assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert!(body.contains("at most 2048 are accepted (FNMESH_MAX_HEADER_BYTES)"), "{body}");
    }

    #[tokio::test]
    async fn json_nested_deeper_than_the_limit_is_a_json_400() {
        let app = event_app(&limited());
        let (status, _, body) = call(app.clone(), post_with(&ce_headers(0), r#"{"a":{"b":[[1]]}}"#)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "e1"));
        let (status, _, body) = call(app.clone(), post_with(&ce_headers(0), r#"{"a":{"b":[[[1]]]}}"#)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, r#"{"error":"the JSON body nests deeper than 4 levels (FNMESH_JSON_DEPTH)"}"#);
        // A structured envelope counts itself: data three deep is four in all.
        let structured = vec![("content-type".to_owned(), "application/cloudevents+json".to_owned())];
        let envelope =
            |data: &str| format!(r#"{{"specversion":"1.0","id":"s1","source":"/s","type":"t","data":{data}}}"#);
        let (status, _, body) = call(app.clone(), post_with(&structured, &envelope("[[[1]]]"))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "s1"));
        let (status, _, _) = call(app.clone(), post_with(&structured, &envelope("[[[[1]]]]"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // Data that is not JSON is not scanned.
        let mut text = ce_headers(0);
        text[4].1 = "text/plain".into();
        let (status, _, body) = call(app, post_with(&text, "[[[[[[[[[[")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "e1"));
    }

    /// Sends `request` as raw bytes on a new connection; the response's status line and
    /// body, once the server closes or `Connection: close` ends it.
    async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the server neither answered nor closed");
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn over_tcp_hyper_caps_headers_at_twice_the_limit_and_keeps_serving() {
        let config = limited();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, event_app(&config), async move { drop(stop_rx.await) }, &config));
        let request = |extra: usize| {
            let headers: String = ce_headers(extra).iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
            format!("POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 2\r\n{headers}\r\n{{}}")
        };
        // 8 + 4 headers: over 10, under hyper's 20: our JSON answer.
        let answer = raw(addr, &request(4)).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        assert!(answer.ends_with("(FNMESH_MAX_HEADERS)\"}"), "{answer}");
        // 8 + 30: past hyper's cap: a bare 431 and the connection closed.
        let answer = raw(addr, &request(30)).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        assert!(!answer.contains("error"), "{answer}");
        // Within the limits, served as ever.
        let answer = raw(addr, &request(0)).await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("e1"), "{answer}");
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(30), server).await.unwrap().unwrap().unwrap();
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
        let config = ServeConfig { shutdown_grace: grace, ..ServeConfig::default() };
        let server = tokio::spawn(serve(listener, router, stop, &config));
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
