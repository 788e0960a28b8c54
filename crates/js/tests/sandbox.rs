//! The expression pool: the Node functions' bindings, the docs' expressions, and the sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_js::{JsError, JsPool, Limits};
use serde_json::json;

fn limits() -> Limits {
    Limits { timeout: Duration::from_millis(100), memory_bytes: 16 * 1024 * 1024, workers: 2, ..Limits::default() }
}

fn pool(var: &str, source: &str) -> JsPool {
    JsPool::start(var, source, &json!({"GREETING": "hi"}), &json!([0, 1, "two"]), limits()).unwrap()
}

fn event(time: &str) -> String {
    json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "time": time, "myext": "x",
           "data": {"message": "hello", "n": 3}})
    .to_string()
}

const EVEN: &str = "2020-09-14T14:50:00Z";
const ODD: &str = "2020-09-14T14:51:00Z";

#[tokio::test]
async fn the_docs_filter_expression_splits_even_and_odd_minutes() {
    let filter = pool("FILTER", "Math.round(Date.parse(event.time) / 60000) % 2 === 0");
    assert!(filter.truthy(event(EVEN)).await.unwrap());
    assert!(!filter.truthy(event(ODD)).await.unwrap());
}

#[tokio::test]
async fn the_docs_transformer_expression_becomes_the_data() {
    let transformer = pool("TRANSFORMER", r#"({"message": "this is even!"})"#);
    assert_eq!(transformer.value(event(EVEN)).await.unwrap(), Some(json!({"message": "this is even!"})));
    let undefined = pool("TRANSFORMER", "event.nothing");
    assert_eq!(undefined.value(event(EVEN)).await.unwrap(), None);
    let data = pool("TRANSFORMER", "({...event.data, n: event.data.n + 1, id: event.id})");
    assert_eq!(data.value(event(EVEN)).await.unwrap(), Some(json!({"message": "hello", "n": 4, "id": "1"})));
}

#[tokio::test]
async fn the_switcher_compares_with_strict_equality() {
    let switcher = pool("EXPRESSION", "Math.round(Date.parse(event.time) / 60000) % 2");
    assert!(switcher.equals(event(EVEN), 0).await.unwrap());
    assert!(!switcher.equals(event(EVEN), 1).await.unwrap());
    assert!(switcher.equals(event(ODD), 1).await.unwrap());
    let strings = pool("EXPRESSION", "String(2)");
    assert!(!strings.equals(event(ODD), 1).await.unwrap(), "'2' !== 1");
    let two = pool("EXPRESSION", "'tw' + 'o'");
    assert!(two.equals(event(ODD), 2).await.unwrap());
    assert!(!two.equals(event(ODD), 7).await.unwrap(), "out of range is undefined");
}

#[tokio::test]
async fn extensions_env_and_builtins_are_bound() {
    let filter = pool("FILTER", "event.myext === 'x' && env.GREETING === 'hi' && JSON.stringify([1]) === '[1]'");
    assert!(filter.truthy(event(EVEN)).await.unwrap());
    let no_data_binding = pool("FILTER", "typeof data === 'undefined'");
    assert!(no_data_binding.truthy(event(EVEN)).await.unwrap());
}

#[tokio::test]
async fn there_is_no_io_to_reach() {
    let filter = pool(
        "FILTER",
        "[typeof require, typeof process, typeof fetch, typeof std, typeof os, typeof XMLHttpRequest]\
         .every(t => t === 'undefined')",
    );
    assert!(filter.truthy(event(EVEN)).await.unwrap());
}

#[tokio::test]
async fn an_expression_cannot_break_the_next_evaluation() {
    let filter = pool("FILTER", "(JSON = null, true)");
    assert!(filter.truthy(event(EVEN)).await.unwrap());
    assert!(filter.truthy(event(EVEN)).await.unwrap());
}

#[tokio::test]
async fn syntax_errors_name_the_variable_and_position() {
    let err = JsPool::start("FILTER", "event.id ===", &json!({}), &json!([]), limits()).unwrap_err();
    let JsError::Syntax { var, line, column, message } = &err else { panic!("{err:?}") };
    assert_eq!((var.as_str(), *line, *column), ("FILTER", 1, 13), "{err}: the end of the expression");
    assert!(*column >= 1 && !message.is_empty(), "{err}");
    let err = JsPool::start("FILTER", "true &&\n  )", &json!({}), &json!([]), limits()).unwrap_err();
    assert!(matches!(err, JsError::Syntax { line: 2, column: 3, .. }), "{err}");
    assert!(err.to_string().starts_with("FILTER: JavaScript syntax error at line 2, column 3: "), "{err}");
}

#[tokio::test]
async fn a_throwing_expression_fails_that_event_only() {
    let filter = pool("FILTER", "event.data.missing.field === 1");
    let err = filter.truthy(event(EVEN)).await.unwrap_err();
    assert!(matches!(&err, JsError::Thrown { message, .. } if message.starts_with("TypeError: ")), "{err:?}");
    let thrower = pool("FILTER", "(() => { throw 'plain' })()");
    assert_eq!(thrower.truthy(event(EVEN)).await.unwrap_err().to_string(), "FILTER threw: \"plain\"");
}

#[tokio::test]
async fn runaway_loops_are_interrupted_and_the_pool_keeps_serving() {
    let filter = pool("FILTER", "event.type === 'spin' ? (() => { while (true) {} })() : true");
    let spin = json!({"id": "1", "source": "/s", "type": "spin"}).to_string();
    for _ in 0..3 {
        let err =
            tokio::time::timeout(Duration::from_secs(10), filter.truthy(spin.clone())).await.unwrap().unwrap_err();
        assert!(matches!(err, JsError::Timeout { .. }), "{err:?}");
        assert!(filter.truthy(event(EVEN)).await.unwrap(), "the pool still answers");
    }
}

#[tokio::test]
async fn huge_allocations_hit_the_memory_limit() {
    let filter = pool(
        "FILTER",
        "event.type === 'big' ? (() => { const a = []; while (true) a.push(new Array(1e5).fill(7)); })() : true",
    );
    let big = json!({"id": "1", "source": "/s", "type": "big"}).to_string();
    let err = tokio::time::timeout(Duration::from_secs(10), filter.truthy(big)).await.unwrap().unwrap_err();
    // Stopped by a limit: the heap's, the interrupt's, or (on a loaded machine, where the
    // allocations outlast twice the time limit before QuickJS polls) the watchdog's.
    assert!(
        matches!(err, JsError::OutOfMemory { .. } | JsError::Timeout { .. } | JsError::Abandoned { .. }),
        "{err:?}"
    );
    let string_bomb = pool("FILTER", "'x'.repeat(1 << 29).length > 0");
    let err = string_bomb.truthy(event(EVEN)).await.unwrap_err();
    assert!(matches!(err, JsError::OutOfMemory { .. } | JsError::Thrown { .. }), "{err:?}");
    assert!(filter.truthy(event(EVEN)).await.unwrap(), "the pool still answers");
}

#[tokio::test]
async fn deep_recursion_is_a_range_error() {
    let filter = pool("FILTER", "(function f(n) { return f(n + 1); })(0)");
    let err = filter.truthy(event(EVEN)).await.unwrap_err();
    assert!(matches!(&err, JsError::Thrown { message, .. } if message.contains("stack")), "{err:?}");
}

#[tokio::test]
async fn non_json_values_are_reported() {
    let transformer = pool("TRANSFORMER", "(() => { const o = {}; o.o = o; return o; })()");
    let err = transformer.value(event(EVEN)).await.unwrap_err();
    assert!(matches!(err, JsError::NotJson { .. } | JsError::Thrown { .. }), "{err:?}");
}

#[tokio::test]
async fn concurrent_evaluations_all_complete() {
    let filter = pool("FILTER", "event.id.length > 0");
    let calls: Vec<_> = (0..64)
        .map(|_| {
            tokio::spawn({
                let filter = filter.clone();
                async move { filter.truthy(event(EVEN)).await }
            })
        })
        .collect();
    for call in calls {
        assert!(tokio::time::timeout(Duration::from_secs(30), call).await.unwrap().unwrap().unwrap());
    }
}

#[tokio::test]
async fn an_event_input_is_the_object_json_parse_makes_and_is_new_each_time() {
    use fnmesh_js::{EventData, EventInput};
    let source = "[JSON.stringify(event), Object.getOwnPropertyNames(event).join(), \
                  Object.getPrototypeOf(event.data.a) === Object.prototype, (event.seen = (event.seen || 0) + 1)]";
    let inspect = pool("TRANSFORMER", source);
    let members = [("id", "1"), ("constructor", "c"), ("data", "an extension named data"), ("myext", "x")];
    let input = || EventInput {
        members: members.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        data: Some(EventData::Json(r#"{"a": {"b": [1, 2.5, 1e21, "\u00e9"]}, "__proto__": 1}"#.into())),
    };
    let json = r#"{"id":"1","constructor":"c","data":"an extension named data","myext":"x",
                   "data":{"a":{"b":[1,2.5,1e21,"é"]},"__proto__":1}}"#;
    let expected = inspect.value(json.to_owned()).await.unwrap();
    assert_eq!(inspect.value(input()).await.unwrap(), expected);
    // Each evaluation gets an object of its own: what one sets, the next does not see.
    assert_eq!(inspect.value(input()).await.unwrap(), expected);
    assert_eq!(expected.as_ref().unwrap()[3], json!(1));
    let text = EventInput { members: vec![], data: Some(EventData::Text("{not json".into())) };
    assert_eq!(pool("T", "event.data").value(text).await.unwrap(), Some(json!("{not json")));
}
