//! `fnmesh-bench`: events per second and latency of each function on one machine, in
//! one run, so that ratios compare like with like. Run it with `hack/bench`.
//!
//! Every case starts one server as a process of its own on a loopback port (a release
//! binary of this workspace; the limit and a bare pass-through, which are this program
//! started with `--serve-limit` and `--serve-passthrough`; or a peer in Node.js or
//! Python) and sends it the same binary-mode event from each of the `--concurrency`
//! levels of keep-alive connections, `--events` times or for at most `--seconds`,
//! whichever comes first, after a warm-up. Besides requests per second and latency it
//! reads the server's CPU time and memory from `/proc`: CPU per request is what a
//! function costs, whatever the load generator on the same cores costs. Every case runs
//! `--rounds` times (2 unless told; `--quick` 1), the rounds in alternating order, and
//! each level keeps its best round: on a shared machine a neighbour's burst only ever
//! lowers a figure, so the best of two is the closer to what the server can do.
//!
//! The load generator is this program (reqwest on tokio): bounded in requests and time,
//! loopback only, nothing to install, and it reads `/proc` at the exact start and end
//! of each measurement.
#![allow(clippy::print_stdout)] // the report is the product

mod cases;
mod chain;
mod limit;
mod load;
mod mesh;
mod procfs;
mod wrk;

use std::process::ExitCode;
use std::time::Duration;

/// Command-line settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Events per case.
    pub events: usize,
    /// Concurrency levels (connections), each measured in turn.
    pub concurrency: Vec<usize>,
    /// Time limit per case.
    pub seconds: Duration,
    /// Case names to run (all when empty).
    pub only: Vec<String>,
    /// Load from `wrk` (when installed) rather than this program's own client.
    pub wrk: bool,
    /// How many times each case runs (functions and mesh); each level keeps its best round.
    pub rounds: usize,
}

fn parse(args: &[String]) -> Result<Settings, String> {
    let mut settings = Settings {
        events: 20_000,
        concurrency: vec![1, 16, 64],
        seconds: Duration::from_secs(5),
        only: Vec::new(),
        wrk: wrk::available(),
        rounds: 2,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--events" => settings.events = value("--events")?.parse().map_err(|e| format!("--events: {e}"))?,
            "--concurrency" => {
                settings.concurrency = value("--concurrency")?
                    .split(',')
                    .map(|c| c.trim().parse().map_err(|e| format!("--concurrency {c}: {e}")))
                    .collect::<Result<_, _>>()?;
            }
            "--quick" => {
                settings.events = 2_000;
                settings.concurrency = vec![16];
                settings.seconds = Duration::from_secs(3);
                settings.rounds = 1;
            }
            "--seconds" => {
                settings.seconds =
                    Duration::from_secs(value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?);
            }
            "--rounds" => settings.rounds = value("--rounds")?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--only" => settings.only = value("--only")?.split(',').map(str::to_owned).collect(),
            "--load" => match value("--load")?.as_str() {
                "wrk" if wrk::available() => settings.wrk = true,
                "wrk" => return Err("--load wrk: wrk is not installed (apt-get install wrk)".into()),
                "builtin" => settings.wrk = false,
                other => return Err(format!("--load {other}: write wrk or builtin")),
            },
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if settings.events == 0
        || settings.rounds == 0
        || settings.concurrency.is_empty()
        || settings.concurrency.contains(&0)
    {
        return Err("--events, --rounds and --concurrency must be at least 1".into());
    }
    Ok(settings)
}

/// The argument that makes this program the pass-through server of the `passthrough` case.
pub const PASSTHROUGH_ARG: &str = "--serve-passthrough";

fn usage() -> String {
    format!(
        "usage: fnmesh-bench [--events N] [--concurrency C] [--seconds S] [--rounds R] [--only case,case]\ncases: {}",
        cases::NAMES
    )
}

/// The runtime alone: decode the event, encode it back. The ceiling for every function.
fn passthrough(
    _: &fnmesh_runtime::Env,
    _: &fnmesh_runtime::ServeConfig,
    _: fnmesh_runtime::Console,
) -> Result<fnmesh_runtime::Router, fnmesh_runtime::ConfigError> {
    use fnmesh_runtime::server::{any_path, ce_post};
    use fnmesh_runtime::{IncomingEvent, Reply};
    Ok(any_path(ce_post(|incoming: IncomingEvent| async move { Reply::event(incoming.event, incoming.encoding) })))
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|arg| arg == limit::LIMIT_ARG) {
        return limit::serve();
    }
    if std::env::args_os().nth(1).is_some_and(|arg| arg == PASSTHROUGH_ARG) {
        return fnmesh_runtime::run_function(fnmesh_runtime::FunctionSpec { name: "passthrough", launch: passthrough });
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match parse(&args) {
        Ok(settings) => settings,
        Err(problem) => {
            if !problem.is_empty() {
                println!("fnmesh-bench: {problem}");
            }
            println!("{}", usage());
            return if problem.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            println!("fnmesh-bench: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let mesh_only = !settings.only.is_empty() && settings.only.iter().all(|o| o == "sequence" || o == "broker");
        let (code, rows) = if mesh_only { (ExitCode::SUCCESS, Vec::new()) } else { cases::run_all(&settings).await };
        let mut step = None;
        if settings.only.is_empty() || settings.only.iter().any(|o| o == "sequence") {
            match chain::run(&settings).await {
                Ok(per_step) => step = Some(per_step),
                Err(e) => {
                    println!("sequence: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        let mesh = mesh::run(&settings).await;
        cases::ratios(&settings, &rows, step, &mesh);
        code
    })
}
