//! The bad-input corpus (`tests/corpus/requests/*.http`) and generated monsters against
//! every function and the `fnmesh run` ingress: a 4xx with a JSON error naming the
//! problem, never a 5xx or a crash, and a good event still answered afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::PathBuf;

use fnmesh_runtime::{Console, Env, FunctionSpec};
use fnmesh_testkit::{CeRequest, call};
use fnmesh_tests::mesh::{TestMesh, repo};

/// Each function with a configuration that accepts the good event.
fn functions() -> Vec<(FunctionSpec, Vec<(&'static str, &'static str)>)> {
    vec![
        (fnmesh_appender::SPEC, vec![]),
        (fnmesh_event_display::SPEC, vec![]),
        (fnmesh_filter::SPEC, vec![("FILTER_CESQL", "TRUE")]),
        (fnmesh_transformer::SPEC, vec![("TRANSFORMER_JSONPATH", r#"{"id": "$.id"}"#)]),
        (fnmesh_switcher::SPEC, vec![("EXPRESSION", "1"), ("CASES", "[1]")]),
        (fnmesh_state_machine::SPEC, vec![("STATE_MACHINE", "'': {events: {t: Done}}\nDone: {}")]),
    ]
}

/// `(name, request)` for every corpus file.
fn corpus() -> Vec<(String, CeRequest)> {
    let dir = repo().join("tests/corpus/requests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 15, "corpus files in {}", dir.display());
    files
        .into_iter()
        .map(|file| (file.file_stem().unwrap().to_string_lossy().into_owned(), CeRequest::from_http_file(&file)))
        .collect()
}

/// What the `fnmesh run` ingress answers a monster with, sent over TCP: it is a channel,
/// so it reads the envelope but passes data on unread, as Knative's channels do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtIngress {
    /// A 4xx with a JSON error.
    Refused,
    /// A bare 431 from hyper, past its hard cap of twice `FNMESH_MAX_HEADERS`.
    RefusedBare,
    /// 202: nothing wrong with the envelope.
    Accepted,
}

/// Generated inputs too large or deep for files, over the default limits (1 MiB body,
/// 100 headers, 64 KiB of headers, JSON 128 deep).
fn monsters() -> Vec<(&'static str, CeRequest, AtIngress)> {
    let base = || CeRequest::binary().header("ce-type", "t");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    vec![
        ("body over the limit", base().body(vec![b'a'; 1024 * 1024 + 1]), AtIngress::Refused),
        (
            "JSON data nested 100 000 deep",
            base().header("content-type", "application/json").body(deep.clone()),
            AtIngress::Accepted,
        ),
        (
            "a structured event nested 100 000 deep",
            CeRequest::raw()
                .header("content-type", "application/cloudevents+json")
                .body(format!(r#"{{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{deep}}}"#)),
            AtIngress::Refused,
        ),
        ("a 64 KiB header value", base().header("ce-x", &"v".repeat(64 * 1024)), AtIngress::Refused),
        ("150 extensions", (0..150).fold(base(), |r, i| r.header(&format!("ce-x{i}"), "v")), AtIngress::Refused),
        ("5 000 extensions", (0..5000).fold(base(), |r, i| r.header(&format!("ce-x{i}"), "v")), AtIngress::RefusedBare),
    ]
}

/// The status and the JSON error (empty when there is none) of an answer.
fn refusal(status: u16, body: &[u8]) -> (u16, String) {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    (status, json["error"].as_str().unwrap_or_default().to_owned())
}

fn good() -> CeRequest {
    CeRequest::binary()
        .header("ce-type", "t")
        .header("content-type", "application/json")
        .body(r#"{"id": 1, "message": "ok"}"#)
}

#[tokio::test]
async fn every_function_refuses_bad_input_cleanly_and_keeps_serving() {
    let mut problems = Vec::new();
    let mut tried = 0;
    for (spec, env) in functions() {
        let router = spec.build(&Env::from_pairs(env.iter().copied()), Console::null()).unwrap().0;
        // The switcher routes /<n>; the others take events on any path.
        let path = if spec.name == "switcher" { "/0" } else { "/" };
        for (name, request) in corpus() {
            tried += 1;
            let answer = call(&router, &request.path(path)).await;
            let json: Option<serde_json::Value> = serde_json::from_str(answer.text()).ok();
            let message = json.as_ref().and_then(|j| j["error"].as_str()).unwrap_or_default().to_owned();
            if !answer.status.is_client_error() || message.is_empty() {
                problems.push(format!("{} {name}: {} {}", spec.name, answer.status, answer.text()));
            }
        }
        for (name, request, _) in monsters() {
            tried += 1;
            let answer = call(&router, &request.path(path)).await;
            let (status, error) = refusal(answer.status.as_u16(), answer.text().as_bytes());
            if !(400..500).contains(&status) || error.is_empty() {
                problems.push(format!("{} {name}: {status} {}", spec.name, answer.text()));
            }
        }
        let answer = call(&router, &good().path(path)).await;
        if !answer.status.is_success() {
            problems.push(format!(
                "{}: the good event after the bad ones: {} {}",
                spec.name,
                answer.status,
                answer.text()
            ));
        }
    }
    println!("functions: {tried} bad requests, {} not refused cleanly", problems.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn the_fnmesh_ingress_refuses_bad_input_cleanly() {
    let yaml = "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: c}\n";
    // The functions' body limit, so that the same monster is over it here too.
    let mesh = TestMesh::from_yaml_with(yaml, |options| options.body_limit = 1024 * 1024).await.unwrap();
    let client = fnmesh_testkit::reqwest::Client::new();
    let mut problems = Vec::new();
    for (name, request) in corpus() {
        let mut sent = client
            .post(format!("http://{}/", mesh.running.ingress))
            .header("host", "c-kn-channel.default.svc.cluster.local");
        for (header, value) in request.headers() {
            sent = sent.header(header, value);
        }
        let response = sent.body(request.body_bytes()).send().await.unwrap();
        let status = response.status();
        let body: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap_or_default()).unwrap_or_default();
        if !status.is_client_error() || !body["error"].is_string() {
            problems.push(format!("{name}: {status} {body}"));
        }
    }
    for (name, request, expected) in monsters() {
        let mut sent = client
            .post(format!("http://{}/", mesh.running.ingress))
            .header("host", "c-kn-channel.default.svc.cluster.local");
        for (header, value) in request.headers() {
            sent = sent.header(header, value);
        }
        let answer = match sent.body(request.body_bytes()).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                refusal(status, &response.bytes().await.unwrap_or_default())
            }
            Err(e) => (0, format!("no answer: {e}")),
        };
        let fits = match expected {
            AtIngress::Refused => (400..500).contains(&answer.0) && !answer.1.is_empty(),
            AtIngress::RefusedBare => answer.0 == 431,
            AtIngress::Accepted => answer.0 == 202,
        };
        if !fits {
            problems.push(format!("ingress {name}: expected {expected:?}, got {answer:?}"));
        }
    }
    let tried = corpus().len() + monsters().len();
    println!("ingress: {tried} bad requests over TCP, {} not refused as expected", problems.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let (status, _) = mesh.send("c-kn-channel.default.svc.cluster.local", "ok", "t", "{}").await;
    assert_eq!(status, 202, "still serving");
    mesh.stop().await;
}
