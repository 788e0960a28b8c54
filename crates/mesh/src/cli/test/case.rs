//! Running one case: its stand-ins started, a fresh mesh (`fnmesh run` in-process on a
//! free port, the stand-ins routed in place of their services, no PingSource on its
//! schedule), the pings fired and the events sent, then its expectations polled until
//! they hold or its time runs out; the mesh drained, and the expectations checked once
//! more on everything delivered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::Settings;
use super::format::{Case, Send, TestFile};
use super::matcher::{self, Predicates};
use super::stand_ins::{Received, StandInServer};
use crate::cli::run::{self, Options};
use crate::dataplane::courier::{Hop, Role};
use crate::output::Out;

/// The time limit of a case that sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a mesh that has nothing in flight must print and receive nothing before a
/// case stops waiting for its expectations (a function's own sends are not tracked).
const QUIET: Duration = Duration::from_millis(1500);

/// A test file, read and checked, ready to run.
#[derive(Debug)]
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// Its content.
    pub file: TestFile,
    /// Its YAML, for `--update`.
    pub value: serde_yaml_ng::Value,
}

impl Loaded {
    /// The folder that relative paths of the file start from.
    pub fn folder(&self) -> &Path {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        }
    }

    /// The namespace of objects that name none.
    pub fn namespace(&self) -> &str {
        self.file.namespace.as_deref().unwrap_or("default")
    }

    /// The manifests case `case` runs.
    pub fn manifests(&self, case: &Case) -> Vec<PathBuf> {
        let written = case.manifests.as_ref().unwrap_or(&self.file.manifests);
        if written.is_empty() {
            return vec![self.folder().to_owned()];
        }
        written.iter().map(|p| self.folder().join(p)).collect()
    }
}

/// How one case went.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The test file.
    pub file: PathBuf,
    /// The case's index in it.
    pub index: usize,
    /// The case's name.
    pub name: String,
    /// How long it took.
    pub duration: Duration,
    /// What went wrong, each a readable block; empty when it passed.
    pub failures: Vec<String>,
    /// Whether the case has expectations (a case without them only checks its sends).
    pub has_expectations: bool,
    /// What each stand-in received (for `--update`).
    pub received: BTreeMap<String, Vec<Received>>,
    /// The status each send was answered (0: no answer).
    pub statuses: Vec<u16>,
    /// Everything the mesh printed.
    pub output: String,
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The lines `source` printed (without the `source | ` prefix).
fn lines_of(output: &str, source: &str) -> Vec<String> {
    let prefix = format!("{source} | ");
    output.lines().filter_map(|l| l.strip_prefix(prefix.as_str())).map(str::to_owned).collect()
}

/// Every failure of the case's expectations against what happened so far.
async fn failures_now(
    case: &Case,
    predicates: &mut Predicates,
    stand_ins: &BTreeMap<String, StandInServer>,
    output: &str,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, expectation) in case.expect.iter().flatten() {
        let received = stand_ins.get(name).map(StandInServer::received);
        failures
            .extend(matcher::check(predicates, name, expectation, received.as_deref(), &lines_of(output, name)).await);
    }
    failures
}

/// Runs case `index` of `loaded`.
pub async fn run_case(loaded: &Loaded, index: usize, settings: &Settings) -> CaseResult {
    let case = &loaded.file.cases[index];
    let started = Instant::now();
    let limit = case.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let deadline = tokio::time::Instant::now() + limit;
    let mut result = CaseResult {
        file: loaded.path.clone(),
        index,
        name: case.name.clone(),
        duration: Duration::ZERO,
        failures: Vec::new(),
        has_expectations: case.expect.is_some(),
        received: BTreeMap::new(),
        statuses: Vec::new(),
        output: String::new(),
    };
    let mut predicates = Predicates::new(settings.jq_worker.clone());
    let namespace = loaded.namespace().to_owned();
    let mut stand_ins = BTreeMap::new();
    let mut routed = BTreeMap::new();
    for (name, spec) in &case.services {
        match StandInServer::start(name, spec).await {
            Ok(server) => {
                let ns = spec.namespace.as_deref().unwrap_or(&namespace);
                routed.insert(format!("{name}.{ns}.svc.cluster.local"), server.addr);
                stand_ins.insert(name.clone(), server);
            }
            Err(e) => result.failures.push(e.to_string()),
        }
    }
    let options = Options {
        port: 0,
        namespace: namespace.clone(),
        images: settings.images.clone(),
        broker_ttl: case.options.broker_ttl.unwrap_or(crate::dataplane::BROKER_TTL),
        async_brokers: case.options.async_brokers,
        grace: limit,
        stand_ins: routed,
        schedules: false,
        restarts: false,
        jq_worker: settings.jq_worker.clone(),
        ..Options::new(loaded.manifests(case))
    };
    let (out, capture) = Out::capture();
    let running = match tokio::time::timeout_at(deadline, run::start(&options, out)).await {
        Ok(Ok(running)) => running,
        Ok(Err(e)) => {
            result.failures.push(format!("the mesh did not start: {e}"));
            result.duration = started.elapsed();
            return result;
        }
        Err(_) => {
            result.failures.push(format!("the mesh did not start within the case's timeout ({limit:?})"));
            result.duration = started.elapsed();
            return result;
        }
    };
    let acted = tokio::time::timeout_at(deadline, async {
        let mut failures = Vec::new();
        if !case.ping.is_empty() {
            failures.extend(fire_pings(loaded, case, &running).await);
        }
        let client = reqwest::Client::new();
        for (n, send) in case.send.iter().enumerate() {
            let (status, failure) = post(&client, loaded, case, n, send, running.ingress.port()).await;
            result.statuses.push(status);
            failures.extend(failure);
        }
        failures
    })
    .await;
    match acted {
        Ok(failures) => result.failures.extend(failures),
        Err(_) => result.failures.push(format!("timed out ({limit:?}) while sending")),
    }
    // Wait for the expectations to hold (deliveries may go on after the answers), or
    // for the mesh to be quiet: nothing in flight, nothing new printed or received.
    let mut seen = (0, 0);
    let mut quiet_since = tokio::time::Instant::now();
    while tokio::time::Instant::now() < deadline
        && !failures_now(case, &mut predicates, &stand_ins, &capture.text()).await.is_empty()
    {
        let now = (capture.text().len(), stand_ins.values().map(|s| s.received().len()).sum::<usize>());
        if now != seen || running.mesh.work.active() > 0 {
            seen = now;
            quiet_since = tokio::time::Instant::now();
        } else if quiet_since.elapsed() >= QUIET {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Then drain what was accepted, so that what must not arrive had its chance to.
    if tokio::time::timeout_at(deadline + Duration::from_secs(1), running.stop()).await.is_err() {
        result.failures.push(format!("the mesh did not drain within the case's timeout ({limit:?})"));
    }
    let output = capture.text();
    result.failures.extend(failures_now(case, &mut predicates, &stand_ins, &output).await);
    if tokio::time::Instant::now() > deadline && !result.failures.is_empty() {
        result.failures.push(format!("the case ran out of time ({limit:?})"));
    }
    result.received = stand_ins.iter().map(|(name, server)| (name.clone(), server.received())).collect();
    result.output = output;
    result.duration = started.elapsed();
    result
}

/// Fires the case's PingSources, each once, as the adapter sends (its retries too).
async fn fire_pings(loaded: &Loaded, case: &Case, running: &run::Running) -> Vec<String> {
    let mut failures = Vec::new();
    let (documents, problems) = crate::manifests::load(&loaded.manifests(case), loaded.namespace());
    let plan = crate::plan::Images::load(&[] as &[PathBuf])
        .map_err(|e| e.to_string())
        .and_then(|images| crate::plan::plan(&documents, Some(&images), problems).map_err(|p| p.to_string()));
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => return vec![format!("ping: {e}")],
    };
    let policy = crate::plan::pings::policy();
    for ping in &case.ping {
        let Some(source) = plan.pings.iter().find(|p| p.name == ping.name) else {
            failures.push(format!("ping: no PingSource {} in the manifests", ping.name));
            continue;
        };
        let label = format!("pingsource/{}", source.name);
        let event = std::sync::Arc::new(source.event(ping.time.unwrap_or_else(chrono::Utc::now)));
        let hop = Hop { label: &label, target: &source.sink, role: Role::Source, namespace: &source.namespace };
        if let Err(failure) = running.mesh.courier.send(hop, &event, &HeaderMap::new(), &policy).await {
            failures.push(format!("ping {}: its event was lost: {}", ping.name, failure.reason));
        }
    }
    failures
}

/// Posts send `n` of the case; the status (0: no answer) and what went wrong.
async fn post(
    client: &reqwest::Client,
    loaded: &Loaded,
    case: &Case,
    n: usize,
    send: &Send,
    port: u16,
) -> (u16, Option<String>) {
    let what = format!("send[{n}] to {}", send.target);
    let (url, host) = match crate::cli::client::locate(&send.target, port, loaded.namespace()) {
        Ok(found) => found,
        Err(e) => return (0, Some(format!("{what}: {e}"))),
    };
    let mut headers = HeaderMap::new();
    let mut body = send.body.clone().unwrap_or_default().into_bytes();
    if send.body.is_none() {
        let id = send.id.clone().unwrap_or_else(|| format!("{}-{n}", slug(&case.name)));
        let attributes = [
            ("ce-specversion", Some("1.0".to_owned())),
            ("ce-id", Some(id)),
            ("ce-type", Some(send.ty.clone().unwrap_or_else(|| "dev.fnmesh.test".into()))),
            ("ce-source", Some(send.source.clone().unwrap_or_else(|| "/fnmesh/test".into()))),
            ("ce-time", send.time.clone()),
            ("ce-subject", send.subject.clone()),
        ];
        for (name, value) in attributes {
            if let Some(value) = value {
                match HeaderValue::from_str(&value) {
                    Ok(value) => drop(headers.insert(name, value)),
                    Err(_) => return (0, Some(format!("{what}: {name} {value:?} is not a valid header value"))),
                }
            }
        }
        for (name, value) in &send.extensions {
            match (HeaderName::try_from(format!("ce-{name}")), HeaderValue::from_str(value)) {
                (Ok(name), Ok(value)) => drop(headers.insert(name, value)),
                _ => return (0, Some(format!("{what}: extension {name}={value:?} cannot be a header"))),
            }
        }
        let data = match (&send.data, &send.data_file) {
            (Some(data), _) => Some(data.to_string().into_bytes()),
            (None, Some(file)) => match std::fs::read(loaded.folder().join(file)) {
                Ok(bytes) => Some(bytes),
                Err(e) => return (0, Some(format!("{what}: dataFile {}: {e}", file.display()))),
            },
            (None, None) => None,
        };
        if let Some(data) = data {
            headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            body = data;
        }
    }
    for (name, value) in &send.headers {
        match (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            (Ok(name), Ok(value)) => drop(headers.insert(name, value)),
            _ => return (0, Some(format!("{what}: header {name}: {value:?} is not valid"))),
        }
    }
    if let Some(host) = host.as_deref().and_then(|h| HeaderValue::from_str(h).ok()) {
        headers.insert(http::header::HOST, host);
    }
    let method = send.method.as_deref().unwrap_or("POST").to_ascii_uppercase();
    let method = http::Method::from_bytes(method.as_bytes()).unwrap_or(http::Method::POST);
    let response = match client.request(method, &url).headers(headers).body(body).send().await {
        Ok(response) => response,
        Err(e) => return (0, Some(format!("{what}: no answer: {e}"))),
    };
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let mut wrong = Vec::new();
    match send.status {
        Some(expected) if expected != status => wrong.push(format!("expected status {expected}, got {status}")),
        None if !(200..300).contains(&status) => wrong.push(format!("expected a 2xx status, got {status}")),
        _ => {}
    }
    if let Some(answer) = &send.answer
        && let Some(mismatch) = matcher::text_mismatch(&mut Predicates::default(), answer, &text)
    {
        wrong.push(format!("answer: {mismatch}"));
    }
    let failure = (!wrong.is_empty()).then(|| format!("{what}: {} (answer: {:?})", wrong.join("; "), text.trim_end()));
    (status, failure)
}

/// A case name as an event id part: lower-case letters, digits and dashes.
fn slug(name: &str) -> String {
    let slug: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    slug.trim_matches('-').chars().take(40).collect()
}
