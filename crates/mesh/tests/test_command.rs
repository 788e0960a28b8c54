//! `fnmesh test` as a user runs it: the binary on test files in a temporary folder, its
//! exit status (0 pass, 1 a failure, 2 an invalid file), its report, `--junit` and
//! `--update`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::Path;
use std::process::{Command, Output};

/// A channel `orders` whose subscription sends to `payments` (a stand-in in the tests).
const MANIFESTS: &str = "apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: orders-sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber: {uri: http://payments.default.svc.cluster.local}
  delivery: {retry: 3}
";

/// "The payment service fails twice then answers": three attempts, the sender gets 202.
const PASSING: &str = "cases:
  - name: payments fails twice then answers
    services:
      payments:
        answers: [{status: 503, times: 2}, {status: 200}]
    send:
      - {target: channel/orders, id: o-1, type: order.placed, data: {total: 42}, status: 202}
    expect:
      payments:
        count: 3
        events: [{id: o-1, type: order.placed, data: {total: 42}, count: 3}]
        none: [{type: order.cancelled}]
      fnmesh:
        output: [{contains: ': 503 in ', count: 2}]
";

fn folder(test_files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("channel.yaml"), MANIFESTS).unwrap();
    for (name, text) in test_files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn fnmesh_test(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_fnmesh"))
        .arg("test")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run fnmesh");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (status.code().unwrap(), text(stdout), text(stderr))
}

#[test]
fn a_passing_file_says_ok_and_exits_0() {
    let dir = folder(&[("orders.test.yaml", PASSING)]);
    let (code, out, err) = fnmesh_test(dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok     ./orders.test.yaml: payments fails twice then answers ("), "{out}");
    assert!(out.contains("test result: ok. 1 passed; 0 failed"), "{out}");
}

#[test]
fn a_failing_case_names_the_service_and_shows_the_closest_event() {
    let failing = PASSING.replace("data: {total: 42}, count: 3", "data: {total: 43}, count: 3");
    let dir = folder(&[("orders.test.yaml", &failing)]);
    let (code, out, err) = fnmesh_test(dir.path(), &["orders.test.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAILED orders.test.yaml: payments fails twice then answers"), "{out}");
    assert!(out.contains("payments (stand-in): events[0]: expected 3 event(s) matching"), "{out}");
    assert!(out.contains("0 matched; received 3:"), "{out}");
    assert!(out.contains("data.total: expected 43, got 42"), "the closest event's difference: {out}");
    assert!(out.contains("test result: FAILED. 0 passed; 1 failed"), "{out}");
}

#[test]
fn an_invalid_file_exits_2_with_the_file_and_the_field_path() {
    let typo = PASSING.replace("status: 202}", "statuss: 202}");
    let dir = folder(&[("typo.test.yaml", &typo)]);
    let (code, out, err) = fnmesh_test(dir.path(), &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("typo.test.yaml: cases[0].send[0].statuss: unknown field `statuss`, expected one of"),
        "{err}"
    );
    assert!(out.is_empty(), "nothing runs: {out}");

    let checked = PASSING
        .replace("target: channel/orders", "target: deployment/orders")
        .replace("fnmesh:\n", "billing:\n        count: 1\n      fnmesh:\n");
    let dir = folder(&[("checked.test.yaml", &checked)]);
    let (code, _, err) = fnmesh_test(dir.path(), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2 problems in the test files:"), "{err}");
    assert!(err.contains("checked.test.yaml: cases[0].send[0].target: \"deployment\" is not a kind"), "{err}");
    assert!(err.contains("checked.test.yaml: cases[0].expect.billing: no stand-in or Service billing"), "{err}");
}

#[test]
fn junit_lists_every_case_and_the_failures() {
    let failing =
        PASSING.replace("payments fails twice then answers", "wrong count").replace("count: 3\n", "count: 4\n");
    let dir = folder(&[("a.test.yaml", PASSING), ("b.test.yaml", &failing)]);
    let (code, out, _) = fnmesh_test(dir.path(), &["--junit", "results.xml"]);
    assert_eq!(code, 1, "{out}");
    let xml = std::fs::read_to_string(dir.path().join("results.xml")).unwrap();
    let attribute = |element: &str, name: &str| -> Vec<String> {
        let re = regex::Regex::new(&format!(r#"<{element}\b[^>]*\b{name}="([^"]*)""#)).unwrap();
        re.captures_iter(&xml).map(|c| c[1].to_owned()).collect()
    };
    assert_eq!(attribute("testsuites", "tests"), ["2"], "{xml}");
    assert_eq!(attribute("testsuites", "failures"), ["1"], "{xml}");
    assert_eq!(attribute("testsuite", "name"), ["./a.test.yaml", "./b.test.yaml"], "{xml}");
    assert_eq!(attribute("testcase", "name"), ["payments fails twice then answers", "wrong count"], "{xml}");
    let failures = attribute("failure", "message");
    assert_eq!(failures.len(), 1, "{xml}");
    assert!(failures[0].starts_with("payments (stand-in): expected 4 request(s) in all, received 3"), "{xml}");
    assert!(xml.starts_with("<?xml") && xml.trim_end().ends_with("</testsuites>"), "{xml}");
}

#[test]
fn update_writes_what_arrived_as_the_expectation_of_a_new_case() {
    let new = "cases:
  - name: new case
    services:
      payments:
        answers: [{status: 503}, {status: 200}]
    send:
      - {target: channel/orders, id: o-9, type: order.placed, data: {total: 9}}
";
    let dir = folder(&[("new.test.yaml", new)]);
    let (code, out, _) = fnmesh_test(dir.path(), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(no expect: yet; --update writes it)"), "{out}");
    let (code, out, err) = fnmesh_test(dir.path(), &["--update"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("updated ./new.test.yaml (review"), "{out}");
    let written = std::fs::read_to_string(dir.path().join("new.test.yaml")).unwrap();
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&written).unwrap();
    let case = &value["cases"][0];
    assert_eq!(case["send"][0]["status"], serde_yaml_ng::Value::from(202), "{written}");
    let payments = &case["expect"]["payments"];
    assert_eq!(payments["count"], serde_yaml_ng::Value::from(2), "{written}");
    let event = &payments["events"][0];
    assert_eq!((event["id"].as_str(), event["type"].as_str()), (Some("o-9"), Some("order.placed")), "{written}");
    assert_eq!(event["count"], serde_yaml_ng::Value::from(2), "one event, delivered twice: {written}");
    assert_eq!(event["data"]["total"], serde_yaml_ng::Value::from(9), "{written}");
    // The written expectation holds, and catches a change.
    let (code, out, _) = fnmesh_test(dir.path(), &[]);
    assert_eq!(code, 0, "{out}");
    let mut changed = value.clone();
    changed["cases"][0]["expect"]["payments"]["events"][0]["data"]["total"] = 10.into();
    std::fs::write(dir.path().join("new.test.yaml"), serde_yaml_ng::to_string(&changed).unwrap()).unwrap();
    let (code, out, _) = fnmesh_test(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("data.total: expected 10, got 9"), "{out}");
}
