//! What stays in Rust of the eventing scenarios: the manifest checks at start (the subject
//! is the error text of a mesh that does not start, which a test case reports as a failed
//! case rather than expects) and containerConcurrency (it asserts a time, a lower bound).
//! Brokers and triggers, PingSource events, Parallel filters and nested flows are test
//! files: `tests/scenarios/eventing.test.yaml`, run by `scenarios.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_tests::mesh::TestMesh;

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
