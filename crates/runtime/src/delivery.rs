//! The one delivery engine: how many attempts, the wait between them, which answers are
//! worth another attempt, how `Retry-After` counts, and the time each attempt may take.
//!
//! Every sender of fnmesh uses it: the mesh's dispatcher (channels, brokers, triggers,
//! dead letter sinks), its PingSource adapter, and a function's `K_SINK` sender
//! ([`crate::sink`]). The rules are knative/eventing's (`pkg/kncloudevents`, with
//! go-retryablehttp 0.7.7; `../shared/knative/semantics.md` has them with their sources):
//!
//! * `retry` extra attempts after the first;
//! * the wait before retry `k` (1-based): exponential `delay * 2^(k-1)`, linear
//!   `delay * (k-1)`, none unless both a policy and a delay are given, no jitter;
//! * a dispatcher retries `5xx`, `404`, `408`, `409`, `429` and answers that never came;
//!   the PingSource adapter retries `404`, `413`, `425`, `429`, `502`, `503`, `504`: the
//!   difference is [`RetryOn`], a parameter, not a second engine;
//! * `Retry-After` (seconds or an HTTP date) counts on `429` and `503` only when a
//!   `retryAfterMax` is set: the wait is then `max(backoff, min(Retry-After, max))`.

use std::future::Future;
use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// Which answers are worth another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryOn {
    /// Channels, brokers, triggers, dead letter sinks and `K_SINK`: `5xx`, `404`, `408`,
    /// `409`, `429`.
    #[default]
    Dispatcher,
    /// The PingSource adapter: `404`, `413`, `425`, `429`, `502`, `503`, `504`.
    Source,
}

impl RetryOn {
    /// Whether an answer with `status` is worth another attempt.
    pub fn retries(self, status: StatusCode) -> bool {
        let code = status.as_u16();
        match self {
            Self::Dispatcher => code >= 500 || matches!(code, 404 | 408 | 409 | 429),
            Self::Source => matches!(code, 404 | 413 | 425 | 429 | 502 | 503 | 504),
        }
    }
}

/// How the wait grows between attempts (`backoffPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// `delay * (k-1)` before retry `k`.
    Linear,
    /// `delay * 2^(k-1)` before retry `k`.
    Exponential,
}

/// How one event is delivered to one destination (a parsed `delivery:`, less its dead
/// letter sink, which is the mesh's business).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Extra attempts after the first.
    pub retry: u32,
    /// The backoff policy and its delay; `None`: retry at once.
    pub backoff: Option<(Backoff, Duration)>,
    /// The time one attempt may take; `None`: no limit.
    pub timeout: Option<Duration>,
    /// With it, `Retry-After` on `429` and `503` counts, bounded by it.
    pub retry_after_max: Option<Duration>,
    /// The longest wait between two attempts, whatever the backoff says (Knative sets none).
    pub max_wait: Option<Duration>,
    /// Which answers are retried.
    pub retry_on: RetryOn,
}

/// What one attempt came to, as the sender saw it.
#[derive(Debug)]
pub enum Tried<T, E> {
    /// Done: no more attempts.
    Delivered(T),
    /// An answer that is not a success: retried when the policy retries its status.
    Answered {
        /// The status of the answer.
        status: StatusCode,
        /// Its headers (`Retry-After`).
        headers: HeaderMap,
        /// What the sender makes of it.
        error: E,
    },
    /// No answer (connection refused, reset, timed out): always worth another attempt.
    NoAnswer(E),
    /// A failure no other attempt can mend (e.g. a reply that is not a valid event).
    Final(E),
}

/// What comes after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Another attempt: this was `attempt` of `of`.
    Retry {
        /// The attempt that failed (1-based).
        attempt: u32,
        /// How many attempts the policy allows.
        of: u32,
    },
    /// That was the last allowed attempt.
    GiveUp {
        /// How many were made.
        attempts: u32,
    },
    /// The answer is final (a status the policy does not retry).
    NotRetried,
}

/// The failure that ended a delivery, and how many attempts it took.
#[derive(Debug)]
pub struct GaveUp<E> {
    /// The last attempt's failure.
    pub error: E,
    /// How many attempts were made.
    pub attempts: u32,
}

impl DeliveryPolicy {
    /// How many attempts at most: the first and `retry` more.
    pub fn attempts(&self) -> u32 {
        self.retry.saturating_add(1)
    }

    /// The wait before retry `k` (1-based), as knative/eventing computes it with
    /// go-retryablehttp, which passes the attempt index counted from 0.
    pub fn backoff(&self, k: u32) -> Duration {
        let k = k.max(1);
        let wait = match self.backoff {
            None => Duration::ZERO,
            Some((Backoff::Exponential, delay)) => delay.saturating_mul(1u32.checked_shl(k - 1).unwrap_or(u32::MAX)),
            Some((Backoff::Linear, delay)) => delay.saturating_mul(k - 1),
        };
        self.max_wait.map_or(wait, |max| wait.min(max))
    }

    /// What follows attempt `attempt` (1-based) failing with `status` (`None`: no answer).
    pub fn next(&self, attempt: u32, status: Option<StatusCode>) -> Next {
        if status.is_some_and(|s| !self.retry_on.retries(s)) {
            Next::NotRetried
        } else if attempt < self.attempts() {
            Next::Retry { attempt, of: self.attempts() }
        } else {
            Next::GiveUp { attempts: attempt }
        }
    }

    /// The wait `Retry-After` asks for on a `429` or `503`, when `retry_after_max` lets it
    /// count; bounded by it. Seconds, or an HTTP date (RFC 1123, RFC 850, ANSI C).
    pub fn retry_after(&self, status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
        let max = self.retry_after_max?;
        if !matches!(status.as_u16(), 429 | 503) {
            return None;
        }
        let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
        let wait = match value.parse::<u64>() {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) => {
                let at = http_date(value)?;
                (at - chrono::Utc::now()).to_std().unwrap_or_default()
            }
        };
        Some(wait.min(max))
    }

    /// Makes attempts (`attempt` is called with 1, 2, ...) until one is delivered, one
    /// fails for good, or the policy allows no more; waits between them as the policy says.
    pub async fn run<T, E, F, Fut>(&self, mut attempt: F) -> Result<T, GaveUp<E>>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Tried<T, E>>,
    {
        let mut n = 1;
        loop {
            let (error, next, asked) = match attempt(n).await {
                Tried::Delivered(value) => return Ok(value),
                Tried::Final(error) => return Err(GaveUp { error, attempts: n }),
                Tried::Answered { status, headers, error } => {
                    (error, self.next(n, Some(status)), self.retry_after(status, &headers))
                }
                Tried::NoAnswer(error) => (error, self.next(n, None), None),
            };
            if !matches!(next, Next::Retry { .. }) {
                return Err(GaveUp { error, attempts: n });
            }
            let wait = self.backoff(n).max(asked.unwrap_or_default());
            tokio::time::sleep(wait).await;
            n += 1;
        }
    }
}

/// An HTTP date in any of the three forms HTTP allows.
fn http_date(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDateTime, TimeZone, Utc};
    if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&Utc));
    }
    // RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and ANSI C asctime (`Sun Nov  6 08:49:37 1994`).
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .map(|naive| Utc.from_utc_datetime(&naive))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn policy(backoff: Backoff, retry: u32) -> DeliveryPolicy {
        DeliveryPolicy { retry, backoff: Some((backoff, Duration::from_millis(200))), ..DeliveryPolicy::default() }
    }

    #[test]
    fn backoff_follows_go_retryablehttp() {
        // knative/eventing pkg/kncloudevents/message_sender.go: exponential
        // `delay * 2^attempt`, linear `delay * attempt`, attempt counted from 0.
        let waits = |p: &DeliveryPolicy| (1..=3).map(|k| p.backoff(k).as_millis()).collect::<Vec<_>>();
        assert_eq!(waits(&policy(Backoff::Exponential, 3)), [200, 400, 800]);
        assert_eq!(waits(&policy(Backoff::Linear, 3)), [0, 200, 400]);
        assert_eq!(DeliveryPolicy::default().backoff(2), Duration::ZERO);
        let capped = DeliveryPolicy { max_wait: Some(Duration::from_millis(300)), ..policy(Backoff::Exponential, 3) };
        assert_eq!(waits(&capped), [200, 300, 300]);
    }

    #[test]
    fn the_retried_statuses_are_the_dispatchers_and_the_adapters() {
        let retried = |on: RetryOn| {
            (100..600)
                .filter(|c| on.retries(StatusCode::from_u16(*c).unwrap()))
                .filter(|c| *c < 500)
                .collect::<Vec<_>>()
        };
        assert_eq!(retried(RetryOn::Dispatcher), [404, 408, 409, 429]);
        assert!(RetryOn::Dispatcher.retries(StatusCode::INTERNAL_SERVER_ERROR));
        assert_eq!(retried(RetryOn::Source), [404, 413, 425, 429]);
        assert!(!RetryOn::Source.retries(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(RetryOn::Source.retries(StatusCode::GATEWAY_TIMEOUT));
    }

    #[test]
    fn what_follows_a_failure() {
        let p = policy(Backoff::Exponential, 2);
        assert_eq!(p.next(1, Some(StatusCode::SERVICE_UNAVAILABLE)), Next::Retry { attempt: 1, of: 3 });
        assert_eq!(p.next(3, None), Next::GiveUp { attempts: 3 });
        assert_eq!(p.next(1, Some(StatusCode::BAD_REQUEST)), Next::NotRetried);
    }

    #[test]
    fn retry_after_counts_only_with_a_maximum_and_on_429_and_503() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("7"));
        let p = DeliveryPolicy { retry_after_max: Some(Duration::from_secs(5)), ..DeliveryPolicy::default() };
        assert_eq!(p.retry_after(StatusCode::TOO_MANY_REQUESTS, &headers), Some(Duration::from_secs(5)));
        assert_eq!(p.retry_after(StatusCode::INTERNAL_SERVER_ERROR, &headers), None);
        assert_eq!(DeliveryPolicy::default().retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers), None);
        for past in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static(past));
            assert_eq!(p.retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers), Some(Duration::ZERO), "{past}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_engine_stops_at_success_at_a_final_answer_or_after_the_attempts() {
        let p = policy(Backoff::Exponential, 2);
        let mut seen = Vec::new();
        let done: Result<u32, GaveUp<&str>> = p
            .run(|n| {
                seen.push(n);
                async move {
                    if n < 3 {
                        Tried::Answered { status: StatusCode::BAD_GATEWAY, headers: HeaderMap::new(), error: "502" }
                    } else {
                        Tried::Delivered(n)
                    }
                }
            })
            .await;
        assert_eq!((done.ok(), seen), (Some(3), vec![1, 2, 3]));
        let refused = p
            .run(|_| async {
                Tried::<(), _>::Answered { status: StatusCode::BAD_REQUEST, headers: HeaderMap::new(), error: "400" }
            })
            .await
            .unwrap_err();
        assert_eq!((refused.error, refused.attempts), ("400", 1));
        let gone = p.run(|_| async { Tried::<(), _>::NoAnswer("refused") }).await.unwrap_err();
        assert_eq!(gone.attempts, 3);
        let bad = p.run(|_| async { Tried::<(), _>::Final("invalid reply") }).await.unwrap_err();
        assert_eq!(bad.attempts, 1);
    }
}
