//! Flows as data: every folder of `tests/flows/` (see its README) runs with `fnmesh run`
//! in-process and its watched services' output is compared with `expected.out`. Then the
//! Knative docs' samples, read in place from `../shared/knative/samples/` (skipped when
//! that folder is absent), run unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fnmesh_tests::mesh::{TestMesh, repo};
use regex::Regex;
use serde::Deserialize;

const WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default)]
    manifests: Vec<PathBuf>,
    #[serde(default)]
    ping_now: bool,
    #[serde(default)]
    send: Vec<Send>,
    watch: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Send {
    target: String,
    id: String,
    #[serde(rename = "type")]
    ty: String,
    source: String,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    extensions: BTreeMap<String, String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
    status: u16,
}

/// Times, log stamps, UUIDs and ports as placeholders.
fn normalise(text: &str) -> String {
    let rules = [
        (r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", "<log-time>"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? \+0000 UTC", "<time>"),
        (r"knativearrivaltime: \S+", "knativearrivaltime: <time>"),
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>"),
        (r"listening on \d+", "listening on <port>"),
    ];
    rules.iter().fold(text.to_owned(), |text, (pattern, with)| {
        Regex::new(pattern).unwrap().replace_all(&text, *with).into_owned()
    })
}

/// The Host header and path for a `send` target, as `fnmesh send` computes them.
fn host_and_path(target: &str) -> (String, String) {
    let (url, host) = fnmesh_mesh::cli::client::locate(target, 0, "default").unwrap();
    let path = url::Url::parse(&url).unwrap().path().to_owned();
    (host.unwrap_or_default(), path)
}

async fn run_case(dir: &Path) -> Result<(), String> {
    let case: Case = serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap())
        .map_err(|e| format!("case.json: {e}"))?;
    let expected = std::fs::read_to_string(dir.join("expected.out")).map_err(|e| format!("expected.out: {e}"))?;
    let manifests: Vec<PathBuf> = if case.manifests.is_empty() {
        vec![dir.join("manifests")]
    } else {
        case.manifests.iter().map(|p| repo().join(p)).collect()
    };
    let mesh = TestMesh::from_paths(&manifests, case.ping_now).await?;
    for send in &case.send {
        let (host, path) = host_and_path(&send.target);
        let mut headers: Vec<(String, String)> = vec![
            ("ce-specversion".into(), "1.0".into()),
            ("ce-id".into(), send.id.clone()),
            ("ce-type".into(), send.ty.clone()),
            ("ce-source".into(), send.source.clone()),
        ];
        headers.extend(send.time.iter().map(|t| ("ce-time".to_owned(), t.clone())));
        headers.extend(send.extensions.iter().map(|(k, v)| (format!("ce-{k}"), v.clone())));
        let borrowed: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let body = send.data.as_ref().map(ToString::to_string).unwrap_or_default();
        let (status, answer) = mesh.post(&host, &path, &borrowed, &body).await;
        if status != send.status {
            return Err(format!("sending {}: {status} {answer}, expected {}", send.id, send.status));
        }
    }
    let expected_lines: Vec<&str> = expected.lines().collect();
    let watched = |line: &&str| case.watch.iter().any(|s| line.starts_with(&format!("{s} | ")));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let output = mesh.output();
        let got: Vec<String> = output.lines().filter(watched).map(normalise).collect();
        if got.len() >= expected_lines.len() || std::time::Instant::now() >= deadline {
            mesh.stop().await;
            return if got == expected_lines {
                Ok(())
            } else {
                Err(format!(
                    "expected:\n{}\ngot:\n{}\nwhole output:\n{output}",
                    expected_lines.join("\n"),
                    got.join("\n")
                ))
            };
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_flow_case_gives_its_expected_output() {
    let root = repo().join("tests/flows");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 4, "cases in {}", root.display());
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = run_case(case).await {
            failures.push(format!("{}: {e}", case.file_name().unwrap().to_string_lossy()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A docs example: its files, and what must show in the output once its PingSource fired
/// (each entry: one of these texts; the Parallel samples answer by the minute's parity).
struct Sample {
    prefix: &'static str,
    expect: &'static [&'static [&'static str]],
}

const SAMPLES: &[Sample] = &[
    Sample {
        prefix: "sequence-terminal-",
        expect: &[&["third | "], &["Message:Hello world! - Handled by 0 - Handled by 1 - Handled by 2}"]],
    },
    Sample {
        prefix: "sequence-reply-to-event-display-",
        expect: &[&["\"message\": \"Hello world! - Handled by 0 - Handled by 1 - Handled by 2\""]],
    },
    Sample {
        prefix: "sequence-reply-to-sequence-",
        expect: &[&[
            "\"message\": \"Hello world! - Handled by 0 - Handled by 1 - Handled by 2 - Handled by 3 - Handled by 4 - Handled by 5\"",
        ]],
    },
    Sample {
        prefix: "sequence-with-broker-trigger-",
        expect: &[
            &["type: samples.http.mod3"],
            &["\"message\": \"Hello world! - Handled by 0 - Handled by 1 - Handled by 2\""],
        ],
    },
    Sample {
        prefix: "parallel-multiple-branches-",
        expect: &[&["event-display | "], &["\"message\": \"we are even!\"", "\"message\": \"this is odd!\""]],
    },
    Sample {
        prefix: "parallel-mutual-exclusivity-",
        expect: &[&["event-display | "], &["\"message\": \"we are even!\"", "\"message\": \"this is odd!\""]],
    },
];

fn samples_dir() -> Option<PathBuf> {
    let dir = repo().join("../shared/knative/samples");
    dir.is_dir().then_some(dir)
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with(prefix) && p.extension().is_some_and(|e| e == "yaml")
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn the_knative_docs_samples_run_unchanged() {
    let Some(dir) = samples_dir() else {
        eprintln!("skipped: the Knative docs samples are not at ../shared/knative/samples (development machine only)");
        return;
    };
    let mut failures = Vec::new();
    for sample in SAMPLES {
        let files = files(&dir, sample.prefix);
        assert!(files.len() >= 3, "{}: {files:?}", sample.prefix);
        let mesh = match TestMesh::from_paths(&files, true).await {
            Ok(mesh) => mesh,
            Err(e) => {
                failures.push(format!("{}: {e}", sample.prefix));
                continue;
            }
        };
        for alternatives in sample.expect {
            let deadline = std::time::Instant::now() + WAIT;
            while !alternatives.iter().any(|a| mesh.output().contains(a)) && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if !alternatives.iter().any(|a| mesh.output().contains(a)) {
                failures.push(format!("{}: none of {alternatives:?} in:\n{}", sample.prefix, mesh.output()));
            }
        }
        mesh.stop().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn the_bookstore_sample_says_what_is_missing() {
    let Some(dir) = samples_dir() else {
        eprintln!("skipped: the Knative docs samples are not at ../shared/knative/samples (development machine only)");
        return;
    };
    let err = TestMesh::from_paths(&files(&dir, "sequence-bookstore-"), false).await.unwrap_err();
    for needle in ["no Service bad-word-filter", "no Service sentiment-analysis-app", "no Broker bookstore-broker"] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
}
