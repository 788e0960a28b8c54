//! The real `state-machine` binary at its most verbose (`RUST_LOG=trace`) never writes
//! `STATE_SECRET`: not at start, not for good, forged or replayed events, not when its
//! settings are refused, not on shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_testkit::{CeRequest, Process, reqwest};
use http::StatusCode;

const EXE: &str = env!("CARGO_BIN_EXE_state-machine");
const SECRET: &str = "Sekr1t-b7d2c9e0-never-in-logs";
const MACHINE: &str = "'': {events: {Go: Half}}\nHalf: {events: {Go: Done}}\nDone: {}";

#[tokio::test]
async fn the_secret_never_reaches_the_logs() {
    let process = Process::start(EXE, &[("STATE_MACHINE", MACHINE), ("STATE_SECRET", SECRET), ("RUST_LOG", "trace")]);
    let client = reqwest::Client::new();
    let go = || CeRequest::binary().header("ce-type", "Go").json(&serde_json::json!({"n": 1}));
    let first = go().send(&client, &process.base).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let (id, sig) = (first.header("ce-statemachineid").to_owned(), first.header("ce-statemachinesig").to_owned());
    let signed = |state: &str, step: &str, sig: &str| {
        go().header("ce-statemachineid", &id)
            .header("ce-statemachinestate", state)
            .header("ce-statemachinestep", step)
            .header("ce-statemachinesig", sig)
    };
    assert_eq!(signed("Half", "1", &sig).send(&client, &process.base).await.status, StatusCode::OK);
    for (state, step, sig, why) in [
        ("Half", "1", sig.as_str(), "replayed"),
        ("Done", "1", sig.as_str(), "forged"),
        ("Half", "1", "00", "bad signature"),
        ("Half", "x", sig.as_str(), "bad step"),
    ] {
        let answer = signed(state, step, sig).send(&client, &process.base).await;
        assert!(answer.status.is_client_error(), "{why}: {}", answer.status);
        assert!(!answer.text().contains(SECRET), "{why}: the answer");
    }
    let (stdout, stderr) = (process.stdout(), process.stderr());
    assert!(stderr.contains("TRACE") || stderr.contains("DEBUG"), "verbose logs were written: {stderr}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "{stdout}\n{stderr}");
    assert!(process.terminate().success());

    let refused = std::process::Command::new(EXE)
        .env_clear()
        .envs([("STATE_MACHINE", MACHINE), ("STATE_SECRET", SECRET), ("STATE_REPLY", "nope"), ("RUST_LOG", "trace")])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let logs = [String::from_utf8_lossy(&refused.stdout), String::from_utf8_lossy(&refused.stderr)].concat();
    assert!(logs.contains("STATE_REPLY"), "{logs}");
    assert!(!logs.contains(SECRET), "{logs}");
}
