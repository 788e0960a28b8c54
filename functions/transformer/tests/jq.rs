//! `TRANSFORMER_JQ`: the transformer in-process, its jq workers being the built
//! `transformer` binary (`FNMESH_JQ_WORKER`), as in the image where it re-executes itself.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_runtime::{Console, Env};
use fnmesh_testkit::{CeRequest, call};
use fnmesh_transformer::SPEC;
use http::StatusCode;
use serde_json::json;

fn env(program: &str) -> Env {
    Env::from_pairs([
        ("TRANSFORMER_JQ", program),
        ("FNMESH_JQ_WORKER", env!("CARGO_BIN_EXE_transformer")),
        ("FNMESH_EVAL_WORKERS", "1"),
        ("FNMESH_EVAL_TIMEOUT", "2s"),
    ])
}

fn transformer(program: &str) -> axum::Router {
    SPEC.build(&env(program), Console::null()).unwrap_or_else(|e| panic!("{program}: {e}")).0
}

fn order() -> CeRequest {
    CeRequest::binary()
        .header("ce-type", "order.created")
        .header("ce-flow", "demo")
        .json(&json!({"id": 7, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]}))
}

#[tokio::test]
async fn the_single_output_becomes_the_data() {
    let router = transformer("{order: .data.id, units: ([.data.items[].qty] | add), flow: .flow, type: .type}");
    let answer = call(&router, &order()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"order": 7, "units": 3, "flow": "demo", "type": "order.created"}));
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(answer.header("ce-type"), "order.created");
}

#[tokio::test]
async fn zero_or_several_outputs_and_errors_are_422() {
    let several = call(&transformer(".data.items[]"), &order()).await;
    assert_eq!(several.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(several.error().contains("the program gave 2 outputs"), "{}", several.error());
    let none = call(&transformer("empty"), &order()).await;
    assert!(none.error().contains("gave 0 outputs"), "{}", none.error());
    let failed = call(&transformer(".data.id + \"x\""), &order()).await;
    assert_eq!(failed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(failed.error().starts_with("TRANSFORMER_JQ: jq program failed: cannot calculate"), "{}", failed.error());
}

#[tokio::test]
async fn runaway_programs_answer_503_and_the_next_event_works() {
    let router = transformer("if .data.id == 0 then (def f: f; f) else .data.id end");
    let runaway = call(&router, &order().json(&json!({"id": 0}))).await;
    assert_eq!(runaway.status, StatusCode::SERVICE_UNAVAILABLE, "{}", runaway.text());
    assert!(runaway.error().contains("ran longer than 2s"), "{}", runaway.error());
    let fine = call(&router, &order()).await;
    assert_eq!((fine.status, fine.json()), (StatusCode::OK, json!(7)));
}

#[test]
fn start_up_errors_give_the_position() {
    let err = SPEC.build(&env(".data |\n  map(.x"), Console::null()).unwrap_err().to_string();
    assert_eq!(err, "TRANSFORMER_JQ: expected closing parenthesis at line 2, column 9");
    let err = SPEC.build(&env("nosuch(1)"), Console::null()).unwrap_err().to_string();
    assert_eq!(err, "TRANSFORMER_JQ: undefined filter `nosuch/1` at line 1, column 1");
    let worker = Env::from_pairs([("TRANSFORMER_JQ", "."), ("FNMESH_JQ_WORKER", "/nonexistent")]);
    let err = SPEC.build(&worker, Console::null()).unwrap_err().to_string();
    assert!(err.starts_with("TRANSFORMER_JQ: jq worker: cannot start /nonexistent"), "{err}");
}

#[tokio::test]
async fn data_goes_through_as_written_or_as_text() {
    let router = transformer("[.data, .id]");
    let pretty = CeRequest::binary()
        .header("content-type", "application/json")
        .body("{\n  \"message\": \"two\\nlines\",\n  \"n\": [1, 2.5]\n}");
    let answer = call(&router, &pretty).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!([{"message": "two\nlines", "n": [1, 2.5]}, "1"]));
    let text = CeRequest::binary().header("content-type", "text/plain").body("not {json}\n");
    assert_eq!(call(&router, &text).await.json(), json!(["not {json}\n", "1"]));
}

/// The program sees the object the other dialects see (`event_view`), whatever the data.
#[tokio::test]
async fn the_program_sees_the_event_view() {
    use fnmesh_expr::event_view;
    let router = transformer(".");
    let base = [("ce-specversion", "1.0"), ("ce-id", "1\"é"), ("ce-source", "/s"), ("ce-type", "t")];
    let mut full = base.to_vec();
    full.extend([("ce-time", "2020-09-14T14:50:00+02:00"), ("ce-myext", "a\\b"), ("ce-subject", "s")]);
    full.push(("ce-dataschema", "https://example.com/schema"));
    let mut text = base.to_vec();
    text.push(("content-type", "text/plain"));
    let mut json = full.clone();
    json.push(("content-type", "application/json"));
    let deep = format!("{}1{}", "[".repeat(90), "]".repeat(90));
    for (headers, body) in [
        (&json, "{\n  \"a\": [1, 2.5, -0.0, 1e300, \"\\u00e9\"],\n  \"a\": 7, \"data\": null\n}"),
        (&json, "{oops"),
        (&json, "1e400"),
        (&json, deep.as_str()),
        (&json, ""),
        (&text, "{\"a\": 1}\nline\t\"two\""),
        (&full, "[1]"),
        (&base.to_vec(), ""),
    ] {
        let mut request = CeRequest::raw().body(body.to_owned());
        let mut map = http::HeaderMap::new();
        for (name, value) in headers.iter() {
            request = request.header(name, value);
            map.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        let incoming = fnmesh_runtime::binding::decode(&map, body.to_owned().into()).unwrap();
        let answer = call(&router, &request).await;
        assert_eq!(answer.status, StatusCode::OK, "{body}: {}", answer.text());
        assert_eq!(answer.json(), event_view(&incoming), "{body}");
    }
}
