//! Issue 21's attacks on the real `state-machine` binary, over loopback HTTP, as a
//! producer would make them: moving a stored instance by its id alone, reading the
//! instance API, filling the store, flushing the replay guard and making it forget the
//! wrong instance. Each is bounded in requests; none asserts a duration.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_testkit::{Answer, CeRequest, Process, reqwest};
use http::StatusCode;
use serde_json::json;

const EXE: &str = env!("CARGO_BIN_EXE_state-machine");
const MACHINE: &str = "'': {events: {Go: Half}}\nHalf: {events: {Go: Done}}\nDone: {}";
const SECRET: &str = "s3cret-for-attacks";
const TOKEN: &str = "t0ken-9e41-never-in-logs";

fn start(env: &[(&str, &str)]) -> Process {
    let mut all = vec![("STATE_MACHINE", MACHINE)];
    all.extend_from_slice(env);
    Process::start(EXE, &all)
}

fn go() -> CeRequest {
    CeRequest::binary().header("ce-type", "Go").json(&json!({"n": 1}))
}

/// `Go` from the state a reply handed out, with its step and signature (when signed).
fn go_on(from: &Answer) -> CeRequest {
    let mut request = go().header("ce-statemachineid", from.header("ce-statemachineid"));
    for name in ["ce-statemachinestate", "ce-statemachinestep", "ce-statemachinesig"] {
        if let Some(value) = from.headers.get(name).and_then(|v| v.to_str().ok()) {
            request = request.header(name, value);
        }
    }
    request
}

/// The start of an answer's body, for a failure's message.
fn short(answer: &Answer) -> String {
    answer.text().chars().take(300).collect()
}

fn get(path: &str) -> CeRequest {
    CeRequest::raw().method(http::Method::GET).path(path)
}

/// Item 3: with `STATE_STORE=memory` and `STATE_SECRET`, an instance id alone moved an
/// instance, and `GET /statemachines` listed every id and context.
#[tokio::test]
async fn with_a_store_and_a_secret_an_id_alone_moves_nothing_and_nothing_is_listed() {
    let process = start(&[("STATE_STORE", "memory"), ("STATE_SECRET", SECRET)]);
    let client = reqwest::Client::new();
    let first = go().json(&json!({"card": "4111-1111"})).send(&client, &process.base).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let id = first.header("ce-statemachineid").to_owned();
    let by_id = go().header("ce-statemachineid", &id).send(&client, &process.base).await;
    assert_eq!(by_id.status, StatusCode::FORBIDDEN, "{}", by_id.text());
    for path in ["/statemachines".to_owned(), format!("/statemachines/{id}")] {
        let answer = get(&path).send(&client, &process.base).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}: {}", answer.text());
        assert!(!answer.text().contains("4111"), "{path}: {}", answer.text());
    }
    let created = CeRequest::raw().method(http::Method::POST).path("/statemachines").send(&client, &process.base).await;
    assert_eq!(created.status, StatusCode::NOT_FOUND);
    // The holder of the signed state goes on, once.
    let on = go_on(&first).send(&client, &process.base).await;
    assert_eq!((on.status, on.header("ce-statemachinestate")), (StatusCode::OK, "Done"));
    assert_eq!(go_on(&first).send(&client, &process.base).await.status, StatusCode::FORBIDDEN, "replayed");
}

/// Item 3: 300 events of 900 KB grew the process from 6 MB to 284 MB. With the default
/// bound (16 MiB of instances), the store takes what fits and refuses the rest with 503.
/// 100 events (90 MB, over five times the bound) make the point in a third of the time
/// (each takes about 0.1 s in a debug build).
#[tokio::test]
async fn events_of_900_kb_fill_the_store_to_its_bound_and_no_further() {
    let process = start(&[("STATE_STORE", "memory"), ("STATE_API_TOKEN", TOKEN)]);
    let client = reqwest::Client::new();
    let big = go().json(&json!({"pad": "x".repeat(900_000)}));
    let (mut kept, mut refused) = (Vec::new(), 0);
    for _ in 0..100 {
        let answer = big.send(&client, &process.base).await;
        match answer.status {
            StatusCode::OK => kept.push(answer),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(answer.error().contains("STATE_STORE_MAX_BYTES=16777216"), "{}", answer.error());
                refused += 1;
            }
            other => panic!("{other}: {}", short(&answer)),
        }
    }
    // Each instance: 256 + a 36-byte id + "Half" + {"pad":"x…"} (900 010 bytes).
    let each = 256 + 36 + 4 + 900_010;
    assert_eq!(kept.len(), 16 * 1024 * 1024 / each, "{} kept", kept.len());
    assert_eq!(kept.len() + refused, 100);
    let bearer = format!("Bearer {TOKEN}");
    let listed = get("/statemachines").header("authorization", &bearer).send(&client, &process.base).await;
    assert_eq!(listed.json().as_array().map(Vec::len), Some(kept.len()));
    if let Some(rss) = resident_kib(&process) {
        eprintln!("resident after the attack: {} MiB", rss / 1024);
        assert!(rss < 128 * 1024, "{rss} KiB resident");
    }
    // A finished instance makes room for a new one.
    let done = go_on(&kept[0]).send(&client, &process.base).await;
    assert_eq!(done.header("ce-statemachinefinal"), "true");
    let next = big.send(&client, &process.base).await;
    assert_eq!(next.status, StatusCode::OK, "{}", short(&next));
}

/// Item 5: 20 000 requests in 12.5 s flushed the 10 000-instance window and an old signed
/// state passed again. Here the window is 50, and the flood 200 instances.
#[tokio::test]
async fn a_flood_of_instances_cannot_flush_the_replay_guard() {
    let process = start(&[("STATE_SECRET", SECRET), ("STATE_REPLAY_WINDOW", "50")]);
    let client = reqwest::Client::new();
    let first = go().send(&client, &process.base).await;
    let victim = go_on(&first).send(&client, &process.base).await;
    assert_eq!((victim.status, victim.header("ce-statemachinestate")), (StatusCode::OK, "Done"));
    let (mut moved, mut delayed) = (0, 0);
    for _ in 0..200 {
        let started = go().send(&client, &process.base).await;
        let answer = go_on(&started).send(&client, &process.base).await;
        match answer.status {
            StatusCode::OK => moved += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(answer.error().contains("STATE_REPLAY_WINDOW=50"), "{}", answer.error());
                delayed += 1;
            }
            other => panic!("{other}: {}", answer.text()),
        }
    }
    assert_eq!((moved, delayed), (49, 151), "the window's room, then refusals");
    let replayed = go_on(&first).send(&client, &process.base).await;
    assert_eq!(replayed.status, StatusCode::FORBIDDEN, "{}", replayed.text());
    assert!(replayed.error().contains("already used (a replay?)"), "{}", replayed.error());
}

/// Item 5: with `STATE_REPLAY_WINDOW=3`, one new instance made the guard forget the
/// instance moved most recently (it forgot in the order instances were first seen).
#[tokio::test]
async fn one_new_instance_cannot_make_the_guard_forget_the_latest_move() {
    let longer = "'': {events: {Go: A}}\nA: {events: {Go: B}}\nB: {events: {Go: C}}\nC: {}";
    let env =
        [("STATE_MACHINE", longer), ("STATE_SECRET", SECRET), ("STATE_REPLAY_WINDOW", "3"), ("STATE_REPLAY_HOLD", "0")];
    let process = Process::start(EXE, &env);
    let client = reqwest::Client::new();
    let mut firsts = Vec::new();
    for _ in 0..3 {
        let first = go().send(&client, &process.base).await;
        let half = go_on(&first).send(&client, &process.base).await;
        assert_eq!(half.status, StatusCode::OK);
        firsts.push((first, half));
    }
    // The first instance seen moves again: now the most recently moved.
    let (first, half) = &firsts[0];
    assert_eq!(go_on(half).send(&client, &process.base).await.status, StatusCode::OK);
    let newcomer = go().send(&client, &process.base).await;
    assert_eq!(go_on(&newcomer).send(&client, &process.base).await.status, StatusCode::OK);
    for (from, why) in [(first, "its first state"), (half, "its second state")] {
        let replayed = go_on(from).send(&client, &process.base).await;
        assert_eq!(replayed.status, StatusCode::FORBIDDEN, "{why}: {}", replayed.text());
    }
}

/// `STATE_API_TOKEN` is a secret too: not in the logs at their most verbose, nor in
/// answers, whether a request brings it, a wrong one or none.
#[tokio::test]
async fn the_api_token_never_reaches_the_logs() {
    let process = start(&[("STATE_STORE", "memory"), ("STATE_API_TOKEN", TOKEN), ("RUST_LOG", "trace")]);
    let client = reqwest::Client::new();
    go().send(&client, &process.base).await;
    for authorization in [format!("Bearer {TOKEN}"), "Bearer nope".to_owned(), format!("Basic {TOKEN}")] {
        let answer = get("/statemachines").header("authorization", &authorization).send(&client, &process.base).await;
        assert!(!answer.text().contains(TOKEN));
    }
    let (stdout, stderr) = (process.stdout(), process.stderr());
    assert!(stderr.contains("TRACE") || stderr.contains("DEBUG"), "verbose logs were written: {stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "{stdout}\n{stderr}");
}

/// The resident memory of `process`, from `/proc` (Linux), found by its port.
fn resident_kib(process: &Process) -> Option<u64> {
    let port = process.base.rsplit(':').next()?;
    let wanted = format!("PORT={port}");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let ours = std::fs::read_link(entry.path().join("exe")).is_ok_and(|exe| exe.ends_with("state-machine"));
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if ours && environ.split(|b| *b == 0).any(|var| var == wanted.as_bytes()) {
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            return line.split_whitespace().nth(1)?.parse().ok();
        }
    }
    None
}
