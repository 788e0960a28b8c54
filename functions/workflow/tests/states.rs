//! Every state type and data filter, with `expression` functions so that no service
//! is needed: operation (sequential, parallel), inject, switch (data, events, default,
//! eventTimeout), sleep, event (start, exclusive or not, correlation), parallel
//! (allOf, atLeast), foreach; state, action and event data filters; `$WORKFLOW`,
//! `$CONST`, `$SECRET`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flow;
use serde_json::{Value, json};

fn functions() -> Value {
    json!([
        {"name": "double", "type": "expression", "operation": "{n: (.n * 2)}"},
        {"name": "add", "type": "expression", "operation": "${ {sum: (.a + .b)} }"},
        {"name": "tag", "type": "expression", "operation": "{tags: ((.tags // []) + [.tag])}"},
        {"name": "square", "type": "expression", "operation": "{square: (.x * .x)}"},
        {"name": "hang", "type": "custom", "operation": "rest:get:http://127.0.0.1:9/never"}
    ])
}

fn workflow(states: Value) -> Value {
    json!({"id": "w", "specVersion": "0.8", "functions": functions(), "states": states})
}

#[tokio::test]
async fn operation_inject_and_switch_with_filters_and_variables() {
    let definition = json!({
        "id": "w", "specVersion": "0.8", "functions": functions(),
        "constants": {"limit": 10}, "secrets": ["API_KEY"],
        "states": [
            {"name": "Prepare", "type": "inject", "data": {"a": 1, "b": 2, "noise": true},
             "stateDataFilter": {"output": "${ del(.noise) }"}, "transition": "Compute"},
            {"name": "Compute", "type": "operation", "actionMode": "sequential",
             "stateDataFilter": {"input": "${ {a, b, n: 5} }"},
             "actions": [
                {"functionRef": "add"},
                {"functionRef": {"refName": "double"}, "actionDataFilter": {"toStateData": "${ .doubled }"}},
                {"functionRef": "double", "actionDataFilter": {"useResults": false}},
                {"functionRef": {"refName": "add", "arguments": {"a": "${ .sum }", "b": "${ $CONST.limit }"}},
                 "actionDataFilter": {"results": "${ .sum }", "toStateData": ".withLimit"}},
                {"functionRef": {"refName": "tag", "arguments": {"tag": "$WORKFLOW.instanceId"}},
                 "actionDataFilter": {"fromStateData": "${ {} }"}},
                {"functionRef": {"refName": "tag", "arguments": {"tag": "${ $SECRET.API_KEY }"}},
                 "condition": "${ .sum > 100 }"}
             ],
             "transition": "Route"},
            {"name": "Route", "type": "switch",
             "dataConditions": [
                {"condition": "${ .withLimit > 100 }", "transition": "Big"},
                {"name": "small", "condition": "${ .withLimit > 10 }", "transition": "Small"}
             ],
             "defaultCondition": {"end": true}},
            {"name": "Big", "type": "inject", "data": {"size": "big"}, "end": true},
            {"name": "Small", "type": "inject", "data": {"size": "small"}, "end": true}
        ]
    });
    let flow = flow(&definition, &[], &[("API_KEY", "s3cret")]);
    let (id, data) = flow.run(&json!({"ignored": true})).await;
    assert_eq!(
        data,
        json!({"a": 1, "b": 2, "n": 5, "sum": 3, "doubled": {"n": 10}, "withLimit": 13, "tags": [id], "size": "small"})
    );
    assert_eq!(flow.instance(&id).await.status, 404, "an ended instance is gone");
}

#[tokio::test]
async fn parallel_actions_and_branches_merge_and_at_least_stops_waiting() {
    let definition = workflow(json!([
        {"name": "Both", "type": "operation", "actionMode": "parallel",
         "actions": [{"functionRef": "double"}, {"functionRef": "square"}],
         "transition": "Branches"},
        {"name": "Branches", "type": "parallel", "completionType": "allOf",
         "branches": [
            {"name": "one", "actions": [{"functionRef": "add", "actionDataFilter": {"toStateData": ".fromOne"}}]},
            {"name": "two", "actions": [{"functionRef": "add", "actionDataFilter": {"toStateData": ".fromTwo"}}]}
         ],
         "transition": "First"},
        {"name": "First", "type": "parallel", "completionType": "atLeast", "numCompleted": "1",
         "branches": [
            {"name": "fast", "actions": [{"functionRef": "square", "actionDataFilter": {"toStateData": ".fast"}}]},
            {"name": "slow", "actions": [{"functionRef": "square", "sleep": {"before": "PT60S"},
                "actionDataFilter": {"toStateData": ".slow"}}]}
         ],
         "end": true}
    ]));
    let flow = flow(&definition, &[], &[]);
    let (_, data) = flow.run(&json!({"n": 2, "x": 3, "a": 1, "b": 1})).await;
    assert_eq!(data["n"], 4);
    assert_eq!(data["square"], 9);
    assert_eq!(data["fromOne"], json!({"sum": 2}));
    assert_eq!(data["fromTwo"], json!({"sum": 2}));
    assert_eq!(data["fast"], json!({"square": 9}));
    assert!(data.get("slow").is_none(), "{data}");
}

#[tokio::test]
async fn foreach_collects_outputs_in_order_in_batches_and_sequentially() {
    let definition = workflow(json!([
        {"name": "Each", "type": "foreach", "inputCollection": "${ .numbers }", "iterationParam": "num",
         "outputCollection": "${ .squares }", "batchSize": 2,
         "actions": [{"functionRef": {"refName": "square", "arguments": {"x": "${ $num }"}}}],
         "transition": "Again"},
        {"name": "Again", "type": "foreach", "inputCollection": ".numbers", "mode": "sequential",
         "outputCollection": ".doubled",
         "actions": [{"functionRef": {"refName": "double", "arguments": {"n": "${ .item }"}}}],
         "end": true}
    ]));
    let flow = flow(&definition, &[], &[]);
    let (_, data) = flow.run(&json!({"numbers": [1, 2, 3]})).await;
    assert_eq!(data["squares"], json!([{"square": 1}, {"square": 4}, {"square": 9}]));
    assert_eq!(data["doubled"], json!([{"n": 2}, {"n": 4}, {"n": 6}]));
    assert_eq!(data["numbers"], json!([1, 2, 3]));
}

#[tokio::test]
async fn a_sleep_state_waits_then_goes_on() {
    let definition = workflow(json!([
        {"name": "Nap", "type": "sleep", "duration": "PT0.05S", "transition": "After"},
        {"name": "After", "type": "inject", "data": {"woke": true}, "end": true}
    ]));
    let flow = flow(&definition, &[], &[]);
    let (id, _) = flow.run(&json!({})).await;
    flow.until_ended(&id).await;
}

fn event_workflow() -> Value {
    json!({
        "id": "orders", "specVersion": "0.8", "functions": functions(),
        "events": [
            {"name": "Placed", "type": "order.placed", "correlation": [{"contextAttributeName": "orderid"}]},
            {"name": "Paid", "type": "order.paid", "correlation": [{"contextAttributeName": "orderid"}]},
            {"name": "Packed", "type": "order.packed", "correlation": [{"contextAttributeName": "orderid"}]},
            {"name": "Cancelled", "type": "order.cancelled", "correlation": [{"contextAttributeName": "orderid"}]},
            {"name": "Shipped", "type": "order.shipped", "kind": "produced"}
        ],
        "states": [
            {"name": "OnPlaced", "type": "event",
             "onEvents": [{"eventRefs": ["Placed"], "eventDataFilter": {"toStateData": ".order"},
                "actions": [{"functionRef": {"refName": "tag", "arguments": {"tag": "placed"}}}]}],
             "transition": "PaidAndPacked"},
            {"name": "PaidAndPacked", "type": "event", "exclusive": false,
             "onEvents": [
                {"eventRefs": ["Paid"], "eventDataFilter": {"data": "${ .amount }", "toStateData": ".paid"}},
                {"eventRefs": ["Packed"], "eventDataFilter": {"useData": false}}
             ],
             "transition": "PaidOrCancelled"},
            {"name": "PaidOrCancelled", "type": "switch",
             "eventConditions": [
                {"eventRef": "Cancelled", "transition": "Cancel"},
                {"eventRef": "Placed", "eventDataFilter": {"toStateData": ".again"}, "end": true}
             ],
             "timeouts": {"eventTimeout": "PT0.05S"},
             "defaultCondition": {"transition": "Ship"}},
            {"name": "Ship", "type": "inject", "data": {"shipped": true},
             "end": {"produceEvents": [{"eventRef": "Shipped", "data": "${ {order: .order.id} }"}]}},
            {"name": "Cancel", "type": "inject", "data": {"cancelled": true}, "end": true}
        ]
    })
}

#[tokio::test]
async fn event_states_start_on_an_event_correlate_and_wait_for_all() {
    let sink = common::Service::sink().await;
    let flow = flow(&event_workflow(), &[], &[("K_SINK", &sink.url)]);
    let placed = flow.event("order.placed", &[("orderid", "o1")], &json!({"id": "o1"})).await;
    assert_eq!(placed.status, 202, "{}", placed.text());
    let listed = common::request(&flow.router, http::Method::GET, "/orders", None).await.json();
    let instance = listed[0].clone();
    let id = instance["id"].as_str().unwrap().to_owned();
    assert_eq!(instance["state"], "PaidAndPacked");
    assert_eq!(instance["workflowdata"]["order"], json!({"id": "o1"}));
    assert_eq!(instance["workflowdata"]["tags"], json!(["placed"]));

    // Another order's events do not move this one.
    let other = flow.event("order.paid", &[("orderid", "o2")], &json!({"amount": 1})).await;
    assert_eq!(other.status, 422);
    let paid = flow.event("order.paid", &[("orderid", "o1")], &json!({"amount": 30})).await;
    assert_eq!(paid.status, 202);
    assert_eq!(flow.instance(&id).await.json()["state"], "PaidAndPacked", "non-exclusive: waits for Packed too");
    let packed = flow.event("order.packed", &[("orderid", "o1")], &json!({"box": 1})).await;
    assert_eq!(packed.status, 202);
    // Now in the switch, waiting for Cancelled; its eventTimeout takes the default.
    flow.until_ended(&id).await;
    let events = sink.requests();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].header("ce-type"), Some("order.shipped"));
    assert_eq!(events[0].header("ce-kogitoprocinstanceid"), Some(id.as_str()));
    assert_eq!(events[0].body, json!({"order": "o1"}));
}

#[tokio::test]
async fn a_switch_takes_the_event_that_comes() {
    let mut definition = event_workflow();
    definition["states"][2]["timeouts"]["eventTimeout"] = json!("PT60S");
    let flow = flow(&definition, &[], &[]);
    flow.event("order.placed", &[("orderid", "o9")], &json!({"id": "o9"})).await;
    let id = common::request(&flow.router, http::Method::GET, "/orders", None).await.json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    flow.event("order.paid", &[("kogitoprocrefid", &id)], &json!({"amount": 1})).await;
    flow.event("order.packed", &[("kogitoprocrefid", &id)], &json!({})).await;
    assert_eq!(flow.instance(&id).await.json()["state"], "PaidOrCancelled");
    let cancelled = flow.event("order.cancelled", &[("orderid", "o9")], &json!({})).await;
    assert_eq!(cancelled.status, 202);
    assert_eq!(flow.instance(&id).await.status, 404);
}
