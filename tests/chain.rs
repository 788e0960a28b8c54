//! The seed's Sequence by hand: three appenders then event-display, each hop real HTTP,
//! each reply forwarded exactly as received (headers and body), as a channel would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_runtime::{Console, Output};
use fnmesh_testkit::{Answer, CeRequest, reqwest};
use fnmesh_tests::InProcess;
use http::StatusCode;
use serde_json::json;

/// Forwards a reply as the next request: the same `ce-*` headers, content type and body.
fn forward(reply: &Answer) -> CeRequest {
    let mut next = CeRequest::raw().body(reply.body.clone());
    for (name, value) in &reply.headers {
        let name = name.as_str();
        if name.starts_with("ce-") || name == "content-type" {
            next = next.header(name, value.to_str().unwrap());
        }
    }
    next
}

async fn sequence(first: CeRequest) -> String {
    let mut steps = Vec::new();
    for n in 0..3 {
        let message = format!(" - Handled by {n}");
        steps.push(InProcess::start(fnmesh_appender::SPEC, &[("MESSAGE", &message)], Console::null()).await.unwrap());
    }
    let (out, printed) = Output::capture();
    let display =
        InProcess::start(fnmesh_event_display::SPEC, &[], Console { out, err: Output::null() }).await.unwrap();

    let client = reqwest::Client::new();
    let mut request = first;
    for step in &steps {
        let reply = request.send(&client, &step.base).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        request = forward(&reply);
    }
    let answer = request.send(&client, &display.base).await;
    assert_eq!((answer.status, answer.text()), (StatusCode::OK, ""));
    for step in steps {
        step.stop().await.unwrap();
    }
    display.stop().await.unwrap();
    printed.text()
}

const EXPECTED: &str = "☁️  cloudevents.Event
Context Attributes,
  specversion: 1.0
  type: dev.knative.sources.ping
  source: /apis/v1/namespaces/default/pingsources/ping-source
  id: 0b9a4ad4-32a7-4e0a-9b4e-2f9a5f9e1c1d
  time: 2020-09-14T14:50:00.000345656Z
  datacontenttype: application/json
Data,
  {
    \"id\": 0,
    \"message\": \"hello, world! - Handled by 0 - Handled by 1 - Handled by 2\"
  }
";

fn ping() -> CeRequest {
    CeRequest::binary()
        .header("ce-id", "0b9a4ad4-32a7-4e0a-9b4e-2f9a5f9e1c1d")
        .header("ce-source", "/apis/v1/namespaces/default/pingsources/ping-source")
        .header("ce-type", "dev.knative.sources.ping")
        .header("ce-time", "2020-09-14T14:50:00.000345656Z")
}

#[tokio::test]
async fn binary_mode_sequence_prints_what_the_seed_shows() {
    let printed = sequence(ping().json(&json!({"id": 0, "message": "hello, world!"}))).await;
    assert_eq!(printed, EXPECTED);
}

#[tokio::test]
async fn structured_mode_sequence_prints_the_same() {
    let first = CeRequest::structured(&json!({
        "specversion": "1.0",
        "id": "0b9a4ad4-32a7-4e0a-9b4e-2f9a5f9e1c1d",
        "source": "/apis/v1/namespaces/default/pingsources/ping-source",
        "type": "dev.knative.sources.ping",
        "time": "2020-09-14T14:50:00.000345656Z",
        "datacontenttype": "application/json",
        "data": {"id": 0, "message": "hello, world!"}
    }));
    assert_eq!(sequence(first).await, EXPECTED);
}

#[tokio::test]
async fn in_process_config_errors_name_the_variable() {
    let err =
        InProcess::start(fnmesh_appender::SPEC, &[("FNMESH_BODY_LIMIT", "big")], Console::null()).await.unwrap_err();
    assert!(err.starts_with("appender: FNMESH_BODY_LIMIT: invalid value 'big'"), "{err}");
}
