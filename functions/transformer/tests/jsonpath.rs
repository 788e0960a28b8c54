//! The real `transformer` binary with `TRANSFORMER_JSONPATH` under the attacks of issue 21,
//! item 8: a template whose results would pass `FNMESH_EVAL_MEMORY` is refused (`422`)
//! before it is built, a quadratic one is stopped at `FNMESH_EVAL_TIMEOUT` (`503`), and
//! the transformer serves the next event.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_testkit::{CeRequest, Process, reqwest};
use http::StatusCode;
use serde_json::json;

const EXE: &str = env!("CARGO_BIN_EXE_transformer");

/// JSON data of 845 KiB on which `..` queries are quadratic: 100 levels, each holding
/// 4 300 numbers and the next level.
fn comb() -> String {
    let level = format!("{{\"v\":[{}],\"n\":", vec!["0"; 4300].join(","));
    format!("{}[]{}", level.repeat(100), "}".repeat(100))
}

fn event(data: String) -> CeRequest {
    CeRequest::binary().header("ce-id", "e-1").header("content-type", "application/json").body(data)
}

#[tokio::test]
async fn results_past_the_memory_limit_are_422() {
    // Every descendant, copied: about 50 times the event (each level holds all below it).
    let process = Process::start(
        EXE,
        &[("TRANSFORMER_JSONPATH", r#"{"id": "$.id", "all": "$.data..*"}"#), ("FNMESH_EVAL_TIMEOUT", "60s")],
    );
    let client = reqwest::Client::new();
    let answer = event(comb()).send(&client, &process.base).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.text());
    assert_eq!(
        answer.error(),
        "TRANSFORMER_JSONPATH: the results take more than the memory limit of 67108864 bytes (FNMESH_EVAL_MEMORY)"
    );
    let fine = event(r#"{"a": [1]}"#.into()).send(&client, &process.base).await;
    assert_eq!((fine.status, fine.json()), (StatusCode::OK, json!({"id": "e-1", "all": [[1], 1]})));
    assert!(process.terminate().success());
}

#[tokio::test]
async fn a_quadratic_template_is_stopped_with_503() {
    let process = Process::start(EXE, &[("TRANSFORMER_JSONPATH", r#"{"big": "$..[?count(@..*) > 1000000]"}"#)]);
    let client = reqwest::Client::new();
    let answer = event(comb()).send(&client, &process.base).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{}", answer.text());
    assert_eq!(answer.error(), "TRANSFORMER_JSONPATH: evaluation stopped after 100ms (FNMESH_EVAL_TIMEOUT)");
    let fine = event(r#"{"a": [1]}"#.into()).send(&client, &process.base).await;
    assert_eq!((fine.status, fine.json()), (StatusCode::OK, json!({"big": null})));
    assert!(process.terminate().success());
}
