//! What a user moving between `fnmesh run` and a cluster would otherwise notice (issue 15),
//! each against knative/eventing's own code: the file that decides is named at each test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use base64::Engine;
use fnmesh_tests::mesh::TestMesh;
use fnmesh_tests::recorder::{Recorder, Step};

const BROKER_HOST: &str = "broker-ingress.knative-eventing.svc.cluster.local";
const CHANNEL_HOST: &str = "orders-kn-channel.default.svc.cluster.local";

fn broker(delivery: &str) -> String {
    format!("apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {{name: default}}\nspec: {{{delivery}}}\n")
}

fn trigger(name: &str, uri: &str, delivery: &str) -> String {
    format!(
        "---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {{name: {name}}}\n\
         spec:\n  broker: default\n  subscriber: {{uri: '{uri}'}}\n  delivery: {{{delivery}}}\n"
    )
}

fn event(id: &str) -> Vec<(&str, &str)> {
    vec![("ce-specversion", "1.0"), ("ce-id", id), ("ce-source", "/test"), ("ce-type", "order")]
}

#[tokio::test]
async fn a_broker_without_delivery_gets_the_cluster_default() {
    // config/core/configmaps/default-broker.yaml: retry 10, exponential, PT0.2S.
    let flaky = Recorder::start(vec![Step::Status(503), Step::Status(503), Step::Status(202)]).await;
    let yaml = format!(
        "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {{name: default}}\n{}",
        trigger("t", &flaky.url, "").replace("  delivery: {}\n", "")
    );
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &event("d1"), "{}").await.0, 202);
    let received = flaky.received();
    assert_eq!(received.len(), 3, "retried as the default delivery says");
    assert!(received[1].at - received[0].at >= Duration::from_millis(200), "waits 0.2 s, then 0.4 s");
    mesh.stop().await;
}

#[tokio::test]
async fn the_broker_answers_after_its_triggers_as_a_channel_does() {
    // pkg/broker/ingress/ingress_handler.go sends to the broker's channel and answers
    // with its status; the channel's dispatcher answers after its fan-out: 500 when a
    // subscriber failed and no dead letter sink took the event.
    let failing = Recorder::start(vec![Step::Status(500)]).await;
    let dead = Recorder::start(vec![Step::Status(202)]).await;
    let mut yaml = broker("delivery: {retry: 0}");
    yaml.push_str(&trigger("no-sink", &failing.url, "retry: 0"));
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let (status, body) = mesh.post(BROKER_HOST, "/default/default", &event("s1"), "{}").await;
    assert_eq!(status, 500, "{body}");
    mesh.stop().await;

    let mut yaml = broker(&format!("delivery: {{retry: 0, deadLetterSink: {{uri: '{}'}}}}", dead.url));
    yaml.push_str(&trigger("with-sink", &failing.url, "retry: 0"));
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &event("s2"), "{}").await.0, 202);
    assert_eq!(dead.received().len(), 1, "dead-lettered before the answer");
    mesh.stop().await;

    // --async-brokers: 202 at once, as fnmesh answered before.
    let mut yaml = broker("delivery: {retry: 0}");
    yaml.push_str(&trigger("no-sink", &failing.url, "retry: 0"));
    let mesh = TestMesh::from_yaml_with(&yaml, |o| o.async_brokers = true).await.unwrap();
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &event("s3"), "{}").await.0, 202);
    mesh.stop().await;
}

#[tokio::test]
async fn a_trigger_subscriber_answering_a_body_that_is_not_an_event_fails() {
    // pkg/broker/filter/filter_handler.go writeResponse: a non-empty 2xx body that is not
    // a CloudEvent is a 502 (retried, dead-lettered); a channel takes it as no reply.
    let talker = Recorder::start(vec![Step::Body(200, "thanks!")]).await;
    let dead = Recorder::start(vec![Step::Status(202)]).await;
    let mut yaml = broker("");
    yaml.push_str(&trigger("t", &talker.url, &format!("retry: 1, deadLetterSink: {{uri: '{}'}}", dead.url)));
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &event("b1"), "{}").await.0, 202);
    assert_eq!(talker.received().len(), 2, "502 is retried");
    let dead = dead.received();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].header("ce-knativeerrorcode"), "502");
    assert_eq!(dead[0].header("ce-knativeerrordata"), base64::engine::general_purpose::STANDARD.encode("thanks!"));
    assert!(!dead[0].header("ce-knativebrokerttl").is_empty(), "a trigger's dead letter keeps the broker's TTL");
    mesh.stop().await;

    let talker = Recorder::start(vec![Step::Body(200, "thanks!")]).await;
    let yaml = format!(
        "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {{name: orders}}\n---\n\
         apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {{name: s}}\nspec:\n  \
         channel: {{apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}}\n  \
         subscriber: {{uri: '{}'}}\n",
        talker.url
    );
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.send(CHANNEL_HOST, "c1", "order", "{}").await.0, 202, "no reply, a success");
    assert_eq!(talker.received().len(), 1);
    mesh.stop().await;
}

#[tokio::test]
async fn a_dead_letter_sink_falls_back_on_its_own() {
    // A step's delivery without deadLetterSink still uses the channel template's: the
    // Subscription reconciler fills it from the channel
    // (pkg/reconciler/subscription/subscription.go); a trigger's falls back to the broker's.
    let failing = Recorder::start(vec![Step::Status(500)]).await;
    let template_sink = Recorder::start(vec![Step::Status(202)]).await;
    let yaml = format!(
        "apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {{name: s}}\nspec:\n  \
         channelTemplate:\n    apiVersion: messaging.knative.dev/v1\n    kind: InMemoryChannel\n    \
         spec: {{delivery: {{deadLetterSink: {{uri: '{}'}}}}}}\n  \
         steps:\n  - uri: '{}'\n    delivery: {{retry: 1}}\n",
        template_sink.url, failing.url
    );
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let (status, _) = mesh.send("s-kn-sequence-0-kn-channel.default.svc.cluster.local", "q1", "t", "{}").await;
    assert_eq!(status, 202);
    assert_eq!(failing.received().len(), 2, "the step's own retry");
    assert_eq!(template_sink.received().len(), 1, "the template's sink");
    mesh.stop().await;

    let broker_sink = Recorder::start(vec![Step::Status(202)]).await;
    let mut yaml = broker(&format!("delivery: {{deadLetterSink: {{uri: '{}'}}}}", broker_sink.url));
    yaml.push_str(&trigger("t", &failing.url, "retry: 0"));
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &event("q2"), "{}").await.0, 202);
    assert_eq!(broker_sink.received().len(), 1, "the broker's sink");
    mesh.stop().await;
}

#[tokio::test]
async fn a_parallel_filter_uses_the_channel_template_delivery() {
    // pkg/reconciler/parallel/resources/subscription.go: NewFilterSubscription sets no
    // delivery (the channel's applies); NewSubscription takes the branch's.
    let filter = Recorder::start(vec![Step::Status(503)]).await;
    let yaml = format!(
        "apiVersion: flows.knative.dev/v1\nkind: Parallel\nmetadata: {{name: p}}\nspec:\n  \
         channelTemplate:\n    apiVersion: messaging.knative.dev/v1\n    kind: InMemoryChannel\n    \
         spec: {{delivery: {{retry: 1}}}}\n  \
         branches:\n  - filter: {{uri: '{}'}}\n    subscriber: {{uri: 'http://127.0.0.1:9/'}}\n    delivery: {{retry: 4}}\n",
        filter.url
    );
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let (status, _) = mesh.send("p-kn-parallel-kn-channel.default.svc.cluster.local", "p1", "t", "{}").await;
    assert_eq!(status, 500, "the filter failed, no sink");
    assert_eq!(filter.received().len(), 2, "the template's retry: 1, not the branch's 4");
    mesh.stop().await;
}

#[tokio::test]
async fn headers_are_the_dispatchers() {
    // pkg/kncloudevents/event_dispatcher.go: `Prefer: reply` on the request to the
    // subscriber only; `Kn-Namespace` (pkg/channel/fanout/fanout_event_handler.go) on
    // the subscriber's, the reply's and the dead letter's; a new span per request
    // (traceparent: same trace id, new span id).
    let echo = Recorder::start(vec![Step::Echo("answer")]).await;
    let reply = Recorder::start(vec![Step::Status(202)]).await;
    let yaml = format!(
        "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {{name: orders, namespace: shop}}\n---\n\
         apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {{name: s, namespace: shop}}\nspec:\n  \
         channel: {{apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}}\n  \
         subscriber: {{uri: '{}'}}\n  reply: {{uri: '{}'}}\n",
        echo.url, reply.url
    );
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let mut headers = event("h1");
    headers.push(("traceparent", parent));
    let (status, _) = mesh.post("orders-kn-channel.shop.svc.cluster.local", "/", &headers, "{}").await;
    assert_eq!(status, 202);
    let to_subscriber = &echo.received()[0];
    let to_reply = &reply.received()[0];
    assert_eq!(to_subscriber.header("prefer"), "reply");
    assert_eq!(to_reply.header("prefer"), "", "no Prefer on the reply");
    assert_eq!(to_subscriber.header("kn-namespace"), "shop");
    assert_eq!(to_reply.header("kn-namespace"), "shop");
    for sent in [to_subscriber, to_reply] {
        let traceparent = sent.header("traceparent");
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!(parts[1], "0af7651916cd43dd8448eb211c80319c", "the same trace");
        assert_ne!(parts[2], "b7ad6b7169203331", "a new span");
    }
    mesh.stop().await;
}

#[tokio::test]
async fn a_trigger_with_format_json_sends_structured_mode() {
    // pkg/kncloudevents/event_dispatcher.go WithEventFormat: json forces structured mode.
    let subscriber = Recorder::start(vec![Step::Status(202)]).await;
    let mut yaml = broker("");
    yaml.push_str(&trigger("t", &subscriber.url, "format: json"));
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &event("f1"), r#"{"a": 1}"#).await.0, 202);
    let received = &subscriber.received()[0];
    assert!(received.header("content-type").starts_with("application/cloudevents+json"), "{:?}", received.headers);
    let envelope: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
    assert_eq!(envelope["id"], "f1");
    assert_eq!(envelope["data"]["a"], 1);
    assert_eq!(received.header("kn-namespace"), "default");
    mesh.stop().await;
}

#[tokio::test]
async fn the_async_annotation_is_an_in_memory_channels_own() {
    // The annotation is read by the IMC dispatcher; a Sequence, a Parallel or a generic
    // Channel does not copy it to the channels it creates. Go's strconv.ParseBool spellings.
    let slow = Recorder::start(vec![Step::Slow(Duration::from_millis(300), 500)]).await;
    for (kind, value, asynchronous) in [
        ("InMemoryChannel", "True", true),
        ("InMemoryChannel", "1", true),
        ("InMemoryChannel", "yes", false),
        ("Channel", "true", false),
    ] {
        let yaml = format!(
            "apiVersion: messaging.knative.dev/v1\nkind: {kind}\nmetadata:\n  name: orders\n  annotations: {{messaging.knative.dev/async-handler: '{value}'}}\n---\n\
             apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {{name: s}}\nspec:\n  \
             channel: {{apiVersion: messaging.knative.dev/v1, kind: {kind}, name: orders}}\n  subscriber: {{uri: '{}'}}\n",
            slow.url
        );
        let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
        let (status, _) = mesh.send(CHANNEL_HOST, "a1", "t", "{}").await;
        assert_eq!(status, if asynchronous { 202 } else { 500 }, "{kind} {value}");
        mesh.stop().await;
    }
}

#[tokio::test]
async fn the_ingress_answers_as_the_channel_receiver() {
    // pkg/channel/event_receiver.go: OPTIONS 200 with the WebHook headers, a path other
    // than / 400, a body that is not a CloudEvent 400.
    let subscriber = Recorder::start(vec![Step::Status(202)]).await;
    let yaml = format!(
        "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {{name: orders}}\n---\n\
         apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {{name: s}}\nspec:\n  \
         channel: {{apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}}\n  subscriber: {{uri: '{}'}}\n",
        subscriber.url
    );
    let mesh = TestMesh::from_yaml(&yaml).await.unwrap();
    let client = fnmesh_testkit::reqwest::Client::new();
    let options = client
        .request(fnmesh_testkit::reqwest::Method::OPTIONS, format!("http://{}/", mesh.running.ingress))
        .header("host", CHANNEL_HOST)
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 200);
    assert_eq!(options.headers()["webhook-allowed-origin"], "*");
    assert_eq!(mesh.post(CHANNEL_HOST, "/elsewhere", &event("p1"), "{}").await.0, 400);
    let (status, body) = mesh.post(CHANNEL_HOST, "/", &[], "just text").await;
    assert_eq!(status, 400, "{body}");
    assert!(subscriber.received().is_empty());
    mesh.stop().await;
}
