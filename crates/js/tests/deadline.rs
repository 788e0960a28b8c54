//! The time limit holds whatever the expression does (issue 21): QuickJS does not poll
//! its interrupt during a string search, so a long needle in a long string runs for
//! seconds to minutes. The pool answers such an evaluation itself, replaces its engine,
//! reports the abandoned thread in `health` until it ends, and answers at once when no
//! engine is left. Searches here take a few seconds each, so that the tests see them end.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::{Duration, Instant};

use fnmesh_js::{JsError, JsPool, Limits};
use serde_json::json;

/// Each operation of the event's `op` on `s` and `needle`: the searches QuickJS does not
/// interrupt, and a regular expression that backtracks.
const SEARCH: &str = "({includes: () => event.data.s.includes(event.data.needle), \
    indexOf: () => event.data.s.indexOf(event.data.needle), \
    split: () => event.data.s.split(event.data.needle).length, \
    replaceAll: () => event.data.s.replaceAll(event.data.needle, ''), \
    regex: () => /^(a+)+$/.test(event.data.s.slice(0, 40) + 'b'), \
    none: () => 'served'})[event.data.op]()";

fn event(op: &str, size: usize, needle: usize) -> String {
    let data = json!({"op": op, "s": "a".repeat(size), "needle": format!("{}b", "a".repeat(needle))});
    json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": data}).to_string()
}

/// A search of a second or so (40 000 by 15 000 characters), far past the deadline.
fn attack(op: &str) -> String {
    event(op, 40_000, 15_000)
}

fn good() -> String {
    event("none", 1, 1)
}

fn pool(workers: usize, abandoned: usize) -> JsPool {
    let limits = Limits { timeout: Duration::from_millis(50), workers, abandoned, ..Limits::default() };
    let pool = JsPool::start("FILTER", SEARCH, &json!({}), &json!([]), limits).unwrap();
    assert!(!pool.evaluates_here(), "searches of any needle are evaluated on engine threads");
    pool
}

/// Waits (at most `within`) until the pool reports healthy again.
async fn recovered(pool: &JsPool, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if pool.health().is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn searches_that_ignore_the_interrupt_are_answered_and_their_engines_replaced() {
    let pool = pool(2, 4);
    assert_eq!(pool.health(), Ok(()));
    for op in ["includes", "indexOf", "split", "replaceAll"] {
        let answer = tokio::time::timeout(Duration::from_secs(30), pool.value(attack(op))).await.unwrap();
        let err = answer.unwrap_err();
        assert!(matches!(err, JsError::Abandoned { .. }), "{op}: {err:?}");
        assert!(err.to_string().contains("past FNMESH_EVAL_TIMEOUT"), "{err}");
        let health = pool.health().unwrap_err();
        assert!(health.starts_with("FILTER: ") && health.contains("stuck"), "{health}");
        assert_eq!(pool.value(good()).await.unwrap(), Some(json!("served")), "{op}: a fresh engine serves");
    }
    assert!(recovered(&pool, Duration::from_secs(120)).await, "{:?}", pool.health());
    assert_eq!(pool.value(good()).await.unwrap(), Some(json!("served")));
}

#[tokio::test]
async fn a_backtracking_regular_expression_is_answered_503_too() {
    let pool = pool(1, 1);
    let err = tokio::time::timeout(Duration::from_secs(30), pool.value(attack("regex"))).await.unwrap().unwrap_err();
    assert!(matches!(err, JsError::Timeout { .. } | JsError::Abandoned { .. }), "{err:?}");
    assert_eq!(pool.value(good()).await.unwrap(), Some(json!("served")));
}

#[tokio::test]
async fn with_no_engine_left_the_pool_answers_at_once_until_one_is_back() {
    // One engine and no room to replace it.
    let pool = pool(1, 0);
    let err = tokio::time::timeout(Duration::from_secs(30), pool.value(attack("includes"))).await.unwrap().unwrap_err();
    assert!(matches!(err, JsError::Abandoned { .. }), "{err:?}");
    let err = pool.value(good()).await.unwrap_err();
    assert!(matches!(err, JsError::NoEngine { abandoned: 1 }), "{err:?}");
    let health = pool.health().unwrap_err();
    assert!(health.contains("0 of 1 engines serving"), "{health}");
    assert!(recovered(&pool, Duration::from_secs(120)).await, "{:?}", pool.health());
    assert_eq!(pool.value(good()).await.unwrap(), Some(json!("served")));
}

#[tokio::test]
async fn queued_evaluations_are_answered_when_the_last_engine_is_abandoned() {
    let pool = pool(1, 0);
    let stuck = tokio::spawn({
        let pool = pool.clone();
        async move { pool.value(attack("indexOf")).await }
    });
    // Queued behind the stuck one: answered when the watchdog finds no engine left.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let waiting = tokio::time::timeout(Duration::from_secs(30), pool.value(good())).await.unwrap();
    let stuck = tokio::time::timeout(Duration::from_secs(30), stuck).await.unwrap().unwrap();
    assert!(matches!(stuck, Err(JsError::Abandoned { .. })), "{stuck:?}");
    assert!(matches!(waiting, Err(JsError::NoEngine { .. })) || waiting == Ok(Some(json!("served"))), "{waiting:?}");
    assert!(recovered(&pool, Duration::from_secs(120)).await, "{:?}", pool.health());
}
