//! The cost of the mesh: the seed's Sequence of three appenders through `fnmesh run`
//! (ingress, channels, dispatcher: real HTTP on every hop) against a client calling the
//! same three appenders directly, one event at a time; and how long `fnmesh run` takes
//! to be ready.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use tokio::process::{Child, Command};

use crate::Settings;
use crate::cases::free_port;

const SEQUENCE_HOST: &str = "sequence-kn-sequence-0-kn-channel.default.svc.cluster.local";

/// A binary `hack/bench` built, beside this one.
pub(crate) fn binary(name: &str) -> Result<std::path::PathBuf, String> {
    let path = crate::cases::exe_dir()?.join(name);
    if path.is_file() { Ok(path) } else { Err(format!("{} is not built (hack/bench builds it)", path.display())) }
}

/// Returns once `url` answers `2xx` (at most 10 s).
pub(crate) async fn wait_ready(url: &str) -> Result<(), String> {
    let client = reqwest::Client::new();
    for _ in 0..5000 {
        if client.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Err(format!("{url} did not answer within 10s"))
}

/// The benchmark's event, with the appender's data.
fn event() -> (HeaderMap, &'static str) {
    (crate::cases::event_headers(), r#"{"id":0,"message":"hello"}"#)
}

/// Latencies of `one()` called `settings.events` times at most, for `settings.seconds` at most.
async fn measure<F, Fut>(settings: &Settings, mut one: F) -> Result<Vec<Duration>, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    for _ in 0..200 {
        one().await?;
    }
    let deadline = Instant::now() + settings.seconds;
    let mut latencies = Vec::with_capacity(settings.events);
    while latencies.len() < settings.events && Instant::now() < deadline {
        let started = Instant::now();
        one().await?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    Ok(latencies)
}

fn at(latencies: &[Duration], q: f64) -> Duration {
    latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default()
}

/// The seed's 3 appenders as processes on loopback, ready: the children (killed when
/// dropped) and their URLs, in order.
pub(crate) async fn three_appenders() -> Result<(Vec<Child>, Vec<String>), String> {
    let mut children: Vec<Child> = Vec::new();
    let mut urls = Vec::new();
    for n in 0..3 {
        let port = free_port()?;
        let child = Command::new(binary("appender")?)
            .env_clear()
            .env("PORT", port.to_string())
            .env("FNMESH_LISTEN_ADDR", "127.0.0.1")
            .env("MESSAGE", format!(" - Handled by {n}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| e.to_string())?;
        children.push(child);
        let url = format!("http://127.0.0.1:{port}/");
        wait_ready(&format!("{url}healthz")).await?;
        urls.push(url);
    }
    Ok((children, urls))
}

async fn direct(settings: &Settings) -> Result<Vec<Duration>, String> {
    let (children, urls) = three_appenders().await?;
    let client = reqwest::Client::new();
    let (headers, body) = event();
    let result = measure(settings, || {
        let (client, urls, headers) = (client.clone(), urls.clone(), headers.clone());
        async move {
            let (mut headers, mut body) = (headers, bytes::Bytes::from_static(body.as_bytes()));
            for url in &urls {
                let response = client.post(url).headers(headers).body(body).send().await.map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("{url}: {}", response.status()));
                }
                headers = response.headers().clone();
                body = response.bytes().await.map_err(|e| e.to_string())?;
            }
            Ok(())
        }
    })
    .await;
    drop(children);
    result
}

async fn mesh(settings: &Settings) -> Result<(Duration, Vec<Duration>), String> {
    let port = free_port()?;
    let flows = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flows/sequence");
    let started = Instant::now();
    // The services and the Sequence; not the PingSource, whose events would mix in.
    let child = Command::new(binary("fnmesh")?)
        .arg("run")
        .arg(flows.join("services.yaml"))
        .arg(flows.join("sequence.yaml"))
        .args(["--port", &port.to_string(), "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let base = format!("http://127.0.0.1:{port}/");
    wait_ready(&format!("{base}.fnmesh/healthz")).await?;
    let ready = started.elapsed();
    let client = reqwest::Client::new();
    let (mut headers, body) = event();
    headers.insert(reqwest::header::HOST, HeaderValue::from_static(SEQUENCE_HOST));
    let result = measure(settings, || {
        let (client, base, headers) = (client.clone(), base.clone(), headers.clone());
        async move {
            let response = client.post(&base).headers(headers).body(body).send().await.map_err(|e| e.to_string())?;
            if response.status().as_u16() != 202 {
                return Err(format!("the sequence answered {}", response.status()));
            }
            Ok(())
        }
    })
    .await;
    drop(child);
    Ok((ready, result?))
}

/// Runs both and prints the comparison; returns the mesh's cost per step at p50.
#[allow(clippy::print_stdout)] // the report is the product
pub async fn run(settings: &Settings) -> Result<Duration, String> {
    let direct = direct(settings).await?;
    let (ready, mesh) = mesh(settings).await?;
    println!("sequence of 3 appenders, one event at a time ({} events each)", direct.len().min(mesh.len()));
    println!("{:<34} {:>10} {:>10}", "", "p50", "p99");
    println!("{:<34} {:>10.2?} {:>10.2?}", "client calls the 3 directly", at(&direct, 0.5), at(&direct, 0.99));
    println!("{:<34} {:>10.2?} {:>10.2?}", "fnmesh run (Sequence)", at(&mesh, 0.5), at(&mesh, 0.99));
    let per_hop = (at(&mesh, 0.5).saturating_sub(at(&direct, 0.5))) / 3;
    println!("mesh overhead per step at p50: {per_hop:.2?}; fnmesh run ready {ready:.2?} after start");
    Ok(per_hop)
}
