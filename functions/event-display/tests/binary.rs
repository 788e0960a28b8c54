//! The real `event-display` binary on a loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_testkit::{CeRequest, Process, broken_requests};
use http::StatusCode;
use serde_json::json;

const EXE: &str = env!("CARGO_BIN_EXE_event-display");

#[tokio::test]
async fn prints_events_to_stdout_and_refuses_broken_requests() {
    let process = Process::start(EXE, &[("FNMESH_BODY_LIMIT", "4096")]);
    let client = fnmesh_testkit::reqwest::Client::new();
    let answer = CeRequest::binary().header("ce-id", "first").json(&json!({"a": 1})).send(&client, &process.base).await;
    assert_eq!((answer.status, answer.text()), (StatusCode::OK, ""));

    let mut table = broken_requests(4096);
    table.retain(|case| case.name != "body over the limit");
    for case in &table {
        let answer = case.request.send(&client, &process.base).await;
        assert_eq!(answer.status, case.status, "{}: {}", case.name, answer.text());
        assert_eq!(answer.header("content-type"), "application/json", "{}", case.name);
        assert!(answer.error().contains(case.mentions), "{}: {}", case.name, answer.error());
    }
    // Over the limit, declared and chunked (no Content-Length).
    let big = vec![b'x'; 4097];
    let answer =
        CeRequest::binary().header("content-type", "text/plain").body(big.clone()).send(&client, &process.base).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let mut chunked = String::from(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\
         ce-specversion: 1.0\r\nce-id: x\r\nce-source: /s\r\nce-type: t\r\n\r\n",
    );
    for chunk in big.chunks(1000) {
        chunked.push_str(&format!("{:x}\r\n{}\r\n", chunk.len(), String::from_utf8_lossy(chunk)));
    }
    chunked.push_str("0\r\n\r\n");
    let answer = process.raw_http(chunked.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#"{"error":"request body is larger than the limit of 4096 bytes"#), "{answer}");

    // Invalid JSON labelled application/json is still an event: printed raw, 200.
    let answer = CeRequest::binary()
        .header("ce-id", "last")
        .header("content-type", "application/json")
        .body("{oops")
        .send(&client, &process.base)
        .await;
    assert_eq!(answer.status, StatusCode::OK);

    let stdout = process.wait_stdout("  id: last\n");
    assert_eq!(stdout.matches("☁️  cloudevents.Event\n").count(), 2, "{stdout}");
    assert!(stdout.starts_with("☁️  cloudevents.Event\nContext Attributes,\n  specversion: 1.0\n  type: test.event\n  source: /test\n  id: first\n  datacontenttype: application/json\nData,\n  {\n    \"a\": 1\n  }\n"), "{stdout}");
    assert!(stdout.ends_with("Data,\n  {oops\n"), "{stdout}");
    assert!(process.terminate().success());
}

#[test]
fn python_cloudevents_sdk_gets_the_documented_replies() {
    let process = Process::start(EXE, &[]);
    for mode in ["binary", "structured"] {
        let attributes = json!({"id": format!("py-{mode}"), "source": "/python", "type": "py.event", "time": "2020-03-02T20:52:00.0004957Z", "datacontenttype": "application/json"});
        let Some(report) = fnmesh_testkit::python_send(&process.base, mode, &attributes, &json!({"a": [1]})) else {
            return;
        };
        assert_eq!(report["status"], 200, "{mode}: {report}");
        assert_eq!(report["body"], "", "{mode}: no reply event");
        let stdout = process.wait_stdout(&format!("  id: py-{mode}\n"));
        let block = format!(
            "Context Attributes,\n  specversion: 1.0\n  type: py.event\n  source: /python\n  id: py-{mode}\n  \
             time: 2020-03-02T20:52:00.0004957Z\n  datacontenttype: application/json\nData,\n  {{\n    \"a\": [\n      1\n    ]\n  }}\n"
        );
        assert!(stdout.contains(&block), "{mode}:\n{stdout}");
    }
}
