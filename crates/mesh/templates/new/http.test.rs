//! The function answering requests in-process.
#![allow(clippy::expect_used)] // in a test, a failed expectation is a failed assertion

use fnmesh_runtime::axum::http;
use fnmesh_runtime::testing;
use serde_json::{Value, json};

use {{crate}}::{Config, app};

fn request(body: &str) -> Result<http::Request<fnmesh_runtime::axum::body::Body>, http::Error> {
    http::Request::post("/").header("content-type", "application/json").body(body.to_owned().into())
}

#[tokio::test]
async fn a_person_is_greeted() {
    let answer = testing::send(app(Config { greeting: "Hello".into() }), request(r#"{"name": "Ada"}"#)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.error());
    let body: Value = serde_json::from_slice(&answer.body).expect("a JSON body");
    assert_eq!(body, json!({"message": "Hello, Ada"}));
}

#[tokio::test]
async fn a_body_without_a_name_is_refused() {
    let answer = testing::send(app(Config { greeting: "Hello".into() }), request("{}")).await;
    assert_eq!(answer.status, 400);
    assert!(answer.error().expect("a JSON error").contains("missing field `name`"));
}
