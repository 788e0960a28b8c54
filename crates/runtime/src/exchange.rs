//! One request and its reply on a served connection, bounded in time and memory.
//!
//! The request's body must arrive within `FNMESH_BODY_TIMEOUT` of when the server starts
//! reading it (else a JSON `408`), and its bytes are charged to the server's in-flight budget
//! (`FNMESH_MAX_INFLIGHT_BYTES`, see [`crate::budget`]; a body that finds no room gets a
//! JSON `503` with `Retry-After`) until the reply has been written out. Both refusals
//! close the connection, since the rest of the body is left unread. The reply, in turn,
//! must be taken within `FNMESH_BODY_TIMEOUT` (see [`crate::connections::MeteredIo`]).
//! Bodies are read by the handlers as ever; only their bytes are counted and timed.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Router};
use bytes::Bytes;
use http::header::{CONNECTION, RETRY_AFTER};
use http::{HeaderValue, Request};
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::Error;
use crate::budget::{Budget, Charge, Refused};
use crate::connections::ConnectionState;

/// What every exchange on one server shares.
#[derive(Debug, Clone)]
pub(crate) struct ExchangeLimits {
    /// `FNMESH_MAX_INFLIGHT_BYTES`.
    pub(crate) budget: Arc<Budget>,
    /// `FNMESH_BODY_TIMEOUT`.
    pub(crate) body_timeout: Duration,
    /// `FNMESH_BODY_LIMIT`: what a body that does not say its length reserves.
    pub(crate) body_limit: usize,
}

/// hyper's service for one connection: `router` under [`ExchangeLimits`].
#[derive(Debug, Clone)]
pub(crate) struct Exchanges {
    router: Router,
    limits: ExchangeLimits,
    connection: Arc<ConnectionState>,
}

impl Exchanges {
    pub(crate) fn new(router: Router, limits: ExchangeLimits, connection: Arc<ConnectionState>) -> Self {
        Self { router, limits, connection }
    }
}

impl hyper::service::Service<Request<Incoming>> for Exchanges {
    type Response = http::Response<Reply>;
    type Error = Infallible;
    type Future = Answering;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.connection.begin();
        let exchange = Arc::new(Exchange::default());
        let request = request.map(|body| TimedBody::new(body, exchange.clone(), &self.limits));
        Answering {
            call: self.router.clone().oneshot(request),
            exchange: Some(exchange),
            limits: self.limits.clone(),
            connection: self.connection.clone(),
        }
    }
}

/// The router answering one request; then the reply, as the body's fate requires.
pub(crate) struct Answering {
    call: tower::util::Oneshot<Router, Request<TimedBody>>,
    exchange: Option<Arc<Exchange>>,
    limits: ExchangeLimits,
    connection: Arc<ConnectionState>,
}

impl Future for Answering {
    type Output = Result<http::Response<Reply>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = match std::task::ready!(Pin::new(&mut self.call).poll(cx)) {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let exchange = self.exchange.take().unwrap_or_default();
        let refusal = exchange.state().refusal;
        let response = refusal.map_or(response, |refusal| refusal.response(&self.limits));
        self.connection.replying(Instant::now() + self.limits.body_timeout);
        let connection = self.connection.clone();
        Poll::Ready(Ok(response.map(|body| Reply { body, exchange: Some(exchange), connection })))
    }
}

/// What one request's body and reply share.
#[derive(Debug, Default)]
struct Exchange {
    state: Mutex<ExchangeState>,
}

#[derive(Debug, Default)]
struct ExchangeState {
    /// The body's charge once it is no longer being read.
    charge: Option<Charge>,
    refusal: Option<Refusal>,
}

impl Exchange {
    fn state(&self) -> MutexGuard<'_, ExchangeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a body was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    TimedOut,
    Budget(Refused),
}

impl Refusal {
    /// The JSON answer, instead of whatever the handler made of its cut body.
    fn response(self, limits: &ExchangeLimits) -> Response {
        let mut response = match self {
            Self::TimedOut => Error::RequestTimeout(format!(
                "the request body did not arrive within {} (FNMESH_BODY_TIMEOUT)",
                humantime::format_duration(limits.body_timeout)
            ))
            .into_response(),
            Self::Budget(refused) => {
                let limit = limits.budget.limit();
                let error = match refused {
                    Refused::Full => format!(
                        "the bodies of requests in flight take all of FNMESH_MAX_INFLIGHT_BYTES ({limit} bytes): retry later"
                    ),
                    Refused::Overdue => format!(
                        "the request body was still arriving after {} and made room for another within \
                         FNMESH_MAX_INFLIGHT_BYTES ({limit} bytes): retry later",
                        humantime::format_duration(crate::budget::PROMPT)
                    ),
                };
                let mut response = Error::Unavailable(error).into_response();
                response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
        };
        // The rest of the body stays unread: the connection cannot carry another request.
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TimedOut => "the request body did not arrive within FNMESH_BODY_TIMEOUT",
            Self::Budget(Refused::Full) => "no room for the request body within FNMESH_MAX_INFLIGHT_BYTES",
            Self::Budget(Refused::Overdue) => "the request body arrived too slowly and made room for another",
        })
    }
}

impl std::error::Error for Refusal {}

/// A request body that must arrive by a deadline and whose bytes are charged as they do.
pub(crate) struct TimedBody {
    inner: Incoming,
    exchange: Arc<Exchange>,
    budget: Arc<Budget>,
    /// What it reserves: its length, or the body limit when it does not say.
    declared: usize,
    timeout: Duration,
    /// When reading started: the wait for room is the server's, not the sender's.
    reading_since: Option<Instant>,
    /// Made the first time the body has to wait for the sender.
    deadline: Option<Pin<Box<Sleep>>>,
    stage: Stage,
}

/// Waiting for room in the budget.
type Admission = Pin<Box<dyn Future<Output = Result<Charge, Refused>> + Send>>;

enum Stage {
    /// Not read yet; then waiting for room.
    Admitting(Option<Admission>),
    Reading(Charge),
    Ended,
}

impl TimedBody {
    fn new(inner: Incoming, exchange: Arc<Exchange>, limits: &ExchangeLimits) -> Self {
        let declared =
            inner.size_hint().exact().map_or(limits.body_limit, |n| usize::try_from(n).unwrap_or(usize::MAX));
        Self {
            inner,
            exchange,
            budget: limits.budget.clone(),
            declared: declared.min(limits.budget.limit()),
            timeout: limits.body_timeout,
            reading_since: None,
            deadline: None,
            stage: Stage::Admitting(None),
        }
    }

    /// Ends the body with `refusal`; its bytes are given back at once (the handler drops
    /// them when it sees the error).
    fn cut(&mut self, refusal: Refusal) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.exchange.state().refusal = Some(refusal);
        self.stage = Stage::Ended;
        Poll::Ready(Some(Err(Box::new(refusal))))
    }

    /// `Pending`, unless the deadline has passed.
    fn pending(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let since = *self.reading_since.get_or_insert_with(Instant::now);
        let deadline = self.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(since + self.timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            return self.cut(Refusal::TimedOut);
        }
        Poll::Pending
    }

    fn start_reading(&mut self, charge: Charge) {
        self.reading_since = Some(Instant::now());
        self.stage = Stage::Reading(charge);
    }

    /// The whole body arrived: its charge waits for the reply.
    fn finish(&mut self) {
        if let Stage::Reading(mut charge) = std::mem::replace(&mut self.stage, Stage::Ended) {
            charge.arrived();
            self.exchange.state().charge = Some(charge);
        }
    }
}

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            match &mut this.stage {
                Stage::Ended => return Poll::Ready(None),
                Stage::Admitting(_) if this.inner.is_end_stream() => this.stage = Stage::Ended,
                Stage::Admitting(None) => match this.budget.admit_now(this.declared) {
                    Some(charge) => this.start_reading(charge),
                    None => this.stage = Stage::Admitting(Some(Box::pin(this.budget.clone().admit(this.declared)))),
                },
                Stage::Admitting(Some(admission)) => match admission.as_mut().poll(cx) {
                    Poll::Ready(Ok(charge)) => this.start_reading(charge),
                    Poll::Ready(Err(refused)) => return this.cut(Refusal::Budget(refused)),
                    Poll::Pending => return Poll::Pending,
                },
                Stage::Reading(charge) => match Pin::new(&mut this.inner).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref()
                            && let Err(refused) = charge.take(data.len())
                        {
                            return this.cut(Refusal::Budget(refused));
                        }
                        if this.inner.is_end_stream() {
                            this.finish();
                        }
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err.into()))),
                    Poll::Ready(None) => {
                        this.finish();
                        return Poll::Ready(None);
                    }
                    Poll::Pending if charge.poll_cut(cx) => return this.cut(Refusal::Budget(Refused::Overdue)),
                    Poll::Pending => return this.pending(cx),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.stage, Stage::Ended) || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TimedBody {
    fn drop(&mut self) {
        // A handler that stops reading part-way may still hold what it read.
        if let Stage::Reading(charge) = std::mem::replace(&mut self.stage, Stage::Ended) {
            self.exchange.state().charge = Some(charge);
        }
    }
}

/// A reply body; once hyper has taken all of it, the request's charge waits on the
/// connection until the reply is written out.
pub(crate) struct Reply {
    body: Body,
    exchange: Option<Arc<Exchange>>,
    connection: Arc<ConnectionState>,
}

impl hyper::body::Body for Reply {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        let charge = self.exchange.take().and_then(|exchange| exchange.state().charge.take());
        self.connection.replied(charge);
    }
}
