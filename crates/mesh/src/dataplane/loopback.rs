//! The client of the hops that stay on this machine: plain HTTP to a loopback address
//! (every service of the mesh, a stand-in, the ingress). It is hyper's pooled HTTP/1
//! client as reqwest uses it, without reqwest's layers around it: those parse each
//! request's URL twice (a redirect policy that reads it, and the response's URL) and
//! copy the request for a retry, a sixth of what a Sequence step cost the mesh. What
//! leaves the machine (https, other hosts) still goes through reqwest.
//!
//! A redirect is followed as before: a `3xx` with a `Location` is answered by sending the
//! request again through reqwest, which follows it as Go's client (Knative's dispatcher)
//! does.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// A pooled HTTP/1 client for loopback destinations.
#[derive(Debug, Clone)]
pub struct Loopback {
    client: Client<HttpConnector, Full<Bytes>>,
}

/// What a request got: a whole response, or why there was none.
pub type Answer = Result<(StatusCode, HeaderMap, Bytes), String>;

impl Loopback {
    /// A client whose idle connections close after `idle`.
    pub fn new(idle: Duration) -> Self {
        let mut connector = HttpConnector::new();
        // As reqwest's: small events go out at once.
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(idle)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Self { client }
    }

    /// Sends one request to `uri` and reads the whole response, within `timeout`.
    pub async fn send(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
        timeout: Option<Duration>,
    ) -> Answer {
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| describe(&e, e.is_connect()))?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| describe(&e, false))?.to_bytes();
            Ok((parts.status, parts.headers, body))
        };
        match timeout {
            Some(timeout) => tokio::time::timeout(timeout, exchange).await.unwrap_or_else(|_| Err("timed out".into())),
            None => exchange.await,
        }
    }
}

/// Whether `status` and `headers` are a redirect a client follows.
pub fn is_redirect(status: StatusCode, headers: &HeaderMap) -> bool {
    status.is_redirection() && status != StatusCode::NOT_MODIFIED && headers.contains_key(http::header::LOCATION)
}

/// Why a request got no answer, by its real cause: `connection refused` (and the other
/// I/O errors by their kind), or the innermost error's words. `connect`: it failed while
/// connecting.
pub fn describe(error: &(dyn std::error::Error + 'static), connect: bool) -> String {
    let mut innermost: &(dyn std::error::Error + 'static) = error;
    loop {
        if let Some(io) = innermost.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                std::io::ErrorKind::TimedOut => "timed out".into(),
                _ => io.to_string(),
            };
        }
        match innermost.source() {
            Some(inner) => innermost = inner,
            None => break,
        }
    }
    let text = innermost.to_string();
    if connect { format!("cannot connect: {text}") } else { text }
}
