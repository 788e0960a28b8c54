//! The pool against real worker processes: outputs, errors, and the sandbox limits.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::{Duration, Instant};

use fnmesh_jq::{JqError, JqPool, Limits, WorkerCommand, check_program};
use serde_json::json;

fn worker() -> WorkerCommand {
    WorkerCommand::new(env!("CARGO_BIN_EXE_fnmesh-jq-worker"))
}

fn limits() -> Limits {
    Limits { timeout: Duration::from_secs(5), memory_bytes: 256 << 20, workers: 1, ..Limits::default() }
}

async fn pool(program: &str, limits: Limits) -> JqPool {
    JqPool::start(program, limits, worker()).await.unwrap_or_else(|e| panic!("{program}: {e}"))
}

#[tokio::test]
async fn programs_yield_every_output() {
    let pool = pool(".data.items | map(select(.n > 1)) | .[].name", limits()).await;
    let input = json!({"data": {"items": [{"n": 1, "name": "a"}, {"n": 2, "name": "b"}, {"n": 3, "name": "é"}]}});
    assert_eq!(pool.run(&input.to_string()).await.unwrap(), vec![json!("b"), json!("é")]);
    assert_eq!(pool.run("{\n \"data\": {\"items\": []}\n}").await.unwrap(), Vec::<serde_json::Value>::new());
    let objects = pool_run("{id, total: (.items | add)}", json!({"id": "1", "items": [1, 2.5]})).await;
    assert_eq!(objects, vec![json!({"id": "1", "total": 3.5})]);
}

async fn pool_with(program: &str) -> JqPool {
    pool(program, limits()).await
}

async fn pool_run(program: &str, input: serde_json::Value) -> Vec<serde_json::Value> {
    pool(program, limits()).await.run(&input.to_string()).await.unwrap()
}

#[tokio::test]
async fn the_sandbox_hides_the_environment_and_files() {
    assert_eq!(pool_run("[env, $ENV]", json!(null)).await, vec![json!([{}, {}])]);
    assert!(check_program("input").unwrap_err().to_string().contains("undefined filter `input/0`"));
    assert!(check_program("include \"x\"; .").unwrap_err().to_string().contains("cannot load modules"));
}

#[tokio::test]
async fn compile_errors_say_where() {
    let err = JqPool::start(".a |\n .b | (", limits(), worker()).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid jq program: expected closing parenthesis at line 2, column 8");
}

#[tokio::test]
async fn runtime_errors_are_reported_and_the_worker_stays() {
    let pool = pool("if .x then error(\"boom: \\(.x)\") else .y + 1 end", limits()).await;
    assert_eq!(pool.run(r#"{"x": "bad"}"#).await.unwrap_err(), JqError::Runtime("boom: bad".into()));
    let err = pool.run(r#"{"y": "text"}"#).await.unwrap_err();
    assert!(matches!(&err, JqError::Runtime(m) if m.contains("cannot calculate")), "{err}");
    assert_eq!(pool.run(r#"{"x": {"a": 1}}"#).await.unwrap_err(), JqError::Runtime("boom: {\"a\":1}".into()));
    let object = pool_with("error({code: 1})").await.run("null").await.unwrap_err();
    assert_eq!(object, JqError::Runtime(r#"{"code":1} (not a string)"#.into()));
    assert_eq!(pool.run(r#"{"y": 1}"#).await.unwrap(), vec![json!(2)]);
    assert!(matches!(pool.run("{nope").await.unwrap_err(), JqError::Runtime(m) if m.contains("not JSON")));
}

#[tokio::test]
async fn runaway_programs_are_stopped_and_the_pool_recovers() {
    let pool = pool(
        "if . == \"loop\" then (def f: f; f) else . end",
        Limits { timeout: Duration::from_millis(300), ..limits() },
    )
    .await;
    let started = Instant::now();
    assert_eq!(pool.run("\"loop\"").await.unwrap_err(), JqError::Timeout(Duration::from_millis(300)));
    assert!(started.elapsed() < Duration::from_secs(30), "bounded");
    assert_eq!(pool.run("1").await.unwrap(), vec![json!(1)]);
}

#[tokio::test]
async fn memory_bombs_kill_only_their_worker() {
    let pool = pool(
        "if . == \"bomb\" then \"x\" * 1000000000 | length else . end",
        Limits { memory_bytes: 64 << 20, ..limits() },
    )
    .await;
    let err = pool.run("\"bomb\"").await.unwrap_err();
    assert!(matches!(err, JqError::ResourceExhausted(_)), "{err}");
    assert_eq!(pool.run("2").await.unwrap(), vec![json!(2)]);
}

#[tokio::test]
async fn output_limits_are_enforced() {
    let many = pool("range(100)", Limits { max_outputs: 10, ..limits() }).await;
    assert_eq!(
        many.run("null").await.unwrap_err(),
        JqError::ResourceExhausted("the program yields more than 10 outputs".into())
    );
    let big = pool("[range(1000)]", Limits { max_output_bytes: 100, ..limits() }).await;
    assert!(matches!(big.run("null").await.unwrap_err(), JqError::ResourceExhausted(m) if m.contains("100 bytes")));
    let deep = pool("reduce range(200) as $i (0; [.])", limits()).await;
    assert!(matches!(deep.run("null").await.unwrap_err(), JqError::ResourceExhausted(m) if m.contains("deeper")));
}

#[tokio::test]
async fn concurrent_evaluations_share_the_workers() {
    let pool = std::sync::Arc::new(pool(". * 2", Limits { workers: 2, ..limits() }).await);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(&i.to_string()).await })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap().unwrap(), vec![json!(i * 2)]);
    }
}

#[tokio::test]
async fn bad_limits_and_bad_workers_are_start_errors() {
    let err = JqPool::start(".", Limits { workers: 0, ..limits() }, worker()).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid jq limits: workers must be at least 1");
    let err = JqPool::start(".", limits(), WorkerCommand::new("/nonexistent/worker")).await.unwrap_err();
    assert!(err.to_string().starts_with("jq worker: cannot start /nonexistent/worker"), "{err}");
    let err = JqPool::start(".", limits(), WorkerCommand::new("/bin/true")).await.unwrap_err();
    assert!(err.to_string().contains("exited before it was ready"), "{err}");
}

/// Evaluations queued together go to the worker in one batch; a runaway or a memory bomb
/// among them is answered with its own error, the others with their outputs.
#[tokio::test]
async fn a_runaway_or_a_bomb_in_a_batch_fails_alone() {
    let program = "if . == \"loop\" then (def f: f; f) elif . == \"bomb\" then \"x\" * 1000000000 | length else . end";
    let limits = Limits { timeout: Duration::from_millis(300), memory_bytes: 64 << 20, ..limits() };
    let pool = pool(program, limits).await;
    // One worker, and every run queued before the worker's task runs (a current-thread
    // runtime): they go out as one batch.
    let inputs = ["1", "\"loop\"", "2", "\"bomb\"", "3"];
    let results = futures_join(inputs.iter().map(|input| pool.run(input))).await;
    assert_eq!(results[0], Ok(vec![json!(1)]));
    assert_eq!(results[1], Err(JqError::Timeout(Duration::from_millis(300))));
    assert_eq!(results[2], Ok(vec![json!(2)]));
    assert!(matches!(&results[3], Err(JqError::ResourceExhausted(m)) if m.contains("died")), "{:?}", results[3]);
    assert_eq!(results[4], Ok(vec![json!(3)]));
    assert_eq!(pool.run("4").await.unwrap(), vec![json!(4)]);
}

/// A caller that gives up (a request cancelled) leaves the worker to the next one.
#[tokio::test]
async fn a_cancelled_evaluation_does_not_stop_the_pool() {
    let pool = pool("if . == \"slow\" then last(range(3000000)) else . end", limits()).await;
    let gave_up = tokio::time::timeout(Duration::from_millis(1), pool.run("\"slow\"")).await;
    assert!(gave_up.is_err() || gave_up.is_ok_and(|r| r.is_ok()));
    assert_eq!(pool.run("5").await.unwrap(), vec![json!(5)]);
}

#[tokio::test]
async fn inputs_may_span_lines_and_outputs_hold_newlines() {
    let pool = pool("[.a, \"x\\ny\"], .b", limits()).await;
    let outputs = pool.run_json(b"{\n  \"a\": \"line\\nbreak\",\n  \"b\": {\"c\": [1, 2.5]}\n}").await.unwrap();
    assert_eq!(outputs.len(), 2);
    let texts: Vec<&[u8]> = outputs.iter().collect();
    assert_eq!(texts, vec![&br#"["line\nbreak","x\ny"]"#[..], &br#"{"c":[1,2.5]}"#[..]]);
    assert_eq!(outputs.into_single(), Err(2));
}

/// Polls every future together in this task (what `futures::future::join_all` does).
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if let Some(f) = future {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *output = Some(value);
                        *future = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[tokio::test]
async fn object_inputs_are_built_member_by_member() {
    let pool = pool("[.id, .data, .text]", limits()).await;
    let mut input = fnmesh_jq::ObjectInput::with_capacity(64);
    input.string("id", "é\n1");
    input.json_or_text("data", b"{\n \"n\": [1, 2.5]\n}");
    input.json_or_text("text", b"{not json");
    let outputs = pool.run_object(input).await.unwrap();
    let output = String::from_utf8(outputs.into_single().unwrap()).unwrap();
    assert_eq!(output, r#"["é\n1",{"n":[1,2.5]},"{not json"]"#);
}

/// Large inputs and outputs cross the pipes (more than a pipe holds), and the next
/// evaluation is served as usual.
#[tokio::test]
async fn large_inputs_and_outputs_cross_the_pipes() {
    let pool = pool("if type == \"string\" then . * 3 else . end", limits()).await;
    let input = format!("\"{}\"", "x".repeat(1 << 20));
    let outputs = pool.run_json(input.as_bytes()).await.unwrap();
    assert_eq!(outputs.into_single().unwrap().len(), 3 * (1 << 20) + 2);
    assert_eq!(pool.run("1").await.unwrap(), vec![json!(1)]);
}
