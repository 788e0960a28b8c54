//! The test files of this repository, through the code path of `fnmesh test`
//! (`fnmesh_mesh::cli::test::run_paths`): the delivery and eventing scenarios of
//! `tests/scenarios/` (moved from `delivery.rs` and `eventing.rs`) and the tests beside
//! every flow of `flows/`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::PathBuf;

use fnmesh_mesh::cli::test::{Settings, report, run_paths};
use fnmesh_tests::mesh::repo;

/// Runs the test files under `path`; asserts that they hold `at_least` cases, all passing.
async fn all_pass(path: &str, at_least: usize) {
    let settings = Settings {
        jq_worker: Some(PathBuf::from(env!("CARGO_BIN_EXE_fnmesh-tests-jq-worker"))),
        // Two builders share this machine's cores with other tests: a few cases at once.
        jobs: 4,
        ..Settings::default()
    };
    let outcome = run_paths(&[repo().join(path)], &settings).await;
    let text = report::text(&outcome);
    assert!(outcome.invalid.is_empty(), "{}", outcome.invalid);
    assert!(outcome.results.len() >= at_least, "{} case(s) only:\n{text}", outcome.results.len());
    let failed: Vec<String> = outcome
        .results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| format!("{}: {}\n{}", r.file.display(), r.name, r.output))
        .collect();
    assert_eq!(outcome.exit_code(), 0, "{text}\n{}", failed.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_and_eventing_scenarios_pass() {
    all_pass("tests/scenarios", 25).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_passes_its_tests() {
    let outcome_files = ["sequence", "parallel", "buy-tickets", "saga", "provisioning"]
        .map(|flow| repo().join("flows").join(flow).join(format!("{flow}.test.yaml")));
    for file in &outcome_files {
        assert!(file.is_file(), "every flow ships a test file: {} is missing", file.display());
    }
    all_pass("flows", 19).await;
}
