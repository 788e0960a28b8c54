//! Event sources as a cluster runs them: the PingSource adapter's requests and retries,
//! a ContainerSource's pod and a SinkBinding's subject with `K_SINK` and
//! `K_CE_OVERRIDES`, env from ConfigMaps and Secrets, and the kinds fnmesh does not
//! emulate; each against local recorders, with the upstream file it follows named.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_tests::mesh::TestMesh;
use fnmesh_tests::recorder::{Recorder, Step};

const WAIT: Duration = Duration::from_secs(10);

/// A PingSource `name` in namespace `shop`, never due on its own (`--ping-now` fires it).
fn ping(name: &str, extra: &str, sink: &str) -> String {
    format!(
        "---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {{name: {name}, namespace: shop}}
spec:
  schedule: '0 0 1 1 *'
{extra}  sink: {{uri: '{sink}'}}
"
    )
}

/// The adapter's client (knative/eventing `pkg/adapter/v2/cloudevents.go`) sets
/// `Kn-Namespace` to the source's namespace and no `Prefer`; `runner.go` `makeEvent`
/// calls `SetData(spec.ContentType, data)`, so data without `contentType` goes with no
/// content type at all.
#[tokio::test]
async fn ping_requests_carry_kn_namespace_no_prefer_and_no_invented_content_type() {
    let sink = Recorder::start(vec![Step::Status(202)]).await;
    let yaml = ping("plain", "  data: ping!\n", &sink.url);
    let mesh = TestMesh::from_yaml_with(&yaml, |options| options.ping_now = true).await.unwrap();
    let received = sink.wait_for(1, WAIT).await;
    let request = received.first().expect("the ping");
    assert_eq!(request.header("kn-namespace"), "shop");
    assert_eq!(request.header("prefer"), "");
    assert_eq!(request.header("content-type"), "");
    assert_eq!(request.header("ce-datacontenttype"), "");
    assert_eq!(request.body.as_ref(), b"ping!");
    assert_eq!(request.header("ce-source"), "/apis/v1/namespaces/shop/pingsources/plain");
    mesh.stop().await;
}

/// `runner.go`: `ContextWithRetriesExponentialBackoff(ctx, 50ms, 5)`: 6 attempts, on the
/// statuses sdk-go v2.16.1 retries (`protocol/http/protocol_retry.go`: 404, 413, 425,
/// 429, 502, 503, 504); a 500 is not retried. Then the event is lost.
#[tokio::test]
async fn the_ping_adapter_makes_six_attempts_on_its_retried_statuses_and_one_on_500() {
    let busy = Recorder::start(vec![Step::Status(503)]).await;
    let broken = Recorder::start(vec![Step::Status(500)]).await;
    let yaml = format!("{}{}", ping("busy", "", &busy.url), ping("broken", "", &broken.url));
    let mesh = TestMesh::from_yaml_with(&yaml, |options| options.ping_now = true).await.unwrap();
    for (name, recorder, attempts) in [("busy", &busy, 6), ("broken", &broken, 1)] {
        let needle = format!("pingsource/{name}: event");
        assert!(mesh.wait_for(&needle, WAIT).await, "{name}: {}", mesh.output());
        assert_eq!(recorder.received().len(), attempts, "{name}: {}", mesh.output());
    }
    let ids: Vec<String> = busy.received().iter().map(|r| r.header("ce-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "the same event each time: {ids:?}");
    mesh.stop().await;
}

/// A script that does what a source's container does: print the contract it was given,
/// and send one event to `K_SINK` with the `K_CE_OVERRIDES` extensions.
const SOURCE_PY: &str = r#"import json, os, urllib.request
for name in ["K_SINK", "K_CE_OVERRIDES", "K_SERVICE", "PERIOD", "TOKEN"]:
    print(name + "=" + os.environ.get(name, "unset"), flush=True)
headers = {"ce-specversion": "1.0", "ce-id": "beat-1", "ce-source": "/heartbeats",
           "ce-type": "dev.knative.eventing.samples.heartbeat", "content-type": "application/json"}
for key, value in json.loads(os.environ.get("K_CE_OVERRIDES") or "{}").get("extensions", {}).items():
    headers["ce-" + key] = value
request = urllib.request.Request(os.environ["K_SINK"], data=b'{"id": 1}', headers=headers, method="POST")
with urllib.request.urlopen(request) as answer:
    print("sent", answer.status, flush=True)
"#;

#[allow(clippy::print_stderr)] // a skipped test says why
fn python() -> bool {
    let found = std::process::Command::new("python3").arg("--version").output().is_ok();
    if !found {
        eprintln!("skipped: python3 is not installed");
    }
    found
}

/// knative/eventing `pkg/reconciler/containersource/resources/deployment.go` (the
/// template runs as `<name>-deployment`) and `resources/sinkbinding.go` (bound to the
/// sink); `pkg/apis/sources/v1/sinkbinding_lifecycle.go` `Do`: K_SINK (here an
/// InMemoryChannel's address, reached through fnmesh's ingress) and K_CE_OVERRIDES
/// (JSON of `ceOverrides`) replace the container's own. The ConfigMap gives PERIOD, as
/// the kubelet would (`configMapKeyRef`).
#[tokio::test]
async fn a_container_source_sends_to_its_sink_with_the_binding_contract() {
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("source.py"), SOURCE_PY).unwrap();
    let recorder = Recorder::start(vec![Step::Status(202)]).await;
    let yaml = format!(
        "apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {{name: beats}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {{name: beats-to-recorder}}
spec:
  channel: {{apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: beats}}
  subscriber: {{uri: '{url}'}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: beats}}
data: {{period: '1'}}
---
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: heartbeats
  annotations: {{fnmesh.dev/command: 'python3 {script}'}}
spec:
  ceOverrides: {{extensions: {{flow: beats}}}}
  sink: {{ref: {{apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: beats}}}}
  template:
    spec:
      containers:
      - image: gcr.io/knative-releases/knative.dev/eventing/cmd/heartbeats
        env:
        - {{name: K_SINK, value: 'http://overwritten'}}
        - {{name: PERIOD, valueFrom: {{configMapKeyRef: {{name: beats, key: period}}}}}}
",
        url = recorder.url,
        script = dir.path().join("source.py").display()
    );
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let received = recorder.wait_for(1, WAIT).await;
    let output = mesh.output();
    let event = received.first().unwrap_or_else(|| panic!("nothing sent:\n{output}"));
    assert_eq!(event.header("ce-id"), "beat-1");
    assert_eq!(event.header("ce-flow"), "beats", "K_CE_OVERRIDES extensions");
    assert!(mesh.wait_for("heartbeats-deployment | sent 202", WAIT).await, "{}", mesh.output());
    let output = mesh.output();
    let sink = "heartbeats-deployment | K_SINK=http://127.0.0.1:";
    assert!(output.contains(sink) && output.contains("/.fnmesh/hosts/beats-kn-channel.default.svc.cluster.local/"));
    assert!(output.contains(r#"heartbeats-deployment | K_CE_OVERRIDES={"extensions":{"flow":"beats"}}"#), "{output}");
    assert!(output.contains("heartbeats-deployment | K_SERVICE=unset"), "not a Knative Service: {output}");
    assert!(output.contains("heartbeats-deployment | PERIOD=1"), "{output}");
    mesh.stop().await;
}

/// `sinkbinding_lifecycle.go` `Do` on a Deployment picked by a label selector (no
/// Service selects it: it runs as a source's pod): K_SINK as the `uri` is written, and
/// K_CE_OVERRIDES empty without `ceOverrides`. The Secret gives TOKEN (`data` is base64).
#[tokio::test]
async fn a_sink_binding_gives_its_subject_k_sink() {
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("source.py"), SOURCE_PY).unwrap();
    let recorder = Recorder::start(vec![Step::Status(202)]).await;
    let yaml = format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: producer}}
data: {{token: czNjcjN0}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: producer
  labels: {{app: producer}}
  annotations: {{fnmesh.dev/command: 'python3 {script}'}}
spec:
  selector: {{matchLabels: {{app: producer}}}}
  template:
    metadata: {{labels: {{app: producer}}}}
    spec:
      containers:
      - image: example.com/producer
        env: [{{name: TOKEN, valueFrom: {{secretKeyRef: {{name: producer, key: token}}}}}}]
---
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata: {{name: bind-producer}}
spec:
  subject:
    apiVersion: apps/v1
    kind: Deployment
    selector: {{matchLabels: {{app: producer}}}}
  sink: {{uri: '{url}/events'}}
",
        url = recorder.url,
        script = dir.path().join("source.py").display()
    );
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let received = recorder.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1, "{}", mesh.output());
    assert!(mesh.wait_for("producer | sent 202", WAIT).await, "{}", mesh.output());
    let output = mesh.output();
    assert!(output.contains(&format!("producer | K_SINK={}/events", recorder.url)), "{output}");
    assert!(output.contains("producer | K_CE_OVERRIDES=\n"), "set, and empty: {output}");
    assert!(output.contains("producer | TOKEN=s3cr3t"), "{output}");
    mesh.stop().await;
}

/// A real app's manifests hold kinds fnmesh does not emulate: they do not stop it, and
/// one line lists them.
#[tokio::test]
async fn kinds_fnmesh_does_not_emulate_are_listed_in_one_line() {
    let yaml = "apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: app-reads}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: app}]
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
";
    let mesh = TestMesh::from_yaml(yaml).await.unwrap();
    let output = mesh.output();
    let line = "ignored (kinds fnmesh run does not emulate): v1 ServiceAccount app, \
                rbac.authorization.k8s.io/v1 RoleBinding app-reads";
    assert_eq!(output.lines().filter(|l| l.contains(line)).count(), 1, "{output}");
    mesh.stop().await;
}
