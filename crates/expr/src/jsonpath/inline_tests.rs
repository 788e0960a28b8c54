//! Events evaluated where they arrive and events evaluated on the pool: the same answers,
//! the same bounds.

use std::time::Duration;

use fnmesh_runtime::IncomingEvent;
use fnmesh_runtime::binding::decode;

use super::*;
use crate::event_view;

fn event(content_type: Option<&str>, data: &str) -> IncomingEvent {
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("ce-specversion", "1.0"),
        ("ce-id", "e-1"),
        ("ce-source", "/tests"),
        ("ce-type", "order.created"),
        ("ce-time", "2020-09-14T14:50:00.5+02:00"),
        ("ce-myext", "yes"),
    ] {
        headers.insert(name, value.parse().unwrap());
    }
    if let Some(content_type) = content_type {
        headers.insert("content-type", content_type.parse().unwrap());
    }
    decode(&headers, data.to_owned().into()).unwrap()
}

fn limits(timeout: Duration, inline_bytes: usize) -> Limits {
    Limits { timeout, memory_bytes: 64 << 20, workers: 1, queue: 8, inline_bytes }
}

/// `$..` queries are quadratic on it: `levels` levels, each with `width` numbers and the next.
fn comb(levels: usize, width: usize) -> String {
    let level = format!("{{\"v\":[{}],\"n\":", vec!["0"; width].join(","));
    format!("{}[]{}", level.repeat(levels), "}".repeat(levels))
}

#[tokio::test]
async fn inline_and_pool_evaluations_give_the_same_answers() {
    let events = [
        event(Some("application/json"), r#"{"id":0,"message":"hello","items":[{"id":1,"qty":2},{"id":2,"qty":1}]}"#),
        event(Some("application/json"), r#"{"a": 1, "a": 2, "b": {"c": "\u00e9"}, "n": 1.5, "z": null}"#),
        event(Some("text/plain"), "{\"items\": [{\"id\": 2}]}"),
        event(None, "{oops"),
        event(Some("application/json"), ""),
        event(Some("application/json"), &comb(5, 3)),
    ];
    let queries = [
        "$.data.items[?@.id == 2]",
        "$.data.items[?@.id == 3]",
        "$[?@ == 'order.created']",
        "$.time",
        "$.myext",
        "$.data.a",
        "$..[?@ == 2]",
        "$.data[?@ == 'hello']",
        "$..*",
        "$.data",
        "$[?count(@.*) > 3]",
        "$..[?search(@, 'll')]",
        // Views of the members these read, or of all: the answers of the whole view.
        "$.data.items[?@.id == $.data.items[1].id]",
        "$.data.items[?$.myext == 'yes']",
        "$.data.items[?length($.id) == 3]",
        "$.data.items[?count($.*) > 3]",
        "$['type', 'data'].items[0]",
        "$",
        "$.nothing",
    ];
    let templates = [
        r#"{"all": "$..*"}"#,
        r#"{"id": "$.id", "time": "$.time", "data": "$.data", "n": "$.data.n", "none": "$.data.missing"}"#,
        r#"{"t": "$.type", "first": "$.data.items[0]", "literal": [1, "x"]}"#,
        r#"{"fixed": 1}"#,
    ];
    let here = |inline| limits(Duration::from_secs(60), inline);
    for query in queries {
        let inline = Bounded::start(Query::parse(query).unwrap(), here(DEFAULT_INLINE_BYTES)).unwrap();
        let pooled = Bounded::start(Query::parse(query).unwrap(), here(0)).unwrap();
        for incoming in &events {
            assert!(inline.inline(incoming) && !pooled.inline(incoming));
            let expected = Query::parse(query).unwrap().matches(&event_view(incoming));
            assert_eq!(inline.matches_event(incoming).await, Ok(expected), "{query} on {:?}", incoming.wire_data);
            assert_eq!(pooled.matches_event(incoming).await, Ok(expected), "{query} on {:?}", incoming.wire_data);
        }
    }
    for template in templates {
        let inline = Bounded::start(Template::parse(template).unwrap(), here(DEFAULT_INLINE_BYTES)).unwrap();
        let pooled = Bounded::start(Template::parse(template).unwrap(), here(0)).unwrap();
        for incoming in &events {
            let expected = Template::parse(template).unwrap().render(&event_view(incoming));
            assert_eq!(inline.render_event(incoming).await.as_ref(), Ok(&expected), "{template}");
            assert_eq!(pooled.render_event(incoming).await, Ok(expected), "{template}");
        }
    }
}

#[tokio::test]
async fn data_over_the_inline_size_goes_to_the_pool_and_both_paths_keep_the_deadline() {
    let quadratic = "$..[?count(@..*) > 1000000]";
    let small = event(Some("application/json"), &comb(20, 40));
    let large = event(Some("application/json"), &comb(100, 4000));
    let query = Bounded::start(Query::parse(quadratic).unwrap(), limits(Duration::from_millis(20), 4096)).unwrap();
    assert!(query.inline(&small) && !query.inline(&large), "sizes: {:?}", small.wire_data.as_ref().map(|d| d.len()));
    assert_eq!(query.matches_event(&large).await, Err(JsonPathError::Timeout(Duration::from_millis(20))));
    let patient = Bounded::start(Query::parse(quadratic).unwrap(), limits(Duration::from_secs(60), 4096)).unwrap();
    assert_eq!(patient.matches_event(&small).await, Ok(false));
    // Inline, the deadline holds as on the pool: past it after the first 256 steps.
    let instant = Bounded::start(Query::parse(quadratic).unwrap(), limits(Duration::from_nanos(1), 4096)).unwrap();
    assert_eq!(instant.matches_event(&small).await, Err(JsonPathError::Timeout(Duration::from_nanos(1))));
    let copies = Limits { memory_bytes: 4096, ..limits(Duration::from_secs(60), 4096) };
    let copies = Bounded::start(Template::parse(r#"{"all": "$..*"}"#).unwrap(), copies).unwrap();
    assert_eq!(copies.render_event(&small).await, Err(JsonPathError::TooLarge(4096)), "the memory limit too");
}
