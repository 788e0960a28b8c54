//! Straight-line expressions are evaluated on the calling thread, within the same limits;
//! every other expression on engine threads (see `straight.rs` for why that is safe).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_js::{JsError, JsPool, Limits};
use serde_json::json;

fn limits() -> Limits {
    Limits { timeout: Duration::from_millis(200), memory_bytes: 16 * 1024 * 1024, workers: 1, ..Limits::default() }
}

fn pool(source: &str) -> JsPool {
    JsPool::start("TRANSFORMER", source, &json!({"LIMIT": "3"}), &json!([]), limits()).unwrap()
}

fn event(data: serde_json::Value) -> String {
    json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t.created", "time": "2020-09-14T14:50:00Z",
           "data": data})
    .to_string()
}

#[tokio::test]
async fn the_docs_expressions_are_evaluated_here_and_answer_as_before() {
    let filter = pool("Math.round(Date.parse(event.time) / 60000) % 2 === 0");
    assert!(filter.evaluates_here());
    assert!(filter.truthy(event(json!({}))).await.unwrap());
    let transformer = pool("({message: event.data.message + '!'})");
    assert!(transformer.evaluates_here());
    assert_eq!(transformer.value(event(json!({"message": "hi"}))).await.unwrap(), Some(json!({"message": "hi!"})));
    let many = pool(
        "({kind: event.type.split('.')[1], big: event.data.n > Number(env.LIMIT), \
          first: ['a', 'b'].includes(event.data.k) ? event.data.items?.[0]?.id ?? 0 : -1, \
          when: new Date(event.time).getUTCHours(), text: `${event.id}-${JSON.stringify(event.data.items)}`})",
    );
    assert!(many.evaluates_here());
    let answer = many.value(event(json!({"n": 4, "k": "b", "items": [{"id": 7}]}))).await.unwrap();
    assert_eq!(answer, Some(json!({"kind": "created", "big": true, "first": 7, "when": 14, "text": "1-[{\"id\":7}]"})));
}

#[tokio::test]
async fn what_could_run_long_goes_to_engine_threads() {
    for source in [
        "(() => { while (true) {} })()",
        "/^(a+)+$/.test(event.data.s)",
        "event.data.s.includes(event.data.needle)",
        "[].join.call({length: 1e15}, '')",
        "Array(1e9).join('')",
    ] {
        assert!(!pool(source).evaluates_here(), "{source}");
    }
}

#[tokio::test]
async fn a_huge_allocation_here_hits_the_memory_limit_and_the_next_evaluation_is_served() {
    let bomb = pool("event.data.big ? event.data.s.repeat(1 << 28).length : event.data.s.padEnd(3, '!')");
    assert!(bomb.evaluates_here());
    for _ in 0..3 {
        let err = bomb.value(event(json!({"big": true, "s": "xx"}))).await.unwrap_err();
        assert!(matches!(err, JsError::OutOfMemory { .. } | JsError::Thrown { .. }), "{err:?}");
        assert_eq!(bomb.value(event(json!({"big": false, "s": "a"}))).await.unwrap(), Some(json!("a!!")));
    }
}

#[tokio::test]
async fn evaluations_here_share_nothing() {
    let pool = pool("[event.data.k, JSON.stringify(event)]");
    assert!(pool.evaluates_here());
    let first = pool.value(event(json!({"k": 1}))).await.unwrap().unwrap();
    let second = pool.value(event(json!({"k": 2}))).await.unwrap().unwrap();
    assert_eq!((&first[0], &second[0]), (&json!(1), &json!(2)));
    assert_eq!(pool.health(), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_thread_has_its_engine_and_all_answer() {
    let filter = pool("event.data.n % 2 === 0");
    assert!(filter.evaluates_here());
    let calls: Vec<_> = (0..64)
        .map(|n| {
            let filter = filter.clone();
            tokio::spawn(async move { (n, filter.truthy(event(json!({"n": n}))).await.unwrap()) })
        })
        .collect();
    for call in calls {
        let (n, even) = call.await.unwrap();
        assert_eq!(even, n % 2 == 0);
    }
}
