//! Where every event went: a broker's event followed through a trigger that delivers, one
//! whose filter leaves it out (naming the filter and the attribute), and one whose
//! subscriber is down (its attempts, then the dead letter sink); the same journey as
//! JSON, as a stream, as `fnmesh events`, and as OpenTelemetry spans of the event's own
//! trace at a collector; `fnmesh logs` prints one service's lines.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_fnmesh");
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

const MANIFESTS: &str = "\
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: display}
spec:
  template:
    spec:
      containers: [{image: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display}]
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: orders}
spec:
  broker: default
  filter: {attributes: {type: order.placed}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: display}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: refunds}
spec:
  broker: default
  filter: {attributes: {type: order.refunded}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: display}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: audit}
spec:
  broker: default
  subscriber: {uri: 'http://127.0.0.1:1/'}
  delivery:
    retry: 2
    backoffPolicy: linear
    backoffDelay: PT0.05S
    deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: display}}
";

/// A collector that keeps every OTLP request body.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(serde_json::from_slice::<Value>(&body).unwrap());
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}

struct Mesh {
    child: Child,
    port: String,
    _manifests: tempfile::TempDir,
}

impl Mesh {
    /// `fnmesh run` of [`MANIFESTS`] with `flags`, up; its base URL and a client.
    async fn start(flags: &[&str]) -> (Self, String, reqwest::Client) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("flow.yaml"), MANIFESTS).unwrap();
        let port = fnmesh_runtime::ports::for_process().unwrap().to_string();
        let child = Command::new(EXE)
            .args(["run", dir.path().to_str().unwrap(), "--port", &port, "--color", "never"])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mesh = Self { child, port, _manifests: dir };
        let client = reqwest::Client::new();
        until("fnmesh run up", async || client.get(format!("{base}/.fnmesh/graph")).send().await.ok()).await;
        (mesh, base, client)
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hops<'a>(journey: &'a Value, route: &str) -> Vec<&'a Value> {
    journey["hops"].as_array().unwrap().iter().filter(|h| h["route"] == route).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journey_says_where_an_event_went_and_why() {
    let (otlp, spans) = collector().await;
    let (mesh, base, client) = Mesh::start(&["--otlp-endpoint", &otlp]).await;

    // The stream, open before the event is sent.
    let mut stream = client.get(format!("{base}/.fnmesh/stream?format=ndjson")).send().await.unwrap();
    let sent = client
        .post(format!("{base}/default/default"))
        .header("host", "broker-ingress.knative-eventing.svc.cluster.local")
        .header("ce-specversion", "1.0")
        .header("ce-id", "o-1")
        .header("ce-type", "order.placed")
        .header("ce-source", "/shop")
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{TRACE}-00f067aa0ba902b7-01"))
        .body(r#"{"order": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202, "{}", sent.text().await.unwrap());

    let journey: Value = until("the journey dead-lettered", async || {
        let journeys: Vec<Value> = client
            .get(format!("{base}/.fnmesh/journeys?id=o-1"))
            .send()
            .await
            .ok()?
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())?;
        journeys.into_iter().find(|j| j["outcome"] == "dead-lettered" && !hops(j, "trigger/orders").is_empty())
    })
    .await;
    assert_eq!(journey["key"], TRACE, "the journey is the event's trace");
    assert_eq!(
        (&journey["id"], &journey["type"], &journey["entry"]),
        (&"o-1".into(), &"order.placed".into(), &"broker/default".into())
    );
    let orders = hops(&journey, "trigger/orders");
    assert_eq!(
        (orders[0]["kind"].as_str(), orders[0]["to"].as_str(), orders[0]["status"].as_u64()),
        (Some("delivered"), Some("ksvc/display"), Some(200))
    );
    let refunds = hops(&journey, "trigger/refunds");
    assert_eq!(refunds[0]["kind"], "filtered");
    assert_eq!(refunds[0]["detail"], "filter.attributes: type \"order.placed\" does not match \"order.refunded\"");
    let audit = hops(&journey, "trigger/audit");
    let kinds: Vec<(&str, u64)> =
        audit.iter().map(|h| (h["kind"].as_str().unwrap(), h["attempt"].as_u64().unwrap())).collect();
    assert_eq!(kinds, [("retrying", 1), ("retrying", 2), ("failed", 3)], "retry: 2 is three attempts");
    assert!(audit[0]["detail"].as_str().unwrap().contains("connection refused"), "{}", audit[0]);
    assert_eq!(audit[0]["backoff_ms"].as_f64(), Some(0.0), "linear: the first retry waits 0 x backoffDelay");
    assert_eq!(audit[1]["backoff_ms"].as_f64(), Some(50.0));
    let dead = hops(&journey, "trigger/audit dead letter");
    assert_eq!((dead[0]["kind"].as_str(), dead[0]["to"].as_str()), (Some("delivered"), Some("ksvc/display")));

    // The events as they were at each hop: the dead letter carries the error extensions.
    let detail: Value = client
        .get(format!("{base}/.fnmesh/journeys/o-1"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    let at_dead = &detail["events"][dead[0]["event"].as_u64().unwrap() as usize];
    assert_eq!(at_dead["attributes"]["knativeerrorcode"], "500");
    assert!(at_dead["display"].as_str().unwrap().starts_with("☁️  cloudevents.Event\n"), "{at_dead}");
    assert_eq!(detail["events"][0]["data"], serde_json::json!({"order": 1}));

    // The route counts of the graph.
    let graph: Value = client
        .get(format!("{base}/.fnmesh/graph"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    assert_eq!(
        graph["counts"]["trigger/audit"],
        serde_json::json!({"events": 0, "failures": 3, "retries": 2, "filtered": 0})
    );
    assert_eq!(graph["counts"]["trigger/refunds"]["filtered"], 1);
    let edge = graph["edges"].as_array().unwrap().iter().find(|e| e["key"] == "trigger/refunds").unwrap();
    assert_eq!((edge["from"].as_str(), edge["to"].as_str()), (Some("broker/default"), Some("ksvc/display")));
    assert_eq!(edge["label"], "trigger refunds: type=order.refunded");

    // The stream told the same, as it happened.
    let mut seen = String::new();
    let streamed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.lines().any(|l| l.contains("\"outcome\":\"dead-lettered\"") && l.contains("\"id\":\"o-1\"")) {
                return;
            }
        }
    })
    .await;
    assert!(streamed.is_ok(), "the stream did not show the journey:\n{seen}");

    // The command line.
    let events = Command::new(EXE).args(["events", "--port", &mesh.port, "--id", "o-1"]).output().unwrap();
    let text = String::from_utf8_lossy(&events.stdout);
    assert!(events.status.success(), "{}", String::from_utf8_lossy(&events.stderr));
    assert!(text.contains(" o-1 order.placed from /shop\n"), "{text}");
    assert!(
        text.contains("broker/default -> ksvc/display (trigger/refunds): filtered: filter.attributes: type"),
        "{text}"
    );
    assert!(text.contains("(trigger/audit): retrying") && text.contains(", attempt 2, next in 50 ms"), "{text}");
    assert!(text.contains("  = dead-lettered, now at "), "{text}");
    let logs = Command::new(EXE).args(["logs", "display", "--port", &mesh.port]).output().unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(logs.contains("  type: order.placed") && logs.contains("knativeerrorcode: 500"), "{logs}");

    // The collector got the hops as spans of the event's trace.
    let names: Vec<String> = until("spans at the collector", async || {
        let bodies = spans.lock().unwrap().clone();
        let spans: Vec<&Value> = bodies
            .iter()
            .flat_map(|b| {
                b["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().cloned().unwrap_or_default().leak().iter()
            })
            .collect();
        let names: Vec<String> =
            spans.iter().filter(|s| s["traceId"] == TRACE).map(|s| s["name"].as_str().unwrap().to_owned()).collect();
        names.iter().any(|n| n == "trigger/audit dead letter").then_some(names)
    })
    .await;
    for route in ["trigger/orders", "trigger/refunds", "trigger/audit"] {
        assert!(names.iter().any(|n| n == route), "no span {route}: {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn journal_zero_records_nothing_and_delivers_all_the_same() {
    let (_mesh, base, client) = Mesh::start(&["--journal", "0"]).await;
    let sent = client
        .post(format!("{base}/default/default"))
        .header("host", "broker-ingress.knative-eventing.svc.cluster.local")
        .header("ce-specversion", "1.0")
        .header("ce-id", "o-2")
        .header("ce-type", "order.placed")
        .header("ce-source", "/shop")
        .body("")
        .send()
        .await
        .unwrap();
    // The broker answers after every trigger is done: delivered, filtered, dead-lettered.
    assert_eq!(sent.status(), 202, "{}", sent.text().await.unwrap());
    let logs = client.get(format!("{base}/.fnmesh/logs?service=display")).send().await.unwrap();
    let logs = logs.text().await.unwrap();
    assert_eq!(logs.matches("id: o-2").count(), 2, "the trigger's delivery and the dead letter:\n{logs}");
    let journeys = client.get(format!("{base}/.fnmesh/journeys")).send().await.unwrap().text().await.unwrap();
    assert_eq!(journeys.trim(), "[]", "no journey is kept");
    let graph = client.get(format!("{base}/.fnmesh/graph")).send().await.unwrap().text().await.unwrap();
    let graph: Value = serde_json::from_str(&graph).unwrap();
    assert_eq!(graph["counts"], serde_json::json!({}), "no route counted");
    assert!(!graph["edges"].as_array().unwrap().is_empty(), "the graph is drawn all the same");
}
