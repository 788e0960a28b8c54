//! The real `transformer` binary with `TRANSFORMER_JQ`, killed with `SIGKILL` while its
//! jq workers run away (issue 21, item 9): the workers die with it instead of spinning on,
//! orphaned, at 100% CPU.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::process::Command;
use std::time::{Duration, Instant};

use fnmesh_testkit::{Process, reqwest};

const EXE: &str = env!("CARGO_BIN_EXE_transformer");

#[tokio::test]
async fn jq_workers_die_when_their_function_is_killed() {
    let workers = 2;
    let mut function = Process::start(
        EXE,
        &[
            // Runs until killed: the time limit is far away.
            ("TRANSFORMER_JQ", "def f: f; f"),
            ("FNMESH_EVAL_TIMEOUT", "10m"),
            ("FNMESH_EVAL_WORKERS", &workers.to_string()),
        ],
    );
    let client = reqwest::Client::new();
    let pid = function.pid();
    let mut in_flight = Vec::new();
    let mut spinning = Vec::new();
    for i in 0..workers {
        let request = client
            .post(&function.base)
            .header("ce-specversion", "1.0")
            .header("ce-id", format!("spin-{i}"))
            .header("ce-source", "/test")
            .header("ce-type", "spin")
            .body("{}");
        // Kept in flight: a request that goes away would make the function kill its worker.
        in_flight.push(tokio::spawn(async move { request.send().await.map(|r| r.status()) }));
        // One at a time: evaluations queued together go to one worker as a batch, and the
        // second would wait behind the first's endless loop instead of starting a worker.
        let running = wait_until(Duration::from_secs(30), || {
            let children = children(pid);
            let running = children.iter().filter(|w| w.state() == Some('R')).count();
            (running > i).then_some(children)
        })
        .await;
        let Some(running) = running else {
            panic!("{} worker(s) never ran: children {:?}", i + 1, children(pid));
        };
        spinning = running;
    }
    assert_eq!(spinning.len(), workers, "{spinning:?}");

    function.kill(); // SIGKILL: the function cannot stop its workers itself

    let gone = wait_until(Duration::from_secs(10), || spinning.iter().all(|w| !w.alive()).then_some(())).await;
    let survivors: Vec<u32> = spinning.iter().filter(|w| w.alive()).map(|w| w.pid).collect();
    for pid in &survivors {
        // Leave no runaway behind, whatever the outcome.
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    assert!(gone.is_some() && survivors.is_empty(), "workers {survivors:?} outlived their function");
    for request in in_flight {
        assert!(request.await.unwrap().is_err(), "the function died before answering");
    }
}

/// A process, told from a later one with the same pid by its start time.
#[derive(Debug)]
struct Proc {
    pid: u32,
    start_time: u64,
}

impl Proc {
    fn state(&self) -> Option<char> {
        stat(self.pid).filter(|s| s.start_time == self.start_time).map(|s| s.state)
    }

    /// Neither gone nor a zombie waiting for whoever adopted it to reap it.
    fn alive(&self) -> bool {
        self.state().is_some_and(|state| !matches!(state, 'Z' | 'X'))
    }
}

/// The processes whose parent is `parent`.
fn children(parent: u32) -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| stat(pid).filter(|s| s.parent == parent).map(|s| Proc { pid, start_time: s.start_time }))
        .collect()
}

struct Stat {
    state: char,
    parent: u32,
    start_time: u64,
}

/// Fields 3 (state), 4 (ppid) and 22 (starttime) of `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and parentheses.
    let fields: Vec<&str> = text.get(text.rfind(')')? + 2..)?.split(' ').collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        parent: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Polls `check` every 20 ms until it gives a value or `limit` has passed.
async fn wait_until<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
