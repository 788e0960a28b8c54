//! Error handling and timeouts: `onErrors` by the error's code (an HTTP status, as
//! SonataFlow matches them; `timeout`), unhandled errors, `retries` with
//! `retryableErrors`/`nonRetryableErrors`, compensation in reverse order, and
//! `actionExecTimeout`, `stateExecTimeout`, `branchExecTimeout`, `eventTimeout`,
//! `workflowExecTimeout`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{HANG, Recorded, Service, flow};
use serde_json::{Value, json};

/// A service whose path says what to answer: `/status/404`, `/flaky` (503 twice, then
/// 200), `/hang`, anything else `200 {"ok": true}`.
async fn service() -> Service {
    Service::start(|request: &Recorded, count| {
        if let Some(code) = request.path.strip_prefix("/status/") {
            return (code.parse().unwrap(), json!({"error": "as asked"}));
        }
        match request.path.as_str() {
            "/flaky" if count < 2 => (503, json!({"error": "busy"})),
            "/hang" => (HANG, json!({})),
            _ => (200, json!({"ok": true, "path": request.path})),
        }
    })
    .await
}

fn definition(service: &Service, states: Value) -> Value {
    let url = &service.url;
    json!({
        "id": "e", "specVersion": "0.8",
        "functions": [
            {"name": "notFound", "type": "custom", "operation": format!("rest:get:{url}/status/404")},
            {"name": "badRequest", "type": "custom", "operation": format!("rest:get:{url}/status/400")},
            {"name": "flaky", "type": "custom", "operation": format!("rest:get:{url}/flaky")},
            {"name": "hang", "type": "custom", "operation": format!("rest:get:{url}/hang")},
            {"name": "reserve", "type": "custom", "operation": format!("rest:post:{url}/reserve/{{item}}")},
            {"name": "release", "type": "custom", "operation": format!("rest:post:{url}/release/{{item}}")},
            {"name": "fail", "type": "custom", "operation": format!("rest:post:{url}/status/500")}
        ],
        "errors": [
            {"name": "NotFound", "code": "404"},
            {"name": "BadRequest", "code": "400"},
            {"name": "Unavailable", "code": "503"},
            {"name": "Timeout", "code": "timeout"},
            {"name": "Any", "code": "java.lang.RuntimeException"}
        ],
        "retries": [{"name": "quick", "delay": "PT0.01S", "multiplier": 2, "maxAttempts": 3, "jitter": 0.1}],
        "states": states
    })
}

fn recovered() -> Value {
    json!({"name": "Recovered", "type": "inject", "data": {"recovered": true}, "end": true})
}

#[tokio::test]
async fn on_errors_match_the_http_status_and_unhandled_errors_stop_the_instance() {
    let service = service().await;
    let flow = flow(
        &definition(
            &service,
            json!([
                {"name": "Call", "type": "operation", "actions": [{"functionRef": "notFound"}],
                 "onErrors": [{"errorRef": "BadRequest", "end": true}, {"errorRefs": ["NotFound"], "transition": "Recovered"}],
                 "transition": "Never"},
                {"name": "Never", "type": "operation", "actions": [{"functionRef": "badRequest"}], "end": true},
                recovered()
            ]),
        ),
        &[],
        &[],
    );
    let (_, data) = flow.run(&json!({"in": 1})).await;
    assert_eq!(data, json!({"in": 1, "recovered": true}));

    let unhandled = common::flow(
        &definition(
            &service,
            json!([{"name": "Call", "type": "operation", "actions": [{"functionRef": "badRequest"}], "end": true}]),
        ),
        &[],
        &[],
    );
    let answer = unhandled.start(&json!({})).await;
    assert_eq!(answer.status, 422);
    let error = answer.error();
    assert!(error.contains("failed in state \"Call\"") && error.contains("400"), "{error}");
    let listed = common::request(&unhandled.router, http::Method::GET, "/e", None).await.json();
    assert_eq!(listed[0]["status"], "error");
    assert!(listed[0]["error"].as_str().unwrap().contains("(400)"), "{listed}");
}

#[tokio::test]
async fn retries_repeat_retryable_errors_only() {
    let service = service().await;
    let flow = flow(
        &definition(
            &service,
            json!([
                {"name": "Flaky", "type": "operation",
                 "actions": [{"functionRef": "flaky", "retryRef": "quick", "nonRetryableErrors": ["BadRequest"]}],
                 "transition": "NoRetry"},
                {"name": "NoRetry", "type": "operation",
                 "actions": [{"functionRef": "badRequest", "retryRef": "quick", "retryableErrors": ["Unavailable"]}],
                 "onErrors": [{"errorRef": "Any", "transition": "Recovered"}],
                 "end": true},
                recovered()
            ]),
        ),
        &[],
        &[],
    );
    let (_, data) = flow.run(&json!({})).await;
    assert_eq!(data["recovered"], true);
    assert_eq!(data["path"], "/flaky");
    let paths: Vec<String> = service.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/flaky", "/flaky", "/flaky", "/status/400"]);
}

#[tokio::test]
async fn compensation_runs_the_compensating_states_in_reverse_order() {
    let service = service().await;
    let undo = |name: &str, item: &str| {
        json!({"name": name, "type": "operation", "usedForCompensation": true,
               "actions": [{"functionRef": {"refName": "release", "arguments": {"item": item}}}], "end": true})
    };
    let flow = flow(
        &definition(
            &service,
            json!([
                {"name": "Flight", "type": "operation", "compensatedBy": "UndoFlight",
                 "actions": [{"functionRef": {"refName": "reserve", "arguments": {"item": "flight"}}}], "transition": "Hotel"},
                {"name": "Hotel", "type": "operation", "compensatedBy": "UndoHotel",
                 "actions": [{"functionRef": {"refName": "reserve", "arguments": {"item": "hotel"}}}], "transition": "Pay"},
                {"name": "Pay", "type": "operation", "actions": [{"functionRef": "fail"}],
                 "onErrors": [{"errorRef": "Any", "end": {"compensate": true}}], "end": true},
                undo("UndoFlight", "flight"),
                undo("UndoHotel", "hotel")
            ]),
        ),
        &[],
        &[],
    );
    let (id, _) = flow.run(&json!({})).await;
    assert_eq!(flow.instance(&id).await.status, 404);
    let calls: Vec<String> = service.requests().into_iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        calls,
        [
            "POST /reserve/flight",
            "POST /reserve/hotel",
            "POST /status/500",
            "POST /release/hotel",
            "POST /release/flight"
        ]
    );
}

#[tokio::test]
async fn action_state_and_branch_timeouts_are_errors_with_code_timeout() {
    let service = service().await;
    let flow = flow(
        &definition(
            &service,
            json!([
                {"name": "Action", "type": "operation", "timeouts": {"actionExecTimeout": "PT0.05S"},
                 "actions": [{"functionRef": "hang"}],
                 "onErrors": [{"errorRef": "Timeout", "transition": "State"}], "end": true},
                {"name": "State", "type": "operation", "timeouts": {"stateExecTimeout": "PT0.05S"},
                 "actions": [{"functionRef": "hang"}],
                 "onErrors": [{"errorRef": "Timeout", "transition": "Branch"}], "end": true},
                {"name": "Branch", "type": "parallel",
                 "branches": [{"name": "b", "timeouts": {"branchExecTimeout": "PT0.05S"}, "actions": [{"functionRef": "hang"}]}],
                 "onErrors": [{"errorRef": "Timeout", "transition": "Recovered"}], "end": true},
                recovered()
            ]),
        ),
        &[],
        &[],
    );
    let (_, data) = flow.run(&json!({})).await;
    assert_eq!(data["recovered"], true);
    assert_eq!(service.requests().len(), 3);
}

#[tokio::test]
async fn event_and_workflow_timeouts() {
    let service = service().await;
    let mut with_events = definition(
        &service,
        json!([
            {"name": "Ask", "type": "callback", "action": {"functionRef": "flaky", "retryRef": "quick"},
             "eventRef": "Answer", "timeouts": {"eventTimeout": "PT0.05S"},
             "onErrors": [{"errorRef": "Timeout", "transition": "Recovered"}], "transition": "Recovered"},
            recovered()
        ]),
    );
    with_events["events"] = json!([{"name": "Answer", "type": "answer"}]);
    let flow_a = flow(&with_events, &[], &[]);
    let (id, _) = flow_a.run(&json!({})).await;
    flow_a.until_ended(&id).await;

    let mut slow = definition(&service, json!([{"name": "Nap", "type": "sleep", "duration": "PT60S", "end": true}]));
    slow["timeouts"] = json!({"workflowExecTimeout": {"duration": "PT0.05S"}});
    let flow_b = flow(&slow, &[], &[]);
    let (id, _) = flow_b.run(&json!({})).await;
    let failed = flow_b.until_status(&id, "error").await;
    assert!(failed["error"].as_str().unwrap().contains("workflowExecTimeout"), "{failed}");
}
