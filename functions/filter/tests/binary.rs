//! The real `filter` binary: runaway expressions are bounded and answered, the process
//! keeps serving; start-up errors exit 1 with one line.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_testkit::{CeRequest, Process, reqwest};
use http::StatusCode;

const EXE: &str = env!("CARGO_BIN_EXE_filter");

const RUNAWAY: &str = "event.type === 'spin' ? (() => { while (true) {} })() \
    : event.type === 'big' ? (() => { const a = []; for (;;) a.push('x'.repeat(1 << 20) + a.length); })() \
    : event.type === 'ok'";

#[tokio::test]
async fn runaway_javascript_is_bounded_answered_and_the_process_lives_on() {
    let process = Process::start(
        EXE,
        &[("FILTER", RUNAWAY), ("FNMESH_EVAL_TIMEOUT", "100ms"), ("FNMESH_EVAL_MEMORY", "16777216")],
    );
    let client = reqwest::Client::new();
    let send = |ty: &str| CeRequest::binary().header("ce-type", ty).body("x");
    for _ in 0..2 {
        let answer = send("spin").send(&client, &process.base).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{}", answer.text());
        assert!(answer.error().contains("interrupted"), "{}", answer.error());
        let answer = send("big").send(&client, &process.base).await;
        assert!(
            [StatusCode::UNPROCESSABLE_ENTITY, StatusCode::SERVICE_UNAVAILABLE].contains(&answer.status),
            "{}: {}",
            answer.status,
            answer.text()
        );
        let answer = send("ok").send(&client, &process.base).await;
        assert_eq!((answer.status, answer.text()), (StatusCode::OK, "x"), "still serving");
    }
    assert!(process.terminate().success());
}

#[test]
fn start_up_errors_exit_1_with_one_line() {
    for (env, expected) in [
        (vec![], "filter: FILTER, FILTER_CESQL, FILTER_JSONPATH: set exactly one of these variables; none is set"),
        (
            vec![("FILTER", "true"), ("FILTER_JSONPATH", "$")],
            "filter: FILTER, FILTER_JSONPATH: set exactly one of these variables, not several",
        ),
        (vec![("FILTER", "event.id ===")], "filter: FILTER: JavaScript syntax error at line 1, column 13: "),
    ] {
        let output = std::process::Command::new(EXE).env_clear().envs(env).output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with(expected), "{stderr}");
    }
}
