//! `flows/newsletter` as it ships (the definition, its OpenAPI document, schema and
//! application.properties), against a subscription service played on loopback: the
//! Kogito REST contract, the callback state, correlation by `kogitoprocrefid`, the
//! produced event with Kogito's extensions, and a restart while the instance waits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Flow, Recorded, Service, request};
use http::Method;
use serde_json::{Value, json};

fn flow_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flows/newsletter")
}

/// The subscription service: `known@example.com` already subscribed.
async fn subscription_service() -> Service {
    Service::start(|request: &Recorded, _| match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/subscription/verify") => {
            let email = request.query.strip_prefix("email=").unwrap_or_default().replace("%40", "@");
            (200, json!({"email": email, "emailExists": email == "known@example.com"}))
        }
        ("POST", "/subscription") => {
            let mut body = request.body.clone();
            body["verified"] = json!(false);
            (200, body)
        }
        ("PUT", "/subscription/confirm") => {
            let mut body = request.body.clone();
            body["verified"] = json!(true);
            (200, body)
        }
        ("DELETE", _) => (200, json!({})),
        _ => (404, json!({"error": "no such operation"})),
    })
    .await
}

fn newsletter(service: &Service, sink: &Service, store: &str) -> Flow {
    let extra = [
        ("QUARKUS_REST_CLIENT_SUBSCRIPTION_SERVICE_JSON_URL", service.url.as_str()),
        ("K_SINK", sink.url.as_str()),
        ("WORKFLOW_STORE", store),
    ];
    let router = common::start(&flow_dir(), "subscription-flow.sw.json", &extra).unwrap();
    Flow { dir: tempfile::tempdir().unwrap(), router, id: "subscription_flow".into() }
}

#[tokio::test]
async fn a_new_subscriber_waits_for_the_confirmation_then_is_announced() {
    let (service, sink) = (subscription_service().await, Service::sink().await);
    let flow = newsletter(&service, &sink, "memory");
    let (id, data) = flow.run(&json!({"email": "ada@example.com", "name": "Ada"})).await;
    // Waiting in the callback state: the subscription's result is merged into the data.
    assert_eq!(data["verified"], false, "{data}");
    assert_eq!(data["emailExists"], false);
    let waiting = flow.instance(&id).await;
    assert_eq!(waiting.status, 200);
    assert_eq!(waiting.json()["state"], "SubscribeAndWaitForConfirmation");
    let listed = request(&flow.router, Method::GET, "/subscription_flow", None).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let requests = service.requests();
    assert_eq!((requests[0].method.as_str(), requests[0].path.as_str()), ("GET", "/subscription/verify"));
    assert_eq!(requests[0].query, "email=ada%40example.com");
    assert_eq!((requests[1].method.as_str(), requests[1].path.as_str()), ("POST", "/subscription"));
    assert_eq!(requests[1].body, json!({"email": "ada@example.com", "id": id, "name": "Ada"}));

    let confirmed = flow.event("confirm.subscription", &[("kogitoprocrefid", &id)], &json!({"confirmed": true})).await;
    assert_eq!(confirmed.status, 202, "{}", confirmed.text());
    assert_eq!(flow.instance(&id).await.status, 404);
    let requests = service.requests();
    assert_eq!((requests[2].method.as_str(), requests[2].path.as_str()), ("PUT", "/subscription/confirm"));
    assert_eq!(requests[2].body["id"], json!(id));

    let events = sink.requests();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.header("ce-type"), Some("new.subscription"));
    assert_eq!(event.header("ce-kogitoprocinstanceid"), Some(id.as_str()));
    assert_eq!(event.header("ce-kogitoprocid"), Some("subscription_flow"));
    assert_eq!(event.body["email"], "ada@example.com");
    assert_eq!(event.body["verified"], true);
}

#[tokio::test]
async fn a_known_email_ends_at_once_and_a_declined_subscription_is_deleted() {
    let (service, sink) = (subscription_service().await, Service::sink().await);
    let flow = newsletter(&service, &sink, "memory");
    let (id, data) = flow.run(&json!({"workflowdata": {"email": "known@example.com"}})).await;
    assert_eq!(data["subscribed"], true);
    assert_eq!(flow.instance(&id).await.status, 404);

    let (id, _) = flow.run(&json!({"email": "bob@example.com"})).await;
    let declined = flow.event("confirm.subscription", &[("kogitoprocrefid", &id)], &json!({"confirmed": false})).await;
    assert_eq!(declined.status, 202);
    let last = service.requests().pop().unwrap();
    assert_eq!((last.method.as_str(), last.path), ("DELETE", format!("/subscription/{id}")));
    assert!(sink.requests().is_empty());
}

#[tokio::test]
async fn input_that_fails_the_schema_is_400_naming_the_field() {
    let (service, sink) = (subscription_service().await, Service::sink().await);
    let flow = newsletter(&service, &sink, "memory");
    let missing = flow.start(&json!({"name": "Nobody"})).await;
    assert_eq!(missing.status, 400);
    assert!(missing.error().contains("\"email\" is a required property"), "{}", missing.error());
    let wrong = flow.start(&json!({"email": 3})).await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.error().contains("/email"), "{}", wrong.error());
    assert!(service.requests().is_empty());
}

#[tokio::test]
async fn events_that_nothing_waits_for_are_refused_with_422() {
    let (service, sink) = (subscription_service().await, Service::sink().await);
    let flow = newsletter(&service, &sink, "memory");
    let unknown_instance = flow.event("confirm.subscription", &[("kogitoprocrefid", "nope")], &json!({})).await;
    assert_eq!(unknown_instance.status, 422);
    assert!(unknown_instance.error().contains("kogitoprocrefid nope"), "{}", unknown_instance.error());
    let unknown_type = flow.event("other.type", &[], &json!({})).await;
    assert_eq!(unknown_type.status, 422);
    assert!(unknown_type.error().contains("consumes no event of type \"other.type\""), "{}", unknown_type.error());
    let uncorrelated = flow.event("confirm.subscription", &[], &json!({})).await;
    assert_eq!(uncorrelated.status, 422);
}

#[tokio::test]
async fn a_waiting_instance_survives_a_restart_with_the_sqlite_store() {
    let (service, sink) = (subscription_service().await, Service::sink().await);
    let db = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", db.path().join("wf.db").display());
    let id = {
        let flow = newsletter(&service, &sink, &store);
        flow.run(&json!({"email": "cy@example.com", "name": "Cy"})).await.0
    };
    // A new function on the same database: the instance still waits, and resumes.
    let flow = newsletter(&service, &sink, &store);
    let waiting: Value = flow.instance(&id).await.json();
    assert_eq!(waiting["status"], "waiting");
    assert_eq!(waiting["workflowdata"]["name"], "Cy");
    let confirmed = flow.event("confirm.subscription", &[("kogitoprocrefid", &id)], &json!({"confirmed": true})).await;
    assert_eq!(confirmed.status, 202, "{}", confirmed.text());
    assert_eq!(flow.instance(&id).await.status, 404);
    assert_eq!(sink.requests().len(), 1);
}

#[tokio::test]
async fn unknown_workflows_and_instances_are_404_and_delete_aborts() {
    let (service, sink) = (subscription_service().await, Service::sink().await);
    let flow = newsletter(&service, &sink, "memory");
    let other = request(&flow.router, Method::POST, "/other", Some(&json!({}))).await;
    assert_eq!(other.status, 404);
    assert!(other.error().contains("subscription_flow"), "{}", other.error());
    let (id, _) = flow.run(&json!({"email": "dee@example.com"})).await;
    let aborted = request(&flow.router, Method::DELETE, &format!("/subscription_flow/{id}"), None).await;
    assert_eq!(aborted.status, 200);
    assert_eq!(aborted.json()["id"], json!(id));
    assert_eq!(flow.instance(&id).await.status, 404);
    let again = request(&flow.router, Method::DELETE, &format!("/subscription_flow/{id}"), None).await;
    assert_eq!(again.status, 404);
}
