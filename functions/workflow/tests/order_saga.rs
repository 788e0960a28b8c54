//! `flows/order-workflow` as it ships: an order event starts the saga; the services are
//! called by their Knative names (through `FNMESH_INGRESS`, as under `fnmesh run`); a
//! declined card releases the reservation, a carrier that stays down is retried and then
//! refunds and releases, in reverse order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Flow, Recorded, Service};
use serde_json::{Value, json};

/// The order services, behind the mesh ingress path of `order-services.default`.
async fn order_services() -> Service {
    Service::start(|request: &Recorded, _| {
        let step = request.path.rsplit('/').next().unwrap_or_default();
        let fail = request.body["fail"].as_str();
        match (step, fail) {
            ("charge", Some("charge")) => (402, json!({"error": "card declined"})),
            ("ship", Some("ship")) => (503, json!({"error": "no courier"})),
            ("charge", _) => (200, json!({"payment": {"id": "pay-1"}})),
            ("ship", _) => (200, json!({"tracking": "t-1"})),
            _ => (200, json!({"done": step})),
        }
    })
    .await
}

fn saga(services: &Service, sink: &Service) -> Flow {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flows/order-workflow");
    let extra = [("FNMESH_INGRESS", services.url.as_str()), ("K_SINK", sink.url.as_str())];
    let router = common::start(&dir, "order-saga.sw.json", &extra).unwrap();
    Flow { dir: tempfile::tempdir().unwrap(), router, id: "order_saga".into() }
}

fn steps(services: &Service) -> Vec<String> {
    services.requests().iter().map(|r| r.path.rsplit('/').next().unwrap_or_default().to_owned()).collect()
}

async fn place(flow: &Flow, order: Value) {
    let answer = flow.event("order.placed", &[], &json!({"order": order})).await;
    assert_eq!(answer.status, 202, "{}", answer.text());
}

#[tokio::test]
async fn an_order_goes_through_and_is_announced() {
    let (services, sink) = (order_services().await, Service::sink().await);
    let flow = saga(&services, &sink);
    place(&flow, json!({"id": "o1", "items": ["book"], "total": 12})).await;
    assert_eq!(steps(&services), ["reserve", "charge", "ship"]);
    let first = &services.requests()[0];
    assert_eq!(first.path, "/.fnmesh/hosts/order-services.default.svc.cluster.local/reserve");
    assert_eq!(first.body, json!({"order": "o1", "items": ["book"]}));
    let events = sink.requests();
    assert_eq!(events[0].header("ce-type"), Some("order.completed"));
    assert_eq!(events[0].body, json!({"order": "o1", "shipment": {"tracking": "t-1"}}));
}

#[tokio::test]
async fn a_declined_card_releases_the_reservation_without_retrying() {
    let (services, sink) = (order_services().await, Service::sink().await);
    let flow = saga(&services, &sink);
    place(&flow, json!({"id": "o2", "items": [], "total": 5, "fail": "charge"})).await;
    assert_eq!(steps(&services), ["reserve", "charge", "release"]);
    assert_eq!(sink.requests()[0].header("ce-type"), Some("order.cancelled"));
}

#[tokio::test]
async fn a_carrier_that_stays_down_is_retried_then_everything_is_undone_in_reverse() {
    let (services, sink) = (order_services().await, Service::sink().await);
    let flow = saga(&services, &sink);
    place(&flow, json!({"id": "o3", "items": ["pen"], "total": 2, "fail": "ship"})).await;
    assert_eq!(steps(&services), ["reserve", "charge", "ship", "ship", "ship", "refund", "release"]);
    let events = sink.requests();
    assert_eq!(events[0].header("ce-type"), Some("order.cancelled"));
    assert_eq!(events[0].body, json!({"order": "o3"}));
}
