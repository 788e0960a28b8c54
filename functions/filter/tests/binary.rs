//! The real `filter` binary: runaway expressions are bounded and answered, the process
//! keeps serving; start-up errors exit 1 with one line.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::{Duration, Instant};

use fnmesh_testkit::{CeRequest, Process, reqwest};
use http::StatusCode;
use serde_json::{Value, json};

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

/// A search QuickJS does not interrupt (issue 21): `includes` of a `needle` of `needle`
/// characters in `size` characters runs for minutes at 300 000 by 60 000.
const SEARCH: &str = "event.data.s.includes(event.data.needle)";

fn search(size: usize, needle: usize) -> CeRequest {
    CeRequest::binary().json(&json!({"s": "a".repeat(size), "needle": format!("{}b", "a".repeat(needle))}))
}

/// `GET /healthz`: its status and its JSON body, if any.
async fn healthz(client: &reqwest::Client, process: &Process) -> (StatusCode, Value) {
    let answer = client.get(format!("{}/healthz", process.base)).send().await.unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An event the filter passes at once.
fn good() -> CeRequest {
    CeRequest::binary().json(&json!({"s": "ab", "needle": "b"}))
}

async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future).await.expect("no answer within 60 s")
}

#[tokio::test]
async fn string_searches_past_the_deadline_get_503_the_process_serves_on_and_healthz_says_why() {
    let process =
        Process::start(EXE, &[("FILTER", SEARCH), ("FNMESH_EVAL_TIMEOUT", "100ms"), ("FNMESH_EVAL_WORKERS", "2")]);
    let client = reqwest::Client::new();
    // Two 360 KB events at once, as the review sent them: both engines stuck.
    let attack = search(300_000, 60_000);
    let (first, second) =
        bounded(async { tokio::join!(attack.send(&client, &process.base), attack.send(&client, &process.base)) }).await;
    for answer in [first, second] {
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{}", answer.text());
        assert!(answer.error().contains("past FNMESH_EVAL_TIMEOUT; its engine was abandoned"), "{}", answer.error());
    }
    // Fresh engines serve the good events meanwhile.
    for _ in 0..3 {
        let answer = bounded(good().send(&client, &process.base)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert_eq!(answer.json(), json!({"s": "ab", "needle": "b"}));
    }
    let (status, body) = healthz(&client, &process).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("FILTER: 2 JavaScript engine(s) stuck in an evaluation past FNMESH_EVAL_TIMEOUT"),
        "{body}"
    );
    assert!(error.contains("2 of 2 engines serving"), "{body}");
}

#[tokio::test]
async fn healthz_reports_a_stuck_engine_until_its_thread_ends() {
    // One engine, no room to replace it: while it is stuck, events get 503 at once.
    let process = Process::start(
        EXE,
        &[
            ("FILTER", SEARCH),
            ("FNMESH_EVAL_TIMEOUT", "50ms"),
            ("FNMESH_EVAL_WORKERS", "1"),
            ("FNMESH_EVAL_ABANDONED", "0"),
        ],
    );
    let client = reqwest::Client::new();
    let answer = bounded(search(40_000, 15_000).send(&client, &process.base)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{}", answer.text());
    let answer = bounded(good().send(&client, &process.base)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{}", answer.text());
    assert!(answer.error().starts_with("every JavaScript engine is stuck"), "{}", answer.error());
    let (status, body) = healthz(&client, &process).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("0 of 1 engines serving"), "{body}");
    // The search ends within seconds; then the engine is back.
    let deadline = Instant::now() + Duration::from_secs(120);
    while healthz(&client, &process).await.0 != StatusCode::NO_CONTENT {
        assert!(Instant::now() < deadline, "healthz still failing: {:?}", healthz(&client, &process).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = bounded(good().send(&client, &process.base)).await;
    assert_eq!((answer.status, answer.json()), (StatusCode::OK, json!({"s": "ab", "needle": "b"})));
    assert!(process.terminate().success());
}

/// Issue 21: `env` was the whole process environment.
#[tokio::test]
async fn expressions_see_only_the_variables_fnmesh_js_env_names() {
    let process = Process::start(
        EXE,
        &[
            ("FILTER", "env[event.data.key] !== undefined"),
            ("FNMESH_JS_ENV", "REGION"),
            ("REGION", "eu"),
            ("STATE_SECRET", "s3cr3t"),
            ("DB_PASSWORD", "hunter2"),
        ],
    );
    let client = reqwest::Client::new();
    let visible = |key: &str| CeRequest::binary().json(&json!({"key": key}));
    for (key, passes) in
        [("REGION", true), ("STATE_SECRET", false), ("DB_PASSWORD", false), ("FILTER", false), ("PATH", false)]
    {
        let answer = visible(key).send(&client, &process.base).await;
        assert_eq!(answer.status, StatusCode::OK, "{key}: {}", answer.text());
        assert_eq!(!answer.body.is_empty(), passes, "{key}");
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
