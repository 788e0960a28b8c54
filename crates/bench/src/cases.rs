//! The benchmark cases: the same event through each function, and the report.

use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use fnmesh_runtime::server::{self, any_path, ce_post};
use fnmesh_runtime::{Console, Env, FunctionSpec, IncomingEvent, Reply, Router, ServeConfig};
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::Settings;
use crate::load::{Measured, Shot, fire};

/// The one event every case gets: the docs' filter passes it (an even minute).
fn event_headers() -> HeaderMap {
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

enum Server {
    InProcess(oneshot::Sender<()>),
    Child(tokio::process::Child),
}

/// The runtime alone: decode the event, encode it back. The ceiling for every function.
fn passthrough(_: &Env, _: &ServeConfig, _: Console) -> Result<Router, fnmesh_runtime::ConfigError> {
    Ok(any_path(ce_post(|incoming: IncomingEvent| async move { Reply::event(incoming.event, incoming.encoding) })))
}

async fn in_process(spec: FunctionSpec, env: &[(&str, &str)]) -> Result<(String, Server), String> {
    let (router, config) =
        spec.build(&Env::from_pairs(env.iter().copied()), Console::null()).map_err(|e| format!("{}: {e}", spec.name))?;
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.map_err(|e| e.to_string())?;
    let url = format!("http://{}/", listener.local_addr().map_err(|e| e.to_string())?);
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    tokio::spawn(server::serve(listener, router, shutdown, config.shutdown_grace));
    Ok((url, Server::InProcess(stop)))
}

/// A minimal Node.js equivalent of filter-nodejs (`hack/node-filter.js`).
async fn node_filter() -> Result<(String, Server), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../hack/node-filter.js");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = tokio::process::Command::new("node")
        .arg(script)
        .env("PORT", port.to_string())
        .env("FILTER", JS_FILTER)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("node is not available ({e})"))?;
    let url = format!("http://127.0.0.1:{port}/");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok((url, Server::Child(child)));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err("node did not start listening".into())
}

async fn start(case: &str) -> Result<(String, Server), String> {
    let filter = fnmesh_filter::SPEC;
    let transformer = fnmesh_transformer::SPEC;
    match case {
        "passthrough" => in_process(FunctionSpec { name: "passthrough", launch: passthrough }, &[]).await,
        "filter-js" => in_process(filter, &[("FILTER", JS_FILTER)]).await,
        "filter-cesql" => in_process(filter, &[("FILTER_CESQL", "type = 'bench.event' AND myext = 'yes'")]).await,
        "filter-jsonpath" => in_process(filter, &[("FILTER_JSONPATH", "$.data.items[?@.id == 2]")]).await,
        "transformer-js" => in_process(transformer, &[("TRANSFORMER", "({message: event.data.message + '!'})")]).await,
        "transformer-jq" => in_process(transformer, &[("TRANSFORMER_JQ", r#"{message: (.data.message + "!")}"#)]).await,
        "node-filter-js" => node_filter().await,
        other => Err(format!("unknown case {other}")),
    }
}

const CASES: [&str; 7] =
    ["passthrough", "filter-js", "filter-cesql", "filter-jsonpath", "transformer-js", "transformer-jq", "node-filter-js"];

/// Runs every selected case and prints the table.
pub async fn run_all(settings: &Settings) -> ExitCode {
    println!(
        "fnmesh-bench: {} events per case (at most {:?}), {} connections, {} cores",
        settings.events,
        settings.seconds,
        settings.concurrency,
        std::thread::available_parallelism().map(usize::from).unwrap_or(1)
    );
    println!("{:<16} {:>12} {:>10} {:>10} {:>8} {:>14}", "case", "events/s", "p50", "p99", "failed", "vs passthrough");
    let mut baseline: Option<f64> = None;
    let mut failures = 0;
    for case in CASES.iter().filter(|c| settings.only.is_empty() || settings.only.iter().any(|o| o == *c)) {
        let (url, server) = match start(case).await {
            Ok(started) => started,
            Err(why) => {
                println!("{case:<16} skipped: {why}");
                continue;
            }
        };
        let shot = Shot { url, headers: event_headers(), body: bytes::Bytes::from_static(BODY.as_bytes()) };
        let measured: Measured = fire(&shot, settings, 200).await;
        let rate = measured.rate();
        if *case == "passthrough" {
            baseline = Some(rate);
        }
        let ratio = baseline.map_or_else(|| "-".to_owned(), |b| format!("{:.2}x", rate / b));
        println!(
            "{case:<16} {rate:>12.0} {:>10.2?} {:>10.2?} {:>8} {ratio:>14}",
            measured.p50, measured.p99, measured.failed
        );
        failures += measured.failed;
        match server {
            Server::InProcess(stop) => {
                let _ = stop.send(());
            }
            Server::Child(mut child) => {
                let _ = child.kill().await;
            }
        }
    }
    if failures > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
