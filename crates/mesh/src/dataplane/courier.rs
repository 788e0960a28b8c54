//! Sending one event to one destination as Knative's dispatcher does: the attempts under
//! the delivery policy (the runtime's one engine, `fnmesh_runtime::delivery`), each one
//! logged, the reply event, and the dead letter sink with the `knativeerror*` extensions.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use fnmesh_runtime::Event;
use fnmesh_runtime::binding::{decode, detect};
use fnmesh_runtime::delivery::{DeliveryPolicy, Next, Tried};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::headers::{HOPS_HEADER, pass_through, with_extension};
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
pub type Delivered = Option<(Event, HeaderMap)>;

/// Sends events over the transport and logs what happened.
#[derive(Debug, Clone)]
pub struct Courier {
    /// How events travel: HTTP, in-cluster hosts routed to loopback.
    pub transport: Transport,
    /// Where every attempt is logged.
    pub out: Out,
}

impl Courier {
    /// Sends `event` to `target` under `delivery`'s policy, logging every attempt as
    /// `label -> name`.
    pub async fn deliver(
        &self,
        label: &str,
        target: &Target,
        event: &Event,
        headers: &HeaderMap,
        delivery: &Delivery,
    ) -> Result<Delivered, Box<Failure>> {
        self.send(label, target, event, headers, &delivery.policy).await
    }

    /// Sends `event` to `target` under `policy`, logging every attempt as `label -> name`.
    pub async fn send(
        &self,
        label: &str,
        target: &Target,
        event: &Event,
        headers: &HeaderMap,
        policy: &DeliveryPolicy,
    ) -> Result<Delivered, Box<Failure>> {
        let mut headers = headers.clone();
        headers.insert("prefer", HeaderValue::from_static("reply"));
        if headers.contains_key(&HOPS_HEADER) && !self.transport.routes.is_mesh(&target.url) {
            headers.remove(&HOPS_HEADER);
        }
        let headers = &headers;
        let attempt = |n: u32| async move {
            match self.transport.post(&target.url, event, headers, policy.timeout).await {
                Attempt::Answered { status, headers: answer, body, elapsed } => {
                    let took = millis(elapsed);
                    let code = status.as_u16();
                    if status.is_success() {
                        self.out.log(&format!("{label} -> {}: {code} in {took} ms", target.name));
                        return match reply(&target.url, status, &answer, body) {
                            Ok(delivered) => Tried::Delivered(delivered),
                            Err(failure) => Tried::Final(failure),
                        };
                    }
                    let next = describe(policy.next(n, Some(status)));
                    self.out.log(&format!("{label} -> {}: {code} in {took} ms{next}", target.name));
                    let reason = format!("{} answered {status}", target.url);
                    let failure = Failure { url: target.url.clone(), status: code, reason, body };
                    Tried::Answered { status, headers: answer, error: Box::new(failure) }
                }
                Attempt::Failed { reason, elapsed } => {
                    let took = millis(elapsed);
                    let next = describe(policy.next(n, None));
                    self.out.log(&format!("{label} -> {}: {reason} after {took} ms{next}", target.name));
                    let body = Bytes::from(format!("dispatch error: {reason}"));
                    let reason = format!("{}: {reason}", target.url);
                    Tried::NoAnswer(Box::new(Failure { url: target.url.clone(), status: 500, reason, body }))
                }
            }
        };
        policy.run(attempt).await.map_err(|gave_up| gave_up.error)
    }

    /// Sends the original `event` to the dead letter sink of `delivery` with the error
    /// extensions; without a sink the failure stands.
    pub async fn dead_letter(
        &self,
        label: &str,
        delivery: &Delivery,
        event: &Event,
        headers: &HeaderMap,
        failure: Box<Failure>,
    ) -> Result<(), String> {
        let Some(sink) = &delivery.dead_letter else { return Err(failure.reason) };
        let mut dead = with_extension(event, "knativeerrordest", failure.url.to_string().trim_end_matches('/'));
        dead.set_extension("knativeerrorcode", failure.status.to_string());
        if !failure.body.is_empty() {
            let mut data = base64::engine::general_purpose::STANDARD.encode(&failure.body);
            data.truncate(1024);
            dead.set_extension("knativeerrordata", data);
        }
        let sink_label = format!("{label} dead letter");
        match self.deliver(&sink_label, sink, &dead, headers, delivery).await {
            Ok(_) => Ok(()),
            Err(dead_failure) => Err(format!(
                "unable to complete request to either {} ({}) or {} ({})",
                failure.url, failure.reason, dead_failure.url, dead_failure.reason
            )),
        }
    }
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

/// The event in a 2xx answer: none when the answer is not a CloudEvent (as upstream,
/// which discards it); a failure when it claims to be one and is not valid.
fn reply(url: &url::Url, status: StatusCode, headers: &HeaderMap, body: Bytes) -> Result<Delivered, Box<Failure>> {
    match detect(headers) {
        Ok(None) => Ok(None),
        Ok(Some(_)) | Err(_) => match decode(headers, body.clone()) {
            Ok(incoming) => Ok(Some((incoming.event, pass_through(headers)))),
            Err(e) => Err(Box::new(Failure {
                url: url.clone(),
                status: status.as_u16(),
                reason: format!("{url} replied with an invalid CloudEvent: {e}"),
                body,
            })),
        },
    }
}
