//! The worker process on its own, spoken to line by line as the pool does: it starts only
//! when its parent is the process that sent the config (issue 21, item 9: a worker whose
//! pool died before the worker asked to die with it must not run on).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// The worker's first reply to a config that names `parent_pid` as the pool's process.
fn first_reply(parent_pid: u32) -> serde_json::Value {
    let mut worker = Command::new(env!("CARGO_BIN_EXE_fnmesh-jq-worker"))
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let config = serde_json::json!({
        "protocol": 3, "program": ".", "memory_bytes": 256u64 << 20, "max_outputs": 10, "hold_micros": 0,
        "max_output_bytes": 1000, "parent_pid": parent_pid,
    });
    let mut stdin = worker.stdin.take().unwrap();
    writeln!(stdin, "{config}").unwrap();
    let mut line = String::new();
    BufReader::new(worker.stdout.take().unwrap()).read_line(&mut line).unwrap();
    drop(stdin);
    worker.wait().unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[test]
fn a_worker_starts_only_under_the_pool_that_configured_it() {
    assert_eq!(first_reply(std::process::id()), "ready");
    let refused = first_reply(std::process::id().wrapping_add(1));
    assert_eq!(refused["error"]["kind"], "start", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("this worker's parent is process {}", std::process::id())), "{message}");
}
