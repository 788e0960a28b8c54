//! The real `transformer` binary with `TRANSFORMER_JQ`: it runs its jq workers by
//! re-executing itself; a memory bomb or a runaway program costs one worker, never the
//! process.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_testkit::{CeRequest, Process, reqwest};
use http::StatusCode;
use serde_json::json;

const EXE: &str = env!("CARGO_BIN_EXE_transformer");

const PROGRAM: &str = r#"if .type == "bomb" then ("x" * 1000000000 | length)
  elif .type == "spin" then (def f: f; f)
  else {id, total: ([.data[]] | add)} end"#;

#[tokio::test]
async fn jq_workers_are_this_executable_and_failures_stay_inside_them() {
    let process = Process::start(
        EXE,
        &[("TRANSFORMER_JQ", PROGRAM), ("FNMESH_EVAL_TIMEOUT", "500ms"), ("FNMESH_EVAL_WORKERS", "1")],
    );
    let client = reqwest::Client::new();
    let send =
        |ty: &str| CeRequest::binary().header("ce-id", "o-1").header("ce-type", ty).json(&json!({"a": 2, "b": 3}));
    for _ in 0..2 {
        let bomb = send("bomb").send(&client, &process.base).await;
        assert_eq!(bomb.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bomb.text());
        assert!(bomb.error().contains("exhausted its resources"), "{}", bomb.error());
        let spin = send("spin").send(&client, &process.base).await;
        assert_eq!(spin.status, StatusCode::SERVICE_UNAVAILABLE, "{}", spin.text());
        let fine = send("ok").send(&client, &process.base).await;
        assert_eq!((fine.status, fine.json()), (StatusCode::OK, json!({"id": "o-1", "total": 5})));
    }
    assert!(process.terminate().success());
}

#[test]
fn a_bad_program_exits_1_with_one_line() {
    let output = std::process::Command::new(EXE).env_clear().env("TRANSFORMER_JQ", ".a | (").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "transformer: TRANSFORMER_JQ: expected closing parenthesis at line 1, column 7\n"
    );
}
