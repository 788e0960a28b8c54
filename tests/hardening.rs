//! Attacks on `fnmesh run` that an adversarial review found working (issue 21), each
//! bounded in count and time on loopback, and what must hold instead: a sender cannot buy
//! more broker hops than `--broker-ttl` (nor forge the mesh's internal TTL carrier), a
//! stop delivers what was accepted, and the backlog of accepted events is bounded. The
//! brokers here answer at once (`--async-brokers`): what they accept is then delivered in
//! the background, which is what a stop must drain and the backlog bounds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_tests::mesh::TestMesh;
use fnmesh_tests::recorder::{Recorder, Step};

const WAIT: Duration = Duration::from_secs(10);
const BROKER_HOST: &str = "broker-ingress.knative-eventing.svc.cluster.local";

/// A Broker `default` and a Trigger `t` sending every event of type `loop` to `uri`.
fn broker_to(uri: &str) -> String {
    format!(
        "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {{name: default}}\n---\n\
         apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {{name: t}}\n\
         spec:\n  broker: default\n  filter: {{attributes: {{type: loop}}}}\n  subscriber: {{uri: '{uri}'}}\n"
    )
}

fn event(id: &str) -> Vec<(&str, &str)> {
    vec![("ce-specversion", "1.0"), ("ce-id", id), ("ce-source", "/attacker"), ("ce-type", "loop")]
}

#[tokio::test]
async fn a_sender_cannot_raise_the_broker_ttl_nor_forge_the_mesh_carrier() {
    // An echo makes every delivery a reply back into the broker: the TTL alone stops it.
    let echo = Recorder::start(vec![Step::Echo("loop")]).await;
    let mesh = TestMesh::from_yaml_with(&broker_to(&echo.url), |o| {
        o.broker_ttl = 5;
        o.async_brokers = true;
    })
    .await
    .unwrap();
    let mut headers = event("big-ttl");
    headers.push(("ce-knativebrokerttl", "1000000"));
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &headers, "{}").await.0, 202);
    assert!(mesh.wait_for("knativebrokerttl reached 0", WAIT).await, "{}", mesh.output());
    let capped = echo.received().len();
    assert!((1..=5).contains(&capped), "a TTL of 1000000 is taken as --broker-ttl 5: {capped} passes");

    let mut headers = event("forged-carrier");
    headers.push(("fnmesh-broker-ttl", "1000000"));
    headers.push(("fnmesh-internal", "guessed"));
    assert_eq!(mesh.post(BROKER_HOST, "/default/default", &headers, "{}").await.0, 202);
    let deadline = std::time::Instant::now() + WAIT;
    while mesh.output().matches("knativebrokerttl reached 0").count() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let forged = echo.received().len() - capped;
    assert_eq!(forged, 5, "the internal carrier from outside is dropped: the broker's own TTL of 5 holds");
    mesh.stop().await;
}

#[tokio::test]
async fn a_stop_delivers_every_accepted_event() {
    let slow = Recorder::start(vec![Step::Slow(Duration::from_millis(100), 200)]).await;
    let mesh = TestMesh::from_yaml_with(&broker_to(&slow.url), |o| o.async_brokers = true).await.unwrap();
    for i in 0..100 {
        let id = format!("accepted-{i}");
        assert_eq!(mesh.post(BROKER_HOST, "/default/default", &event(&id), "{}").await.0, 202);
    }
    let output = {
        let capture = mesh.output_handle();
        let stopped = mesh.stop().await;
        assert_eq!(stopped.abandoned, 0);
        capture.text()
    };
    let delivered = output.lines().filter(|l| l.contains("trigger/t -> ") && l.contains(": 200 in ")).count();
    assert_eq!(delivered, 100, "every event answered 202 is delivered before the stop ends:\n{output}");
    assert_eq!(slow.received().len(), 100);
}

#[tokio::test]
async fn a_stop_refuses_new_events_and_says_what_it_abandoned() {
    let hanging = Recorder::start(vec![Step::Slow(Duration::from_secs(30), 200)]).await;
    let mesh = TestMesh::from_yaml_with(&broker_to(&hanging.url), |o| {
        o.grace = Duration::from_millis(500);
        o.async_brokers = true;
    })
    .await
    .unwrap();
    for i in 0..3 {
        let id = format!("stuck-{i}");
        assert_eq!(mesh.post(BROKER_HOST, "/default/default", &event(&id), "{}").await.0, 202);
    }
    hanging.wait_for(3, WAIT).await;
    let client = mesh.client();
    let capture = mesh.output_handle();
    let stopping = tokio::spawn(mesh.stop());
    // While it drains, events from outside are refused with a retryable status.
    let mut refused = None;
    let deadline = std::time::Instant::now() + WAIT;
    while refused.is_none() && std::time::Instant::now() < deadline {
        let (status, body) = client.post(BROKER_HOST, "/default/default", &event("late"), "{}").await;
        if status == 503 {
            refused = Some(body);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let refused = refused.expect("a 503 while draining");
    assert!(refused.contains("stopping"), "{refused}");
    let stopped = stopping.await.unwrap();
    assert_eq!(stopped.abandoned, 3);
    let output = capture.text();
    assert!(output.contains("stopped with 3 delivery(ies) abandoned"), "{output}");
}

#[tokio::test]
async fn the_backlog_of_accepted_events_is_bounded() {
    let hanging = Recorder::start(vec![Step::Slow(Duration::from_secs(30), 200)]).await;
    let mesh = TestMesh::from_yaml_with(&broker_to(&hanging.url), |o| {
        o.backlog = 64 * 1024;
        o.grace = Duration::from_millis(100);
        o.async_brokers = true;
    })
    .await
    .unwrap();
    let data = format!("{{\"pad\": \"{}\"}}", "x".repeat(8 * 1024));
    let headers = event("big");
    let (mut accepted, mut full) = (0, None);
    for _ in 0..40 {
        let (status, body) = mesh.post(BROKER_HOST, "/default/default", &headers, &data).await;
        match status {
            202 => accepted += 1,
            503 => {
                full = Some(body);
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let full = full.expect("a 503 once 64 KiB of events are held");
    assert!(full.contains("--backlog"), "{full}");
    assert!((4..=8).contains(&accepted), "about 64 KiB / 8 KiB events accepted first: {accepted}");
    mesh.stop().await;
}
