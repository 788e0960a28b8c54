//! Delivery specs (`delivery:`) turned into policies: attempts, backoff, per-attempt
//! timeout, Retry-After, dead letter sink.

use std::time::Duration;

use crate::model::DeliverySpec;

/// Where an event goes: its URL and a short name for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: url::Url,
    /// The ref's name (`second`), or the URL.
    pub name: String,
}

/// How backoff grows between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    Linear,
    Exponential,
}

/// A parsed `delivery:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Extra attempts after the first.
    pub retry: u32,
    pub backoff: Option<(Backoff, Duration)>,
    pub timeout: Option<Duration>,
    pub retry_after_max: Option<Duration>,
    pub dead_letter: Option<Target>,
}

impl DeliveryPolicy {
    /// The wait before retry `k` (1-based), as knative/eventing computes it with
    /// go-retryablehttp, which passes the attempt index counted from 0: exponential
    /// `delay * 2^(k-1)`, linear `delay * (k-1)`; none without `backoffDelay` and
    /// `backoffPolicy`.
    pub fn backoff(&self, k: u32) -> Duration {
        match self.backoff {
            None => Duration::ZERO,
            Some((Backoff::Exponential, delay)) => delay.saturating_mul(1u32.checked_shl(k - 1).unwrap_or(u32::MAX)),
            Some((Backoff::Linear, delay)) => delay.saturating_mul(k - 1),
        }
    }
}

/// Reads `spec` (found at `path`); `dead_letter` is the resolved `deadLetterSink`.
/// Errors are `(field path, message)`.
pub fn policy(
    spec: &DeliverySpec,
    path: &str,
    dead_letter: Option<Target>,
) -> Result<DeliveryPolicy, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let mut duration = |field: &str, value: &Option<String>| -> Option<Duration> {
        let text = value.as_deref()?;
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push((format!("{path}.{field}"), e));
                None
            }
        }
    };
    let delay = duration("backoffDelay", &spec.backoff_delay);
    let timeout = duration("timeout", &spec.timeout);
    let retry_after_max = duration("retryAfterMax", &spec.retry_after_max);
    let policy = match spec.backoff_policy.as_deref() {
        None | Some("exponential") => Backoff::Exponential,
        Some("linear") => Backoff::Linear,
        Some(other) => {
            problems.push((format!("{path}.backoffPolicy"), format!("{other:?} is not linear or exponential")));
            Backoff::Exponential
        }
    };
    let retry = match spec.retry {
        None => 0,
        Some(n) if n >= 0 => n as u32,
        Some(n) => {
            problems.push((format!("{path}.retry"), format!("{n} is negative")));
            0
        }
    };
    if problems.is_empty() {
        // As upstream: no backoff unless both the policy and the delay are given (the
        // policy defaults to exponential when only the delay is).
        let backoff = delay.map(|d| (policy, d));
        Ok(DeliveryPolicy { retry, backoff, timeout, retry_after_max, dead_letter })
    } else {
        Err(problems)
    }
}

/// An ISO-8601 duration such as `PT0.2S` or `PT1M`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not an ISO-8601 duration (e.g. PT0.5S, PT2M)");
    if !text.starts_with('P') {
        return Err(invalid());
    }
    iso8601::duration(text).map(Duration::from).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(policy: &str, delay: &str) -> DeliverySpec {
        DeliverySpec {
            retry: Some(3),
            backoff_policy: Some(policy.into()),
            backoff_delay: Some(delay.into()),
            ..DeliverySpec::default()
        }
    }

    #[test]
    fn backoff_follows_upstream() {
        let exponential = policy(&spec("exponential", "PT0.2S"), "spec.delivery", None).unwrap();
        let waits: Vec<u128> = (1..=3).map(|k| exponential.backoff(k).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800]);
        let linear = policy(&spec("linear", "PT0.2S"), "spec.delivery", None).unwrap();
        let waits: Vec<u128> = (1..=3).map(|k| linear.backoff(k).as_millis()).collect();
        assert_eq!(waits, [0, 200, 400]);
        assert_eq!(DeliveryPolicy::default().backoff(2), Duration::ZERO);
    }

    #[test]
    fn bad_fields_are_named() {
        let mut bad = spec("sideways", "soon");
        bad.retry = Some(-1);
        bad.timeout = Some("PT1S".into());
        let problems = policy(&bad, "spec.delivery", None).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["spec.delivery.backoffDelay", "spec.delivery.backoffPolicy", "spec.delivery.retry"]);
        assert_eq!(parse_duration("PT1M30S"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("PT0.5S"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("5s").is_err());
    }
}
