//! An invalid definition stops the function at start with the path of each problem;
//! YAML definitions and parts kept in files load as JSON ones do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::start_error;
use serde_json::json;

#[test]
fn every_problem_is_reported_with_its_path() {
    let definition = json!({
        "id": "bad", "specVersion": "0.8",
        "functions": [{"name": "f", "type": "expression", "operation": ".a +"}],
        "events": [{"name": "Out", "type": "out", "kind": "produced"}],
        "errors": [{"name": "E", "code": "500"}],
        "states": [
            {"name": "A", "type": "operation", "actions": [{"functionRef": "missing"}], "transition": "B"},
            {"name": "B", "type": "switch", "dataConditions": [{"condition": "${ .x == }", "transition": "x"}]},
            {"name": "C", "type": "callback", "action": {"functionRef": "f", "retryRef": "nope"},
             "eventRef": "Out", "timeouts": {"eventTimeout": "3 minutes"}, "end": true},
            {"name": "D", "type": "sleep", "duration": "PT1S", "onErrors": [{"errorRef": "Nope", "end": true}],
             "compensatedBy": "A"},
            {"name": "A", "type": "inject", "data": {}, "end": true}
        ]
    });
    let error = start_error(&definition, &[]);
    assert!(error.starts_with("WORKFLOW_FILE: "), "{error}");
    for expected in [
        "states[4].name: \"A\" is used by another state",
        "functions[0].operation: invalid expression \".a +\"",
        "states[0].actions[0].functionRef: no function named \"missing\"",
        "states[1].dataConditions[0].condition: invalid expression \".x ==\"",
        "states[1].dataConditions[0].transition: no state named \"x\"",
        "states[2].action.retryRef: no retry policy named \"nope\"",
        "states[2].eventRef: event \"Out\" is not consumed",
        "states[2].timeouts.eventTimeout: \"3 minutes\" is not an ISO 8601 duration",
        "states[3].onErrors[0].errorRef: no error named \"Nope\"",
        "states[3]: needs a transition or an end",
        "states[3].compensatedBy: state \"A\" must have usedForCompensation: true",
    ] {
        assert!(error.contains(expected), "missing {expected:?} in {error}");
    }
}

#[test]
fn shape_errors_name_the_field_and_missing_files_name_the_file() {
    let error = start_error(&json!({"id": "x", "states": [{"name": "A", "type": "teleport", "end": true}]}), &[]);
    assert!(error.contains("states[0]") && error.contains("teleport"), "{error}");
    let error = start_error(
        &json!({"id": "x", "functions": [{"name": "f", "operation": "specs/none.yaml#op"}],
                "states": [{"name": "A", "type": "operation", "actions": [{"functionRef": "f"}], "end": true}]}),
        &[],
    );
    assert!(error.contains("functions[0].operation: ") && error.contains("none.yaml: cannot read"), "{error}");
    let openapi = "openapi: 3.0.3\npaths: {/a: {get: {operationId: other}}}\n";
    let error = start_error(
        &json!({"id": "x", "functions": [{"name": "f", "operation": "api.yaml#op"}],
                "states": [{"name": "A", "type": "operation", "actions": [{"functionRef": "f"}], "end": true}]}),
        &[("api.yaml", openapi)],
    );
    assert!(error.contains("api.yaml has no operation with operationId \"op\""), "{error}");
    let error = start_error(
        &json!({"id": "x", "specVersion": "0.7", "states": [{"name": "A", "type": "inject", "data": {}, "end": true}]}),
        &[],
    );
    assert!(error.contains("specVersion: \"0.7\" is not supported"), "{error}");
}

#[tokio::test]
async fn yaml_definitions_with_parts_in_files_run() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = r#"
id: hello
specVersion: "0.8"
functions: functions.json
constants: {greeting: Hello}
states:
  - name: Greet
    type: operation
    actions:
      - functionRef:
          refName: greet
          arguments: {name: "${ .name }"}
    end: true
"#;
    std::fs::write(dir.path().join("hello.sw.yaml"), yaml).unwrap();
    let functions = json!({"functions": [{"name": "greet", "type": "expression", "operation": "{text: ($CONST.greeting + \" \" + .name)}"}]});
    std::fs::write(dir.path().join("functions.json"), functions.to_string()).unwrap();
    let router = common::start(dir.path(), "hello.sw.yaml", &[]).unwrap();
    let answer = common::request(&router, http::Method::POST, "/hello", Some(&json!({"name": "Ada"}))).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.json()["workflowdata"]["text"], "Hello Ada");
}
