//! The seed's knative-state curl commands against `flows/buy-tickets`, only host and
//! port changed: instances created, moved by events through the broker, transitions
//! shown by the sink.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_tests::mesh::{TestMesh, repo};

const BROKER: &str = "broker-ingress.knative-eventing.svc.cluster.local";

#[tokio::test]
async fn the_seed_curl_commands_drive_buy_tickets() {
    let mesh = TestMesh::from_paths(&[repo().join("flows/buy-tickets")], false).await.unwrap();
    let (status, body) = mesh.post("buy-tickets.default.svc.cluster.local", "/statemachines", &[], "").await;
    assert_eq!(status, 200, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created, serde_json::json!({"id": id, "correlationkey": "", "current": "", "context": null}));
    let steps = [
        ("JoinedQueue", "InQueue"),
        ("ExitedQueue", "BuyingTickets"),
        ("TicketsReserved", "PayingTickets"),
        ("PaymentRequested", "WaitingForPaymentAuth"),
        ("PaymentAuthorized", "TicketsPurchased"),
    ];
    for (n, (ty, state)) in steps.iter().enumerate() {
        let headers = [
            ("ce-specversion", "1.0"),
            ("ce-source", "curl-command"),
            ("ce-type", ty),
            ("ce-id", "123-abc"),
            ("ce-statemachineid", id.as_str()),
        ];
        let (status, body) = mesh.post(BROKER, "/default/example-broker", &headers, r#"{"name":"Salaboy"}"#).await;
        assert_eq!(status, 202, "{ty}: {body}");
        let lines = mesh.wait_for_lines("sockeye |   statemachinestate: ", n + 1, Duration::from_secs(10)).await;
        assert_eq!(
            lines.last().map(String::as_str),
            Some(format!("sockeye |   statemachinestate: {state}").as_str()),
            "{ty}"
        );
    }
    assert!(mesh.output().contains("sockeye |   statemachinefinal: true"));
    // A final state accepts nothing: the trigger's delivery fails with 422, not retried.
    let headers = [
        ("ce-specversion", "1.0"),
        ("ce-source", "curl-command"),
        ("ce-type", "JoinedQueue"),
        ("ce-id", "late"),
        ("ce-statemachineid", id.as_str()),
    ];
    mesh.post(BROKER, "/default/example-broker", &headers, "{}").await;
    assert!(
        mesh.wait_for("buy-tickets/statemachines/events: 422 in ", Duration::from_secs(10)).await,
        "{}",
        mesh.output()
    );
    let (status, body) =
        mesh.post("buy-tickets.default.svc.cluster.local", &format!("/statemachines/{id}"), &[], "").await;
    assert_eq!(status, 405, "GET only: {body}");
    mesh.stop().await;
}

/// Issue 21, item 3, through the ingress (which proxies any path to a service): with
/// `STATE_STORE=memory` and `STATE_SECRET`, `GET /statemachines` listed every instance and
/// an id alone moved one. Now the API is off and the id needs its signed state.
#[tokio::test]
async fn through_the_ingress_a_signed_store_lists_nothing_and_an_id_alone_moves_nothing() {
    let yaml = r#"
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: orders
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/fnmesh/state-machine
          env:
            - {name: STATE_STORE, value: memory}
            - {name: STATE_SECRET, value: s3cret}
            - name: STATE_MACHINE
              value: |
                "": {events: {Go: Half}}
                Half: {events: {Go: Done}}
                Done: {}
"#;
    let mesh = TestMesh::from_yaml(yaml).await.unwrap();
    let host = "orders.default.svc.cluster.local";
    let (status, body) = mesh.send(host, "e-1", "Go", r#"{"card": "4111-1111"}"#).await;
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"].as_str().unwrap().to_owned();
    let client = fnmesh_testkit::reqwest::Client::new();
    for path in ["/statemachines".to_owned(), format!("/statemachines/{id}")] {
        let response =
            client.get(format!("http://{}{path}", mesh.running.ingress)).header("host", host).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 404, "{path}: {text}");
        assert!(text.contains("the instance API is off") && !text.contains("4111"), "{path}: {text}");
    }
    let headers = [
        ("ce-specversion", "1.0"),
        ("ce-id", "e-2"),
        ("ce-source", "/test"),
        ("ce-type", "Go"),
        ("ce-statemachineid", id.as_str()),
    ];
    let (status, body) = mesh.post(host, "/", &headers, "{}").await;
    assert_eq!(status, 403, "{body}");
    mesh.stop().await;
}
