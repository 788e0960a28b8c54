//! The one port users and the mesh send to: routes by `Host` to channels (202 when
//! delivered, 500 when a subscriber failed with no dead letter sink), to the broker
//! ingress (`/<namespace>/<broker>`), and to services (proxied); `/.fnmesh/objects` is
//! what `fnmesh get` reads. Every refusal is the runtime's [`Error`]: a status and a
//! JSON body naming the problem, as the functions answer.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use fnmesh_runtime::binding::RequestLimits;
use fnmesh_runtime::{Error, IncomingEvent};
use http::{Method, StatusCode, header};

use super::Mesh;
use super::handoff::{Destination, with_retry_after};
use super::headers::{HOPS_HEADER, INTERNAL_HEADER, ensure_trace, pass_through};
use super::transport::{Attempt, full_host};
use crate::plan::ObjectRow;
use crate::plan::address::BROKER_INGRESS_HOST;

/// The largest event the ingress reads unless `--body-limit` says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// What the ingress knows besides the mesh.
#[derive(Debug)]
pub struct Ingress {
    /// The channels and brokers it routes to.
    pub mesh: Arc<Mesh>,
    /// What `/.fnmesh/objects` answers (`fnmesh get` reads it).
    pub objects: Vec<ObjectRow>,
    /// The largest body it reads, in bytes.
    pub body_limit: usize,
}

/// The ingress's routes: everything goes to one handler that routes by `Host`.
pub fn router(ingress: Arc<Ingress>) -> Router {
    Router::new().fallback(route).with_state(ingress)
}

async fn route(State(ingress): State<Arc<Ingress>>, mut request: Request) -> Response {
    // Only the mesh's own hops may carry its internal headers; from anyone else they are
    // dropped (a forged TTL carrier would let a sender loop events past --broker-ttl).
    let internal = request.headers().get(&INTERNAL_HEADER).is_some_and(|token| {
        !ingress.mesh.courier.transport.routes.internal_token.is_empty()
            && token.as_bytes() == ingress.mesh.courier.transport.routes.internal_token.as_bytes()
    });
    request.headers_mut().remove(&INTERNAL_HEADER);
    if !internal {
        request.headers_mut().remove(&HOPS_HEADER);
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            h.rsplit_once(':').map_or(h, |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { h })
        })
        .map(full_host)
        .unwrap_or_default();
    let mut path = request.uri().path().to_owned();
    // `/.fnmesh/hosts/<host>/<path>` stands for `Host: <host>` and `<path>`: how
    // `K_SINK` reaches in-cluster names from a function's own HTTP client.
    let mut host = host;
    if let Some(rest) = path.strip_prefix("/.fnmesh/hosts/") {
        let (named, rest) = rest.split_once('/').unwrap_or((rest, ""));
        (host, path) = (full_host(named), format!("/{rest}"));
    }
    if path == "/.fnmesh" {
        return axum::response::Redirect::permanent("/.fnmesh/").into_response();
    }
    if let Some(rest) = path.strip_prefix("/.fnmesh/").filter(|r| !r.starts_with("hosts/")) {
        request = match super::live::answer(&ingress, rest, request).await {
            Ok(response) => return response,
            Err(request) => request,
        };
    }
    if path == "/.fnmesh/objects" {
        return axum::Json(&ingress.objects).into_response();
    }
    if path == "/.fnmesh/healthz" {
        return StatusCode::NO_CONTENT.into_response();
    }
    let work = &ingress.mesh.work;
    if work.is_draining() && !internal {
        let stopping = "fnmesh run is stopping: it delivers what it accepted and takes no new events";
        return with_retry_after(Error::Unavailable(stopping.into()));
    }
    if let Some(channel) = ingress.mesh.channel(&host) {
        // The channel dispatcher's own rules (`pkg/channel/event_receiver.go`): `OPTIONS`
        // answers the WebHook handshake, and a channel lives at `/` only.
        if request.method() == Method::OPTIONS {
            return webhook_options();
        }
        if path != "/" {
            let message = format!("{path}: a channel receives events at / only");
            return Error::InvalidEvent(message).into_response();
        }
        let _request = work.enter();
        let (event, headers) = match read_event(request, ingress.body_limit).await {
            Ok((event, headers)) => (Arc::new(event), headers),
            Err(response) => return response,
        };
        let headers = entered(&ingress, internal, &event, headers, super::topology::object(&channel.label));
        return ingress.mesh.accept(Destination::Channel(channel), event, headers).await;
    }
    let service = ingress.mesh.courier.transport.routes.services.get(&host).copied();
    if host == BROKER_INGRESS_HOST || service.is_none() {
        let mut parts = path.trim_matches('/').split('/');
        if let (Some(namespace), Some(name), None) = (parts.next(), parts.next(), parts.next())
            && let Some(broker) = ingress.mesh.broker(namespace, name)
        {
            // `pkg/broker/ingress/ingress_handler.go`: `OPTIONS` answers `200`.
            if request.method() == Method::OPTIONS {
                return webhook_options();
            }
            let _request = work.enter();
            let (event, headers) = match read_event(request, ingress.body_limit).await {
                Ok((event, headers)) => (Arc::new(event), headers),
                Err(response) => return response,
            };
            let headers = entered(&ingress, internal, &event, headers, &format!("broker/{}", broker.name));
            return ingress.mesh.accept(Destination::Broker(broker), event, headers).await;
        }
        if host == BROKER_INGRESS_HOST {
            let message = format!("{path}: no broker there (brokers answer on /<namespace>/<name>)");
            return Error::NotFound(message).into_response();
        }
    }
    if service.is_some() {
        return proxy(&ingress, &host, &path, request).await;
    }
    let mut known: Vec<String> = ingress.objects.iter().filter(|o| !o.url.is_empty()).map(|o| o.url.clone()).collect();
    known.sort();
    Error::NotFound(format!(
        "host {host:?} and path {path}: nothing answers there; send with a Host header of one of {}",
        if known.is_empty() { "(none)".to_owned() } else { known.join(", ") }
    ))
    .into_response()
}

/// An event from outside the mesh starts its journey at `node`, in a trace of its own
/// when it brings none; the mesh's own hops are already in their journeys.
fn entered(
    ingress: &Ingress,
    internal: bool,
    event: &Arc<fnmesh_runtime::Event>,
    mut headers: http::HeaderMap,
    node: &str,
) -> http::HeaderMap {
    if !internal {
        ensure_trace(&mut headers);
        let key = super::journal::trace_key(&headers, event);
        ingress.mesh.courier.journal.received(&key, event, node);
    }
    headers
}

/// The answer to `OPTIONS`: `200` with the CloudEvents WebHook headers (the abuse
/// protection handshake: any origin may send, at any rate).
fn webhook_options() -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert("webhook-allowed-origin", http::HeaderValue::from_static("*"));
    headers.insert("webhook-allowed-rate", http::HeaderValue::from_static("*"));
    headers.insert(header::ALLOW, http::HeaderValue::from_static("POST, OPTIONS"));
    response
}

/// The CloudEvent in a POST, read as the functions read one (the runtime's extractor, at
/// most `limit` bytes); the error response otherwise. The data is passed on unread, so
/// its nesting is the receiving function's to bound (a structured envelope is still
/// bounded by serde_json's own recursion limit).
async fn read_event(request: Request, limit: usize) -> Result<(fnmesh_runtime::Event, http::HeaderMap), Response> {
    if request.method() != Method::POST {
        let method = request.method().to_string();
        return Err(Error::MethodNotAllowed { method, allow: "POST, OPTIONS" }.into_response());
    }
    let mut request = request;
    let limits = RequestLimits { body: limit, body_setting: "--body-limit", json_depth: usize::MAX };
    request.extensions_mut().insert(limits);
    let headers = pass_through(request.headers());
    match IncomingEvent::from_request(request, &()).await {
        Ok(incoming) => Ok((incoming.event, headers)),
        // A channel or broker answers `400` to what is not a CloudEvent, where a
        // function answers `415` (`pkg/channel/event_receiver.go`).
        Err(Error::NotCloudEvent(message)) => Err(Error::InvalidEvent(message).into_response()),
        Err(e) => Err(e.into_response()),
    }
}

async fn proxy(ingress: &Ingress, host: &str, path: &str, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let limit = ingress.body_limit;
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return Error::PayloadTooLarge { limit, setting: "--body-limit" }.into_response();
    };
    let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let target = format!("http://{host}{path}{query}");
    let Ok(url) = url::Url::parse(&target) else {
        return Error::InvalidEvent(format!("{host:?} is not a host name")).into_response();
    };
    let mut headers = parts.headers.clone();
    headers.remove(header::HOST);
    headers.remove(&HOPS_HEADER);
    match ingress.mesh.courier.transport.send(parts.method, &url, headers, body, None).await {
        Attempt::Answered { status, headers, body, .. } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        Attempt::Failed { reason, .. } => Error::BadGateway(reason).into_response(),
    }
}
