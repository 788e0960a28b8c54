//! The benchmark cases: the same event through each server, each a process of its own
//! (the limit, a pass-through, our release binaries, and peers in Node.js and Python),
//! at each concurrency level; and the report.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use tokio::process::{Child, Command};

use crate::load::{Measured, Shot, fire};
use crate::{Settings, procfs};

/// The event every case gets: every filter passes it (an even minute, `myext=yes`, an
/// item with id 2), the appender accepts its data.
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

const BODY: &str = r#"{"id":0,"message":"hello","items":[{"id":1,"qty":2},{"id":2,"qty":1}]}"#;
const JS_FILTER: &str = "Math.round(Date.parse(event.time) / 60000) % 2 === 0";
const STATE_MACHINE: &str = "'': {events: {bench.event: Started}}\nStarted: {events: {}}";

/// A case: a name, what to run, its environment, and what it stands for.
struct Case {
    name: &'static str,
    program: Program,
    env: &'static [(&'static str, &'static str)],
}

enum Program {
    /// This program with an argument (`--serve-limit`, `--serve-passthrough`).
    Bench(&'static str),
    /// A binary of this workspace, next to `fnmesh-bench`.
    Binary(&'static str),
    /// A script of `hack/node-filter/`.
    NodeFilter(&'static str),
    /// `hack/peers/node-appender` on faas-js-runtime.
    NodeFaas,
    /// `hack/peers/python-appender` on uvicorn.
    Python,
}

pub const NAMES: &str = "limit, passthrough, appender, event-display, filter-js, filter-cesql, filter-jsonpath, \
                         transformer-js, transformer-jq, state-machine, node-faas-appender, python-appender, \
                         node-original-filter-js, node-bare-filter-js, sequence and broker (the mesh)";

const CASES: &[Case] = &[
    Case { name: "limit", program: Program::Bench(crate::limit::LIMIT_ARG), env: &[] },
    Case { name: "passthrough", program: Program::Bench(crate::PASSTHROUGH_ARG), env: &[] },
    Case { name: "appender", program: Program::Binary("appender"), env: &[("MESSAGE", " - handled")] },
    Case { name: "event-display", program: Program::Binary("event-display"), env: &[] },
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
    Case { name: "state-machine", program: Program::Binary("state-machine"), env: &[("STATE_MACHINE", STATE_MACHINE)] },
    Case { name: "node-faas-appender", program: Program::NodeFaas, env: &[("MESSAGE", " - handled")] },
    Case { name: "python-appender", program: Program::Python, env: &[("MESSAGE", " - handled")] },
    Case {
        name: "node-original-filter-js",
        program: Program::NodeFilter("original.js"),
        env: &[("FILTER", JS_FILTER)],
    },
    Case { name: "node-bare-filter-js", program: Program::NodeFilter("bare.js"), env: &[("FILTER", JS_FILTER)] },
];

pub(crate) fn free_port() -> Result<u16, String> {
    fnmesh_runtime::ports::for_process().map_err(|e| e.to_string())
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory of this program, where the release binaries are.
pub(crate) fn exe_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    exe.parent().map(Path::to_path_buf).ok_or_else(|| "no directory".to_owned())
}

fn command(case: &Case, port: u16) -> Result<Command, String> {
    let needs = |path: PathBuf, what: &str| {
        if path.exists() { Ok(path) } else { Err(format!("{} is missing ({what})", path.display())) }
    };
    let mut command = match case.program {
        Program::Bench(arg) => {
            let mut command = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            command.arg(arg);
            command
        }
        Program::Binary(name) => Command::new(needs(exe_dir()?.join(name), "hack/bench builds it")?),
        Program::NodeFilter(script) => {
            let dir = needs(repo().join("hack/node-filter/node_modules"), "hack/bench runs npm ci there")?;
            let mut command = Command::new("node");
            command.arg(dir.join("..").join(script));
            command
        }
        Program::NodeFaas => {
            let dir = repo().join("hack/peers/node-appender");
            let cli = needs(dir.join("node_modules/faas-js-runtime/bin/cli.js"), "hack/bench runs npm ci there")?;
            let mut command = Command::new("node");
            command.arg(cli).arg(dir.join("index.js"));
            command
        }
        Program::Python => {
            let uvicorn = needs(repo().join("target/peers/python/bin/uvicorn"), "hack/bench installs it")?;
            let mut command = Command::new(uvicorn);
            command
                .args(["app:app", "--port", &port.to_string(), "--log-level", "warning", "--no-access-log"])
                .current_dir(repo().join("hack/peers/python-appender"));
            command
        }
    };
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        // faas-js-runtime's own names for its port and log level.
        .env("FUNC_PORT", port.to_string())
        .env("FUNC_LOG_LEVEL", "error")
        .env("FNMESH_LISTEN_ADDR", "127.0.0.1")
        .envs(case.env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    Ok(command)
}

/// Starts the case's server; returns its URL, the process, and the time to its first
/// answered event.
async fn start(case: &Case) -> Result<(String, Child, Duration), String> {
    let port = free_port()?;
    let started = Instant::now();
    let child = command(case, port)?.spawn().map_err(|e| format!("cannot start: {e}"))?;
    let url = format!("http://127.0.0.1:{port}/");
    let client = reqwest::Client::new();
    while started.elapsed() < Duration::from_secs(20) {
        let sent = client.post(&url).headers(event_headers()).body(BODY).send().await;
        if sent.is_ok_and(|r| r.status().is_success()) {
            return Ok((url, child, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err("did not answer an event within 20s".into())
}

/// One case's figures.
pub struct Row {
    name: &'static str,
    levels: Vec<(usize, Measured)>,
    startup: Duration,
    idle_rss: Option<u64>,
    peak_rss: Option<u64>,
    binary: Option<u64>,
    image: Option<u64>,
}

impl Row {
    /// Keeps, level by level, the round with the most requests/s; the first round's
    /// start-up and memory figures stay (a later start finds warm caches).
    fn keep_best(&mut self, other: Row) {
        for (concurrency, measured) in other.levels {
            match self.levels.iter_mut().find(|(c, _)| *c == concurrency) {
                Some((_, kept)) if kept.rate() >= measured.rate() => {}
                Some((_, kept)) => *kept = measured,
                None => self.levels.push((concurrency, measured)),
            }
        }
    }

    fn at(&self, concurrency: usize) -> Option<&Measured> {
        self.levels.iter().find(|(c, _)| *c == concurrency).map(|(_, m)| m)
    }
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".to_owned(), |b| format!("{:.1} MB", b as f64 / 1_048_576.0))
}

/// Runs every selected case, then prints their tables; the rows go on to the ratios.
pub async fn run_all(settings: &Settings) -> (ExitCode, Vec<Row>) {
    let cases: Vec<&Case> =
        CASES.iter().filter(|c| settings.only.is_empty() || settings.only.iter().any(|o| o == c.name)).collect();
    let mut rows: Vec<Row> = Vec::new();
    // Each round runs every case, the odd ones in reverse order, so that a neighbour's
    // load early or late in the run falls on different cases; each level keeps its best
    // round (the most requests/s), as a load generator sharing the cores with others
    // only ever measures less than what a server can do.
    for round in 0..settings.rounds {
        let order: Box<dyn Iterator<Item = &&Case>> =
            if round % 2 == 0 { Box::new(cases.iter()) } else { Box::new(cases.iter().rev()) };
        for case in order {
            let Some(row) = measure(case, settings).await else { continue };
            match rows.iter_mut().find(|r| r.name == row.name) {
                Some(kept) => kept.keep_best(row),
                None => rows.push(row),
            }
        }
    }
    rows.sort_by_key(|row| cases.iter().position(|c| c.name == row.name));
    report(settings, &rows);
    let failures: usize = rows.iter().flat_map(|r| r.levels.iter()).map(|(_, m)| m.failed).sum();
    (if failures > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }, rows)
}

/// One round of `case`: started, loaded at each level, stopped; `None` when it cannot start.
async fn measure(case: &Case, settings: &Settings) -> Option<Row> {
    let (url, mut child, startup) = match start(case).await {
        Ok(started) => started,
        Err(why) => {
            println!("{}: skipped: {why}", case.name);
            return None;
        }
    };
    let pid = child.id().unwrap_or_default();
    let idle_rss = procfs::memory(pid, false);
    let shot = Shot { url, headers: event_headers(), body: bytes::Bytes::from_static(BODY.as_bytes()) };
    let mut levels = Vec::new();
    for &concurrency in &settings.concurrency {
        let measured = if settings.wrk {
            match crate::wrk::fire(&shot, concurrency, settings.seconds, || procfs::cpu_seconds(pid)).await {
                Ok(measured) => measured,
                Err(e) => {
                    println!("{}: wrk failed: {e}", case.name);
                    continue;
                }
            }
        } else {
            fire(&shot, settings, concurrency, 500, || procfs::cpu_seconds(pid)).await
        };
        levels.push((concurrency, measured));
    }
    let peak_rss = procfs::memory(pid, true);
    let _ = child.kill().await;
    let (binary, image) = match case.program {
        Program::Binary(name) => {
            (exe_dir().ok().and_then(|d| std::fs::metadata(d.join(name)).ok()).map(|m| m.len()), image_size(name))
        }
        _ => (None, None),
    };
    Some(Row { name: case.name, levels, startup, idle_rss, peak_rss, binary, image })
}

/// What a linux/amd64 node pulls of the function's image (hack/build-images writes it).
fn image_size(name: &str) -> Option<u64> {
    let checked = fnmesh_oci::verify(&repo().join("target/images").join(name)).ok()?;
    checked.platforms.iter().find(|p| p.platform.architecture == "amd64").map(|p| p.size)
}

fn report(settings: &Settings, rows: &[Row]) {
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let load = if settings.wrk {
        format!("wrk (1 thread) for {:?} per level", settings.seconds)
    } else {
        format!("the built-in client, {} requests per level at most (or {:?})", settings.events, settings.seconds)
    };
    println!("\nLoad: {load}; {cores} cores; each server its own process; the load generator shares the cores.\n");
    println!("| case | connections | requests/s | p50 | p99 | errors | server CPU/request |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        for (concurrency, m) in &row.levels {
            let cpu =
                m.cpu_seconds.map_or_else(|| "-".to_owned(), |s| format!("{:.1} µs", s * 1e6 / m.ok.max(1) as f64));
            println!(
                "| {} | {concurrency} | {:.0} | {:.2?} | {:.2?} | {} | {cpu} |",
                row.name,
                m.rate(),
                m.p50,
                m.p99,
                m.failed
            );
        }
    }
    println!("\n| case | start-up to first answer | idle RSS | peak RSS | binary | image |");
    println!("|---|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {:.1?} | {} | {} | {} | {} |",
            row.name,
            row.startup,
            mb(row.idle_rss),
            mb(row.peak_rss),
            mb(row.binary),
            mb(row.image)
        );
    }
}

/// The one table of ratios, with the targets beside them: requests/s at 16 connections
/// (64 in brackets), CPU per request, and the mesh's figures.
pub fn ratios(settings: &Settings, rows: &[Row], step: Option<std::time::Duration>, mesh: &crate::mesh::MeshFigures) {
    let find = |name: &str| rows.iter().find(|r| r.name == name);
    let rate = |name: &str, level: usize| find(name).and_then(|r| r.at(level)).map(Measured::rate);
    let cpu = |name: &str, level: usize| {
        let m = find(name)?.at(level)?;
        Some(m.cpu_seconds? / m.ok.max(1) as f64)
    };
    let pair = |of: &dyn Fn(usize) -> Option<f64>| -> String {
        let at = |level: usize| of(level).map(|x| format!("{x:.2}x"));
        match (at(16), at(64)) {
            (Some(a), Some(b)) => format!("{a} ({b})"),
            (Some(a), None) => a,
            (None, Some(b)) => format!("- ({b})"),
            (None, None) => "-".into(),
        }
    };
    let by_rate = |a: &'static str, b: &'static str| {
        pair(&move |level| Some(rate(a, level)? / rate(b, level).filter(|r| *r > 0.0)?))
    };
    let by_cpu = |a: &'static str, b: &'static str| {
        pair(&move |level| Some(cpu(a, level)? / cpu(b, level).filter(|c| *c > 0.0)?))
    };
    let _ = settings;
    println!("\nRatios at 16 connections (64 in brackets):\n");
    println!("| ratio | measured | target |");
    println!("|---|---:|---:|");
    let line = |what: &str, measured: String, target: &str| println!("| {what} | {measured} | {target} |");
    for function in ["appender", "event-display", "filter-cesql", "filter-jsonpath"] {
        line(&format!("{function} / limit, requests/s"), by_rate(function, "limit"), "≥ 0.85x, or CPU ≤ 1.2x");
        line(&format!("{function} / limit, CPU per request"), by_cpu(function, "limit"), "≤ 1.2x");
    }
    line("appender / Node faas-js-runtime", by_rate("appender", "node-faas-appender"), "≥ 10x");
    line("appender / Python cloudevents + uvicorn", by_rate("appender", "python-appender"), "≥ 20x");
    line("filter-js / Node original design", by_rate("filter-js", "node-original-filter-js"), "≥ 10x");
    line("filter-js / bare Node http", by_rate("filter-js", "node-bare-filter-js"), "≥ 2x");
    line("transformer-js / bare Node http (its filter)", by_rate("transformer-js", "node-bare-filter-js"), "≥ 2x");
    line("transformer-jq / passthrough, CPU per request", by_cpu("transformer-jq", "passthrough"), "≤ 2x");
    line("filter-cesql / passthrough, requests/s", by_rate("filter-cesql", "passthrough"), "≥ 0.5x");
    let step = step.map_or_else(|| "-".to_owned(), |s| format!("{s:.2?}"));
    line("Sequence step through fnmesh run, p50 added (1 connection)", step, "≤ 50µs");
    let sequence = mesh.sequence_ratio().map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"));
    line("Sequence of 3 / client calling the 3, events/s (16 connections)", sequence, "≥ 0.5x");
    let (recorded, recorded_cpu) = match mesh.recording_cost() {
        Some((rate, cpu)) => (format!("{rate:.2}x"), cpu.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}x"))),
        None => ("-".to_owned(), "-".to_owned()),
    };
    line("Sequence, journeys recorded / journal off (--journal 0), events/s", recorded, "≥ 0.95x");
    line("Sequence, journeys recorded / journal off (--journal 0), CPU per event", recorded_cpu, "≤ 1.05x");
    if let Some(broker) = &mesh.broker {
        let cpu = broker.cpu_per_delivery().map_or_else(|| "-".to_owned(), |c| format!("{c:.1} µs"));
        line(
            "Broker with 10 Triggers: events/s (each delivered 10 times), CPU per delivery",
            format!("{:.0}, {cpu}", broker.events_per_second()),
            "(measured)",
        );
    }
}
