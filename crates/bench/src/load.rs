//! Sending the same event from many connections, bounded in count and time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Settings;

/// What one case measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Events answered with the expected status.
    pub ok: usize,
    /// Events answered otherwise, or failed.
    pub failed: usize,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// CPU seconds the server spent during the measured part, when known.
    pub cpu_seconds: Option<f64>,
}

impl Measured {
    /// Events per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One request: where, which headers, which body, what status is success.
#[derive(Debug, Clone)]
pub struct Shot {
    /// `http://127.0.0.1:<port>/`.
    pub url: String,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body.
    pub body: bytes::Bytes,
}

/// Sends `shot` `settings.events` times (or until `settings.seconds`) from `concurrency`
/// tasks; `warmup` requests first, not counted. `cpu` reads the server's CPU seconds,
/// before and after.
pub async fn fire(
    shot: &Shot,
    settings: &Settings,
    concurrency: usize,
    warmup: usize,
    cpu: impl Fn() -> Option<f64>,
) -> Measured {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().unwrap_or_default();
    for _ in 0..warmup {
        let _ = send(&client, shot).await;
    }
    let remaining = Arc::new(AtomicUsize::new(settings.events));
    let deadline = Instant::now() + settings.seconds;
    let cpu_before = cpu();
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, shot, remaining) = (client.clone(), shot.clone(), remaining.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed, mut latencies) = (0usize, 0usize, Vec::new());
                while Instant::now() < deadline
                    && remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
                {
                    let sent = Instant::now();
                    if send(&client, &shot).await {
                        ok += 1;
                    } else {
                        failed += 1;
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
    let cpu_seconds = cpu().zip(cpu_before).map(|(after, before)| after - before);
    latencies.sort();
    let at = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
    Measured { ok, failed, elapsed, p50: at(0.5), p99: at(0.99), cpu_seconds }
}

async fn send(client: &reqwest::Client, shot: &Shot) -> bool {
    let response = client.post(&shot.url).headers(shot.headers.clone()).body(shot.body.clone()).send().await;
    match response {
        Ok(response) => {
            let good = response.status().is_success();
            let _ = response.bytes().await;
            good
        }
        Err(_) => false,
    }
}
