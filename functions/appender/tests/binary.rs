//! The real `appender` binary on a loopback port: replies, logs, broken requests, exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_testkit::{CeRequest, Process, broken_requests};
use http::StatusCode;
use serde_json::json;

const EXE: &str = env!("CARGO_BIN_EXE_appender");

#[tokio::test]
async fn replies_over_http_and_logs_like_the_go_image() {
    let process = Process::start(EXE, &[("MESSAGE", " - Handled by 1"), ("FNMESH_BODY_LIMIT", "2048")]);
    let client = fnmesh_testkit::reqwest::Client::new();
    let request = CeRequest::binary()
        .header("ce-time", "2020-09-14T14:50:00Z")
        .json(&json!({"id": 1, "message": "hello, world! - Handled by 0"}));
    let answer = request.send(&client, &process.base).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.text(), r#"{"id":1,"message":"hello, world! - Handled by 0 - Handled by 1"}"#);
    assert_eq!(answer.header("ce-id"), "1");
    assert_eq!(answer.header("ce-time"), "2020-09-14T14:50:00Z");

    for case in broken_requests(2048) {
        let answer = case.request.send(&client, &process.base).await;
        assert_eq!(answer.status, case.status, "{}: {}", case.name, answer.text());
        assert!(answer.error().contains(case.mentions), "{}: {}", case.name, answer.error());
    }
    let answer = CeRequest::binary().json(&json!({"id": 2})).send(&client, &process.base).await;
    assert_eq!(answer.status, StatusCode::OK, "the process keeps serving");

    let stderr = process.wait_stderr("Sequence:2 Message: - Handled by 1}");
    assert!(
        stderr.contains(r#" listening on "#) && stderr.contains(r#", appending " - Handled by 1" to events"#),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "[2020-09-14 14:50:00 +0000 UTC] /test test.event: &{Sequence:1 Message:hello, world! - Handled by 0 - Handled by 1}"
        ),
        "{stderr}"
    );
    assert!(process.stdout().is_empty());
    let status = process.terminate();
    assert!(status.success(), "SIGTERM drains and exits 0: {status:?}");
}

#[test]
fn invalid_config_exits_1_with_one_line_naming_the_variable() {
    let output = std::process::Command::new(EXE).env_clear().env("PORT", "http").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("appender: PORT: invalid value 'http'"), "{stderr}");
}

#[test]
fn python_cloudevents_sdk_gets_the_documented_replies() {
    let process = Process::start(EXE, &[("MESSAGE", "+py"), ("TYPE", "py.reply")]);
    let attributes = json!({"id": "py-1", "source": "/python", "type": "py.event", "myext": "kept", "datacontenttype": "application/json"});
    for mode in ["binary", "structured"] {
        let Some(report) =
            fnmesh_testkit::python_send(&process.base, mode, &attributes, &json!({"id": 5, "message": "m"}))
        else {
            return;
        };
        assert_eq!(report["status"], 200, "{mode}: {report}");
        let event = &report["event"];
        assert_eq!(event["id"], "py-1", "{mode}: {report}");
        assert_eq!(event["type"], "py.reply");
        assert_eq!(event["myext"], "kept");
        assert_eq!(event["datacontenttype"], "application/json");
        assert_eq!(event["data"], json!({"id": 5, "message": "m+py"}));
        let expected_type = if mode == "binary" { "application/json" } else { "application/cloudevents+json" };
        assert_eq!(event["content-type"], expected_type);
    }
    let report = fnmesh_testkit::python_send(&process.base, "binary", &attributes, &json!([1, 2])).unwrap();
    assert_eq!(report["status"], 400, "{report}");
    let error: serde_json::Value = serde_json::from_str(report["body"].as_str().unwrap()).unwrap();
    assert!(error["error"].as_str().unwrap().contains("cannot unmarshal array"), "{report}");
}
