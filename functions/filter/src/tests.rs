//! Router tests: each dialect passing and rejecting, errors, start-up checks.

use fnmesh_testkit::{CeRequest, broken_requests, call};
use http::StatusCode;
use serde_json::json;

use super::*;

fn filter(env: &[(&str, &str)]) -> Router {
    let env = Env::from_pairs(env.iter().copied()).with("FNMESH_EVAL_WORKERS", "2");
    SPEC.build(&env, Console::null()).unwrap().0
}

fn start_error(env: &[(&str, &str)]) -> String {
    SPEC.build(&Env::from_pairs(env.iter().copied()), Console::null()).unwrap_err().to_string()
}

fn at(minute: u32) -> CeRequest {
    CeRequest::binary()
        .header("ce-time", &format!("2020-09-14T14:{minute:02}:00Z"))
        .header("ce-myext", "yes")
        .json(&json!({"message": "hello", "items": [{"id": 1}, {"id": 2}]}))
}

async fn passes(router: &Router, request: &CeRequest) -> bool {
    let answer = call(router, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    if answer.body.is_empty() {
        assert!(answer.headers.get("ce-id").is_none());
        return false;
    }
    assert_eq!(answer.header("ce-id"), "1");
    assert_eq!(answer.header("ce-myext"), "yes");
    assert_eq!(answer.header("ce-time"), answer.header("ce-time"));
    assert_eq!(answer.json(), json!({"message": "hello", "items": [{"id": 1}, {"id": 2}]}), "data unchanged");
    true
}

#[tokio::test]
async fn the_docs_javascript_filter_passes_even_minutes() {
    let router = filter(&[("FILTER", "Math.round(Date.parse(event.time) / 60000) % 2 === 0")]);
    assert!(passes(&router, &at(50)).await);
    assert!(!passes(&router, &at(51)).await);
}

#[tokio::test]
async fn javascript_sees_extensions_env_and_text_data() {
    let router = filter(&[
        ("FILTER", "event.myext === 'yes' && env.MODE === 'strict'"),
        ("MODE", "strict"),
        ("FNMESH_JS_ENV", "MODE"),
    ]);
    assert!(passes(&router, &at(1)).await);
    let text = filter(&[("FILTER", "event.data.startsWith('plain')")]);
    let request = CeRequest::binary().header("content-type", "text/plain").body("plain text");
    let answer = call(&text, &request).await;
    assert_eq!((answer.status, answer.text()), (StatusCode::OK, "plain text"));
}

#[tokio::test]
async fn a_throwing_or_runaway_expression_fails_that_event_and_the_filter_keeps_serving() {
    let router = filter(&[
        ("FILTER", "event.type === 'spin' ? (() => { while (true) {} })() : event.data.missing.x"),
        ("FNMESH_EVAL_TIMEOUT", "50ms"),
    ]);
    let answer = call(&router, &at(1)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.error().starts_with("FILTER threw: TypeError"), "{}", answer.error());
    let answer = call(&router, &CeRequest::binary().header("ce-type", "spin")).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.error().contains("interrupted after 50ms"), "{}", answer.error());
    let answer = call(&router, &at(1)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "still serving");
}

#[tokio::test]
async fn cesql_filters() {
    let router = filter(&[("FILTER_CESQL", "type = 'test.event' AND myext = 'yes'")]);
    assert!(passes(&router, &at(1)).await);
    let other = filter(&[("FILTER_CESQL", "type LIKE 'order.%'")]);
    assert!(!passes(&other, &at(1)).await);
    let missing = filter(&[("FILTER_CESQL", "nosuchattribute = 'x' OR TRUE")]);
    assert!(!passes(&missing, &at(1)).await, "an evaluation error makes the filter false");
}

#[tokio::test]
async fn jsonpath_filters() {
    let router = filter(&[("FILTER_JSONPATH", "$.data.items[?@.id == 2]")]);
    assert!(passes(&router, &at(1)).await);
    let none = filter(&[("FILTER_JSONPATH", "$.data.items[?@.id == 3]")]);
    assert!(!passes(&none, &at(1)).await);
    let attribute = filter(&[("FILTER_JSONPATH", "$[?@ == 'yes']")]);
    assert!(passes(&attribute, &at(1)).await, "extensions are members of the event");
}

#[tokio::test]
async fn broken_requests_get_json_errors() {
    let router = filter(&[("FILTER", "true"), ("FNMESH_BODY_LIMIT", "1024")]);
    for case in broken_requests(1024) {
        let answer = call(&router, &case.request).await;
        assert_eq!(answer.status, case.status, "{}: {}", case.name, answer.text());
        assert!(answer.error().contains(case.mentions), "{}: {}", case.name, answer.error());
    }
    assert!(passes(&router, &at(1)).await);
}

#[test]
fn start_up_errors_name_the_variables_and_positions() {
    assert_eq!(
        start_error(&[]),
        "FILTER, FILTER_CESQL, FILTER_JSONPATH: set exactly one of these variables; none is set"
    );
    assert_eq!(
        start_error(&[("FILTER", "true"), ("FILTER_CESQL", "TRUE")]),
        "FILTER, FILTER_CESQL: set exactly one of these variables, not several"
    );
    let js = start_error(&[("FILTER", "event.id ==== 1")]);
    assert!(js.starts_with("FILTER: JavaScript syntax error at line 1, column "), "{js}");
    let cesql = start_error(&[("FILTER_CESQL", "type = = 'x'")]);
    assert_eq!(cesql, "FILTER_CESQL: expected a value, found '=' at column 8");
    let jsonpath = start_error(&[("FILTER_JSONPATH", "$[")]);
    assert!(jsonpath.starts_with("FILTER_JSONPATH: invalid JSONPath"), "{jsonpath}");
    let limits = start_error(&[("FILTER", "true"), ("FNMESH_EVAL_TIMEOUT", "never")]);
    assert!(limits.starts_with("FNMESH_EVAL_TIMEOUT: "), "{limits}");
}

#[test]
fn cesql_nesting_is_bounded_by_fnmesh_cesql_depth() {
    let nested = |n: usize| format!("{}TRUE{}", "(".repeat(n), ")".repeat(n));
    // The default bound is 64 levels; FNMESH_CESQL_DEPTH lowers or raises it up to 128.
    let _ = filter(&[("FILTER_CESQL", &nested(60))]);
    let refused = start_error(&[("FILTER_CESQL", &nested(100))]);
    assert!(refused.starts_with("FILTER_CESQL: the expression nests deeper than 64 levels"), "{refused}");
    let _ = filter(&[("FILTER_CESQL", &nested(100)), ("FNMESH_CESQL_DEPTH", "128")]);
    let lowered = start_error(&[("FILTER_CESQL", &nested(5)), ("FNMESH_CESQL_DEPTH", "1")]);
    assert!(lowered.starts_with("FILTER_CESQL: the expression nests deeper than 1 levels"), "{lowered}");
    assert_eq!(
        start_error(&[("FILTER_CESQL", "TRUE"), ("FNMESH_CESQL_DEPTH", "1000")]),
        "FNMESH_CESQL_DEPTH: must be between 1 and 128"
    );
}
