//! `fnmesh run`: load, check, start every service, the ingress and the ping sources;
//! run until stopped. Its `reload` module: what `--watch` changes while it runs.

mod crashes;
mod reload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::dataplane::ingress::{self, Ingress, router};
use crate::dataplane::journal::Journal;
use crate::dataplane::pings::ping_loop;
use crate::dataplane::services::{self, Started, wait_for};
use crate::dataplane::topology::Topology;
use crate::dataplane::transport::{Gate, Routes, Transport, full_host};
use crate::dataplane::{BROKER_TTL, Mesh, Settings};
use crate::error::{Error, Result};
use crate::output::Out;
use crate::plan::address::BROKER_INGRESS_HOST;
use crate::plan::{Images, Plan, ServicePlan, Workload};

/// How long accepted events may take to be delivered once `fnmesh run` stops, unless
/// `--grace` says otherwise (a Knative pod's default termination grace is 30 s).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(20);

/// The bytes of accepted events that brokers and async channels may hold while they
/// deliver, unless `--backlog` says otherwise.
pub const DEFAULT_BACKLOG: usize = 256 * 1024 * 1024;

/// What `fnmesh run` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files or folders of manifests (folders recursively).
    pub paths: Vec<PathBuf>,
    /// The ingress port; 0 picks a free one.
    pub port: u16,
    /// The ingress address: loopback unless asked (services always listen on loopback).
    pub address: std::net::IpAddr,
    /// The namespace of objects that name none.
    pub namespace: String,
    /// Fire every PingSource once as soon as everything is ready (`--ping-now`).
    pub ping_now: bool,
    /// More image mappings (`--images`).
    pub images: Vec<PathBuf>,
    /// The TTL a broker gives an event that has none (`--broker-ttl`).
    pub broker_ttl: u32,
    /// The largest event the ingress reads, in bytes (`--body-limit`).
    pub body_limit: usize,
    /// How long accepted events may take to be delivered once stopping (`--grace`).
    pub grace: Duration,
    /// The bytes of events background deliveries may hold (`--backlog`).
    pub backlog: usize,
    /// Brokers answer `202` at once and deliver in the background (`--async-brokers`).
    pub async_brokers: bool,
    /// Rebuild and restart what changes (`--watch`).
    pub watch: bool,
    /// How many recent journeys the live view keeps (`--journal`).
    pub journal: usize,
    /// The URL journeys are posted to as OpenTelemetry spans (OTLP/HTTP JSON), from
    /// `--otlp-endpoint` or the OTEL env ([`crate::dataplane::otlp::endpoint`]).
    pub otlp_endpoint: Option<String>,
    /// Stand-ins (`fnmesh test`): service host (`name.ns.svc.cluster.local`) to the
    /// loopback address of a server that answers in its place. A service of the set with
    /// such a host is not started; a host not in the set becomes reachable too.
    pub stand_ins: std::collections::BTreeMap<String, SocketAddr>,
    /// The program the in-process functions start as jq workers (`FNMESH_JQ_WORKER`, unless
    /// a manifest sets it); `None`: this executable (the `fnmesh` binary is one). A test
    /// binary that runs meshes in-process names a worker binary here.
    pub jq_worker: Option<PathBuf>,
    /// Fire PingSources on their schedules (`fnmesh test` turns it off and fires them
    /// itself, so that a minute boundary cannot add an event to a case).
    pub schedules: bool,
    /// Start a service's process again when it crashes (`fnmesh test` leaves it down: a
    /// case sees the crash).
    pub restarts: bool,
}

impl Options {
    /// What `fnmesh run PATH...` does with no other flag.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Self {
            paths,
            port: 8080,
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            namespace: "default".into(),
            ping_now: false,
            images: Vec::new(),
            broker_ttl: BROKER_TTL,
            body_limit: ingress::DEFAULT_BODY_LIMIT,
            grace: DEFAULT_GRACE,
            backlog: DEFAULT_BACKLOG,
            async_brokers: false,
            watch: false,
            journal: crate::dataplane::journal::DEFAULT_JOURNEYS,
            otlp_endpoint: None,
            stand_ins: std::collections::BTreeMap::new(),
            jq_worker: None,
            restarts: true,
            schedules: true,
        }
    }
}

/// A running mesh.
#[derive(Debug)]
pub struct Running {
    /// Where the ingress listens (the actual port when 0 was asked).
    pub ingress: SocketAddr,
    /// The data plane: channels, brokers and the courier between them (the latest, when
    /// `--watch` has reloaded the manifests).
    pub mesh: Arc<Mesh>,
    /// What the ingress serves: the latest data plane's routes.
    current: Arc<RwLock<Router>>,
    stop: watch::Sender<bool>,
    pings: Pings,
    grace: Duration,
    services: Vec<Service>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The secret of the mesh's own hops, the same across reloads.
    token: String,
    /// Every event's journey, across reloads.
    pub journal: Arc<Journal>,
    options: Options,
    out: Out,
    /// Crashed services due for a restart, and where their watchers send them (none
    /// when crashed services stay down).
    crashes: tokio::sync::mpsc::UnboundedReceiver<crashes::Crash>,
    notices: Option<crashes::Notices>,
}

/// A started service, with the plan it was started from.
#[derive(Debug)]
struct Service {
    plan: ServicePlan,
    started: Started,
    /// Requests wait at it while the service restarts.
    gate: Arc<Gate>,
    /// Which start this is ([`crashes::next_id`]).
    id: u64,
    /// Restarts after crashes, for the back-off ([`crashes`]).
    restarts: u32,
}

/// The PingSources' loops, stopped together.
#[derive(Debug)]
struct Pings {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Pings {
    fn start(pings: Vec<crate::plan::PingPlan>, mesh: &Arc<Mesh>, now: bool) -> Self {
        let (stop, stopped) = watch::channel(false);
        let tasks = pings.into_iter().map(|ping| tokio::spawn(ping_loop(ping, mesh.clone(), now, stopped.clone())));
        Self { stop, tasks: tasks.collect() }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for ping in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), ping).await;
        }
    }
}

/// Loads and plans the manifests of `options`; warnings go to `out`.
fn plan(options: &Options, out: &Out) -> Result<Plan> {
    let images = Images::load(&options.images)?.with_engine(crate::dataplane::launch::engine::detect);
    let (documents, problems) = crate::manifests::load(&options.paths, &options.namespace);
    let plan = crate::plan::plan(&documents, Some(&images), problems)?;
    for warning in &plan.warnings {
        out.say(&format!("warning: {warning}"));
    }
    if let Some(ignored) = plan.ignored_line() {
        out.say(&ignored);
    }
    Ok(plan)
}

/// `service` with what `fnmesh run` gives every service: its manifest's folder, and the
/// jq worker program of `options`.
fn prepared(options: &Options, mut service: ServicePlan) -> ServicePlan {
    // Where the files beside the manifest are, for a function that reads one by a
    // relative path (the workflow's WORKFLOW_FILE).
    if !service.env.iter().any(|(name, _)| name == "FNMESH_MANIFEST_DIR") {
        service.env.push(("FNMESH_MANIFEST_DIR".to_owned(), service.manifest_dir.display().to_string()));
    }
    if let Some(worker) = &options.jq_worker
        && !service.env.iter().any(|(name, _)| name == "FNMESH_JQ_WORKER")
    {
        service.env.push(("FNMESH_JQ_WORKER".to_owned(), worker.display().to_string()));
    }
    service
}

/// The start-up time of `service`: requests wait this long at most while it restarts.
fn startup(service: &ServicePlan) -> Duration {
    match &service.run {
        Workload::Local(local) => local.startup.timeout,
        Workload::Function(_) | Workload::Container { .. } => crate::plan::local::DEFAULT_STARTUP,
    }
}

/// Starts `plan` on `port` (0: a free one), its `K_SINK` through `ingress`.
async fn start_service(
    plan: ServicePlan,
    ingress: SocketAddr,
    out: &Out,
    port: u16,
    built: Option<String>,
) -> Result<Service> {
    let reachable = with_reachable_sinks(&plan, ingress);
    let started = services::start(&reachable, out, port, built).await?;
    let gate = Arc::new(Gate::new(startup(&plan)));
    Ok(Service { plan, started, gate, id: crashes::next_id(), restarts: 0 })
}

/// Loads and checks the manifests, then starts everything.
pub async fn start(options: &Options, out: Out) -> Result<Running> {
    let started = Instant::now();
    let mut plan = plan(options, &out)?;
    let listener = TcpListener::bind((options.address, options.port))
        .await
        .map_err(|e| Error::Start(format!("cannot listen on {}:{}: {e}", options.address, options.port)))?;
    let ingress_addr = listener.local_addr().map_err(|e| Error::Start(e.to_string()))?;

    let mut running = Vec::new();
    let mut failures = Vec::new();
    for service in std::mem::take(&mut plan.services).into_iter().map(|s| prepared(options, s)) {
        // `fnmesh test` answers in its place.
        if options.stand_ins.contains_key(&service.host) {
            continue;
        }
        match start_service(service, ingress_addr, &out, 0, None).await {
            Ok(service) => running.push(service),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if !failures.is_empty() {
        for service in running {
            service.started.stop(options.grace).await;
        }
        return Err(Error::Start(failures.join("\n")));
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    let journal = Journal::new(options.journal);
    if let Some(url) = &options.otlp_endpoint {
        journal.export_to(crate::dataplane::otlp::start(url.clone()));
        out.say(&format!("exporting journeys as OpenTelemetry spans to {url}"));
    }
    let (pings, objects, channels, brokers) = (plan.pings, plan.objects, plan.channels, plan.brokers);
    journal.set_topology(topology(&running, &channels, &brokers, &pings));
    let mesh = data_plane(options, &out, ingress_addr, &running, &token, channels, brokers, None, &journal);
    let ingress = Arc::new(Ingress { mesh: mesh.clone(), objects, body_limit: options.body_limit });
    let current = Arc::new(RwLock::new(router(ingress)));
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let shutdown = wait_for(stopped);
    // The ingress keeps the functions' header limits; by the time it stops, the mesh has
    // drained, so what is left in flight gets a short grace only.
    let serving = fnmesh_runtime::ServeConfig {
        shutdown_grace: Duration::from_secs(5),
        ..fnmesh_runtime::ServeConfig::default()
    };
    let served = current.clone();
    tasks.push(tokio::spawn(async move {
        // Every request goes to the routes of the latest data plane.
        let latest = Router::new().fallback_service(tower::service_fn(move |request: axum::extract::Request| {
            let routes = served.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            async move { tower::ServiceExt::oneshot(routes, request).await }
        }));
        let router = fnmesh_runtime::server::limit_headers(latest, &serving);
        if let Err(e) = fnmesh_runtime::server::serve(listener, router, shutdown, &serving).await {
            tracing::error!(%e, "the ingress stopped");
        }
    }));
    out.say(&format!(
        "ready in {} ms: {} service(s), ingress on http://{ingress_addr} (send with a Host header, or `fnmesh send`)",
        started.elapsed().as_millis(),
        running.len()
    ));
    out.say(&format!(
        "watch: http://{ingress_addr}/.fnmesh/ (or `fnmesh events --follow --port {}`)",
        ingress_addr.port()
    ));
    if let Some(warning) = exposure(options.address) {
        out.say(&warning);
    }
    let pings = Pings::start(if options.schedules { pings } else { Vec::new() }, &mesh, options.ping_now);
    let (notices, crashes) = tokio::sync::mpsc::unbounded_channel();
    let notices = options.restarts.then_some(notices);
    for service in &running {
        crashes::watch(service, notices.as_ref(), &out);
    }
    Ok(Running {
        ingress: ingress_addr,
        mesh,
        current,
        stop,
        pings,
        grace: options.grace,
        services: running,
        tasks,
        token,
        journal,
        options: options.clone(),
        out,
        crashes,
        notices,
    })
}

/// The graph the journal maps hops onto.
fn topology(
    services: &[Service],
    channels: &[crate::plan::ChannelPlan],
    brokers: &[crate::plan::BrokerPlan],
    pings: &[crate::plan::PingPlan],
) -> Topology {
    let services = services.iter().map(|s| (s.plan.host.clone(), s.plan.name.clone()));
    Topology::of(channels, brokers, pings, services)
}

/// The data plane over `services`: channels and brokers, and how to reach everything.
/// A reload passes the previous plane, whose in-flight work the new one takes over.
#[allow(clippy::too_many_arguments)] // one call per generation, each argument a part of it
fn data_plane(
    options: &Options,
    out: &Out,
    ingress: SocketAddr,
    services: &[Service],
    token: &str,
    channels: Vec<crate::plan::ChannelPlan>,
    brokers: Vec<crate::plan::BrokerPlan>,
    previous: Option<&Mesh>,
    journal: &Arc<Journal>,
) -> Arc<Mesh> {
    let mut routes = Routes { ingress: Some(ingress), ..Routes::default() };
    for service in services.iter().filter(|s| !s.plan.source) {
        let host = service.plan.host.clone();
        routes.services.insert(host.clone(), service.started.addr);
        routes.gates.insert(host.clone(), service.gate.clone());
        if let (Workload::Local(_) | Workload::Container { .. }, Some(limit)) =
            (&service.plan.run, service.plan.concurrency)
        {
            routes.concurrency.insert(host, Arc::new(tokio::sync::Semaphore::new(limit)));
        }
    }
    for (host, addr) in &options.stand_ins {
        routes.services.insert(host.clone(), *addr);
    }
    routes.mesh_hosts.extend(channels.iter().map(|c| c.host.clone()));
    routes.mesh_hosts.insert(BROKER_INGRESS_HOST.to_owned());
    routes.internal_token = token.to_owned();
    let settings =
        Settings { broker_ttl: options.broker_ttl, backlog: options.backlog, async_brokers: options.async_brokers };
    Mesh::new(Transport::new(routes), out.clone(), (channels, brokers), settings, journal.clone(), previous)
}

/// The warning for an ingress that listens beyond loopback.
pub fn exposure(address: std::net::IpAddr) -> Option<String> {
    (!address.is_loopback()).then(|| {
        format!(
            "warning: --address {address} makes every channel, broker and service of this mesh, and \
             /.fnmesh/objects, reachable from the network without authentication (see SECURITY.md)"
        )
    })
}

/// `K_SINK` (and the state machine runner's `EVENT_SINK`) as a SinkBinding injects them
/// hold in-cluster addresses, which a function's own HTTP client cannot resolve here:
/// they go through the ingress instead (`/.fnmesh/hosts/<host>/<path>`).
///
/// `FNMESH_INGRESS` (unless the manifest sets it) tells a function where that ingress is,
/// for in-cluster URLs of its own (the workflow function's service calls).
fn with_reachable_sinks(service: &ServicePlan, ingress: SocketAddr) -> ServicePlan {
    let mut service = service.clone();
    if !service.env.iter().any(|(name, _)| name == "FNMESH_INGRESS") {
        service.env.push(("FNMESH_INGRESS".to_owned(), format!("http://{ingress}")));
    }
    for (name, value) in &mut service.env {
        if !matches!(name.as_str(), "K_SINK" | "EVENT_SINK") {
            continue;
        }
        let Ok(url) = url::Url::parse(value) else { continue };
        let Some(host) = url.host_str() else { continue };
        let full = full_host(host);
        if full.ends_with(".svc.cluster.local") {
            *value = format!("http://{ingress}/.fnmesh/hosts/{full}{}", &url[url::Position::BeforePath..]);
        }
    }
    service
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Deliveries still in flight when the grace ran out, given up.
    pub abandoned: usize,
}

impl Running {
    /// Stops as a Knative pod would drain: the ping sources stop, new events from outside
    /// are refused (`503`), what was accepted is delivered (within the grace), then the
    /// ingress and the services stop. Says how many deliveries it had to abandon.
    pub async fn stop(self) -> Stopped {
        self.pings.stop().await;
        let work = &self.mesh.work;
        work.start_draining();
        let out = &self.mesh.courier.out;
        let in_flight = work.active();
        if in_flight > 0 {
            out.say(&format!("draining: {in_flight} delivery(ies) in flight (at most {:?})", self.grace));
        }
        let abandoned = work.finish(self.grace).await;
        if abandoned > 0 {
            out.say(&format!(
                "stopped with {abandoned} delivery(ies) abandoned: the grace of {:?} ran out",
                self.grace
            ));
        }
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        for service in self.services {
            service.started.stop(self.grace).await;
        }
        Stopped { abandoned }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ingress_beyond_loopback_is_a_warning() {
        for quiet in ["127.0.0.1", "127.0.0.2", "::1"] {
            assert_eq!(exposure(quiet.parse().unwrap()), None, "{quiet}");
        }
        let loud = exposure("0.0.0.0".parse().unwrap()).unwrap();
        assert!(loud.starts_with("warning: --address 0.0.0.0 makes every channel"), "{loud}");
        assert!(exposure("::".parse().unwrap()).is_some());
    }
}
