//! The mesh's hops to itself: a subscription's reply to the next channel of a Sequence, a
//! trigger's reply back into its broker, a ping sent to a channel. On a cluster these are
//! HTTP requests from one dispatcher to another; here both ends are this process, so the
//! event is handed over as it is, where it would be encoded, posted to the ingress and
//! decoded there. What the ingress does with an event of the mesh's own hops happens the
//! same way ([`Mesh::accept`] is the ingress's code for channels and brokers), and the
//! courier sees the answer the ingress would have sent: `202`, `500` with the JSON error,
//! `503` with `Retry-After`, `400` for a TTL loop. Its attempts, logs, journey and dead
//! letters are unchanged.
//!
//! The hand-off goes to the latest data plane, as the ingress's routes do: after a reload
//! (`fnmesh run --watch`) a reply enters the new plane's channel.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use fnmesh_runtime::{AttributesReader, Error, Event};
use http::{HeaderMap, StatusCode};
use url::Url;

use super::courier::Courier;
use super::headers::pass_through;
use super::transport::{Attempt, full_host};
use super::{Admission, Mesh};
use crate::plan::address::BROKER_INGRESS_HOST;
use crate::plan::{BrokerPlan, ChannelPlan};

/// The data plane the mesh's own hops enter: the latest one, across reloads.
#[derive(Debug, Default)]
pub struct Latest(RwLock<Weak<Mesh>>);

impl Latest {
    /// From now on, hops enter `mesh`.
    pub fn set(&self, mesh: Weak<Mesh>) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = mesh;
    }

    fn get(&self) -> Option<Arc<Mesh>> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).upgrade()
    }
}

/// A channel or a broker of the mesh: what the ingress routes an event to.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A channel, at `/` of its host.
    Channel(Arc<ChannelPlan>),
    /// A broker, at `/<namespace>/<name>` of the broker ingress.
    Broker(Arc<BrokerPlan>),
}

impl Mesh {
    /// The channel or broker at `url`, as the ingress routes it; `None` for anything else
    /// (a wrong path of a channel, a broker that does not exist: those go over HTTP and get
    /// the ingress's own error).
    pub fn destination(&self, url: &Url) -> Option<Destination> {
        let host = full_host(url.host_str()?);
        if let Some(channel) = self.channel(&host) {
            return (url.path() == "/").then_some(Destination::Channel(channel));
        }
        if host != BROKER_INGRESS_HOST {
            return None;
        }
        let mut parts = url.path().trim_matches('/').split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(namespace), Some(name), None) => self.broker(namespace, name).map(Destination::Broker),
            _ => None,
        }
    }

    /// What a channel or broker does with `event` and answers, for the ingress and for
    /// the mesh's own hops alike: a channel fans it out (in the background when it is
    /// asynchronous, within the backlog), a broker takes it in. Boxed, and the fan-out
    /// and the broker's deliveries boxed within: their futures are large (kilobytes),
    /// and a future is moved whole into its task.
    pub fn accept(
        self: &Arc<Self>,
        destination: Destination,
        event: Arc<Event>,
        headers: HeaderMap,
    ) -> Pin<Box<dyn Future<Output = Response> + Send + '_>> {
        Box::pin(async move {
            match destination {
                Destination::Channel(channel) if channel.asynchronous => {
                    let size = super::work::size_of(&event).saturating_mul(channel.subscriptions.len());
                    let Some(ticket) = self.work.reserve(size) else {
                        self.courier.out.log(&format!(
                            "{}: refused event {}: the backlog is full",
                            channel.label,
                            event.id()
                        ));
                        return full(self.work.backlog_limit());
                    };
                    let mesh = self.clone();
                    tokio::spawn(async move {
                        let label = channel.label.clone();
                        if let Err(e) = mesh.fan_out(channel, event, headers).await {
                            mesh.courier.out.log(&format!("{label}: {e}"));
                        }
                        drop(ticket);
                    });
                    StatusCode::ACCEPTED.into_response()
                }
                Destination::Channel(channel) => match Box::pin(self.fan_out(channel.clone(), event, headers)).await {
                    Ok(()) => StatusCode::ACCEPTED.into_response(),
                    Err(e) => {
                        self.courier.out.log(&format!("{}: answering 500: {e}", channel.label));
                        Error::Internal(e).into_response()
                    }
                },
                Destination::Broker(broker) => match Box::pin(self.broker_ingress(broker, event, headers)).await {
                    Admission::Accepted => StatusCode::ACCEPTED.into_response(),
                    Admission::Failed(e) => Error::Internal(e).into_response(),
                    Admission::LoopDropped => {
                        let dropped = "dropped: knativebrokerttl reached 0 (an event loop through the broker?)";
                        Error::InvalidEvent(dropped.into()).into_response()
                    }
                    Admission::Full => full(self.work.backlog_limit()),
                },
            }
        })
    }

    /// `event` with `headers` handed to `destination` as one attempt of a hop (within
    /// `timeout`), answered as the ingress would have answered the request. The
    /// destination runs in a task of its own, as a request to the ingress would: a flow of
    /// many hops does not nest them all in one future (nor one stack), and a hop that
    /// times out leaves the destination to finish what it accepted.
    pub async fn handed(
        self: &Arc<Self>,
        destination: Destination,
        event: &Arc<Event>,
        headers: &HeaderMap,
        timeout: Option<Duration>,
    ) -> Attempt {
        let started = Instant::now();
        let mesh = self.clone();
        // What the ingress passes on of a request from the mesh's own hops.
        let (event, headers) = (Arc::clone(event), pass_through(headers));
        let accepted = tokio::spawn(async move { mesh.accept(destination, event, headers).await });
        let answered = match timeout {
            Some(timeout) => match tokio::time::timeout(timeout, accepted).await {
                Ok(answered) => answered,
                Err(_) => return Attempt::Failed { reason: "timed out".into(), elapsed: started.elapsed() },
            },
            None => accepted.await,
        };
        let response = match answered {
            Ok(response) => response,
            Err(e) => {
                return Attempt::Failed { reason: format!("the hand-off failed: {e}"), elapsed: started.elapsed() };
            }
        };
        let (parts, body) = response.into_parts();
        // The bodies are the answers' own: empty, or a short JSON error.
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        Attempt::Answered { status: parts.status, headers: parts.headers, body, elapsed: started.elapsed() }
    }
}

impl Courier {
    /// The latest data plane and its channel or broker at `url`, when there is one.
    pub fn handoff(&self, url: &Url) -> Option<(Arc<Mesh>, Destination)> {
        let mesh = self.latest.get()?;
        let destination = mesh.destination(url)?;
        Some((mesh, destination))
    }
}

/// The answer when the backlog is full: `503` with `Retry-After: 1`.
fn full(limit: usize) -> Response {
    with_retry_after(Error::Unavailable(format!(
        "the backlog of accepted events is full ({limit} bytes, --backlog): retry later"
    )))
}

/// `503` with `Retry-After: 1`: come back soon.
pub fn with_retry_after(error: Error) -> Response {
    let mut response = error.into_response();
    response.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    response
}
