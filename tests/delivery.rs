//! Channel delivery as Knative's dispatcher does it (semantics.md, "Channel dispatch"):
//! attempts, backoff, which statuses are retried, per-attempt timeout, Retry-After, dead
//! letters with the `knativeerror*` extensions, replies, and what the sender is answered.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use base64::Engine;
use fnmesh_tests::mesh::TestMesh;
use fnmesh_tests::recorder::{Recorder, Step};

const CHANNEL_HOST: &str = "orders-kn-channel.default.svc.cluster.local";
const WAIT: Duration = Duration::from_secs(10);

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

fn dls(url: &str) -> String {
    format!("    deadLetterSink:\n      uri: {url}\n")
}

fn extension(received: &fnmesh_tests::recorder::Received, name: &str) -> String {
    received.header(&format!("ce-{name}"))
}

#[tokio::test]
async fn retryable_failures_are_retried_until_success() {
    let subscriber = Recorder::start(vec![Step::Status(503), Step::Status(500), Step::Status(200)]).await;
    let yaml =
        channel(&subscriber.url, None, "    retry: 3\n    backoffPolicy: linear\n    backoffDelay: PT0.01S\n", "");
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let (status, _) = mesh.send(CHANNEL_HOST, "e1", "order", r#"{"n": 1}"#).await;
    assert_eq!(status, 202);
    let received = subscriber.received();
    assert_eq!(received.len(), 3, "503, 500, then 200");
    for attempt in &received {
        assert_eq!(attempt.header("ce-id"), "e1");
        assert_eq!(attempt.header("prefer"), "reply");
        assert_eq!(attempt.body, r#"{"n": 1}"#);
    }
    assert!(mesh.output().contains("subscription/orders-sub -> "), "{}", mesh.output());
    assert!(mesh.output().contains(": 503 in "), "{}", mesh.output());
    mesh.stop().await;
}

#[tokio::test]
async fn exhausted_retries_go_to_the_dead_letter_sink_with_error_extensions() {
    let subscriber = Recorder::start(vec![Step::Body(503, "busy, come back later")]).await;
    let dead = Recorder::start(vec![Step::Status(202)]).await;
    let yaml = channel(&subscriber.url, None, &format!("    retry: 2\n{}", dls(&dead.url)), "");
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let (status, _) = mesh.send(CHANNEL_HOST, "e2", "order", r#"{"n": 2}"#).await;
    assert_eq!(status, 202, "the dead letter sink took it");
    assert_eq!(subscriber.received().len(), 3, "retry: 2 means 3 attempts");
    let dead = dead.received();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].header("ce-id"), "e2", "the original event");
    assert_eq!(dead[0].body, r#"{"n": 2}"#);
    assert_eq!(extension(&dead[0], "knativeerrordest"), subscriber.url);
    assert_eq!(extension(&dead[0], "knativeerrorcode"), "503");
    let data = base64::engine::general_purpose::STANDARD.decode(extension(&dead[0], "knativeerrordata")).unwrap();
    assert_eq!(data, b"busy, come back later");
    mesh.stop().await;
}

#[tokio::test]
async fn a_400_is_final_and_not_retried() {
    let subscriber = Recorder::start(vec![Step::Status(400)]).await;
    let dead = Recorder::start(vec![Step::Status(200)]).await;
    let yaml = channel(&subscriber.url, None, &format!("    retry: 5\n{}", dls(&dead.url)), "");
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.send(CHANNEL_HOST, "e3", "order", "{}").await.0, 202);
    assert_eq!(subscriber.received().len(), 1);
    let dead = dead.received();
    assert_eq!(extension(&dead[0], "knativeerrorcode"), "400");
    assert_eq!(extension(&dead[0], "knativeerrordata"), "", "an empty body gives no data");
    mesh.stop().await;
}

#[tokio::test]
async fn each_retryable_status_is_retried_and_others_are_not() {
    for (code, attempts) in [(404, 2), (408, 2), (409, 2), (429, 2), (502, 2), (401, 1), (403, 1), (422, 1)] {
        let subscriber = Recorder::start(vec![Step::Status(code)]).await;
        let yaml = channel(&subscriber.url, None, "    retry: 1\n", "");
        let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
        let (status, body) = mesh.send(CHANNEL_HOST, "e", "order", "{}").await;
        assert_eq!(status, 500, "{code}: no dead letter sink: the failure goes back to the sender");
        assert!(body.contains(&code.to_string()), "{code}: {body}");
        assert_eq!(subscriber.received().len(), attempts, "{code}");
        mesh.stop().await;
    }
}

#[tokio::test]
async fn the_async_annotation_answers_at_once() {
    let subscriber = Recorder::start(vec![Step::Status(503)]).await;
    let yaml = channel(&subscriber.url, None, "    retry: 1\n", "messaging.knative.dev/async-handler: \"true\"");
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.send(CHANNEL_HOST, "e4", "order", "{}").await.0, 202, "accepted before delivery");
    assert_eq!(subscriber.wait_for(2, WAIT).await.len(), 2, "delivered in the background, with retries");
    mesh.stop().await;
}

#[tokio::test]
async fn connection_refused_and_timeouts_are_retried_then_dead_lettered_as_500() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dead = Recorder::start(vec![Step::Status(200)]).await;
    let refused = format!("http://{unused}");
    let yaml = channel(&refused, None, &format!("    retry: 1\n{}", dls(&dead.url)), "");
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.send(CHANNEL_HOST, "e5", "order", "{}").await.0, 202);
    let received = dead.received();
    assert_eq!(extension(&received[0], "knativeerrorcode"), "500");
    assert_eq!(extension(&received[0], "knativeerrordest"), refused);
    let data = base64::engine::general_purpose::STANDARD.decode(extension(&received[0], "knativeerrordata")).unwrap();
    assert!(String::from_utf8_lossy(&data).starts_with("dispatch error: "), "{data:?}");
    assert_eq!(mesh.output().matches("connection refused").count(), 2, "{}", mesh.output());
    mesh.stop().await;

    let slow = Recorder::start(vec![Step::Slow(Duration::from_secs(5), 200)]).await;
    let dead = Recorder::start(vec![Step::Status(200)]).await;
    let yaml = channel(&slow.url, None, &format!("    retry: 1\n    timeout: PT0.2S\n{}", dls(&dead.url)), "");
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.send(CHANNEL_HOST, "e6", "order", "{}").await.0, 202);
    assert_eq!(slow.received().len(), 2, "each attempt timed out");
    assert_eq!(extension(&dead.received()[0], "knativeerrorcode"), "500");
    assert!(mesh.output().contains("timed out"), "{}", mesh.output());
    mesh.stop().await;
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

#[tokio::test]
async fn replies_go_to_the_reply_and_no_reply_ends_quietly() {
    let subscriber = Recorder::start(vec![Step::Echo("order.checked")]).await;
    let reply = Recorder::start(vec![Step::Status(202)]).await;
    let yaml = channel(&subscriber.url, Some(&reply.url), "    retry: 0\n", "");
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let headers = [
        ("ce-specversion", "1.0"),
        ("ce-id", "e9"),
        ("ce-source", "/test"),
        ("ce-type", "order"),
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    ];
    assert_eq!(mesh.post(CHANNEL_HOST, "/", &headers, r#"{"n": 9}"#).await.0, 202);
    let replies = reply.received();
    assert_eq!(replies.len(), 1);
    assert_eq!((replies[0].header("ce-type"), replies[0].header("ce-id")), ("order.checked".into(), "e9".into()));
    assert_eq!(replies[0].body, r#"{"n": 9}"#);
    let forwarded = subscriber.received();
    // The same trace, a span of its own (pkg/kncloudevents/event_dispatcher.go starts a
    // span per request; its transport writes the new span's traceparent).
    let traceparent = forwarded[0].header("traceparent");
    assert!(traceparent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"), "{traceparent}");
    assert!(traceparent.ends_with("-01") && !traceparent.contains("-b7ad6b7169203331-"), "{traceparent}");
    mesh.stop().await;

    let quiet = Recorder::start(vec![Step::Status(202)]).await;
    let reply = Recorder::start(vec![Step::Status(202)]).await;
    let mesh = TestMesh::from_yaml(&channel(&quiet.url, Some(&reply.url), "    retry: 0\n", "")).await.unwrap();
    assert_eq!(mesh.send(CHANNEL_HOST, "e10", "order", "{}").await.0, 202);
    assert_eq!(quiet.received().len(), 1);
    assert!(reply.received().is_empty(), "2xx without an event: nothing to reply");
    mesh.stop().await;
}

#[tokio::test]
async fn a_failing_reply_sends_the_original_event_to_the_dead_letter_sink() {
    let subscriber = Recorder::start(vec![Step::Echo("order.checked")]).await;
    let reply = Recorder::start(vec![Step::Status(500)]).await;
    let dead = Recorder::start(vec![Step::Status(200)]).await;
    let yaml = channel(&subscriber.url, Some(&reply.url), &format!("    retry: 1\n{}", dls(&dead.url)), "");
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.send(CHANNEL_HOST, "e11", "order", "{}").await.0, 202);
    assert_eq!(reply.received().len(), 2, "the reply is retried like any delivery");
    let dead = dead.received();
    assert_eq!(dead[0].header("ce-type"), "order", "the original event, not the reply");
    assert_eq!(extension(&dead[0], "knativeerrordest"), reply.url);
    mesh.stop().await;
}

#[tokio::test]
async fn the_ingress_refuses_what_is_not_an_event() {
    let subscriber = Recorder::start(vec![Step::Status(200)]).await;
    let mesh = TestMesh::from_yaml(&channel(&subscriber.url, None, "    retry: 0\n", "")).await.unwrap();
    let (status, body) = mesh.post(CHANNEL_HOST, "/", &[], "{}").await;
    // pkg/channel/event_receiver.go: what is not a CloudEvent is a 400 at a channel.
    assert_eq!(status, 400, "{body}");
    let get = fnmesh_testkit::reqwest::Client::new()
        .get(format!("http://{}/", mesh.running.ingress))
        .header("host", CHANNEL_HOST)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    let (status, body) = mesh.post(CHANNEL_HOST, "/", &[("ce-specversion", "1.0"), ("ce-id", "x")], "{}").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("source"), "{body}");
    let (status, body) = mesh.send("nosuch-kn-channel.default.svc.cluster.local", "x", "t", "{}").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("orders-kn-channel.default.svc.cluster.local"), "lists what exists: {body}");
    assert!(subscriber.received().is_empty());
    mesh.stop().await;
}
