//! Journeys as OpenTelemetry spans, so that a user's Jaeger or Tempo shows them: every
//! hop one span of the event's trace (the `traceparent` trace id), named by its route,
//! with the hop's endpoints, status, attempt and outcome as attributes, sent in batches as
//! OTLP/HTTP JSON (`POST {endpoint}/v1/traces`, the encoding the OTLP specification
//! defines: ids in hex, times in nanoseconds as strings). A collector that is down costs
//! spans, never deliveries: the queue is bounded and full means dropped.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::journal::{HopKind, HopRecord};

/// One hop, ready to export.
#[derive(Debug, Clone)]
pub struct Span {
    /// The trace id: 32 hex digits.
    pub trace: String,
    /// The hop.
    pub hop: HopRecord,
    /// The event's id and type at that hop.
    pub event: (String, String),
    /// When the hop ended.
    pub ended: SystemTime,
}

/// How many spans may wait for the exporter; more are dropped.
const QUEUE: usize = 8192;

/// The URL spans are posted to: `--otlp-endpoint` (a base, as `OTEL_EXPORTER_OTLP_ENDPOINT`
/// is), else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL), else
/// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, as the OpenTelemetry SDKs read them.
pub fn endpoint(flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let base = |url: &str| format!("{}/v1/traces", url.trim_end_matches('/'));
    match flag {
        Some(url) => Some(base(url)),
        None => env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .filter(|u| !u.is_empty())
            .or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|u| !u.is_empty()).map(|u| base(&u))),
    }
}

/// Starts the exporter posting to `url`; the sender the journal hands spans to.
pub fn start(url: String) -> mpsc::Sender<Span> {
    let (send, mut spans) = mpsc::channel::<Span>(QUEUE);
    tokio::spawn(async move {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        let mut batch = Vec::new();
        loop {
            let first = spans.recv().await;
            let Some(first) = first else { break };
            batch.push(first);
            // Gather what comes within a second, at most 512 spans.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
            while batch.len() < 512 {
                match tokio::time::timeout_at(deadline, spans.recv()).await {
                    Ok(Some(span)) => batch.push(span),
                    Ok(None) | Err(_) => break,
                }
            }
            let body = request(&batch);
            batch.clear();
            match client.post(&url).header("content-type", "application/json").body(body.to_string()).send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => tracing::warn!(status = %response.status(), %url, "the OTLP endpoint refused spans"),
                Err(e) => tracing::warn!(%e, %url, "cannot send spans to the OTLP endpoint"),
            }
        }
    });
    send
}

fn nanos(time: SystemTime) -> String {
    time.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos().to_string()
}

fn attribute(key: &str, value: Value) -> Value {
    let value = match value {
        Value::Number(n) if n.is_u64() || n.is_i64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n}),
        Value::Bool(b) => json!({"boolValue": b}),
        other => json!({"stringValue": other.as_str().map_or_else(|| other.to_string(), str::to_owned)}),
    };
    json!({"key": key, "value": value})
}

/// The `ExportTraceServiceRequest` of `spans`, in OTLP's JSON encoding.
pub fn request(spans: &[Span]) -> Value {
    let spans: Vec<Value> = spans
        .iter()
        .map(|span| {
            let hop = &span.hop;
            let took = Duration::from_secs_f64(hop.latency_ms.unwrap_or_default().max(0.0) / 1000.0);
            let started = span.ended.checked_sub(took).unwrap_or(span.ended);
            let mut attributes = vec![
                attribute("fnmesh.route", (*hop.route).into()),
                attribute("fnmesh.from", (*hop.from).into()),
                attribute("fnmesh.to", (*hop.to).into()),
                attribute("fnmesh.outcome", serde_json::to_value(hop.kind).unwrap_or_default()),
                attribute("cloudevents.event_id", span.event.0.clone().into()),
                attribute("cloudevents.event_type", span.event.1.clone().into()),
            ];
            if let Some(status) = hop.status {
                attributes.push(attribute("http.response.status_code", status.into()));
            }
            if let Some(attempt) = hop.attempt {
                attributes.push(attribute("fnmesh.attempt", attempt.into()));
            }
            if let Some(detail) = &hop.detail {
                attributes.push(attribute("fnmesh.detail", detail.clone().into()));
            }
            let failed = matches!(hop.kind, HopKind::Failed | HopKind::Retrying);
            let status = if failed {
                json!({"code": 2, "message": hop.detail.clone().unwrap_or_default()})
            } else {
                json!({"code": 1})
            };
            json!({
                "traceId": span.trace,
                "spanId": &uuid::Uuid::new_v4().simple().to_string()[..16],
                "name": hop.route,
                // SPAN_KIND_CLIENT: the mesh calls the destination; a received event is the server's.
                "kind": if hop.kind == HopKind::Received { 2 } else { 3 },
                "startTimeUnixNano": nanos(started),
                "endTimeUnixNano": nanos(span.ended),
                "attributes": attributes,
                "status": status,
            })
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": [attribute("service.name", "fnmesh".into())]},
        "scopeSpans": [{"scope": {"name": "fnmesh", "version": env!("CARGO_PKG_VERSION")}, "spans": spans}],
    }]})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic in a test is a failed assertion

    use super::*;

    #[test]
    fn the_endpoint_is_the_flag_or_the_standard_env() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(endpoint(Some("http://c:4318/"), &env(&[])), Some("http://c:4318/v1/traces".into()));
        let both = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b/t"),
        ]);
        assert_eq!(endpoint(None, &both), Some("http://b/t".into()));
        assert_eq!(
            endpoint(None, &env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318")])),
            Some("http://a:4318/v1/traces".into())
        );
        assert_eq!(endpoint(None, &env(&[])), None);
    }

    #[test]
    fn a_hop_is_a_span_of_its_trace() {
        let hop = HopRecord {
            at_ms: 3.0,
            route: "trigger/t".into(),
            from: "broker/default".into(),
            to: "ksvc/x".into(),
            kind: HopKind::Retrying,
            status: Some(503),
            detail: Some("answered 503".into()),
            latency_ms: Some(2.0),
            attempt: Some(1),
            backoff_ms: Some(100.0),
            event: 0,
            reply: None,
        };
        let ended = UNIX_EPOCH + Duration::from_secs(10);
        let trace = "0af7651916cd43dd8448eb211c80319c".to_owned();
        let body = request(&[Span { trace: trace.clone(), hop, event: ("e1".into(), "t".into()), ended }]);
        let span = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], trace);
        assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
        assert_eq!(span["name"], "trigger/t");
        assert_eq!(span["endTimeUnixNano"], "10000000000");
        assert_eq!(span["startTimeUnixNano"], "9998000000");
        assert_eq!(span["status"]["code"], 2);
        let attributes = span["attributes"].as_array().unwrap();
        assert!(attributes.contains(&json!({"key": "http.response.status_code", "value": {"intValue": "503"}})));
        assert!(attributes.contains(&json!({"key": "fnmesh.outcome", "value": {"stringValue": "retrying"}})));
    }
}
