//! The real `filter` binary with `FILTER_JSONPATH` under the attacks of issue 21, item 8:
//! queries quadratic in an 845 KiB event are stopped at `FNMESH_EVAL_TIMEOUT` (`503`)
//! while `/healthz` answers, and `$..*` on it no longer takes hundreds of MiB per event.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_testkit::{Process, reqwest};

const EXE: &str = env!("CARGO_BIN_EXE_filter");

/// JSON data of 845 KiB on which `..` queries are quadratic: 100 levels, each holding
/// 4 300 numbers and the next level.
fn comb() -> String {
    let level = format!("{{\"v\":[{}],\"n\":", vec!["0"; 4300].join(","));
    let data = format!("{}[]{}", level.repeat(100), "}".repeat(100));
    assert!((840 * 1024..850 * 1024).contains(&data.len()), "{}", data.len());
    data
}

fn event(client: &reqwest::Client, base: &str, id: &str, data: String) -> reqwest::RequestBuilder {
    client
        .post(base)
        .header("ce-specversion", "1.0")
        .header("ce-id", id)
        .header("ce-source", "/attacker")
        .header("ce-type", "t")
        .header("content-type", "application/json")
        .body(data)
}

/// The review's query, with a bound no node reaches: the evaluation cannot stop early at
/// a match and must count the descendants of each of 430 000 nodes (0.3 s in release
/// builds, 3 s in debug ones, on 2 cores; 10-14 s before, on the request threads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quadratic_query_is_stopped_with_503_and_healthz_answers_meanwhile() {
    let filter =
        Process::start(EXE, &[("FILTER_JSONPATH", "$..[?count(@..*) > 1000000]"), ("FNMESH_EVAL_WORKERS", "2")]);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let data = comb();
    // Twice as many as there are evaluation threads, and than the runtime has threads.
    let attacks: Vec<_> = (0..4)
        .map(|i| {
            let request = event(&client, &filter.base, &format!("attack-{i}"), data.clone());
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    // Before this fix each attack held a request thread for 10-14 s, and /healthz waited.
    let health = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut probes = 0;
    while probes == 0 || !attacks.iter().all(|attack| attack.is_finished()) {
        let answer = health.get(format!("{}/healthz", filter.base)).send().await;
        let status = answer.map(|a| a.status());
        assert_eq!(status.ok(), Some(reqwest::StatusCode::NO_CONTENT), "/healthz during the attack");
        probes += 1;
    }
    for attack in attacks {
        let answer = attack.await.unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
        let error: serde_json::Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        let message = error["error"].as_str().unwrap();
        assert!(
            message.starts_with("FILTER_JSONPATH: evaluation stopped after 100ms (FNMESH_EVAL_TIMEOUT)"),
            "{message}"
        );
    }
    let small = event(&client, &filter.base, "fine", r#"{"v": [1]}"#.into()).send().await.unwrap();
    assert_eq!(small.status(), reqwest::StatusCode::OK, "an event that passes quickly still passes");
    assert_eq!(small.text().await.unwrap(), "", "it is rejected: no node has that many descendants");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_descendant_of_a_large_event_takes_no_memory_of_its_own() {
    let filter = Process::start(EXE, &[("FILTER_JSONPATH", "$..*"), ("FNMESH_EVAL_WORKERS", "2")]);
    let baseline = filter.peak_rss().unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let data = comb();
    // Two at once took the filter past 330 MiB (jsonpath-rust listed every node with its path).
    let events: Vec<_> = (0..2)
        .map(|i| {
            let request = event(&client, &filter.base, &format!("wide-{i}"), data.clone());
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    for answer in events {
        let answer = answer.await.unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::OK);
        assert_eq!(answer.bytes().await.unwrap().len(), data.len(), "it passes, unchanged");
    }
    // What remains is the events themselves (body and parsed view), as for every dialect.
    let grown = filter.peak_rss().unwrap() - baseline;
    assert!(grown < 96 << 20, "peak RSS grew by {} MiB", grown >> 20);
}
