//! The real `transformer` binary with `TRANSFORMER` (issue 21): the expression sees only
//! the variables the operator exposes, and one producer's event leaves nothing behind for
//! the next producer's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_testkit::{CeRequest, Process, reqwest};
use http::StatusCode;
use serde_json::{Value, json};

const EXE: &str = env!("CARGO_BIN_EXE_transformer");

const SECRETS: [(&str, &str); 2] = [("STATE_SECRET", "s3cr3t-state"), ("DB_PASSWORD", "hunter2-db")];

async fn transform(client: &reqwest::Client, process: &Process, source: &str, data: &Value) -> Value {
    let answer = CeRequest::binary().header("ce-source", source).json(data).send(client, &process.base).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

#[tokio::test]
async fn env_holds_only_what_fnmesh_js_env_names_never_the_functions_secrets() {
    let expression = "({env: env, asked: env[event.data.key], keys: Object.keys(env)})";
    for (exposed, expected) in
        [(None, json!({})), (Some("REGION, THRESHOLD"), json!({"REGION": "eu", "THRESHOLD": "3"}))]
    {
        let mut vars = vec![("TRANSFORMER", expression), ("REGION", "eu"), ("THRESHOLD", "3")];
        vars.extend(SECRETS);
        vars.extend(exposed.map(|names| ("FNMESH_JS_ENV", names)));
        let process = Process::start(EXE, &vars);
        let client = reqwest::Client::new();
        for (key, _) in SECRETS.iter().chain(&[("TRANSFORMER", ""), ("PATH", "")]) {
            let answer = CeRequest::binary().json(&json!({"key": key})).send(&client, &process.base).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
            assert_eq!(answer.json()["env"], expected, "{exposed:?}");
            assert_eq!(answer.json().get("asked"), None, "{key} must not be visible");
            for (_, secret) in SECRETS {
                assert!(!answer.text().contains(secret), "{}", answer.text());
            }
        }
        assert!(process.terminate().success());
    }
}

#[tokio::test]
async fn one_producers_prototype_pollution_and_globals_never_reach_another_producer() {
    let expression = "(() => { \
        const merge = (t, s) => { for (const k in s) { \
          if (typeof s[k] === 'object' && s[k] !== null) t[k] = merge(t[k] || {}, s[k]); else t[k] = s[k]; } \
          return t; }; \
        const seen = {isAdmin: ({}).isAdmin === true, note: typeof note === 'undefined' ? null : note}; \
        const merged = merge({}, event.data); note = event.source; \
        return {seen, merged}; })()";
    let process = Process::start(EXE, &[("TRANSFORMER", expression), ("FNMESH_EVAL_WORKERS", "1")]);
    let client = reqwest::Client::new();
    let attack: Value = serde_json::from_str(r#"{"__proto__": {"isAdmin": true}, "order": 1}"#).unwrap();
    let first = transform(&client, &process, "/mallory", &attack).await;
    assert_eq!(first["seen"], json!({"isAdmin": false, "note": null}));
    let next = transform(&client, &process, "/alice", &json!({"order": 2})).await;
    assert_eq!(next, json!({"seen": {"isAdmin": false, "note": null}, "merged": {"order": 2}}));
    assert!(process.terminate().success());
}

#[tokio::test]
async fn promise_callbacks_do_not_pile_up_until_an_unrelated_event_fails() {
    // Each 500 KB event leaves a callback holding its data; with 16 MiB per engine, piled
    // up they would fail an event within the first 40.
    let process = Process::start(
        EXE,
        &[
            ("TRANSFORMER", "(Promise.resolve(event.data).then(d => d.blob.length), {n: event.data.n})"),
            ("FNMESH_EVAL_WORKERS", "1"),
            ("FNMESH_EVAL_MEMORY", "16777216"),
        ],
    );
    let client = reqwest::Client::new();
    let blob = "x".repeat(500 * 1024);
    for n in 0..150 {
        let data = transform(&client, &process, "/s", &json!({"n": n, "blob": blob})).await;
        assert_eq!(data, json!({"n": n}));
    }
    assert!(process.terminate().success());
}
