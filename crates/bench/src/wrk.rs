//! Load from `wrk` (Debian's package; `hack/bench` installs it when it can): a C load
//! generator much lighter than a Rust HTTP client, so that the fastest servers are not
//! capped by the client on a 2-core machine. Bounded by `--seconds` per level.

use std::time::Duration;

use crate::load::{Measured, Shot};

/// Whether `wrk` is on the PATH.
pub fn available() -> bool {
    std::process::Command::new("wrk").arg("--version").output().is_ok()
}

/// The Lua script that makes wrk POST the shot's event.
fn script(shot: &Shot) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut lua = String::from("wrk.method = \"POST\"\n");
    lua.push_str(&format!("wrk.body = {}\n", quote(&String::from_utf8_lossy(&shot.body))));
    for (name, value) in &shot.headers {
        lua.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            quote(name.as_str()),
            quote(value.to_str().unwrap_or_default())
        ));
    }
    lua
}

/// `164.00us`, `1.23ms`, `2.00s` as a duration.
fn duration(text: &str) -> Option<Duration> {
    let (number, unit) = text.find(|c: char| c.is_ascii_alphabetic()).map(|i| text.split_at(i))?;
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// Parses wrk's report.
fn parse(output: &str, elapsed: Duration) -> Result<Measured, String> {
    let latency = |percent: &str| {
        output
            .lines()
            .find_map(|l| l.trim().strip_prefix(percent).map(|rest| rest.trim().to_owned()))
            .and_then(|d| duration(&d))
            .ok_or_else(|| format!("no {percent} latency in wrk's report:\n{output}"))
    };
    let (p50, p99) = (latency("50%")?, latency("99%")?);
    let requests: usize = output
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no request count in wrk's report:\n{output}"))?;
    let non_2xx: usize = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let socket_errors: usize = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map(|rest| rest.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<usize>().ok()).sum())
        .unwrap_or(0);
    Ok(Measured {
        ok: requests.saturating_sub(non_2xx),
        failed: non_2xx + socket_errors,
        elapsed,
        p50,
        p99,
        cpu_seconds: None,
    })
}

/// Runs wrk (one thread) with `connections` for `seconds`; `cpu` reads the server's CPU
/// seconds before and after.
pub async fn fire(
    shot: &Shot,
    connections: usize,
    seconds: Duration,
    cpu: impl Fn() -> Option<f64>,
) -> Result<Measured, String> {
    let dir = std::env::temp_dir().join(format!("fnmesh-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let lua = dir.join("post.lua");
    std::fs::write(&lua, script(shot)).map_err(|e| e.to_string())?;
    // A short warm-up, not counted.
    let warm = ["-t1", "-c", &connections.to_string(), "-d1s", "-s"];
    let _ = tokio::process::Command::new("wrk").args(warm).arg(&lua).arg(&shot.url).output().await;
    let before = cpu();
    let started = std::time::Instant::now();
    let output = tokio::process::Command::new("wrk")
        .args([
            "-t1",
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{}s", seconds.as_secs().max(1)),
            "--latency",
            "-s",
        ])
        .arg(&lua)
        .arg(&shot.url)
        .output()
        .await
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let elapsed = started.elapsed();
    let after = cpu();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut measured = parse(&text, elapsed)?;
    // wrk's own duration is the measured part; its start-up is negligible.
    measured.elapsed = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split(" requests in ").nth(1)?.split(',').next().and_then(duration))
        .unwrap_or(elapsed);
    measured.cpu_seconds = after.zip(before).map(|(a, b)| a - b);
    Ok(measured)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 2s test @ http://127.0.0.1:1/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   212.41us  100.10us   4.11ms   91.00%
  Latency Distribution
     50%  190.00us
     75%  230.00us
     90%  280.00us
     99%    1.02ms
  140000 requests in 2.00s, 30.00MB read
  Non-2xx or 3xx responses: 7
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  70000.00
";

    #[test]
    fn reports_are_read() {
        let m = parse(REPORT, Duration::from_secs(2)).unwrap();
        assert_eq!((m.ok, m.failed), (139_993, 10));
        assert_eq!((m.p50, m.p99), (Duration::from_micros(190), Duration::from_micros(1020)));
        assert_eq!(duration("2.00s"), Some(Duration::from_secs(2)));
    }
}
