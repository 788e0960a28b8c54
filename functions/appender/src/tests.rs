//! Router tests: the appender's replies, errors and log lines, through `oneshot`.

use fnmesh_runtime::Output;
use fnmesh_testkit::{CeRequest, broken_requests, call};
use http::StatusCode;
use serde_json::json;

use super::*;

fn appender(env: &[(&str, &str)]) -> (Router, fnmesh_runtime::Capture) {
    let (err, capture) = Output::capture();
    let console = Console { out: Output::null(), err };
    let (router, _) = SPEC.build(&Env::from_pairs(env.iter().copied()), console).unwrap();
    (router, capture)
}

/// Log lines without Go's `2020/09/14 14:50:00 ` prefix.
fn messages(capture: &fnmesh_runtime::Capture) -> Vec<String> {
    capture.text().lines().map(|line| line[20..].to_owned()).collect()
}

#[tokio::test]
async fn appends_message_and_keeps_every_other_attribute() {
    let (router, log) = appender(&[("MESSAGE", " - Handled by 0")]);
    let request = CeRequest::binary()
        .header("ce-id", "abc")
        .header("ce-source", "/apis/v1/namespaces/default/pingsources/ping-source")
        .header("ce-type", "dev.knative.sources.ping")
        .header("ce-time", "2020-09-14T14:50:00.000345656Z")
        .header("ce-subject", "sub")
        .header("ce-dataschema", "http://schema.example/x")
        .header("ce-myext", "hello")
        .header("traceparent", "00-6e2947379387f35ddc933b9190af16ad-de3db0bc4e442394-00")
        .json(&json!({"id": 0, "message": "hello, world!", "other": true}));
    let answer = call(&router, &request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.text(), r#"{"id":0,"message":"hello, world! - Handled by 0"}"#);
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(answer.header("ce-specversion"), "1.0");
    assert_eq!(answer.header("ce-id"), "abc");
    assert_eq!(answer.header("ce-source"), "/apis/v1/namespaces/default/pingsources/ping-source");
    assert_eq!(answer.header("ce-type"), "dev.knative.sources.ping");
    assert_eq!(answer.header("ce-time"), "2020-09-14T14:50:00.000345656Z");
    assert_eq!(answer.header("ce-subject"), "sub");
    assert_eq!(answer.header("ce-dataschema"), "http://schema.example/x");
    assert_eq!(answer.header("ce-myext"), "hello");
    assert_eq!(answer.header("traceparent"), "00-6e2947379387f35ddc933b9190af16ad-de3db0bc4e442394-00");

    assert_eq!(
        messages(&log),
        [
            r#"listening on 8080, appending " - Handled by 0" to events"#,
            "Received a new event: ",
            "[2020-09-14 14:50:00.000345656 +0000 UTC] /apis/v1/namespaces/default/pingsources/ping-source dev.knative.sources.ping: &{Sequence:0 Message:hello, world!}",
            "Transform the event to: ",
            "[2020-09-14 14:50:00.000345656 +0000 UTC] /apis/v1/namespaces/default/pingsources/ping-source dev.knative.sources.ping: &{Sequence:0 Message:hello, world! - Handled by 0}",
        ]
    );
}

#[tokio::test]
async fn default_message_type_override_and_zero_time() {
    let (router, log) = appender(&[("TYPE", "samples.http.mod3")]);
    let answer = call(&router, &CeRequest::binary().json(&json!({"id": 7, "message": "m:"}))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("ce-type"), "samples.http.mod3");
    assert_eq!(answer.json(), json!({"id": 7, "message": format!("m:{DEFAULT_MESSAGE}")}));
    assert!(answer.headers.get("ce-time").is_none());
    let lines = messages(&log);
    assert_eq!(lines[0], format!("listening on 8080, appending \"{DEFAULT_MESSAGE}\" to events"));
    assert_eq!(lines[2], "[0001-01-01 00:00:00 +0000 UTC] /test test.event: &{Sequence:7 Message:m:}");
    assert!(lines[4].ends_with(&format!("/test samples.http.mod3: &{{Sequence:7 Message:m:{DEFAULT_MESSAGE}}}")));
}

#[tokio::test]
async fn empty_type_keeps_the_event_type_and_empty_data_is_the_zero_payload() {
    let (router, _) = appender(&[("TYPE", ""), ("MESSAGE", "x")]);
    let answer = call(&router, &CeRequest::binary()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("ce-type"), "test.event");
    assert_eq!(answer.text(), r#"{"id":0,"message":"x"}"#);
}

#[tokio::test]
async fn structured_request_gets_a_structured_reply() {
    let (router, _) = appender(&[("MESSAGE", "!")]);
    let request = CeRequest::structured(&json!({
        "specversion": "1.0", "id": "9", "source": "/s", "type": "t", "myext": "v",
        "datacontenttype": "application/json", "data": {"id": 2, "message": "<hi>"}
    }));
    let answer = call(&router, &request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "application/cloudevents+json");
    let reply = answer.json();
    assert_eq!(reply["id"], "9");
    assert_eq!(reply["myext"], "v");
    assert_eq!(reply["datacontenttype"], "application/json");
    assert_eq!(reply["data"], json!({"id": 2, "message": "<hi>!"}));
    assert!(answer.text().contains(r#""data":{"id":2,"message":"\u003chi\u003e!"}"#), "{}", answer.text());
}

#[tokio::test]
async fn bad_data_is_400_with_the_go_reason_and_a_log_line() {
    let cases = [
        ("application/json", "not json", "failed to unmarshal"),
        ("application/json", "[1,2]", "cannot unmarshal array"),
        ("application/json", r#"{"id":"one"}"#, "payload.id of type int"),
        ("text/plain", "hello", "text.Decode out: want *string, got *main.payload"),
        ("application/octet-stream", "xx", "unsupported content type"),
    ];
    for (content_type, body, reason) in cases {
        let (router, log) = appender(&[]);
        let answer = call(&router, &CeRequest::binary().header("content-type", content_type).body(body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{content_type} {body}");
        let error = answer.error();
        assert!(error.starts_with("got error while unmarshalling data: "), "{error}");
        assert!(error.contains(reason), "{error}");
        let lines = messages(&log);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].starts_with("Got error while unmarshalling data: ") && lines[1].contains(reason), "{lines:?}");
    }
}

#[tokio::test]
async fn broken_requests_get_json_errors_and_the_router_keeps_serving() {
    let (router, _) = appender(&[("FNMESH_BODY_LIMIT", "1024")]);
    let mut table = broken_requests(1024);
    table.push(fnmesh_testkit::BrokenRequest {
        name: "invalid JSON data",
        request: CeRequest::binary().header("content-type", "application/json").body("{oops"),
        status: StatusCode::BAD_REQUEST,
        mentions: "unmarshal",
    });
    for case in table {
        let answer = call(&router, &case.request).await;
        assert_eq!(answer.status, case.status, "{}: {}", case.name, answer.text());
        assert_eq!(answer.header("content-type"), "application/json", "{}", case.name);
        assert!(answer.error().contains(case.mentions), "{}: {}", case.name, answer.error());
        let ok = call(&router, &CeRequest::binary()).await;
        assert_eq!(ok.status, StatusCode::OK, "after {}", case.name);
    }
}

#[test]
fn config_defaults_and_listen_line_port() {
    let config: Config = Env::default().parse().unwrap();
    assert_eq!(config, Config { message: DEFAULT_MESSAGE.into(), ty: None });
    let (err, capture) = Output::capture();
    let built =
        SPEC.build(&Env::from_pairs([("PORT", "9999"), ("MESSAGE", "a\"b")]), Console { out: Output::null(), err });
    assert_eq!(built.unwrap().1.port, 9999);
    assert!(capture.text().ends_with(" listening on 9999, appending \"a\\\"b\" to events\n"), "{}", capture.text());
    let err = SPEC.build(&Env::from_pairs([("PORT", "x")]), Console::null()).unwrap_err();
    assert!(err.to_string().starts_with("PORT: "), "{err}");
}
