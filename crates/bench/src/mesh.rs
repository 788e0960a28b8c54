//! The mesh under concurrent load, `fnmesh run` started as a process:
//!
//! * `sequence-16`: the seed's Sequence of 3 appenders at 16 connections, against a client
//!   calling the same 3 appenders in order itself at 16 connections; events/s and the CPU
//!   each side spends per event (`fnmesh run` with its services, or the 3 appenders), also
//!   with the journal off (`--journal 0`: what recording journeys costs) and with the live
//!   view open;
//! * `broker-fanout`: a Broker with 10 Triggers (5 CloudEvents SQL filters, 5 exact
//!   attribute filters), every one matching, delivering to a counting sink in this
//!   program; events/s as delivered (each event 10 times) and CPU per delivery. The
//!   broker answers `202` before it delivers, so the load runs for `--seconds`, then the
//!   deliveries are awaited: the rate is deliveries over the time until the last one.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::process::{Child, Command};

use crate::cases::free_port;
use crate::chain::{binary, wait_ready};
use crate::load::{Measured, Shot};
use crate::{Settings, procfs};

const SEQUENCE_HOST: &str = "sequence-kn-sequence-0-kn-channel.default.svc.cluster.local";
const CONNECTIONS: usize = 16;
const TRIGGERS: usize = 10;

/// What the mesh cases measured.
#[derive(Debug, Default)]
pub struct MeshFigures {
    /// The Sequence through `fnmesh run` at 16 connections.
    pub sequence: Option<Measured>,
    /// The same, with the live view open (a reader of `/.fnmesh/stream` throughout).
    pub sequence_watched: Option<Measured>,
    /// The same with the journal off (`--journal 0`): what recording journeys costs.
    pub sequence_unrecorded: Option<Measured>,
    /// A client calling the 3 appenders in order at 16 connections.
    pub direct: Option<Measured>,
    /// The broker's fan-out: events (not deliveries) per second, CPU over all deliveries.
    pub broker: Option<Fanout>,
}

/// The broker case.
#[derive(Debug)]
pub struct Fanout {
    /// Events the broker did not accept (not `202`).
    pub refused: usize,
    /// Deliveries the sink received.
    pub delivered: usize,
    /// From the first event sent to the last delivery.
    pub elapsed: Duration,
    /// CPU seconds of `fnmesh run` over that time.
    pub cpu_seconds: Option<f64>,
}

impl Fanout {
    /// Events delivered (to all triggers) per second.
    pub fn events_per_second(&self) -> f64 {
        self.delivered as f64 / TRIGGERS as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// CPU per delivery, in µs.
    pub fn cpu_per_delivery(&self) -> Option<f64> {
        self.cpu_seconds.map(|s| s * 1e6 / self.delivered.max(1) as f64)
    }
}

fn fnmesh_run(paths: &[PathBuf], port: u16, extra: &[&str]) -> Result<Child, String> {
    Command::new(binary("fnmesh")?)
        .arg("run")
        .args(paths)
        .args(["--port", &port.to_string(), "--quiet"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start fnmesh run: {e}"))
}

/// Runs `one` from `CONNECTIONS` tasks for `settings.seconds` (after a short warm-up);
/// `cpu` reads the server side's CPU seconds before and after.
async fn concurrent<F, Fut>(settings: &Settings, one: F, cpu: impl Fn() -> Option<f64>) -> Measured
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    for _ in 0..100 {
        one().await;
    }
    let deadline = Instant::now() + settings.seconds;
    let before = cpu();
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let one = one.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed, mut latencies) = (0usize, 0usize, Vec::new());
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if one().await {
                        ok += 1
                    } else {
                        failed += 1
                    }
                    latencies.push(sent.elapsed());
                }
                (ok, failed, latencies)
            })
        })
        .collect();
    let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
    for task in tasks {
        if let Ok((o, f, l)) = task.await {
            ok += o;
            failed += f;
            latencies.extend(l);
        }
    }
    let elapsed = started.elapsed();
    let cpu_seconds = cpu().zip(before).map(|(after, before)| after - before);
    latencies.sort();
    let at = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
    Measured { ok, failed, elapsed, p50: at(0.5), p99: at(0.99), cpu_seconds }
}

fn event() -> (HeaderMap, Bytes) {
    (crate::cases::event_headers(), Bytes::from_static(br#"{"id":0,"message":"hello"}"#))
}

/// A client calling 3 appenders in order, each reply the next request.
async fn direct(settings: &Settings) -> Result<Measured, String> {
    let (children, urls) = crate::chain::three_appenders().await?;
    let pids: Vec<u32> = children.iter().filter_map(Child::id).collect();
    let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().map_err(|e| e.to_string())?;
    let urls = Arc::new(urls);
    let one = move || {
        let (client, urls) = (client.clone(), urls.clone());
        async move {
            let (mut headers, mut body) = event();
            for url in urls.iter() {
                let Ok(response) = client.post(url).headers(headers).body(body).send().await else { return false };
                if !response.status().is_success() {
                    return false;
                }
                headers = response.headers().clone();
                let Ok(bytes) = response.bytes().await else { return false };
                body = bytes;
            }
            true
        }
    };
    let cpu = || pids.iter().map(|pid| procfs::cpu_seconds(*pid)).sum::<Option<f64>>();
    let measured = concurrent(settings, one, cpu).await;
    drop(children);
    Ok(measured)
}

/// How much of the live view's recording a Sequence case runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Observed {
    /// The default: journeys recorded, nobody watching.
    Recorded,
    /// The live view's stream read all along, as an open page reads it.
    Watched,
    /// The journal off (`--journal 0`).
    Off,
}

/// The seed's Sequence through `fnmesh run`, `observed` as it says.
async fn sequence(settings: &Settings, observed: Observed) -> Result<Measured, String> {
    let port = free_port()?;
    let flows = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flows/sequence");
    let extra: &[&str] = if observed == Observed::Off { &["--journal", "0"] } else { &[] };
    let child = fnmesh_run(&[flows.join("services.yaml"), flows.join("sequence.yaml")], port, extra)?;
    let base = format!("http://127.0.0.1:{port}/");
    wait_ready(&format!("{base}.fnmesh/healthz")).await?;
    let pid = child.id().unwrap_or_default();
    let page = if observed == Observed::Watched {
        let mut stream = reqwest::get(format!("{base}.fnmesh/stream")).await.map_err(|e| e.to_string())?;
        Some(tokio::spawn(async move { while let Ok(Some(_)) = stream.chunk().await {} }))
    } else {
        None
    };
    let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().map_err(|e| e.to_string())?;
    let one = move || {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let (mut headers, body) = event();
            headers.insert(reqwest::header::HOST, HeaderValue::from_static(SEQUENCE_HOST));
            let sent = client.post(&base).headers(headers).body(body).send().await;
            sent.is_ok_and(|r| r.status().as_u16() == 202)
        }
    };
    let measured = concurrent(settings, one, || procfs::cpu_seconds(pid)).await;
    if let Some(page) = page {
        page.abort();
    }
    drop(child);
    Ok(measured)
}

/// The broker, its 10 triggers and the sink at `sink`.
fn broker_manifest(sink: u16) -> String {
    let mut yaml = String::from("apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: bench\n");
    for n in 0..TRIGGERS {
        let filter = if n % 2 == 0 {
            "  filters:\n    - cesql: \"type = 'bench.event' AND myext = 'yes'\"\n".to_owned()
        } else {
            "  filters:\n    - exact: {type: bench.event, source: /bench}\n".to_owned()
        };
        yaml.push_str(&format!(
            "---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: t{n}\nspec:\n  broker: bench\n\
             {filter}  subscriber:\n    uri: http://127.0.0.1:{sink}/t{n}\n"
        ));
    }
    yaml
}

/// A sink that answers `200` with no event and counts what it got.
async fn counting_sink(count: Arc<AtomicUsize>, last: Arc<std::sync::Mutex<Instant>>) -> Result<u16, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let app = axum::Router::new().fallback(move |_body: Bytes| {
        let (count, last) = (count.clone(), last.clone());
        async move {
            count.fetch_add(1, Ordering::Relaxed);
            *last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
            axum::http::StatusCode::OK
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(port)
}

async fn broker(settings: &Settings) -> Result<Fanout, String> {
    let count = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(std::sync::Mutex::new(Instant::now()));
    let sink = counting_sink(count.clone(), last.clone()).await?;
    let dir = std::env::temp_dir().join(format!("fnmesh-bench-broker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let manifest = dir.join("broker.yaml");
    std::fs::write(&manifest, broker_manifest(sink)).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let child = fnmesh_run(&[manifest], port, &[])?;
    wait_ready(&format!("http://127.0.0.1:{port}/.fnmesh/healthz")).await?;
    let pid = child.id().unwrap_or_default();
    let (headers, body) = event();
    let shot = Shot { url: format!("http://127.0.0.1:{port}/default/bench"), headers, body };
    // wrk warms up for a second itself: counted in deliveries, time and CPU alike.
    let before = procfs::cpu_seconds(pid);
    let started = Instant::now();
    let sent = load(&shot, settings).await?;
    settle(&count).await;
    let elapsed = last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).duration_since(started);
    let cpu_seconds = procfs::cpu_seconds(pid).zip(before).map(|(after, before)| after - before);
    drop(child);
    Ok(Fanout { refused: sent.failed, delivered: count.load(Ordering::Relaxed), elapsed, cpu_seconds })
}

/// Posts the event for `settings.seconds` at 16 connections (wrk when there is one).
async fn load(shot: &Shot, settings: &Settings) -> Result<Measured, String> {
    if settings.wrk {
        crate::wrk::fire(shot, CONNECTIONS, settings.seconds, || None).await
    } else {
        Ok(crate::load::fire(shot, settings, CONNECTIONS, 0, || None).await)
    }
}

/// Waits until no delivery arrived for 300 ms (at most 60 s).
async fn settle(count: &AtomicUsize) {
    let mut seen = count.load(Ordering::Relaxed);
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = count.load(Ordering::Relaxed);
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// Runs the mesh cases selected by `--only` (`sequence`, `broker`; all when empty).
pub async fn run(settings: &Settings) -> MeshFigures {
    let wanted = |name: &str| settings.only.is_empty() || settings.only.iter().any(|o| o == name);
    let mut figures = MeshFigures::default();
    if wanted("sequence") {
        // As the function cases: rounds in alternating order, each case its best round.
        for round in 0..settings.rounds {
            let mut order = [None, Some(Observed::Off), Some(Observed::Recorded), Some(Observed::Watched)];
            if round % 2 == 1 {
                order.reverse();
            }
            for case in order {
                let (measured, kept, name) = match case {
                    None => (direct(settings).await, &mut figures.direct, "direct"),
                    Some(Observed::Off) => {
                        (sequence(settings, Observed::Off).await, &mut figures.sequence_unrecorded, "--journal 0")
                    }
                    Some(Observed::Recorded) => {
                        (sequence(settings, Observed::Recorded).await, &mut figures.sequence, "fnmesh run")
                    }
                    Some(Observed::Watched) => {
                        (sequence(settings, Observed::Watched).await, &mut figures.sequence_watched, "live view open")
                    }
                };
                match measured {
                    Ok(m) if kept.as_ref().is_none_or(|k| k.rate() < m.rate()) => *kept = Some(m),
                    Ok(_) => {}
                    Err(e) => println!("sequence-16 ({name}): {e}"),
                }
            }
        }
    }
    if wanted("broker") {
        match broker(settings).await {
            Ok(f) => figures.broker = Some(f),
            Err(e) => println!("broker-fanout: {e}"),
        }
    }
    figures.print();
    figures
}

impl MeshFigures {
    fn print(&self) {
        let row = |name: &str, m: &Measured, per: &str| {
            let cpu =
                m.cpu_seconds.map_or_else(|| "-".to_owned(), |s| format!("{:.1} µs", s * 1e6 / m.ok.max(1) as f64));
            println!(
                "| {name} | {CONNECTIONS} | {:.0} | {:.2?} | {:.2?} | {} | {cpu} {per} |",
                m.rate(),
                m.p50,
                m.p99,
                m.failed
            );
        };
        if self.direct.is_none() && self.sequence.is_none() && self.broker.is_none() {
            return;
        }
        println!("\n| mesh case | connections | events/s | p50 | p99 | errors | CPU |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        if let Some(m) = &self.direct {
            row("3 appenders called in order by the client", m, "per event (3 appenders)");
        }
        if let Some(m) = &self.sequence {
            row("Sequence of 3 appenders (fnmesh run)", m, "per event (fnmesh run)");
        }
        if let Some(m) = &self.sequence_unrecorded {
            row("Sequence of 3 appenders (fnmesh run --journal 0)", m, "per event (fnmesh run)");
        }
        if let Some(m) = &self.sequence_watched {
            row("Sequence of 3 appenders (fnmesh run, live view open)", m, "per event (fnmesh run)");
        }
        if let Some(f) = &self.broker {
            let cpu = f.cpu_per_delivery().map_or_else(|| "-".to_owned(), |c| format!("{c:.1} µs"));
            println!(
                "| Broker, {TRIGGERS} Triggers (fnmesh run) | {CONNECTIONS} | {:.0} ({} deliveries in {:.2?}) | - | - | {} | {cpu} per delivery |",
                f.events_per_second(),
                f.delivered,
                f.elapsed,
                f.refused
            );
        }
    }

    /// What recording journeys costs the Sequence: events/s and CPU per event with the
    /// journal on over the same with it off.
    pub fn recording_cost(&self) -> Option<(f64, Option<f64>)> {
        let (on, off) = (self.sequence.as_ref()?, self.sequence_unrecorded.as_ref()?);
        let per_event = |m: &Measured| m.cpu_seconds.map(|s| s / m.ok.max(1) as f64);
        let cpu = per_event(on).zip(per_event(off)).map(|(on, off)| on / off);
        (off.rate() > 0.0).then(|| (on.rate() / off.rate(), cpu))
    }

    /// Sequence events/s over the direct client's, at 16 connections.
    pub fn sequence_ratio(&self) -> Option<f64> {
        let (s, d) = (self.sequence.as_ref()?, self.direct.as_ref()?);
        (d.rate() > 0.0).then(|| s.rate() / d.rate())
    }
}
