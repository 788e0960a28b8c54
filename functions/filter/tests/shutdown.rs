//! SIGTERM under load: requests already accepted are answered, new connections are
//! refused, and the process exits 0 within the grace period.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::{Duration, Instant};

use fnmesh_testkit::{CeRequest, Process, reqwest};
use http::StatusCode;

const EXE: &str = env!("CARGO_BIN_EXE_filter");

/// Takes about 800 ms per event, so that requests are in flight when SIGTERM comes.
const SLOW: &str = "(() => { const end = Date.now() + 800; while (Date.now() < end) {} return true; })()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_accepted_requests_and_refuses_new_ones() {
    let process = Process::start(EXE, &[("FILTER", SLOW), ("FNMESH_EVAL_TIMEOUT", "5s"), ("FNMESH_EVAL_WORKERS", "4")]);
    let base = process.base.clone();
    let address = base.trim_start_matches("http://").to_owned();
    let client = reqwest::Client::new();
    let in_flight: Vec<_> = (0..4)
        .map(|i| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                CeRequest::binary()
                    .header("ce-id", &format!("in-flight-{i}"))
                    .body("x")
                    .send(&client, &base)
                    .await
                    .status
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    let exited = tokio::task::spawn_blocking(move || process.terminate());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = tokio::net::TcpStream::connect(&address).await.is_err();
    for request in in_flight {
        assert_eq!(request.await.unwrap(), StatusCode::OK, "an accepted request was answered");
    }
    let status = exited.await.unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(signalled.elapsed() < Duration::from_secs(20), "within the grace period");
    assert!(refused, "new connections are refused once draining");
}
