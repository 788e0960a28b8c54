//! `delivery:` (a step's, a subscription's, a trigger's, a broker's) turned into the
//! runtime's [`DeliveryPolicy`] (attempts, backoff, timeout, Retry-After: the one
//! engine, `fnmesh_runtime::delivery`) and the dead letter sink it names.

use std::time::Duration;

use fnmesh_runtime::delivery::{Backoff, DeliveryPolicy};

use crate::manifests::FieldProblem;
use crate::manifests::model::DeliverySpec;

/// Where an event goes: its URL and a short name for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as Knative resolves it; the transport routes in-cluster hosts to loopback.
    pub url: url::Url,
    /// The ref's name (`second`), or the URL.
    pub name: String,
}

/// How events reach one destination: the policy of the attempts, and where they go when
/// all failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Attempts, backoff, timeout and Retry-After.
    pub policy: DeliveryPolicy,
    /// The `deadLetterSink`, for events whose every attempt failed; `None`: the failure stands.
    pub dead_letter: Option<Target>,
}

/// Reads `spec` (found at `path`); `dead_letter` is the resolved `deadLetterSink`.
pub fn delivery(spec: &DeliverySpec, path: &str, dead_letter: Option<Target>) -> Result<Delivery, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut duration = |field: &str, value: &Option<String>| -> Option<Duration> {
        let text = value.as_deref()?;
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push(FieldProblem::new(format!("{path}.{field}"), e));
                None
            }
        }
    };
    let delay = duration("backoffDelay", &spec.backoff_delay);
    let timeout = duration("timeout", &spec.timeout);
    let retry_after_max = duration("retryAfterMax", &spec.retry_after_max);
    let policy = match spec.backoff_policy.as_deref() {
        None => None,
        Some("exponential") => Some(Backoff::Exponential),
        Some("linear") => Some(Backoff::Linear),
        Some(other) => {
            problems.push(FieldProblem::new(
                format!("{path}.backoffPolicy"),
                format!("{other:?} is not linear or exponential"),
            ));
            None
        }
    };
    let retry = match spec.retry {
        None => 0,
        Some(n) if n >= 0 => n as u32,
        Some(n) => {
            problems.push(FieldProblem::new(format!("{path}.retry"), format!("{n} is negative")));
            0
        }
    };
    if problems.is_empty() {
        // As upstream (pkg/kncloudevents/retries.go, RetryConfigFromDeliverySpec): no wait
        // unless both the policy and the delay are given; a delay alone retries at once.
        let backoff = policy.zip(delay);
        let policy = DeliveryPolicy { retry, backoff, timeout, retry_after_max, ..DeliveryPolicy::default() };
        Ok(Delivery { policy, dead_letter })
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
        let exponential = delivery(&spec("exponential", "PT0.2S"), "spec.delivery", None).unwrap().policy;
        let waits: Vec<u128> = (1..=3).map(|k| exponential.backoff(k).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800]);
        let linear = delivery(&spec("linear", "PT0.2S"), "spec.delivery", None).unwrap().policy;
        let waits: Vec<u128> = (1..=3).map(|k| linear.backoff(k).as_millis()).collect();
        assert_eq!(waits, [0, 200, 400]);
        assert_eq!(DeliveryPolicy::default().backoff(2), Duration::ZERO);
    }

    #[test]
    fn a_delay_without_a_policy_retries_at_once() {
        // pkg/kncloudevents/retries.go: the backoff function is set only when
        // `spec.BackoffPolicy != nil && spec.BackoffDelay != nil`.
        let mut delay_only = spec("exponential", "PT1S");
        delay_only.backoff_policy = None;
        let policy = delivery(&delay_only, "spec.delivery", None).unwrap().policy;
        assert_eq!(policy.backoff, None);
        assert_eq!((1..=3).map(|k| policy.backoff(k)).collect::<Vec<_>>(), [Duration::ZERO; 3]);
    }

    #[test]
    fn bad_fields_are_named() {
        let mut bad = spec("sideways", "soon");
        bad.retry = Some(-1);
        bad.timeout = Some("PT1S".into());
        let problems = delivery(&bad, "spec.delivery", None).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["spec.delivery.backoffDelay", "spec.delivery.backoffPolicy", "spec.delivery.retry"]);
        assert_eq!(parse_duration("PT1M30S"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("PT0.5S"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("5s").is_err());
    }
}
