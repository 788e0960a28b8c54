//! The real `appender` binary under the attacks of issue 21 (item 7), over loopback and
//! bounded in count and time: slow bodies, more connections than the cap, and 100
//! concurrent 1 MiB events with the settings its Knative Service ships with
//! (`config/100-appender.yaml`). Each time, the attackers are cut off or refused with a
//! JSON error, the process survives, and a good event is answered.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_testkit::reqwest::Client;
use fnmesh_testkit::{Answer, CeRequest, Process};
use http::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const EXE: &str = env!("CARGO_BIN_EXE_appender");
/// Longer than any answer can take here: a test that waits this long has failed.
const PATIENCE: Duration = Duration::from_secs(60);

fn address(process: &Process) -> String {
    process.base.trim_start_matches("http://").to_owned()
}

/// A connection that sends `sent` and then keeps quiet; what the appender answers before
/// it closes the connection (nothing, when it just closes it).
fn quiet(address: String, sent: String) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(sent.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(PATIENCE, async {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        assert!(read.is_ok(), "the appender neither answered nor closed the connection");
        String::from_utf8_lossy(&answer).into_owned()
    })
}

fn cut_off(answer: &str) -> bool {
    answer.is_empty() || answer.starts_with("HTTP/1.1 408")
}

async fn good_event(process: &Process, id: i64) -> Answer {
    CeRequest::binary().json(&json!({"id": id, "message": "good"})).send(&Client::new(), &process.base).await
}

#[tokio::test]
async fn slow_bodies_are_cut_off_while_a_good_event_is_answered() {
    let process = Process::start(EXE, &[("MESSAGE", " - ok"), ("FNMESH_BODY_TIMEOUT", "1s")]);
    let head = "POST / HTTP/1.1\r\nhost: x\r\nce-specversion: 1.0\r\nce-id: slow\r\nce-source: /s\r\n\
                ce-type: t\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"id\": 1, ";
    let slow: Vec<_> = (0..50).map(|_| quiet(address(&process), head.to_owned())).collect();
    let answer = good_event(&process, 7).await;
    assert_eq!((answer.status, answer.text()), (StatusCode::OK, r#"{"id":7,"message":"good - ok"}"#));
    for answer in slow {
        let answer = answer.await.unwrap();
        assert!(cut_off(&answer), "{answer}");
        assert!(answer.is_empty() || answer.contains("(FNMESH_BODY_TIMEOUT)\"}"), "{answer}");
    }
    assert_eq!(good_event(&process, 8).await.status, StatusCode::OK);
}

#[tokio::test]
async fn connections_past_the_cap_do_not_starve_a_good_event() {
    let env = [("FNMESH_MAX_CONNECTIONS", "8"), ("FNMESH_IDLE_TIMEOUT", "2s")];
    let process = Process::start(EXE, &env);
    // Connections that never send a byte, and ones that stop in the middle of their headers.
    let idle: Vec<_> = (0..64)
        .map(|i| {
            let sent = if i % 2 == 0 { "" } else { "POST / HTTP/1.1\r\nhost: x\r\nce-id: " };
            quiet(address(&process), sent.to_owned())
        })
        .collect();
    assert_eq!(good_event(&process, 1).await.status, StatusCode::OK);
    for answer in idle {
        let answer = answer.await.unwrap();
        assert!(cut_off(&answer), "closed without an answer: {answer}");
    }
    assert_eq!(good_event(&process, 2).await.status, StatusCode::OK);
}

/// What a shipped Knative Service sets: its container's environment and memory limit.
struct Shipped {
    env: Vec<(String, String)>,
    memory_limit: u64,
}

fn shipped(file: &str) -> Shipped {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let service: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let container = &service["spec"]["template"]["spec"]["containers"][0];
    let env = container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|var| (var["name"].as_str().unwrap().to_owned(), var["value"].as_str().unwrap().to_owned()))
        .collect();
    let memory = container["resources"]["limits"]["memory"].as_str().unwrap();
    let mebibytes: u64 = memory.strip_suffix("Mi").unwrap().parse().unwrap();
    Shipped { env, memory_limit: mebibytes * 1024 * 1024 }
}

#[tokio::test]
async fn a_hundred_concurrent_1_mib_events_with_the_shipped_settings_are_answered_or_refused() {
    let shipped = shipped("100-appender.yaml");
    let env: Vec<(&str, &str)> = shipped.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body_limit: usize =
        env.iter().find(|(k, _)| *k == "FNMESH_BODY_LIMIT").map_or(1 << 20, |(_, v)| v.parse().unwrap());
    let mut process = Process::start(EXE, &env);
    let client = Client::builder().pool_max_idle_per_host(0).build().unwrap();
    // Half of them ordinary events, half the costliest kind of 1 MiB: structured, with
    // data that parses into the most JSON values per byte.
    let ordinary = json!({"id": 1, "message": "x".repeat(body_limit - 64)}).to_string();
    let costly = format!(
        r#"{{"specversion":"1.0","id":"c","source":"/s","type":"t","data":[{}0]}}"#,
        "0,".repeat((body_limit - 100) / 2)
    );
    let sends: Vec<_> = (0..100)
        .map(|i| {
            let request = if i % 2 == 0 {
                client
                    .post(&process.base)
                    .header("ce-specversion", "1.0")
                    .header("ce-id", i.to_string())
                    .header("ce-source", "/attack")
                    .header("ce-type", "t")
                    .header("content-type", "application/json")
                    .body(ordinary.clone())
            } else {
                client.post(&process.base).header("content-type", "application/cloudevents+json").body(costly.clone())
            };
            tokio::spawn(async move {
                let response = request.send().await.expect("no connection is dropped");
                let status = response.status();
                let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
                (i, status, retry_after, response.text().await.unwrap())
            })
        })
        .collect();
    let mut answered = 0;
    for send in sends {
        let (i, status, retry_after, body) = tokio::time::timeout(PATIENCE, send).await.unwrap().unwrap();
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
                assert!(body.contains("FNMESH_MAX_INFLIGHT_BYTES"), "{body}");
            }
            // The appender's answers: the ordinary event appended to, the costly one refused.
            StatusCode::OK if i % 2 == 0 => answered += 1,
            StatusCode::BAD_REQUEST if i % 2 == 1 => answered += 1,
            other => panic!("event {i}: {other} {body}"),
        }
    }
    assert!(answered > 0, "every event was refused");
    assert!(process.is_running(), "the appender survived");
    assert_eq!(good_event(&process, 3).await.status, StatusCode::OK);
    if let Some(peak) = process.peak_rss() {
        assert!(
            peak < shipped.memory_limit,
            "peak RSS {peak} bytes, over the shipped limit of {}",
            shipped.memory_limit
        );
    }
}
