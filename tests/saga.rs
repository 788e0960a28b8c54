//! `flows/saga` (seed 002's rollback): a failure injected at each step undoes exactly the
//! steps already done, in reverse order, once each; every phase reaches the callback.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_tests::mesh::{TestMesh, repo};

const SAGA: &str = "order-saga-kn-sequence-0-kn-channel.default.svc.cluster.local";
const WAIT: Duration = Duration::from_secs(10);

/// Runs one order through the saga; the whole output once `done` shows up.
async fn order(fail: Option<&str>, done: &str) -> String {
    let mesh = TestMesh::from_paths(&[repo().join("flows/saga")], false).await.unwrap();
    let data = match fail {
        Some(step) => format!(r#"{{"id": 42, "message": "order 42", "fail": "{step}"}}"#),
        None => r#"{"id": 42, "message": "order 42"}"#.to_owned(),
    };
    let (status, body) = mesh.send(SAGA, "o-42", "order.placed", &data).await;
    assert_eq!(status, 202, "{body}");
    assert!(mesh.wait_for(done, WAIT).await, "no {done:?} in:\n{}", mesh.output());
    // Give any duplicate a chance to show before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let output = mesh.output();
    mesh.stop().await;
    output
}

fn count(output: &str, needle: &str) -> usize {
    output.matches(needle).count()
}

#[tokio::test]
async fn a_saga_without_failure_ships_and_undoes_nothing() {
    let output = order(None, "statemachinestate: Shipped").await;
    for state in ["Started", "Reserved", "Charged", "Shipped"] {
        assert_eq!(count(&output, &format!("callback |   statemachinestate: {state}")), 1, "{state}:\n{output}");
    }
    assert!(output.contains("callback |   statemachinefinal: true"));
    assert_eq!(count(&output, "Received a new event"), 0, "no compensation ran:\n{output}");
    assert_eq!(count(&output, "knativeerrordest"), 0);
}

#[tokio::test]
async fn a_failed_reservation_has_nothing_to_undo() {
    let output =
        order(Some("reserve"), "callback |   knativeerrordest: http://reserve.default.svc.cluster.local").await;
    assert!(output.contains("callback |   knativeerrorcode: 422"), "{output}");
    assert_eq!(count(&output, "Received a new event"), 0, "{output}");
}

#[tokio::test]
async fn a_failed_charge_undoes_the_reservation_once() {
    let output = order(Some("charge"), "Message:order 42 - unreserved}").await;
    assert_eq!(count(&output, "unreserve | "), 5, "started once, one event (4 lines):\n{output}");
    assert_eq!(count(&output, "refund | "), 1, "only its start line:\n{output}");
    assert!(output.contains("type: saga.rolledback"), "the callback hears of the rollback:\n{output}");
    assert!(output.contains("callback |   knativeerrordest: http://charge.default.svc.cluster.local"), "{output}");
}

#[tokio::test]
async fn a_failed_shipment_refunds_then_unreserves_once_each() {
    let output = order(Some("ship"), "Message:order 42 - refunded - unreserved}").await;
    assert_eq!(count(&output, "refund | "), 5, "{output}");
    assert_eq!(count(&output, "unreserve | "), 5, "{output}");
    let refunded = output.find("Message:order 42 - refunded}").unwrap();
    let unreserved = output.find("Message:order 42 - refunded - unreserved}").unwrap();
    assert!(refunded < unreserved, "reverse order: refund (the last step done) first");
    assert!(output.contains("callback |   statemachinestate: Charged"), "progress reached the callback:\n{output}");
}
