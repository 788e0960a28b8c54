//! The benchmark cases: the same event through each function, each a process of its
//! own (the release binaries, a pass-through, the Node.js filters), and the report.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use tokio::process::{Child, Command};

use crate::load::{Measured, Shot, fire};
use crate::{Settings, cpu};

/// The one event every case gets: every filter passes it (an even minute, `myext=yes`,
/// an item with id 2).
pub(crate) fn event_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("ce-specversion", "1.0"),
        ("ce-id", "bench-1"),
        ("ce-source", "/bench"),
        ("ce-type", "bench.event"),
        ("ce-time", "2020-09-14T14:50:00Z"),
        ("ce-myext", "yes"),
        ("content-type", "application/json"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
}

const BODY: &str = r#"{"message":"hello","items":[{"id":1,"qty":2},{"id":2,"qty":1}]}"#;
const JS_FILTER: &str = "Math.round(Date.parse(event.time) / 60000) % 2 === 0";

/// A case: a name, what to run, and its environment.
struct Case {
    name: &'static str,
    program: Program,
    env: &'static [(&'static str, &'static str)],
}

enum Program {
    /// A binary of this workspace, next to `fnmesh-bench`.
    Binary(&'static str),
    /// A script of `hack/node-filter/`.
    Node(&'static str),
}

pub const NAMES: &str = "passthrough, filter-js, filter-cesql, filter-jsonpath, transformer-js, transformer-jq, \
                         transformer-jsonpath, node-original-filter-js, node-bare-filter-js, sequence (the mesh)";

const CASES: &[Case] = &[
    Case { name: "passthrough", program: Program::Binary("fnmesh-bench"), env: &[] },
    Case { name: "filter-js", program: Program::Binary("filter"), env: &[("FILTER", JS_FILTER)] },
    Case {
        name: "filter-cesql",
        program: Program::Binary("filter"),
        env: &[("FILTER_CESQL", "type = 'bench.event' AND myext = 'yes'")],
    },
    Case {
        name: "filter-jsonpath",
        program: Program::Binary("filter"),
        env: &[("FILTER_JSONPATH", "$.data.items[?@.id == 2]")],
    },
    Case {
        name: "transformer-js",
        program: Program::Binary("transformer"),
        env: &[("TRANSFORMER", "({message: event.data.message + '!'})")],
    },
    Case {
        name: "transformer-jq",
        program: Program::Binary("transformer"),
        env: &[("TRANSFORMER_JQ", r#"{message: (.data.message + "!")}"#)],
    },
    Case {
        name: "transformer-jsonpath",
        program: Program::Binary("transformer"),
        env: &[("TRANSFORMER_JSONPATH", r#"{"message": "$.data.message"}"#)],
    },
    Case { name: "node-original-filter-js", program: Program::Node("original.js"), env: &[("FILTER", JS_FILTER)] },
    Case { name: "node-bare-filter-js", program: Program::Node("bare.js"), env: &[("FILTER", JS_FILTER)] },
];

pub(crate) fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).map_err(|e| e.to_string())
}

async fn start(case: &Case) -> Result<(String, Child), String> {
    let port = free_port()?;
    let mut command = match case.program {
        Program::Binary(name) => {
            let dir = std::env::current_exe().map_err(|e| e.to_string())?;
            let exe = dir.parent().map(|d| d.join(name)).unwrap_or_else(|| PathBuf::from(name));
            if !exe.is_file() {
                return Err(format!("{} is not built (hack/bench builds it)", exe.display()));
            }
            let mut command = Command::new(exe);
            if name == "fnmesh-bench" {
                command.arg(crate::PASSTHROUGH_ARG);
            }
            command
        }
        Program::Node(script) => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/node-filter");
            if !dir.join("node_modules").is_dir() {
                return Err("hack/node-filter/node_modules is missing (hack/bench runs npm ci there)".into());
            }
            let mut command = Command::new("node");
            command.arg(dir.join(script));
            command
        }
    };
    let child = command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("FNMESH_LISTEN_ADDR", "127.0.0.1")
        .envs(case.env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok((format!("http://127.0.0.1:{port}/"), child));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err("did not start listening within 10s".into())
}

/// One row of the report.
struct Row {
    name: &'static str,
    measured: Measured,
    /// Server CPU microseconds per event.
    cpu_us: Option<f64>,
}

impl Row {
    /// Events per CPU-second of the server.
    fn efficiency(&self) -> Option<f64> {
        self.cpu_us.filter(|us| *us > 0.0).map(|us| 1e6 / us)
    }
}

/// Runs every selected case, then prints the table (ratios need every row).
pub async fn run_all(settings: &Settings) -> ExitCode {
    let mut rows = Vec::new();
    for case in CASES.iter().filter(|c| settings.only.is_empty() || settings.only.iter().any(|o| o == c.name)) {
        let (url, mut child) = match start(case).await {
            Ok(started) => started,
            Err(why) => {
                println!("{:<24} skipped: {why}", case.name);
                continue;
            }
        };
        let shot = Shot { url, headers: event_headers(), body: bytes::Bytes::from_static(BODY.as_bytes()) };
        let pid = child.id().unwrap_or_default();
        let measured = fire(&shot, settings, 500, || cpu::seconds(pid)).await;
        let _ = child.kill().await;
        let cpu_us = measured.cpu_seconds.map(|s| s * 1e6 / measured.ok.max(1) as f64);
        rows.push(Row { name: case.name, measured, cpu_us });
    }
    println!(
        "fnmesh-bench: {} events per case (at most {:?}), {} connections, {} cores; each server is its own \
         process, the load generator shares the cores",
        settings.events,
        settings.seconds,
        settings.concurrency,
        std::thread::available_parallelism().map(usize::from).unwrap_or(1)
    );
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>7} {:>11} {:>9} {:>13}",
        "case", "events/s", "p50", "p99", "failed", "CPU/event", "vs pass", "vs node orig"
    );
    let find = |name: &str| rows.iter().find(|r| r.name == name);
    let (pass, node) = (find("passthrough"), find("node-original-filter-js"));
    let ratio = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"));
    for row in &rows {
        let m = &row.measured;
        let vs_pass = ratio(pass.map(|p| m.rate() / p.measured.rate()));
        let vs_node = ratio(node.and_then(|n| Some(row.efficiency()? / n.efficiency()?)));
        let cpu = row.cpu_us.map_or_else(|| "-".to_owned(), |us| format!("{us:.1}µs"));
        println!(
            "{:<24} {:>10.0} {:>10.2?} {:>10.2?} {:>7} {cpu:>11} {vs_pass:>9} {vs_node:>13}",
            row.name,
            m.rate(),
            m.p50,
            m.p99,
            m.failed
        );
    }
    println!(
        "events/s: answers per second of wall time (vs pass: against passthrough). CPU/event: the server's \
         user+system CPU, with its jq workers,\nper event (vs node orig: events per CPU-second against \
         node-original-filter-js, the design of villardl/filter-nodejs)."
    );
    let failures: usize = rows.iter().map(|r| r.measured.failed).sum();
    if failures > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
