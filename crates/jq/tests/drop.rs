//! Dropping a pool stops its workers (the tasks that feed them end, and a worker is
//! killed with its task). A file of its own: this process then has no other workers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::{Duration, Instant};

use fnmesh_jq::{JqPool, Limits, WorkerCommand};

/// Live (not zombie) children of this process.
fn live_children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
            fields.get(1) == Some(&me.as_str()) && fields.first() != Some(&"Z")
        })
        .count()
}

#[tokio::test]
async fn a_dropped_pool_leaves_no_worker() {
    let worker = WorkerCommand::new(env!("CARGO_BIN_EXE_fnmesh-jq-worker"));
    let pool = JqPool::start(".", Limits { workers: 2, ..Limits::default() }, worker).await.unwrap();
    assert_eq!(pool.run("1").await.unwrap(), vec![serde_json::json!(1)]);
    assert_eq!(live_children(), 2);
    drop(pool);
    // Bounded wait for the kill to land (not a timing assertion: any time under it passes).
    let started = Instant::now();
    while live_children() > 0 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(live_children(), 0, "the workers outlived their pool");
}
