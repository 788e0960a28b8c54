//! Router tests: each dialect, overrides, errors, start-up checks.

use fnmesh_testkit::{CeRequest, broken_requests, call};
use http::StatusCode;
use serde_json::json;

use super::*;

fn transformer(env: &[(&str, &str)]) -> Router {
    let env = Env::from_pairs(env.iter().copied()).with("FNMESH_EVAL_WORKERS", "2");
    SPEC.build(&env, Console::null()).unwrap().0
}

fn start_error(env: &[(&str, &str)]) -> String {
    SPEC.build(&Env::from_pairs(env.iter().copied()), Console::null()).unwrap_err().to_string()
}

fn order() -> CeRequest {
    CeRequest::binary()
        .header("ce-type", "order.created")
        .header("ce-time", "2020-09-14T14:50:00Z")
        .header("ce-flow", "demo")
        .json(&json!({"id": 7, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]}))
}

#[tokio::test]
async fn the_docs_javascript_transformer_replaces_the_data() {
    let router = transformer(&[("TRANSFORMER", r#"({"message": "we are even!"})"#)]);
    let answer = call(&router, &order()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"message": "we are even!"}));
    assert_eq!(answer.header("content-type"), "application/json");
    for (header, value) in
        [("ce-id", "1"), ("ce-type", "order.created"), ("ce-flow", "demo"), ("ce-time", "2020-09-14T14:50:00Z")]
    {
        assert_eq!(answer.header(header), value, "{header} kept");
    }
}

#[tokio::test]
async fn javascript_computes_from_the_event_and_overrides_type_and_source() {
    let router = transformer(&[
        ("TRANSFORMER", "({count: event.data.items.reduce((n, i) => n + i.qty, 0), flow: event.flow})"),
        ("TYPE", "order.counted"),
        ("SOURCE", "/transformer"),
    ]);
    let answer = call(&router, &order()).await;
    assert_eq!(answer.json(), json!({"count": 3, "flow": "demo"}));
    assert_eq!((answer.header("ce-type"), answer.header("ce-source")), ("order.counted", "/transformer"));
}

#[tokio::test]
async fn undefined_removes_the_data_and_throwing_is_422() {
    let router = transformer(&[("TRANSFORMER", "event.data.items.length > 5 ? 1 : undefined")]);
    let answer = call(&router, &order()).await;
    assert_eq!((answer.status, answer.body.is_empty()), (StatusCode::OK, true));
    assert!(answer.headers.get("content-type").is_none());
    let thrower = transformer(&[("TRANSFORMER", "event.data.nothing.at.all")]);
    let answer = call(&thrower, &order()).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.error().starts_with("TRANSFORMER threw: TypeError"), "{}", answer.error());
}

#[tokio::test]
async fn jsonpath_templates_fill_from_the_event() {
    let router = transformer(&[(
        "TRANSFORMER_JSONPATH",
        r#"{"order": "$.data.id", "skus": "$.data.items[*].sku", "kind": "$.type", "price": "$$10"}"#,
    )]);
    let answer = call(&router, &order()).await;
    assert_eq!(answer.json(), json!({"order": 7, "skus": ["a", "b"], "kind": "order.created", "price": "$10"}));
}

#[tokio::test]
async fn structured_requests_get_structured_replies() {
    let router = transformer(&[("TRANSFORMER", "({id: event.id})")]);
    let request = CeRequest::structured(
        &json!({"specversion": "1.0", "id": "s1", "source": "/s", "type": "t", "data": {"a": 1}}),
    );
    let answer = call(&router, &request).await;
    assert_eq!(answer.header("content-type"), "application/cloudevents+json");
    assert_eq!(answer.json()["data"], json!({"id": "s1"}));
}

#[tokio::test]
async fn broken_requests_get_json_errors() {
    let router = transformer(&[("TRANSFORMER", "1"), ("FNMESH_BODY_LIMIT", "1024")]);
    for case in broken_requests(1024) {
        let answer = call(&router, &case.request).await;
        assert_eq!(answer.status, case.status, "{}: {}", case.name, answer.text());
        assert!(answer.error().contains(case.mentions), "{}: {}", case.name, answer.error());
    }
}

#[test]
fn start_up_errors_name_the_variables() {
    assert!(start_error(&[]).starts_with("TRANSFORMER, TRANSFORMER_JQ, TRANSFORMER_JSONPATH: set exactly one"));
    let js = start_error(&[("TRANSFORMER", "({a: })")]);
    assert!(js.starts_with("TRANSFORMER: JavaScript syntax error at line 1, column "), "{js}");
    let template = start_error(&[("TRANSFORMER_JSONPATH", r#"{"a": "$.["}"#)]);
    assert!(template.starts_with("TRANSFORMER_JSONPATH: at /a: invalid JSONPath"), "{template}");
}
