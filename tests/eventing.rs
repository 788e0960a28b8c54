//! Brokers and triggers, PingSource events, Parallel filters, nested flows, and the
//! manifest checks (semantics.md), each against local recorders.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_tests::mesh::TestMesh;
use fnmesh_tests::recorder::{Recorder, Step};

const WAIT: Duration = Duration::from_secs(10);
const BROKER_HOST: &str = "broker-ingress.knative-eventing.svc.cluster.local";

fn trigger(name: &str, filter: &str, uri: &str) -> String {
    format!(
        "---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: {name}
spec:
  broker: default
{filter}
  subscriber:
    uri: {uri}
"
    )
}

/// An endless loop through a broker runs with `--async-brokers`: a synchronous broker (a
/// cluster's, and fnmesh's by default) would answer the failure at the end of the loop
/// back up every level, and each level would retry it 10 times (the default delivery).
fn endless_loop(options: &mut fnmesh_mesh::cli::run::Options) {
    options.async_brokers = true;
}

const BROKER: &str = "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: default\n";

#[tokio::test]
async fn triggers_filter_with_every_dialect() {
    let cases: [(&str, &str, bool); 10] = [
        ("attributes", "  filter:\n    attributes:\n      type: order.created\n      region: ''", true),
        ("attributes-miss", "  filter:\n    attributes:\n      type: order.deleted", false),
        ("exact", "  filters:\n  - exact: {type: order.created}", true),
        ("prefix", "  filters:\n  - prefix: {type: order.}", true),
        ("suffix", "  filters:\n  - suffix: {source: /shop}", true),
        ("suffix-miss", "  filters:\n  - suffix: {source: /cart}", false),
        ("all", "  filters:\n  - all: [{prefix: {type: order}}, {exact: {region: eu}}]", true),
        ("any", "  filters:\n  - any: [{exact: {region: us}}, {exact: {region: eu}}]", true),
        ("not", "  filters:\n  - not: {exact: {region: eu}}", false),
        ("cesql", "  filters:\n  - cesql: \"type LIKE 'order.%' AND region IN ('eu', 'us')\"", true),
    ];
    let mut yaml = BROKER.to_owned();
    let mut recorders = Vec::new();
    for (name, filter, _) in &cases {
        let recorder = Recorder::start(vec![Step::Status(202)]).await;
        yaml.push_str(&trigger(name, filter, &recorder.url));
        recorders.push(recorder);
    }
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let headers = [
        ("ce-specversion", "1.0"),
        ("ce-id", "b1"),
        ("ce-source", "/shop"),
        ("ce-type", "order.created"),
        ("ce-region", "eu"),
    ];
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &headers, "{}").await.0, 202);
    for ((name, _, passes), recorder) in cases.iter().zip(&recorders) {
        let received =
            recorder.wait_for(usize::from(*passes), if *passes { WAIT } else { Duration::from_millis(200) }).await;
        assert_eq!(received.len(), usize::from(*passes), "trigger {name}");
        if let Some(event) = received.first() {
            assert_eq!(event.header("ce-knativebrokerttl"), "", "{name}: the broker's TTL is not the subscriber's");
            assert!(event.header("ce-knativearrivaltime").starts_with("20"), "{name}");
        }
    }
    let (status, body) = mesh.post(BROKER_HOST, "/default/nosuch", &headers, "{}").await;
    assert_eq!(status, 404, "{body}");
    mesh.stop().await;
}

#[tokio::test]
async fn replies_go_back_into_the_broker_until_the_ttl_runs_out() {
    let echo = Recorder::start(vec![Step::Echo("loop")]).await;
    let yaml = format!("{BROKER}{}", trigger("loop", "  filter:\n    attributes:\n      type: loop", &echo.url));
    let mesh = TestMesh::from_yaml_with(&yaml, endless_loop).await.unwrap();
    let headers = [("ce-specversion", "1.0"), ("ce-id", "ttl-1"), ("ce-source", "/test"), ("ce-type", "loop")];
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &headers, "{}").await.0, 202);
    assert!(mesh.wait_for("knativebrokerttl reached 0", WAIT).await, "{}", mesh.output());
    let received = echo.received();
    assert_eq!(received.len(), 255, "one delivery per TTL step");
    assert!(received.iter().all(|r| r.header("ce-knativebrokerttl").is_empty()), "taken off before delivery");
    mesh.stop().await;
}

#[tokio::test]
async fn ping_sources_send_what_knative_sends() {
    let sink = Recorder::start(vec![Step::Status(202)]).await;
    let yaml = format!(
        "apiVersion: sources.knative.dev/v1beta1
kind: PingSource
metadata: {{name: old}}
spec:
  schedule: '0 0 1 1 *'
  jsonData: '{{\"message\": \"hello\"}}'
  sink: {{uri: '{url}/old'}}
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {{name: new, namespace: shop}}
spec:
  schedule: '0 0 1 1 *'
  timezone: Europe/Paris
  contentType: text/plain
  data: ping!
  ceOverrides:
    extensions: {{flow: demo}}
  sink: {{uri: '{url}/new'}}
",
        url = sink.url
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pings.yaml"), yaml).unwrap();
    let mesh = TestMesh::from_paths(&[dir.path().to_owned()], true).await.unwrap();
    let received = sink.wait_for(2, WAIT).await;
    let by_source =
        |source: &str| received.iter().find(|r| r.header("ce-source") == source).unwrap_or_else(|| panic!("{source}"));
    let old = by_source("/apis/v1/namespaces/default/pingsources/old");
    assert_eq!(old.header("ce-type"), "dev.knative.sources.ping");
    assert_eq!(old.header("content-type"), "application/json");
    assert_eq!(old.body, r#"{"message": "hello"}"#);
    assert_eq!(old.header("ce-id").len(), 36, "a UUID");
    assert!(old.header("ce-time").ends_with('Z'));
    let new = by_source("/apis/v1/namespaces/shop/pingsources/new");
    assert_eq!((new.header("content-type"), new.body.as_ref()), ("text/plain".into(), b"ping!".as_ref()));
    assert_eq!(new.header("ce-flow"), "demo");
    mesh.stop().await;
}

#[tokio::test]
async fn parallel_filters_accept_with_an_event_and_reject_with_none() {
    let accept = Recorder::start(vec![Step::Echo("accepted")]).await;
    let reject = Recorder::start(vec![Step::Status(200)]).await;
    let (one, two, reply) = (
        Recorder::start(vec![Step::Echo("one")]).await,
        Recorder::start(vec![Step::Echo("two")]).await,
        Recorder::start(vec![Step::Status(202)]).await,
    );
    let yaml = format!(
        "apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {{name: p}}
spec:
  branches:
  - filter: {{uri: '{}'}}
    subscriber: {{uri: '{}'}}
  - filter: {{uri: '{}'}}
    subscriber: {{uri: '{}'}}
  - subscriber: {{uri: '{}'}}
    reply: {{uri: '{}/own'}}
  reply: {{uri: '{}'}}
",
        accept.url, one.url, reject.url, two.url, two.url, reply.url, reply.url
    );
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.send("p-kn-parallel-kn-channel.default.svc.cluster.local", "p1", "start", "{}").await.0, 202);
    assert_eq!(one.received()[0].header("ce-type"), "accepted", "the filter's event goes on");
    assert_eq!(two.received().len(), 1, "only the branch without a filter; the rejecting filter stops its branch");
    let replies = reply.received();
    let types: std::collections::BTreeSet<String> = replies.iter().map(|r| r.header("ce-type")).collect();
    assert_eq!(types, ["one", "two"].map(String::from).into(), "spec.reply and the branch's own reply");
    mesh.stop().await;
}

#[tokio::test]
async fn sequences_reply_to_sequences_and_brokers_by_ref() {
    let sink = Recorder::start(vec![Step::Status(202)]).await;
    let yaml = format!(
        "apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {{name: first}}
spec:
  steps: [{{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: a1}}}}]
  reply: {{ref: {{apiVersion: flows.knative.dev/v1, kind: Sequence, name: second}}}}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {{name: second}}
spec:
  steps: [{{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: a2}}}}]
  reply: {{ref: {{apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: out}}
spec:
  broker: default
  subscriber: {{uri: '{}'}}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {{name: a1}}
spec: {{template: {{spec: {{containers: [{{image: ghcr.io/fnmesh/appender, env: [{{name: MESSAGE, value: ' one'}}]}}]}}}}}}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {{name: a2}}
spec: {{template: {{spec: {{containers: [{{image: ghcr.io/fnmesh/appender, env: [{{name: MESSAGE, value: ' two'}}]}}]}}}}}}
",
        sink.url
    );
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let (status, _) =
        mesh.send("first-kn-sequence-0-kn-channel.default", "s1", "start", r#"{"id": 1, "message": "go"}"#).await;
    assert_eq!(status, 202);
    let received = sink.wait_for(1, WAIT).await;
    assert_eq!(received[0].body, r#"{"id":1,"message":"go one two"}"#);
    assert!(received[0].header("ce-knativearrivaltime").starts_with("20"), "the implicit default broker stamped it");
    mesh.stop().await;
}

#[tokio::test]
async fn every_manifest_problem_is_reported_at_once_with_its_place() {
    let yaml = "apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: s}
spec:
  steps:
  - ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: missing}
  - uri: not-a-url
    delivery: {retry: -1, backoffDelay: soon}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: web}
spec: {template: {spec: {containers: [{image: nginx:1.27}]}}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t}
spec:
  broker: nosuch
  subscriber: {ref: {apiVersion: v1, kind: Service, name: web}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
---
kind: Sequence
metadata: {name: half}
";
    let err = TestMesh::from_yaml(yaml).await.unwrap_err();
    let expected = [
        "doc 1 (Sequence s): spec.steps[0].ref: no Service missing in namespace default (serving.knative.dev/v1)",
        "doc 1 (Sequence s): spec.steps[1].uri: \"not-a-url\" is not an absolute URL",
        "doc 1 (Sequence s): spec.steps[1].delivery.backoffDelay: \"soon\" is not an ISO-8601 duration",
        "doc 1 (Sequence s): spec.steps[1].delivery.retry: -1 is negative",
        "doc 2 (Service web): spec.template.spec.containers[0].image: no fnmesh function runs image \"nginx:1.27\"",
        "doc 3 (Trigger t): spec.broker: no Broker nosuch in namespace default",
        "doc 5 (Sequence half): apiVersion: required",
    ];
    for line in expected {
        assert!(err.contains(line), "missing {line:?} in:\n{err}");
    }
    // A Job is a cluster kind fnmesh does not emulate: ignored (listed at start), not a problem.
    assert!(!err.contains("Job j"), "{err}");
    assert!(err.starts_with("7 problems in the manifests:"), "{err}");
    assert!(err.contains("manifests.yaml:doc 1"), "names the file: {err}");
}

#[tokio::test]
async fn container_concurrency_makes_extra_requests_wait() {
    // Each event keeps the filter busy 300 ms; with containerConcurrency 1, three at once
    // cannot all be done in less than 900 ms (a lower bound: no machine makes it flaky).
    let yaml = "apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: one-at-a-time}
spec:
  template:
    spec:
      containerConcurrency: 1
      containers:
      - image: ghcr.io/fnmesh/filter
        env:
        - {name: FILTER, value: '(() => { const end = Date.now() + 300; while (Date.now() < end) {} return true; })()'}
        - {name: FNMESH_EVAL_TIMEOUT, value: 5s}
        - {name: FNMESH_EVAL_WORKERS, value: '4'}
";
    let mesh = TestMesh::from_yaml(yaml).await.unwrap();
    let started = std::time::Instant::now();
    let host = "one-at-a-time.default.svc.cluster.local";
    let (a, b, c) =
        tokio::join!(mesh.send(host, "1", "t", "{}"), mesh.send(host, "2", "t", "{}"), mesh.send(host, "3", "t", "{}"));
    assert_eq!((a.0, b.0, c.0), (200, 200, 200));
    assert!(started.elapsed() >= Duration::from_millis(900), "served one at a time: {:?}", started.elapsed());
    mesh.stop().await;
}

#[tokio::test]
async fn a_flow_replying_to_the_broker_that_feeds_it_is_warned_about_and_the_ttl_stops_it() {
    // The seed-like loop of knative/docs#2851: the Sequence's step keeps the type, its
    // reply goes back to the broker and matches the trigger again. A cluster loops for
    // ever (the trigger takes the TTL off); fnmesh run carries it through the flow.
    let step = Recorder::start(vec![Step::Echo("loop")]).await;
    let yaml = format!(
        "apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: b}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: again}}
spec:
  broker: b
  filter: {{attributes: {{type: loop}}}}
  subscriber: {{ref: {{apiVersion: flows.knative.dev/v1, kind: Sequence, name: s}}}}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {{name: s}}
spec:
  steps: [{{uri: '{}'}}]
  reply: {{ref: {{apiVersion: eventing.knative.dev/v1, kind: Broker, name: b}}}}
",
        step.url
    );
    let mesh = TestMesh::from_yaml_with(&yaml, endless_loop).await.unwrap();
    let output = mesh.output();
    assert!(
        output.contains("fnmesh | warning: ")
            && output.contains("trigger again feeds Sequence s whose reply goes back to broker b"),
        "{output}"
    );
    let headers = [("ce-specversion", "1.0"), ("ce-id", "loop-1"), ("ce-source", "/test"), ("ce-type", "loop")];
    assert_eq!(mesh.post(BROKER_HOST, "/default/b", &headers, "{}").await.0, 202);
    assert!(mesh.wait_for("knativebrokerttl reached 0", WAIT).await, "{}", mesh.output());
    let received = step.received();
    assert_eq!(received.len(), 255, "one pass through the Sequence per TTL step");
    assert!(
        received.iter().all(|r| r.header("ce-knativebrokerttl").is_empty() && r.header("fnmesh-broker-ttl").is_empty()),
        "the step sees neither the TTL nor the mesh's carrier"
    );
    mesh.stop().await;
}

#[tokio::test]
async fn broker_ttl_is_a_flag() {
    let echo = Recorder::start(vec![Step::Echo("loop")]).await;
    let yaml = format!("{BROKER}{}", trigger("loop", "  filter:\n    attributes:\n      type: loop", &echo.url));
    let mesh = TestMesh::from_yaml_with(&yaml, |options| {
        endless_loop(options);
        options.broker_ttl = 5;
    })
    .await
    .unwrap();
    let headers = [("ce-specversion", "1.0"), ("ce-id", "ttl-5"), ("ce-source", "/test"), ("ce-type", "loop")];
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &headers, "{}").await.0, 202);
    assert!(mesh.wait_for("knativebrokerttl reached 0", WAIT).await, "{}", mesh.output());
    assert_eq!(echo.received().len(), 5, "--broker-ttl 5: five passes");
    mesh.stop().await;
}
