//! Sending one event to one destination as Knative's dispatcher does: attempts with
//! backoff and Retry-After, the retryable statuses, the reply event, and the dead
//! letter sink with the `knativeerror*` extensions.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use fnmesh_runtime::Event;
use fnmesh_runtime::binding::{decode, detect};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::delivery::{DeliveryPolicy, Target};
use crate::output::Out;
use crate::transport::{Attempt, Transport};

/// Which answers are worth another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    /// Channels, brokers, triggers: 5xx, 404, 408, 409, 429, no answer.
    Dispatcher,
    /// The PingSource adapter: 404, 413, 425, 429, 502, 503, 504, no answer.
    Source,
}

impl RetryOn {
    fn retries(self, status: StatusCode) -> bool {
        let code = status.as_u16();
        match self {
            Self::Dispatcher => code >= 500 || matches!(code, 404 | 408 | 409 | 429),
            Self::Source => matches!(code, 404 | 413 | 425 | 429 | 502 | 503 | 504),
        }
    }
}

/// A delivery that failed after its attempts.
#[derive(Debug, Clone)]
pub struct Failure {
    pub url: url::Url,
    /// The last status; 500 when there was no answer, as upstream records it.
    pub status: u16,
    pub body: Bytes,
    pub reason: String,
}

/// What a destination answered: a reply event (with the headers to pass on), or none.
pub type Delivered = Option<(Event, HeaderMap)>;

/// The headers Knative passes from a request or a reply to the next hop, and the
/// mesh's own TTL carrier ([`crate::mesh::HOPS_HEADER`]).
pub fn pass_through(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if matches!(n, "traceparent" | "tracestate" | "baggage" | "x-request-id" | "retry-after" | "fnmesh-broker-ttl")
            || n.starts_with("knative-")
            || n.starts_with("x-b3-")
        {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Sends events over the transport and logs what happened.
#[derive(Debug, Clone)]
pub struct Courier {
    pub transport: Transport,
    pub out: Out,
}

impl Courier {
    /// Sends `event` to `target` under `policy`, logging every attempt as `label -> name`.
    pub async fn deliver(
        &self,
        label: &str,
        target: &Target,
        event: &Event,
        headers: &HeaderMap,
        policy: &DeliveryPolicy,
        retry_on: RetryOn,
    ) -> Result<Delivered, Box<Failure>> {
        let (transport, out) = (&self.transport, &self.out);
        let mut headers = headers.clone();
        headers.insert("prefer", HeaderValue::from_static("reply"));
        if headers.contains_key(&crate::mesh::HOPS_HEADER) && !transport.routes.is_mesh(&target.url) {
            headers.remove(&crate::mesh::HOPS_HEADER);
        }
        let attempts = policy.retry + 1;
        let mut last = None;
        for attempt in 1..=attempts {
            let result = transport.post(&target.url, event, &headers, policy.timeout).await;
            let (failure, retry_after) = match result {
                Attempt::Answered { status, headers: answer_headers, body, elapsed } => {
                    let took = millis(elapsed);
                    if status.is_success() {
                        out.log(&format!("{label} -> {}: {} in {took} ms", target.name, status.as_u16()));
                        return reply(&target.url, status, &answer_headers, body);
                    }
                    let retry_after = retry_after(&answer_headers, status, policy.retry_after_max);
                    let failure = Failure {
                        url: target.url.clone(),
                        status: status.as_u16(),
                        reason: format!("{} answered {status}", target.url),
                        body,
                    };
                    if !retry_on.retries(status) {
                        out.log(&format!("{label} -> {}: {} in {took} ms, not retried", target.name, status.as_u16()));
                        return Err(Box::new(failure));
                    }
                    out.log(&format!(
                        "{label} -> {}: {} in {took} ms{}",
                        target.name,
                        status.as_u16(),
                        next(attempt, attempts)
                    ));
                    (failure, retry_after)
                }
                Attempt::Failed { reason, elapsed } => {
                    let took = millis(elapsed);
                    out.log(&format!(
                        "{label} -> {}: {reason} after {took} ms{}",
                        target.name,
                        next(attempt, attempts)
                    ));
                    let body = Bytes::from(format!("dispatch error: {reason}"));
                    (
                        Failure {
                            url: target.url.clone(),
                            status: 500,
                            reason: format!("{}: {reason}", target.url),
                            body,
                        },
                        None,
                    )
                }
            };
            last = Some(failure);
            if attempt < attempts {
                let wait = policy.backoff(attempt).max(retry_after.unwrap_or_default());
                tokio::time::sleep(wait).await;
            }
        }
        Err(Box::new(last.unwrap_or_else(|| unreachable!("at least one attempt is made"))))
    }
}

fn next(attempt: u32, attempts: u32) -> String {
    if attempt < attempts {
        format!(", attempt {attempt} of {attempts}")
    } else {
        format!(", gave up after {attempts} attempt(s)")
    }
}

fn millis(elapsed: Duration) -> String {
    format!("{:.1}", elapsed.as_secs_f64() * 1000.0)
}

/// `Retry-After` on 429 and 503, honoured only when `retryAfterMax` is set (as upstream
/// while the feature is opt-in), bounded by it.
fn retry_after(headers: &HeaderMap, status: StatusCode, max: Option<Duration>) -> Option<Duration> {
    let max = max?;
    if !matches!(status.as_u16(), 429 | 503) {
        return None;
    }
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or_default()
        }
    };
    Some(wait.min(max))
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

impl Courier {
    /// Sends the original `event` to the policy's dead letter sink with the error
    /// extensions; without a sink the failure stands.
    pub async fn dead_letter(
        &self,
        label: &str,
        policy: &DeliveryPolicy,
        event: &Event,
        headers: &HeaderMap,
        failure: Box<Failure>,
    ) -> Result<(), String> {
        let Some(sink) = &policy.dead_letter else { return Err(failure.reason) };
        let mut dead = event.clone();
        dead.set_extension("knativeerrordest", failure.url.to_string().trim_end_matches('/').to_owned());
        dead.set_extension("knativeerrorcode", failure.status.to_string());
        if !failure.body.is_empty() {
            let mut data = base64::engine::general_purpose::STANDARD.encode(&failure.body);
            data.truncate(1024);
            dead.set_extension("knativeerrordata", data);
        }
        let sink_label = format!("{label} dead letter");
        match self.deliver(&sink_label, sink, &dead, headers, policy, RetryOn::Dispatcher).await {
            Ok(_) => Ok(()),
            Err(dead_failure) => Err(format!(
                "unable to complete request to either {} ({}) or {} ({})",
                failure.url, failure.reason, dead_failure.url, dead_failure.reason
            )),
        }
    }
}

/// A builder helper: the event with extension `name` set to `value`.
pub fn with_extension(event: &Event, name: &str, value: impl Into<String>) -> Event {
    let mut event = event.clone();
    event.set_extension(name, value.into());
    event
}
