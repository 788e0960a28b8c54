//! Function types: `rest` through an OpenAPI document (path, query, header and body
//! parameters; the base URL from `application.properties`, the variable Quarkus derives,
//! or `servers`), Kogito's `custom` `rest:METHOD:URL` and
//! `knative:services.v1.serving.knative.dev/NAME` (through `FNMESH_INGRESS`), and
//! produced events as actions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Recorded, Service, flow};
use serde_json::json;

async fn echo() -> Service {
    Service::start(|request: &Recorded, _| {
        (
            200,
            json!({"method": request.method, "path": request.path, "query": request.query,
                     "key": request.header("x-api-key"), "host": request.header("host"), "body": request.body}),
        )
    })
    .await
}

const OPENAPI: &str = r#"
openapi: 3.0.3
info: {title: pets, version: "1"}
servers: [{url: "http://127.0.0.1:9/from-servers"}]
paths:
  /pets/{petId}:
    parameters: [{name: petId, in: path, required: true}]
    put:
      operationId: updatePet
      parameters:
        - {name: verbose, in: query}
        - {name: x-api-key, in: header}
      requestBody: {content: {application/json: {}}}
"#;

fn pets(operation_file: &str) -> serde_json::Value {
    json!({
        "id": "pets", "specVersion": "0.8",
        "functions": [{"name": "update", "operation": format!("{operation_file}#updatePet")}],
        "states": [{"name": "Update", "type": "operation",
            "actions": [{"functionRef": {"refName": "update", "arguments":
                {"petId": "${ .id }", "verbose": true, "x-api-key": "k1", "name": "${ .name }", "tags": ["a"]}},
                "actionDataFilter": {"toStateData": ".reply"}}],
            "end": true}]
    })
}

#[tokio::test]
async fn openapi_operations_get_path_query_header_and_body_from_the_arguments() {
    let service = echo().await;
    let properties = "quarkus.rest-client.pets_yaml.url=${PETS_URL:http://127.0.0.1:9}/v1\n";
    let flow = flow(
        &pets("specs/pets.yaml"),
        &[("specs/pets.yaml", OPENAPI), ("application.properties", properties)],
        &[("PETS_URL", &service.url)],
    );
    let (_, data) = flow.run(&json!({"id": "p 1", "name": "Rex"})).await;
    let reply = &data["reply"];
    assert_eq!(reply["method"], "PUT");
    assert_eq!(reply["path"], "/v1/pets/p%201");
    assert_eq!(reply["query"], "verbose=true");
    assert_eq!(reply["key"], "k1");
    assert_eq!(reply["body"], json!({"name": "Rex", "tags": ["a"]}));
}

#[tokio::test]
async fn the_quarkus_variable_overrides_the_properties_and_servers_come_last() {
    let service = echo().await;
    let properties = "quarkus.rest-client.pets_yaml.url=http://127.0.0.1:9\n";
    let with_variable = flow(
        &pets("pets.yaml"),
        &[("pets.yaml", OPENAPI), ("application.properties", properties)],
        &[("QUARKUS_REST_CLIENT_PETS_YAML_URL", &service.url)],
    );
    let (_, data) = with_variable.run(&json!({"id": "1"})).await;
    assert_eq!(data["reply"]["path"], "/pets/1");

    let servers = OPENAPI.replace("http://127.0.0.1:9/from-servers", &format!("{}/from-servers", service.url));
    let from_servers = flow(&pets("pets.yaml"), &[("pets.yaml", &servers)], &[]);
    let (_, data) = from_servers.run(&json!({"id": "2"})).await;
    assert_eq!(data["reply"]["path"], "/from-servers/pets/2");
}

#[tokio::test]
async fn custom_rest_and_knative_functions() {
    let service = echo().await;
    let definition = json!({
        "id": "custom", "specVersion": "0.8",
        "functions": [
            {"name": "get", "type": "custom", "operation": format!("rest:get:{}/items/{{id}}", service.url)},
            {"name": "post", "type": "custom", "operation": format!("rest:post:{}/items", service.url)},
            {"name": "greeter", "type": "custom",
             "operation": "knative:services.v1.serving.knative.dev/greeter?path=/hello"},
            {"name": "other", "type": "custom",
             "operation": "knative:services.v1.serving.knative.dev/apps/greeter?path=/x&method=GET"}
        ],
        "states": [{"name": "Calls", "type": "operation", "actions": [
            {"functionRef": {"refName": "get", "arguments": {"id": 7, "full": true}}, "actionDataFilter": {"toStateData": ".get"}},
            {"functionRef": {"refName": "post", "arguments": {"n": "${ .n }"}}, "actionDataFilter": {"toStateData": ".post"}},
            {"functionRef": {"refName": "greeter", "arguments": {"who": "you"}}, "actionDataFilter": {"toStateData": ".kn"}},
            {"functionRef": {"refName": "other", "arguments": {"q": 1}}, "actionDataFilter": {"toStateData": ".kn2"}}
        ], "end": true}]
    });
    let flow = flow(&definition, &[], &[("FNMESH_INGRESS", &service.url), ("WORKFLOW_NAMESPACE", "team")]);
    let (_, data) = flow.run(&json!({"n": 3})).await;
    assert_eq!((data["get"]["method"].as_str(), data["get"]["path"].as_str()), (Some("GET"), Some("/items/7")));
    assert_eq!(data["get"]["query"], "full=true");
    assert_eq!(data["post"]["body"], json!({"n": 3}));
    assert_eq!(data["kn"]["method"], "POST");
    assert_eq!(data["kn"]["path"], "/.fnmesh/hosts/greeter.team.svc.cluster.local/hello");
    assert_eq!(data["kn"]["body"], json!({"who": "you"}));
    assert_eq!(data["kn2"]["method"], "GET");
    assert_eq!(data["kn2"]["path"], "/.fnmesh/hosts/greeter.apps.svc.cluster.local/x");
    assert_eq!(data["kn2"]["query"], "q=1");
}

#[tokio::test]
async fn an_event_action_produces_a_cloudevent_with_its_attributes() {
    let sink = Service::sink().await;
    let definition = json!({
        "id": "notify", "version": "2.0", "specVersion": "0.8",
        "events": [{"name": "Note", "type": "note.sent", "source": "/notes", "kind": "produced"}],
        "states": [{"name": "Send", "type": "operation", "actions": [{"eventRef": {"produceEventRef": "Note",
            "data": "${ {text: .text} }", "contextAttributes": {"audience": "${ .who }"}}}], "end": true}]
    });
    let flow = flow(&definition, &[], &[("K_SINK", &sink.url)]);
    let (id, data) = flow.run(&json!({"text": "hi", "who": "all"})).await;
    assert_eq!(data, json!({"text": "hi", "who": "all"}));
    let event = &sink.requests()[0];
    assert_eq!(event.header("ce-type"), Some("note.sent"));
    assert_eq!(event.header("ce-source"), Some("/notes"));
    assert_eq!(event.header("ce-audience"), Some("all"));
    assert_eq!(event.header("ce-kogitoprocinstanceid"), Some(id.as_str()));
    assert_eq!(event.header("ce-kogitoprocversion"), Some("2.0"));
    assert_eq!(event.body, json!({"text": "hi"}));
}
