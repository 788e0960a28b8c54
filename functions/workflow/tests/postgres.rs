//! The PostgreSQL store against a real server: a waiting instance survives a restart,
//! and two replicas sharing the database never run the same step twice.
//!
//! The server is `FNMESH_TEST_POSTGRES` when set (a URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`), else a throwaway cluster this test
//! makes with Debian's `initdb` and `pg_ctl` (`/usr/lib/postgresql/*/bin`, which `.ci/run`
//! installs) in a temporary folder, on a free loopback port, and stops at the end. initdb
//! refuses to run as root, so as root (CI) the cluster is made and run as the `postgres`
//! user through `runuser`. With neither, the test prints "skipped: no PostgreSQL" and
//! passes: nothing is mocked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Flow, Recorded, Service};
use serde_json::{Value, json};

/// A PostgreSQL server for the test.
struct Server {
    url: String,
    /// The cluster this test started (data folder, `pg_ctl`, run as `postgres`?).
    own: Option<(tempfile::TempDir, PathBuf, bool)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some((dir, bin, as_postgres)) = &self.own {
            let data = dir.path().join("data");
            let _ = command(*as_postgres, &bin.join("pg_ctl"))
                .args(["-D", &data.display().to_string(), "-m", "immediate", "stop"])
                .output();
        }
    }
}

fn command(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn server() -> Option<Server> {
    if let Ok(url) = std::env::var("FNMESH_TEST_POSTGRES")
        && !url.is_empty()
    {
        return Some(Server { url, own: None });
    }
    let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    bins.sort();
    let bin = bins.pop()?;
    let as_postgres = output(Command::new("id").arg("-u")).as_deref() == Some("0");
    let dir = tempfile::tempdir().ok()?;
    if as_postgres {
        let uid: u32 = output(Command::new("id").args(["-u", "postgres"]))?.parse().ok()?;
        let gid: u32 = output(Command::new("id").args(["-g", "postgres"]))?.parse().ok()?;
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).ok()?;
    }
    let data = dir.path().join("data").display().to_string();
    let initdb = command(as_postgres, &bin.join("initdb"))
        .args(["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        .output()
        .ok()?;
    if !initdb.status.success() {
        eprintln!("initdb failed: {}", String::from_utf8_lossy(&initdb.stderr));
        return None;
    }
    let port = fnmesh_testkit::free_port();
    let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", dir.path().display());
    let log = dir.path().join("log").display().to_string();
    let started = command(as_postgres, &bin.join("pg_ctl"))
        .args(["-D", &data, "-o", &options, "-l", &log, "-w", "start"])
        .output()
        .ok()?;
    let server =
        Server { url: format!("postgres://postgres@127.0.0.1:{port}/postgres"), own: Some((dir, bin, as_postgres)) };
    if !started.status.success() {
        eprintln!("pg_ctl start failed: {}", String::from_utf8_lossy(&started.stderr));
        return None;
    }
    Some(server)
}

/// Asks for a confirmation (callback), then calls the counting service once.
fn definition(service: &Service) -> Value {
    json!({
        "id": "pg", "specVersion": "0.8",
        "events": [{"name": "Go", "type": "go"}],
        "functions": [{"name": "count", "type": "custom", "operation": format!("rest:post:{}/count", service.url)}],
        "states": [
            {"name": "Ask", "type": "callback", "action": {"functionRef": {"refName": "count", "arguments": {"step": "ask"}}},
             "eventRef": "Go", "transition": "Work"},
            {"name": "Work", "type": "operation", "actions": [{"functionRef": {"refName": "count", "arguments": {"step": "work"}}}],
             "end": true}
        ]
    })
}

fn replica(dir: &Path, url: &str) -> Flow {
    let router = common::start(dir, "flow.sw.json", &[("WORKFLOW_STORE", url)]).unwrap();
    Flow { dir: tempfile::tempdir().unwrap(), router, id: "pg".into() }
}

#[tokio::test]
async fn instances_survive_restarts_and_replicas_never_run_a_step_twice() {
    let Some(server) = server() else {
        eprintln!("skipped: no PostgreSQL");
        return;
    };
    let service = Service::start(|_: &Recorded, _| (200, json!({}))).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flow.sw.json"), definition(&service).to_string()).unwrap();

    // A restart: the instance waits in the database, a new function resumes it.
    let id = replica(dir.path(), &server.url).run(&json!({"n": 1})).await.0;
    let restarted = replica(dir.path(), &server.url);
    assert_eq!(restarted.instance(&id).await.json()["status"], "waiting");
    let resumed = restarted.event("go", &[("kogitoprocrefid", &id)], &json!({})).await;
    assert_eq!(resumed.status, 202, "{}", resumed.text());
    assert_eq!(restarted.instance(&id).await.status, 404);
    let steps: Vec<Value> = service.requests().into_iter().map(|r| r.body["step"].clone()).collect();
    assert_eq!(steps, [json!("ask"), json!("work")]);

    // Two replicas get the same event at once, many times over: one runs the step.
    let (a, b) = (replica(dir.path(), &server.url), replica(dir.path(), &server.url));
    for _ in 0..10 {
        let id = a.run(&json!({})).await.0;
        let before = service.requests().len();
        let (extensions, data) = ([("kogitoprocrefid", id.as_str())], json!({}));
        let (x, y) = tokio::join!(a.event("go", &extensions, &data), b.event("go", &extensions, &data));
        let mut statuses = [x.status.as_u16(), y.status.as_u16()];
        statuses.sort_unstable();
        assert!(matches!(statuses, [202, 422] | [202, 503]), "{statuses:?}: {} / {}", x.text(), y.text());
        assert_eq!(service.requests().len(), before + 1, "the Work step ran once");
        assert_eq!(a.instance(&id).await.status, 404);
    }
    drop(server);
}
