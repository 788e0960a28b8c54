//! `fnmesh events` and `fnmesh logs`: the live view's records on the command line, read
//! from a running `fnmesh run` (`/.fnmesh/journeys`, `/.fnmesh/stream`, `/.fnmesh/logs`).
//! Output goes to stdout as it comes, so `--follow` can be piped.

use std::collections::HashMap;
use std::io::Write as _;

use serde_json::Value;

use crate::error::{Error, Result};

/// What `fnmesh events` was asked.
#[derive(Debug, Clone)]
pub struct EventsArgs {
    /// Keep printing new hops as they happen.
    pub follow: bool,
    /// One JSON journey per line instead of text.
    pub json: bool,
    /// Only journeys of this type.
    pub ty: Option<String>,
    /// Only the journey of this event id (or trace id).
    pub id: Option<String>,
    /// The ingress port.
    pub port: u16,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap_or_default()
}

async fn get(url: &str, port: u16) -> Result<reqwest::Response> {
    let response =
        client().get(url).send().await.map_err(|e| {
            Error::Remote(format!("cannot reach {url}: {e} (is `fnmesh run` running with --port {port}?)"))
        })?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(Error::Remote(format!("{url}: {status} {body}")));
    }
    Ok(response)
}

/// Reads `response` line by line, calling `each` with every complete line.
async fn lines(mut response: reqwest::Response, mut each: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut pending = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::Remote(format!("the stream broke: {e}")))? {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            each(String::from_utf8_lossy(&line[..end]).trim_end_matches('\r'))?;
        }
    }
    Ok(())
}

/// Prints journeys; keeps how many hops of each were printed, so that an update prints
/// only what is new.
struct Printer<'a> {
    args: &'a EventsArgs,
    printed: HashMap<String, usize>,
}

impl Printer<'_> {
    fn wanted(&self, journey: &Value) -> bool {
        let text = |name: &str| journey[name].as_str().unwrap_or_default();
        self.args.ty.as_ref().is_none_or(|ty| text("type") == ty)
            && self.args.id.as_ref().is_none_or(|id| text("id") == id || text("key") == id)
    }

    fn print(&mut self, journey: &Value) -> Result<()> {
        if !self.wanted(journey) {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        let fail = |e: std::io::Error| Error::Output(e.to_string());
        if self.args.json {
            writeln!(out, "{journey}").map_err(fail)?;
            return out.flush().map_err(fail);
        }
        let key = journey["key"].as_str().unwrap_or_default().to_owned();
        let hops = journey["hops"].as_array().cloned().unwrap_or_default();
        let done = self.printed.get(&key).copied().unwrap_or(0);
        let text = |value: &Value, name: &str| value[name].as_str().unwrap_or_default().to_owned();
        if done == 0 {
            writeln!(
                out,
                "{} {} {} from {}",
                text(journey, "received"),
                text(journey, "id"),
                text(journey, "type"),
                text(journey, "source")
            )
            .map_err(fail)?;
        }
        for hop in hops.iter().skip(done) {
            writeln!(out, "  {}", hop_line(hop)).map_err(fail)?;
        }
        if hops.len() > done || done == 0 {
            writeln!(out, "  = {}, now at {}", text(journey, "outcome"), text(journey, "now")).map_err(fail)?;
        }
        self.printed.insert(key, hops.len());
        out.flush().map_err(fail)
    }
}

/// One hop as a line: `+1.2 ms  broker/default -> ksvc/x (trigger/t): delivered 200 in 0.8 ms`.
pub fn hop_line(hop: &Value) -> String {
    let text = |name: &str| hop[name].as_str().unwrap_or_default();
    let mut line = format!(
        "+{:.1} ms  {} -> {} ({}): {}",
        hop["at_ms"].as_f64().unwrap_or_default(),
        text("from"),
        text("to"),
        text("route"),
        text("kind")
    );
    if let Some(status) = hop["status"].as_u64() {
        line.push_str(&format!(" {status}"));
    }
    if let Some(latency) = hop["latency_ms"].as_f64() {
        line.push_str(&format!(" in {latency:.1} ms"));
    }
    if let Some(attempt) = hop["attempt"].as_u64().filter(|a| *a > 1) {
        line.push_str(&format!(", attempt {attempt}"));
    }
    if let Some(backoff) = hop["backoff_ms"].as_f64() {
        line.push_str(&format!(", next in {backoff:.0} ms"));
    }
    if !text("detail").is_empty() {
        line.push_str(&format!(": {}", text("detail")));
    }
    line
}

/// `fnmesh events`: the journeys kept, then (with `--follow`) their new hops as they come.
pub async fn events(args: &EventsArgs) -> Result<()> {
    let base = format!("http://127.0.0.1:{}/.fnmesh", args.port);
    let mut printer = Printer { args, printed: HashMap::new() };
    // Subscribe before listing, so that nothing falls between the two.
    let stream = if args.follow { Some(get(&format!("{base}/stream?format=ndjson"), args.port).await?) } else { None };
    let listed = get(&format!("{base}/journeys"), args.port).await?;
    let listed = listed.bytes().await.map_err(|e| Error::Remote(format!("{base}/journeys: {e}")))?;
    let listed: Vec<Value> =
        serde_json::from_slice(&listed).map_err(|e| Error::Remote(format!("{base}/journeys: {e}")))?;
    for journey in &listed {
        printer.print(journey)?;
    }
    let Some(stream) = stream else { return Ok(()) };
    lines(stream, |line| {
        let update: Value = serde_json::from_str(line).unwrap_or_default();
        if update.get("journey").is_some() { printer.print(&update["journey"]) } else { Ok(()) }
    })
    .await
}

/// `fnmesh logs SERVICE`: its recent lines, then (with `follow`) new ones.
pub async fn logs(service: &str, follow: bool, port: u16) -> Result<()> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("service", service)
        .append_pair("follow", if follow { "true" } else { "false" })
        .finish();
    let response = get(&format!("http://127.0.0.1:{port}/.fnmesh/logs?{query}"), port).await?;
    lines(response, |line| {
        let record: Value = serde_json::from_str(line).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", record["line"].as_str().unwrap_or_default())
            .and_then(|()| out.flush())
            .map_err(|e| Error::Output(e.to_string()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hop_says_where_how_and_why() {
        let hop = serde_json::json!({"at_ms": 1.25, "from": "broker/default", "to": "ksvc/x", "route": "trigger/t",
            "kind": "retrying", "status": 503, "latency_ms": 0.84, "attempt": 2, "backoff_ms": 200.0,
            "detail": "http://x.default.svc.cluster.local/ answered 503 Service Unavailable"});
        assert_eq!(
            hop_line(&hop),
            "+1.2 ms  broker/default -> ksvc/x (trigger/t): retrying 503 in 0.8 ms, attempt 2, next in 200 ms: \
             http://x.default.svc.cluster.local/ answered 503 Service Unavailable"
        );
        let filtered = serde_json::json!({"at_ms": 0.0, "from": "broker/default", "to": "ksvc/y", "route": "trigger/u",
            "kind": "filtered", "detail": "filter.attributes: type \"a\" does not match \"b\""});
        assert_eq!(
            hop_line(&filtered),
            "+0.0 ms  broker/default -> ksvc/y (trigger/u): filtered: filter.attributes: type \"a\" does not match \"b\""
        );
    }
}
