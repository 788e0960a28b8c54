//! Sending one event to one destination as Knative's dispatcher does: the attempts under
//! the delivery policy (the runtime's one engine, `fnmesh_runtime::delivery`), each one
//! logged with the event's id and recorded in its journey ([`super::journal`]), the reply event, and the dead letter sink with the `knativeerror*` extensions.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use fnmesh_runtime::binding::{Encoding, decode, detect};
use fnmesh_runtime::delivery::{DeliveryPolicy, Next, Tried};
use fnmesh_runtime::{AttributesReader, Event};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::headers::{HOPS_HEADER, TRACEPARENT, pass_through, traceparent};
use super::journal::{Attempted, Journal, trace_key};
use super::transport::{Attempt, Transport};
use crate::output::Out;
use crate::plan::{Delivery, Target};

/// A delivery that failed after its attempts.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The destination that failed (`knativeerrordest` on the dead letter).
    pub url: url::Url,
    /// The last status; 500 when there was no answer, as upstream records it.
    pub status: u16,
    /// The last answer's body, or the dispatch error (`knativeerrordata`, in base64).
    pub body: Bytes,
    /// Why it failed, for logs and for the error when there is no dead letter sink.
    pub reason: String,
}

/// What a destination answered: a reply event (with the headers to pass on), or none.
/// Events are shared, not copied, between the hops that send them and the journal.
pub type Delivered = Option<(Arc<Event>, HeaderMap)>;

/// What a request is in Knative's terms; it decides its headers and how its answer is
/// read (knative/eventing `pkg/kncloudevents/event_dispatcher.go`,
/// `pkg/broker/filter/filter_handler.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A channel subscription's subscriber: `Prefer: reply`; a `2xx` body that is not a
    /// CloudEvent is no reply.
    Subscriber,
    /// A trigger's subscriber: `Prefer: reply`; a non-empty `2xx` body that is not a
    /// CloudEvent fails with `502` (retried, dead-lettered), as the broker's filter
    /// answers; `structured` (`delivery.format: json`) sends the event in structured mode.
    Trigger {
        /// Structured mode.
        structured: bool,
    },
    /// A reply sent on, or an event to a dead letter sink: no `Prefer`.
    Forward,
    /// The PingSource adapter's send: no `Prefer`.
    Source,
}

/// One request's who and where: what it is, where it goes, and the namespace of the
/// object that sends it (`Kn-Namespace`, on every request a dispatcher or adapter makes).
#[derive(Debug, Clone, Copy)]
pub struct Hop<'a> {
    /// For logs: `sequence/s step 0`, `trigger/t reply`.
    pub label: &'a str,
    /// Where it goes.
    pub target: &'a Target,
    /// What it is.
    pub role: Role,
    /// The sending object's namespace.
    pub namespace: &'a str,
}

/// `Kn-Namespace`: the namespace of the sending object (`pkg/apis/http.go`).
const KN_NAMESPACE: http::HeaderName = http::HeaderName::from_static("kn-namespace");

/// `Prefer: reply`: the sender takes a reply event (`pkg/kncloudevents/event_dispatcher.go`).
const PREFER: http::HeaderName = http::HeaderName::from_static("prefer");

/// Sends events over the transport and logs what happened.
#[derive(Debug, Clone)]
pub struct Courier {
    /// How events travel: HTTP, in-cluster hosts routed to loopback.
    pub transport: Transport,
    /// Where every attempt is logged.
    pub out: Out,
    /// Where every attempt is recorded, as a hop of its event's journey.
    pub journal: Arc<Journal>,
    /// The data plane that hops to the mesh's own channels and brokers enter.
    pub latest: Arc<super::handoff::Latest>,
}

impl Courier {
    /// Sends `event` on `hop` under `delivery`'s policy, logging every attempt.
    pub async fn deliver(
        &self,
        hop: Hop<'_>,
        event: &Arc<Event>,
        headers: &HeaderMap,
        delivery: &Delivery,
    ) -> Result<Delivered, Box<Failure>> {
        self.send(hop, event, headers, &delivery.policy).await
    }

    /// Sends `event` on `hop` under `policy`, logging every attempt as `label -> name`.
    pub async fn send(
        &self,
        hop: Hop<'_>,
        event: &Arc<Event>,
        headers: &HeaderMap,
        policy: &DeliveryPolicy,
    ) -> Result<Delivered, Box<Failure>> {
        let Hop { label, target, role, namespace } = hop;
        let mut headers = headers.clone();
        match role {
            Role::Subscriber | Role::Trigger { .. } => {
                headers.insert(PREFER, HeaderValue::from_static("reply"));
            }
            Role::Forward | Role::Source => {
                headers.remove(PREFER);
            }
        }
        if let Ok(namespace) = HeaderValue::from_str(namespace) {
            headers.insert(KN_NAMESPACE, namespace);
        }
        let to_mesh = self.transport.is_mesh(&target.url);
        if !to_mesh {
            headers.remove(&HOPS_HEADER);
        }
        let encoding = match role {
            Role::Trigger { structured: true } => Encoding::Structured,
            _ => Encoding::Binary,
        };
        let headers = &headers;
        // The journey's key, when there are journeys.
        let key = if self.journal.records() { trace_key(headers, event) } else { String::new() };
        let id = event.id();
        let verbose = self.out.verbose;
        // Each attempt: one line of the log (written only when it is shown), one hop of
        // the journey.
        let note = |n: u32,
                    status: Option<u16>,
                    reason: Option<String>,
                    elapsed: Duration,
                    next: Option<Next>,
                    reply: Option<&Arc<Event>>,
                    line: &dyn Fn() -> String| {
            if verbose {
                self.out.log(&format!("{} (event {id})", line()));
            }
            let backoff = match next {
                Some(Next::Retry { attempt, .. }) => Some(policy.backoff(attempt)),
                _ => None,
            };
            let gave_up = matches!(next, Some(Next::GiveUp { .. } | Next::NotRetried));
            let attempted = Attempted {
                route: label,
                target,
                status,
                reason,
                latency: elapsed,
                attempt: n,
                backoff,
                gave_up,
                reply,
            };
            self.journal.attempted(&key, event, attempted);
        };
        let attempt = |n: u32| {
            let note = &note;
            async move {
                // Each request is a span of its own, in the sender's trace (the tracing
                // transport upstream starts one per request).
                let headers = with_new_span(headers);
                let answer = match to_mesh.then(|| self.handoff(&target.url)).flatten() {
                    Some((mesh, destination)) => mesh.handed(destination, event, &headers, policy.timeout).await,
                    // Boxed: the HTTP client's future is large, and every future that holds
                    // this one (a channel's fan-out, a broker's triggers) is moved whole
                    // into its task.
                    None => Box::pin(self.transport.post(&target.url, event, headers, policy.timeout, encoding)).await,
                };
                match answer {
                    Attempt::Answered { status, headers: answer, body, elapsed } => {
                        let took = || millis(elapsed);
                        let code = status.as_u16();
                        if status.is_success() {
                            return match reply(&target.url, status, &answer, body, role) {
                                Ok(delivered) => {
                                    let line = || format!("{label} -> {}: {code} in {} ms", target.name, took());
                                    note(n, Some(code), None, elapsed, None, delivered.as_ref().map(|(e, _)| e), &line);
                                    Tried::Delivered(delivered)
                                }
                                Err(failure) if failure.status == 502 => {
                                    let next = policy.next(n, Some(StatusCode::BAD_GATEWAY));
                                    let line = || {
                                        format!(
                                            "{label} -> {}: {code} with a body that is not a CloudEvent in {} ms{}",
                                            target.name,
                                            took(),
                                            describe(next)
                                        )
                                    };
                                    note(n, Some(502), Some(failure.reason.clone()), elapsed, Some(next), None, &line);
                                    Tried::Answered { status: StatusCode::BAD_GATEWAY, headers: answer, error: failure }
                                }
                                Err(failure) => {
                                    let line = || format!("{label} -> {}: {code} in {} ms", target.name, took());
                                    let next = Some(Next::NotRetried);
                                    note(n, Some(code), Some(failure.reason.clone()), elapsed, next, None, &line);
                                    Tried::Final(failure)
                                }
                            };
                        }
                        let next = policy.next(n, Some(status));
                        let line = || format!("{label} -> {}: {code} in {} ms{}", target.name, took(), describe(next));
                        let reason = format!("{} answered {status}", target.url);
                        note(n, Some(code), Some(reason.clone()), elapsed, Some(next), None, &line);
                        let failure = Failure { url: target.url.clone(), status: code, reason, body };
                        Tried::Answered { status, headers: answer, error: Box::new(failure) }
                    }
                    Attempt::Failed { reason, elapsed } => {
                        let next = policy.next(n, None);
                        let line = || {
                            format!(
                                "{label} -> {}: {reason} after {} ms{}",
                                target.name,
                                millis(elapsed),
                                describe(next)
                            )
                        };
                        note(n, None, Some(reason.clone()), elapsed, Some(next), None, &line);
                        let body = Bytes::from(format!("dispatch error: {reason}"));
                        let reason = format!("{}: {reason}", target.url);
                        Tried::NoAnswer(Box::new(Failure { url: target.url.clone(), status: 500, reason, body }))
                    }
                }
            }
        };
        policy.run(attempt).await.map_err(|gave_up| gave_up.error)
    }

    /// Sends the original `event` to the dead letter sink of `delivery` with the error
    /// extensions; without a sink the failure stands. `hop` is the one that failed.
    pub async fn dead_letter(
        &self,
        hop: Hop<'_>,
        delivery: &Delivery,
        event: &Event,
        headers: &HeaderMap,
        failure: Box<Failure>,
    ) -> Result<(), String> {
        let Some(sink) = &delivery.dead_letter else { return Err(failure.reason) };
        let dead = Arc::new(with_error_extensions(event, &failure));
        let sink_label = format!("{} dead letter", hop.label);
        let sink_hop = Hop { label: &sink_label, target: sink, role: Role::Forward, namespace: hop.namespace };
        match self.deliver(sink_hop, &dead, headers, delivery).await {
            Ok(_) => Ok(()),
            Err(dead_failure) => Err(format!(
                "unable to complete request to either {} ({}) or {} ({})",
                failure.url, failure.reason, dead_failure.url, dead_failure.reason
            )),
        }
    }
}

/// `event` with the `knativeerror*` extensions of `failure`, as
/// `pkg/kncloudevents/attributes/knative_error.go` sets them: `knativeerrordest` (the URL
/// that failed), `knativeerrorcode` (its status; 500 when it did not answer) and
/// `knativeerrordata` (its body in padded base64, cut to 1024 characters; `""` when empty),
/// none of them replacing one the event already carries (a second failure keeps the first's).
pub fn with_error_extensions(event: &Event, failure: &Failure) -> Event {
    let mut dead = event.clone();
    let mut set = |name: &str, value: String| {
        if dead.extension(name).is_none() {
            dead.set_extension(name, value);
        }
    };
    set("knativeerrordest", failure.url.to_string().trim_end_matches('/').to_owned());
    set("knativeerrorcode", failure.status.to_string());
    let mut data = base64::engine::general_purpose::STANDARD.encode(&failure.body);
    data.truncate(1024);
    set("knativeerrordata", data);
    dead
}

/// `headers` with a `traceparent` whose span id is new (the trace id and flags kept);
/// `tracestate` goes on unchanged. Without a valid `traceparent`, unchanged.
fn with_new_span(headers: &HeaderMap) -> HeaderMap {
    let mut headers = headers.clone();
    let fresh = headers.get(&TRACEPARENT).and_then(|v| v.to_str().ok()).and_then(|parent| {
        let mut parts = parent.split('-');
        match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(version), Some(trace), Some(span), Some(flags), None) if trace.len() == 32 && span.len() == 16 => {
                traceparent(version, trace, flags)
            }
            _ => None,
        }
    });
    if let Some(fresh) = fresh {
        headers.insert(TRACEPARENT, fresh);
    }
    headers
}

/// What the log line says comes next.
fn describe(next: Next) -> String {
    match next {
        Next::Retry { attempt, of } => format!(", attempt {attempt} of {of}"),
        Next::GiveUp { attempts } => format!(", gave up after {attempts} attempt(s)"),
        Next::NotRetried => ", not retried".to_owned(),
    }
}

fn millis(elapsed: Duration) -> String {
    format!("{:.1}", elapsed.as_secs_f64() * 1000.0)
}

/// The event in a 2xx answer: none when the answer is not a CloudEvent (as a channel
/// does, discarding it; a trigger fails it with `502` when the body is not empty, as the
/// broker's filter does); a failure when it claims to be one and is not valid.
fn reply(
    url: &url::Url,
    status: StatusCode,
    headers: &HeaderMap,
    body: Bytes,
    role: Role,
) -> Result<Delivered, Box<Failure>> {
    match detect(headers) {
        Ok(None) if matches!(role, Role::Trigger { .. }) && !body.is_empty() => Err(Box::new(Failure {
            url: url.clone(),
            status: 502,
            reason: format!(
                "{url} answered {status} with a non-empty body that is not a CloudEvent (it must be empty or a \
                 CloudEvent)"
            ),
            body,
        })),
        Ok(None) => Ok(None),
        Ok(Some(_)) | Err(_) => match decode(headers, body.clone()) {
            Ok(incoming) => Ok(Some((Arc::new(incoming.event), pass_through(headers)))),
            Err(e) => Err(Box::new(Failure {
                url: url.clone(),
                status: if matches!(role, Role::Trigger { .. }) { 502 } else { status.as_u16() },
                reason: format!("{url} replied with an invalid CloudEvent: {e}"),
                body,
            })),
        },
    }
}

#[cfg(test)]
mod tests {
    use fnmesh_runtime::{AttributesReader, EventBuilder, EventBuilderV10};

    use super::*;

    fn failure(status: u16, body: &'static str) -> Failure {
        let url = url::Url::parse("http://first.default.svc.cluster.local/").unwrap();
        Failure { url, status, body: Bytes::from_static(body.as_bytes()), reason: String::new() }
    }

    #[test]
    fn dead_letter_extensions_are_knatives() {
        // pkg/kncloudevents/attributes/knative_error.go: knativeerrordata is always set
        // (empty for an empty body), and extensions already there are kept.
        let event = EventBuilderV10::new().id("1").source("/s").ty("t").build().unwrap();
        let dead = with_error_extensions(&event, &failure(503, ""));
        let text = |e: &Event, name: &str| e.extension(name).map(ToString::to_string);
        assert_eq!(text(&dead, "knativeerrordest").as_deref(), Some("http://first.default.svc.cluster.local"));
        assert_eq!(text(&dead, "knativeerrorcode").as_deref(), Some("503"));
        assert_eq!(text(&dead, "knativeerrordata").as_deref(), Some(""));
        let again = with_error_extensions(&dead, &failure(500, "later"));
        assert_eq!(text(&again, "knativeerrorcode").as_deref(), Some("503"), "the first failure's");
        assert_eq!(text(&again, "knativeerrordata").as_deref(), Some(""));
        assert_eq!(again.id(), "1");
        let long = with_error_extensions(&event, &failure(500, Box::leak("x".repeat(2000).into_boxed_str())));
        assert_eq!(text(&long, "knativeerrordata").map(|d| d.len()), Some(1024));
    }

    #[test]
    fn every_request_is_a_new_span_of_the_same_trace() {
        let mut headers = HeaderMap::new();
        headers
            .insert("traceparent", HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        let next = with_new_span(&headers);
        let traceparent = next["traceparent"].to_str().unwrap();
        assert!(traceparent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"), "{traceparent}");
        assert!(traceparent.ends_with("-01") && !traceparent.contains("b7ad6b7169203331"), "{traceparent}");
        headers.insert("traceparent", HeaderValue::from_static("garbage"));
        assert_eq!(with_new_span(&headers)["traceparent"], "garbage");
    }
}
