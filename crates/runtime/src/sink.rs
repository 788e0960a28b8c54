//! Sending events a function emits on its own, per the Knative SinkBinding contract.
//!
//! Knative injects `K_SINK` (where to send) and optionally `K_CE_OVERRIDES`
//! (`{"extensions":{"name":"value"}}`, set on every event sent). [`Sink`] posts each
//! event in binary mode under a [`DeliveryPolicy`] (the engine the mesh's dispatcher
//! uses too): it retries what a Knative dispatcher retries (`5xx`, `404`, `408`, `409`,
//! `429`, no answer) with exponential backoff, and waits as `Retry-After` asks on `429`
//! and `503`, at most 30 s. Other statuses are final.

use std::collections::BTreeMap;
use std::time::Duration;

use cloudevents::{Event, EventBuilder, EventBuilderV10};
use http::StatusCode;
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::binding::{Encoding, encode, is_valid_extension_name};
use crate::config::duration;
use crate::delivery::{Backoff, DeliveryPolicy, RetryOn, Tried};
use crate::{ConfigError, Env};

/// Sink settings from the environment.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `K_SINK` | unset | URL to send events to (http) |
/// | `K_CE_OVERRIDES` | unset | JSON `{"extensions":{..}}` set on every event |
/// | `FNMESH_SINK_RETRIES` | `3` | retries after the first attempt |
/// | `FNMESH_SINK_BACKOFF` | `200ms` | first retry delay, doubled each time |
/// | `FNMESH_SINK_TIMEOUT` | `10s` | per-attempt request timeout |
#[derive(Debug, Clone, Deserialize)]
pub struct SinkConfig {
    /// `K_SINK`.
    #[serde(default, deserialize_with = "sink_url")]
    pub k_sink: Option<Url>,
    /// `K_CE_OVERRIDES`, parsed.
    #[serde(default, deserialize_with = "overrides")]
    pub k_ce_overrides: BTreeMap<String, String>,
    /// `FNMESH_SINK_RETRIES`.
    #[serde(rename = "fnmesh_sink_retries", default = "default_retries")]
    pub retries: u32,
    /// `FNMESH_SINK_BACKOFF`.
    #[serde(rename = "fnmesh_sink_backoff", default = "default_backoff", deserialize_with = "backoff")]
    pub backoff: Duration,
    /// `FNMESH_SINK_TIMEOUT`.
    #[serde(rename = "fnmesh_sink_timeout", default = "default_timeout", deserialize_with = "timeout")]
    pub timeout: Duration,
}

fn default_retries() -> u32 {
    3
}
fn default_backoff() -> Duration {
    Duration::from_millis(200)
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn sink_url<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Url>, D::Error> {
    let text = String::deserialize(de)?;
    Url::parse(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("K_SINK: {text:?} is not an absolute URL ({e})")))
}
fn backoff<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    duration("FNMESH_SINK_BACKOFF", de)
}
fn timeout<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    duration("FNMESH_SINK_TIMEOUT", de)
}

/// The `K_CE_OVERRIDES` document.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Overrides {
    #[serde(default)]
    extensions: BTreeMap<String, String>,
}

fn overrides<'de, D: Deserializer<'de>>(de: D) -> Result<BTreeMap<String, String>, D::Error> {
    use serde::de::Error as _;
    let text = String::deserialize(de)?;
    // A SinkBinding without `ceOverrides` sets K_CE_OVERRIDES to "", which means none
    // (knative/eventing pkg/apis/sources/v1/sinkbinding_lifecycle.go sets it,
    // pkg/adapter/v2/config.go `GetCloudEventOverrides` reads it so).
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    let parsed: Overrides = serde_json::from_str(&text).map_err(|e| {
        D::Error::custom(format!(
            "K_CE_OVERRIDES: invalid JSON ({e}); expected {{\"extensions\":{{\"name\":\"value\"}}}}"
        ))
    })?;
    if let Some(bad) = parsed.extensions.keys().find(|name| !is_valid_extension_name(name)) {
        return Err(D::Error::custom(format!(
            "K_CE_OVERRIDES: extension name {bad:?} must be lowercase letters and digits (a-z, 0-9)"
        )));
    }
    Ok(parsed.extensions)
}

/// Why an event did not reach the sink.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The sink answered with a status that is not retried (e.g. `400`).
    #[error("sink {url} refused the event with {status}: {body}")]
    Refused {
        /// The sink.
        url: Url,
        /// Its answer.
        status: StatusCode,
        /// The start of its body.
        body: String,
    },
    /// Every attempt failed with a retryable status or a connection error.
    #[error("sink {url} failed {attempts} times; last: {last}")]
    Exhausted {
        /// The sink.
        url: Url,
        /// How many requests were made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

/// A client for `K_SINK`.
#[derive(Debug, Clone)]
pub struct Sink {
    client: reqwest::Client,
    url: Url,
    overrides: BTreeMap<String, String>,
    policy: DeliveryPolicy,
}

/// The longest wait between two attempts, whatever the backoff or `Retry-After` say.
const MAX_WAIT: Duration = Duration::from_secs(30);

impl Sink {
    /// The sink from `K_SINK` and friends; `None` when `K_SINK` is unset.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let config: SinkConfig = env.parse()?;
        config.k_sink.clone().map(|url| Self::new(url, config)).transpose()
    }

    /// A sink at `url` with the retry settings and overrides of `config`.
    pub fn new(url: Url, config: SinkConfig) -> Result<Self, ConfigError> {
        if url.scheme() != "http" {
            return Err(ConfigError::invalid("K_SINK", format!("{url}: only http:// sinks are supported")));
        }
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| ConfigError::invalid("K_SINK", format!("cannot build an HTTP client: {e}")))?;
        let policy = DeliveryPolicy {
            retry: config.retries,
            backoff: Some((Backoff::Exponential, config.backoff)),
            timeout: Some(config.timeout),
            retry_after_max: Some(MAX_WAIT),
            max_wait: Some(MAX_WAIT),
            retry_on: RetryOn::Dispatcher,
        };
        Ok(Self { client, url, overrides: config.k_ce_overrides, policy })
    }

    /// Where events go.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Sends `event` (with the overrides applied) and returns the sink's status.
    pub async fn send(&self, event: Event) -> Result<StatusCode, SinkError> {
        let event = self.apply_overrides(event);
        let encoded = encode(&event, Encoding::Binary);
        let attempt = |attempt: u32| {
            let request = self
                .client
                .post(self.url.clone())
                .headers(encoded.headers.clone())
                .body(encoded.body.clone())
                .timeout(self.policy.timeout.unwrap_or(MAX_WAIT));
            async move {
                match request.send().await {
                    Ok(response) if response.status().is_success() => Tried::Delivered(response.status()),
                    Ok(response) => {
                        let (status, headers) = (response.status(), response.headers().clone());
                        let body = response.text().await.unwrap_or_default();
                        let body: String = body.chars().take(200).collect();
                        tracing::debug!(url = %self.url, attempt, %status, "the sink refused the event");
                        Tried::Answered { status, headers, error: (Some(status), body) }
                    }
                    Err(err) => {
                        tracing::debug!(url = %self.url, attempt, %err, "the sink did not answer");
                        Tried::NoAnswer((None, format!("request failed: {err}")))
                    }
                }
            }
        };
        let failed = match self.policy.run(attempt).await {
            Ok(status) => return Ok(status),
            Err(failed) => failed,
        };
        let url = self.url.clone();
        Err(match failed.error {
            (Some(status), body) if !self.policy.retry_on.retries(status) => SinkError::Refused { url, status, body },
            (Some(status), body) => {
                SinkError::Exhausted { url, attempts: failed.attempts, last: format!("{status}: {body}") }
            }
            (None, last) => SinkError::Exhausted { url, attempts: failed.attempts, last },
        })
    }

    fn apply_overrides(&self, event: Event) -> Event {
        if self.overrides.is_empty() {
            return event;
        }
        let mut builder = EventBuilderV10::from(event.clone());
        for (name, value) in &self.overrides {
            builder = builder.extension(name, value.as_str());
        }
        builder.build().unwrap_or(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AttributesReader;
    use axum::Router;
    use axum::http::HeaderMap;
    use axum::routing::post;
    use std::sync::{Arc, Mutex};

    fn event() -> Event {
        EventBuilderV10::new().id("1").source("/test").ty("test.event").build().unwrap()
    }

    /// A sink that answers `statuses` in turn (then 200) and records the headers it got.
    async fn fake_sink(statuses: Vec<u16>) -> (Url, Arc<Mutex<Vec<HeaderMap>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let queue = Arc::new(Mutex::new(statuses));
        let router = Router::new().route(
            "/",
            post({
                let seen = seen.clone();
                move |headers: HeaderMap| async move {
                    seen.lock().unwrap().push(headers);
                    let mut queue = queue.lock().unwrap();
                    let status = if queue.is_empty() { 200 } else { queue.remove(0) };
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (url, seen)
    }

    fn sink(url: &Url, extra: &[(&str, &str)]) -> Sink {
        let env = Env::from_pairs(extra.iter().copied())
            .with("K_SINK", url.as_str())
            .with("FNMESH_SINK_BACKOFF", "1ms")
            .with("FNMESH_SINK_TIMEOUT", "5s");
        Sink::from_env(&env).unwrap().unwrap()
    }

    #[tokio::test]
    async fn retries_429_and_5xx_then_delivers_with_overrides() {
        let (url, seen) = fake_sink(vec![503, 429, 500]).await;
        let sink = sink(&url, &[("K_CE_OVERRIDES", r#"{"extensions":{"flow":"demo"}}"#)]);
        assert_eq!(sink.send(event()).await.unwrap(), StatusCode::OK);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 4);
        for headers in seen.iter() {
            assert_eq!(headers["ce-id"], "1");
            assert_eq!(headers["ce-flow"], "demo");
        }
    }

    #[tokio::test]
    async fn gives_up_after_the_retries() {
        let (url, seen) = fake_sink(vec![503; 10]).await;
        let err = sink(&url, &[("FNMESH_SINK_RETRIES", "2")]).send(event()).await.unwrap_err();
        assert!(matches!(err, SinkError::Exhausted { attempts: 3, .. }), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn client_errors_are_final() {
        let (url, seen) = fake_sink(vec![400]).await;
        let err = sink(&url, &[]).send(event()).await.unwrap_err();
        assert!(matches!(err, SinkError::Refused { status: StatusCode::BAD_REQUEST, .. }), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn connection_failures_are_retried() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let err = sink(&url, &[("FNMESH_SINK_RETRIES", "1")]).send(event()).await.unwrap_err();
        assert!(matches!(err, SinkError::Exhausted { attempts: 2, .. }), "{err}");
    }

    #[test]
    fn no_k_sink_means_no_sink_and_bad_settings_name_the_variable() {
        assert!(Sink::from_env(&Env::default()).unwrap().is_none());
        let err = Sink::from_env(&Env::from_pairs([("K_SINK", "not a url")])).unwrap_err();
        assert!(err.to_string().starts_with("K_SINK: "), "{err}");
        let err = Sink::from_env(&Env::from_pairs([("K_SINK", "https://x/")])).unwrap_err();
        assert_eq!(err.to_string(), "K_SINK: https://x/: only http:// sinks are supported");
        let err = Sink::from_env(&Env::from_pairs([("K_SINK", "http://x/"), ("K_CE_OVERRIDES", "{")])).unwrap_err();
        assert!(err.to_string().starts_with("K_CE_OVERRIDES: invalid JSON"), "{err}");
        let bad = r#"{"extensions":{"Bad-Name":"x"}}"#;
        let err = Sink::from_env(&Env::from_pairs([("K_SINK", "http://x/"), ("K_CE_OVERRIDES", bad)])).unwrap_err();
        assert!(err.to_string().contains("\"Bad-Name\""), "{err}");
    }

    /// knative/eventing `pkg/apis/sources/v1/sinkbinding_lifecycle.go` (`Do`) always sets
    /// K_CE_OVERRIDES, to "" without `ceOverrides`; `pkg/adapter/v2/config.go` reads ""
    /// as no overrides, and `{}` as none too.
    #[test]
    fn an_empty_k_ce_overrides_is_no_overrides() {
        for empty in ["", "{}"] {
            let sink = Sink::from_env(&Env::from_pairs([("K_SINK", "http://x/"), ("K_CE_OVERRIDES", empty)]));
            assert!(sink.unwrap().is_some_and(|s| s.overrides.is_empty()), "{empty:?}");
        }
    }

    #[test]
    fn overrides_replace_existing_extensions() {
        let url = Url::parse("http://127.0.0.1:1/").unwrap();
        let sink = sink(&url, &[("K_CE_OVERRIDES", r#"{"extensions":{"flow":"new"}}"#)]);
        let event = EventBuilderV10::from(event()).extension("flow", "old").build().unwrap();
        let event = sink.apply_overrides(event);
        assert_eq!(event.extension("flow").unwrap().to_string(), "new");
        assert_eq!(event.id(), "1");
    }
}
