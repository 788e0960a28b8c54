//! An evaluation gets only the members of `event` its expression can reach ([`Reads`]),
//! and answers as it would with the whole object.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_js::{EventData, EventInput, JsPool, Limits, Reads};
use serde_json::json;

fn pool(source: &str) -> JsPool {
    let limits = Limits { timeout: Duration::from_millis(500), workers: 1, ..Limits::default() };
    JsPool::start("TRANSFORMER", source, &json!({}), &json!([]), limits).unwrap()
}

/// The event with the members `reads` wants, and of its data.
fn event(reads: &Reads) -> EventInput {
    let members =
        [("specversion", "1.0"), ("id", "7"), ("source", "/s"), ("type", "t"), ("time", "2020-09-14T14:50:00Z")];
    let data = [
        ("message", r#""hello""#),
        ("n", "2"),
        ("items", r#"[{"id": 1}]"#),
        ("neg", "-0"),
        ("big", "3000000000"),
        ("esc", r#""\u00e9\n""#),
    ];
    let data = match reads.data_members() {
        None => EventData::Json(
            r#"{"message": "hello", "n": 2, "items": [{"id": 1}], "neg": -0, "big": 3000000000, "esc": "\u00e9\n"}"#
                .into(),
        ),
        Some(names) => EventData::Object(
            data.iter()
                .filter(|(k, _)| names.iter().any(|n| n == k))
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        ),
    };
    EventInput {
        members: members.iter().filter(|(k, _)| reads.wants(k)).map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        data: Some(data).filter(|_| reads.wants("data")),
    }
}

#[tokio::test]
async fn expressions_answer_the_same_with_the_members_they_read() {
    for source in [
        "Math.round(Date.parse(event.time) / 60000) % 2 === 0",
        "({message: event.data.message + '!', id: event.id})",
        "[event.nothing, event.subject, typeof event.time, event.type = 'x', event.type, event.n = 1, event.n]",
        "(() => { const f = () => event.data.n * 2; return f() + event.id; })()",
        "`${event.source}` + 'event.data'",
        "[event.data.items[0].id, event.data?.n, event.data.missing, (event.data.x = 1, event.data.x)]",
        "[typeof event.data.n, event.data.message.length, JSON.stringify(event.data.items)]",
        "[Object.is(event.data.neg, -0), event.data.big + 1, event.data.esc]",
    ] {
        let reads = Reads::of(source);
        assert!(reads.members().is_some_and(|names| !names.contains(&"specversion".into())), "{source}");
        let pool = pool(source);
        let whole = pool.value(event(&Reads::WHOLE)).await.unwrap();
        assert_eq!(pool.value(event(&reads)).await.unwrap(), whole, "{source}");
    }
}

#[tokio::test]
async fn every_name_object_prototype_has_needs_the_whole_object() {
    let names = pool("Object.getOwnPropertyNames(Object.prototype)").value(event(&Reads::WHOLE)).await.unwrap();
    let names: Vec<String> = serde_json::from_value(names.unwrap()).unwrap();
    assert!(names.contains(&"valueOf".to_owned()), "{names:?}");
    for name in names {
        assert_eq!(Reads::of(&format!("event.{name}")), Reads::WHOLE, "{name}");
        assert_eq!(Reads::of(&format!("event.data.{name}")).data_members(), None, "{name}");
    }
}

#[tokio::test]
async fn the_wrapper_function_does_not_give_its_arguments_away() {
    // `arguments` of the function the expression is wrapped in holds the event; the
    // expression could name that function, but has no `arguments` or `caller` on it.
    let source = "['argu' + 'ments', 'cal' + 'ler'].map(p => { try { return typeof __fnmesh_f[p]; } \
                  catch (e) { return e.name; } })";
    assert!(Reads::of(source).members().is_some());
    let answer = pool(source).value(event(&Reads::WHOLE)).await.unwrap().unwrap();
    for got in answer.as_array().unwrap() {
        assert!(got == "undefined" || got == "TypeError", "{answer}");
    }
}
