//! One evaluation leaves nothing for the next (issue 21): not on the built-ins, the
//! global object, the wrapper, `env` or `CASES`, not in code from strings, not in
//! the engine's own settings, not in pending promise jobs. Each test has an event
//! (a producer) try to leave state and a later event look for it, on one engine.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_js::{JsError, JsPool, Limits};
use serde_json::{Value, json};

fn limits() -> Limits {
    // One engine, so every event meets the state the previous one left.
    Limits { timeout: Duration::from_millis(200), memory_bytes: 16 * 1024 * 1024, workers: 1, ..Limits::default() }
}

fn one_engine(source: &str) -> JsPool {
    JsPool::start("TRANSFORMER", source, &json!({"GREETING": "hi"}), &json!(["a", "b"]), limits()).unwrap()
}

fn event(data: &Value) -> String {
    json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": data}).to_string()
}

async fn value(pool: &JsPool, data: &Value) -> Value {
    pool.value(event(data)).await.unwrap().unwrap()
}

/// A deep merge of the event's data, the way a transformer copies what a producer sent.
const MERGE: &str = "const merge = (t, s) => { for (const k in s) { \
    if (typeof s[k] === 'object' && s[k] !== null) t[k] = merge(t[k] || {}, s[k]); else t[k] = s[k]; } \
    return t; };";

#[tokio::test]
async fn prototype_pollution_by_one_producer_never_reaches_the_next() {
    let source = format!(
        "(() => {{ {MERGE} const before = ({{}}).isAdmin; const o = merge({{}}, event.data); \
         return {{before: before === true, after: ({{}}).isAdmin === true, o}}; }})()"
    );
    let pool = one_engine(&source);
    let attack = serde_json::from_str::<Value>(r#"{"__proto__": {"isAdmin": true}, "n": 1}"#).unwrap();
    let first = value(&pool, &attack).await;
    assert_eq!((&first["before"], &first["after"]), (&json!(false), &json!(false)), "{first}");
    let next = value(&pool, &json!({"n": 2})).await;
    assert_eq!(next, json!({"before": false, "after": false, "o": {"n": 2}}));
}

#[tokio::test]
async fn built_ins_cannot_be_changed() {
    let pool = one_engine(
        "event.data.attack ? (Array.prototype.includes = () => true, JSON.parse = () => ({}), \
         Math.random = () => 4, String.prototype.trim = () => 'x', Object.prototype.toString = () => 'owned', 0) \
         : [[1].includes(2), JSON.parse('[1]'), Math.random() < 1, ' a '.trim(), ({}).toString()]",
    );
    let err = pool.value(event(&json!({"attack": true}))).await.unwrap_err();
    assert!(matches!(&err, JsError::Thrown { message, .. } if message.starts_with("TypeError")), "{err:?}");
    assert_eq!(value(&pool, &json!({})).await, json!([false, [1], true, "a", "[object Object]"]));
}

#[tokio::test]
async fn globals_set_by_one_event_are_not_there_for_the_next() {
    let pool = one_engine(
        "({seen: [typeof leak1, typeof globalThis.leak2, typeof this.leak3, typeof leak4], \
          set: (leak1 = event.data.secret, globalThis.leak2 = 1, this.leak3 = 1, JSON = null, 0), \
          json: typeof JSON})",
    );
    let first = value(&pool, &json!({"secret": "s1"})).await;
    let expected = json!({"seen": ["undefined", "undefined", "undefined", "undefined"], "set": 0, "json": "object"});
    assert_eq!(first, expected);
    assert_eq!(value(&pool, &json!({"secret": "s2"})).await, expected);
    for source in ["Object.defineProperty(globalThis, 'leak4', {value: 1})", "Object.setPrototypeOf(globalThis, {})"] {
        let err = one_engine(source).value(event(&json!({}))).await.unwrap_err();
        assert!(matches!(&err, JsError::Thrown { message, .. } if message.starts_with("TypeError")), "{err:?}");
    }
}

#[tokio::test]
async fn the_wrapper_env_and_cases_cannot_be_changed() {
    let pool = one_engine(
        "({callee: arguments.callee.stash, proto: arguments.callee.prototype.stash, env: env.GREETING, \
          cases: __fnmesh_cases.join(), \
          set: (arguments.callee.stash = event.data.secret, arguments.callee.prototype.stash = 1, \
                env.GREETING = 'pwned', delete env.GREETING, __fnmesh_cases[0] = 'x', 0)})",
    );
    let expected = json!({"env": "hi", "cases": "a,b", "set": 0});
    assert_eq!(value(&pool, &json!({"secret": "s1"})).await, expected);
    assert_eq!(value(&pool, &json!({"secret": "s2"})).await, expected);
    let rebind = one_engine("(__fnmesh_env = {GREETING: 'pwned'}, __fnmesh_cases = [], env.GREETING)");
    let err = rebind.value(event(&json!({}))).await.unwrap_err();
    assert!(matches!(&err, JsError::Thrown { message, .. } if message.starts_with("TypeError")), "const: {err:?}");
}

#[tokio::test]
async fn code_from_strings_is_refused() {
    for source in [
        "(0, eval)('let leak = 1')",
        "eval('1')",
        "Function('return 1')()",
        "(function () {}).constructor('}); let leak = 1; (function () {')",
        "Object.getPrototypeOf(function* () {}).constructor('yield 1')",
        "Object.getPrototypeOf(async function () {}).constructor('return 1')",
        "Object.getPrototypeOf(async function* () {}).constructor('yield 1')",
    ] {
        let err = one_engine(source).value(event(&json!({}))).await.unwrap_err();
        assert!(
            matches!(&err, JsError::Thrown { message, .. } if message.starts_with("EvalError")),
            "{source}: {err:?}"
        );
    }
    let checks = one_engine("[typeof eval, typeof Function, (() => {}) instanceof Function, Function.name]");
    assert_eq!(value(&checks, &json!({})).await, json!(["function", "function", true, "Function"]));
}

#[tokio::test]
async fn error_hooks_kept_by_the_engine_cannot_be_set() {
    let pool = one_engine(
        "({hook: typeof Error.prepareStackTrace, limit: Error.stackTraceLimit, \
          set: (Error.prepareStackTrace = (e, s) => event.data.secret, Error.stackTraceLimit = 0, 0), \
          stack: typeof new Error('x').stack})",
    );
    let first = value(&pool, &json!({"secret": "s1"})).await;
    assert_eq!(value(&pool, &json!({"secret": "s2"})).await, first);
    assert_eq!(first["hook"], "undefined");
    assert_eq!(first["stack"], "string");
}

#[tokio::test]
async fn every_intrinsic_is_frozen_even_the_hidden_ones() {
    let pool = one_engine(
        "(() => { const p = Object.getPrototypeOf; const hidden = [ \
           p(function* () {}), p(async function () {}), p(async function* () {}), \
           p(p((function* () {})())), p(p((async function* () {})())), p([][Symbol.iterator]()), \
           p(new Map().entries()), p(new Set().values()), p(''[Symbol.iterator]()), \
           p(/x/[Symbol.matchAll]('')), p([].values().map(x => x)), p(Iterator.from({next() {}})), \
           p(Int8Array), p(p(Int8Array).prototype), globalThis, Object.prototype, Math, JSON, Reflect]; \
           const chains = hidden.flatMap(o => { const c = []; for (let x = o; x; x = p(x)) c.push(x); return c; }); \
           return chains.filter(o => !Object.isFrozen(o)).length; })()",
    );
    assert_eq!(value(&pool, &json!({})).await, json!(0));
}

#[tokio::test]
async fn assigning_over_a_frozen_built_in_still_works_on_ones_own_objects() {
    let pool = one_engine(
        "(() => { const e = new Error('m'); e.name = 'Custom'; const o = {}; o.toString = () => 'mine'; \
           const copy = Object.assign({}, {constructor: 1, toString: 2, valueOf: 3}); \
           return [String(e), String(o), copy]; })()",
    );
    assert_eq!(
        value(&pool, &json!({})).await,
        json!(["Custom: m", "mine", {"constructor": 1, "toString": 2, "valueOf": 3}])
    );
}

#[tokio::test]
async fn promise_jobs_run_after_each_evaluation_and_cannot_pile_up() {
    // Each event queues a job holding 1 MiB; left to pile up they would exhaust the 16 MiB
    // engine within 16 events, and an unrelated event would fail.
    let pool = one_engine("(Promise.resolve('x'.repeat(1 << 20)).then(s => { globalThis.kept = s; }), typeof kept)");
    for _ in 0..64 {
        assert_eq!(value(&pool, &json!({})).await, json!("undefined"));
    }
    let rejected = one_engine("(Promise.reject(new Error('nobody listens')), 1)");
    assert_eq!(value(&rejected, &json!({})).await, json!(1));
}

#[tokio::test]
async fn endless_promise_jobs_are_bounded_by_the_time_limit() {
    let pool = one_engine("event.data.loop ? ((function again() { Promise.resolve().then(again); })(), 1) : 2");
    let err = tokio::time::timeout(Duration::from_secs(10), pool.value(event(&json!({"loop": true}))))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, JsError::Timeout { .. }), "{err:?}");
    assert_eq!(value(&pool, &json!({})).await, json!(2), "a fresh engine, no jobs left");
}
