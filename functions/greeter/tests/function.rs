//! The function answering events in-process, as Knative would call it.
#![allow(clippy::expect_used)] // in a test, a failed expectation is a failed assertion

use fnmesh_runtime::{AttributesReader, EventBuilder, EventBuilderV10, json_data, testing};
use serde_json::{Value, json};

use greeter::{Config, app};

fn event(data: Value) -> fnmesh_runtime::Event {
    EventBuilderV10::new()
        .id("1")
        .ty("example.person")
        .source("/tests")
        .data("application/json", data)
        .build()
        .expect("a valid event")
}

#[tokio::test]
async fn a_person_is_greeted() {
    let router = app(Config { greeting: "Hello".into() });
    let answer = testing::post(router, &event(json!({"name": "Ada"}))).await;
    assert_eq!(answer.status, 200, "{:?}", answer.error());
    let reply = answer.event().expect("a reply event");
    assert_eq!(reply.ty(), "greeter.greeting");
    assert_eq!(json_data::<Value>(&reply).expect("JSON data"), json!({"message": "Hello, Ada"}));
}

#[tokio::test]
async fn an_event_without_a_name_is_refused() {
    let router = app(Config { greeting: "Hello".into() });
    let answer = testing::post(router, &event(json!({"id": 7}))).await;
    assert_eq!(answer.status, 400);
    assert!(answer.error().expect("a JSON error").contains("missing field `name`"), "{:?}", answer.error());
}
