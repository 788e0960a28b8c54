//! Channel delivery as Knative's dispatcher does it (semantics.md, "Channel dispatch"):
//! the waits between attempts. Every other delivery scenario (attempts, retried statuses,
//! timeouts, dead letters, replies, the ingress's answers) is a test file,
//! `tests/scenarios/delivery.test.yaml`, run by `scenarios.rs`. These two stay in Rust
//! because they assert the time between attempts (lower bounds only), which the test file
//! format deliberately does not express: a test file says what arrives, not when.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_tests::mesh::TestMesh;
use fnmesh_tests::recorder::{Recorder, Step};

const CHANNEL_HOST: &str = "orders-kn-channel.default.svc.cluster.local";

/// A channel with one subscription to `subscriber`, a delivery block, and annotations.
fn channel(subscriber: &str, reply: Option<&str>, delivery: &str, annotations: &str) -> String {
    let reply = reply.map(|r| format!("  reply:\n    uri: {r}\n")).unwrap_or_default();
    format!(
        "apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata:
  name: orders
  annotations: {{{annotations}}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata:
  name: orders-sub
spec:
  channel: {{apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}}
  subscriber:
    uri: {subscriber}
{reply}  delivery:
{delivery}
"
    )
}

#[tokio::test]
async fn backoff_waits_grow_as_the_policy_says() {
    // Only lower bounds: a wait is at least what the policy says, whatever the machine.
    let subscriber = Recorder::start(vec![Step::Status(503)]).await;
    let yaml =
        channel(&subscriber.url, None, "    retry: 3\n    backoffPolicy: exponential\n    backoffDelay: PT0.05S\n", "");
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.send(CHANNEL_HOST, "e7", "order", "{}").await.0, 500);
    let at: Vec<Duration> = subscriber.received().iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 4);
    for (k, minimum) in [(1, 50), (2, 100), (3, 200)] {
        let gap = at[k] - at[k - 1];
        assert!(gap >= Duration::from_millis(minimum), "wait before retry {k}: {gap:?} < {minimum} ms");
    }
    mesh.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_retry_after_max() {
    let subscriber = Recorder::start(vec![Step::RetryAfter(429, 30), Step::Status(200)]).await;
    let yaml = channel(&subscriber.url, None, "    retry: 1\n    retryAfterMax: PT0.3S\n", "");
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.send(CHANNEL_HOST, "e8", "order", "{}").await.0, 202);
    let at: Vec<Duration> = subscriber.received().iter().map(|r| r.at).collect();
    assert!(at[1] - at[0] >= Duration::from_millis(300), "waited Retry-After, bounded by retryAfterMax");
    mesh.stop().await;
}
