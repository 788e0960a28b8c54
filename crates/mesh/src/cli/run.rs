//! `fnmesh run`: load, check, start every service, the ingress and the ping sources;
//! run until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::dataplane::ingress::{self, Ingress, router};
use crate::dataplane::pings::ping_loop;
use crate::dataplane::services::{self, Started, wait_for};
use crate::dataplane::transport::{Routes, Transport, full_host};
use crate::dataplane::{BROKER_TTL, Mesh, Settings};
use crate::error::{Error, Result};
use crate::output::Out;
use crate::plan::address::BROKER_INGRESS_HOST;
use crate::plan::{Images, ServicePlan, Workload};

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
        }
    }
}

/// A running mesh.
#[derive(Debug)]
pub struct Running {
    /// Where the ingress listens (the actual port when 0 was asked).
    pub ingress: SocketAddr,
    /// The data plane: channels, brokers and the courier between them.
    pub mesh: Arc<Mesh>,
    stop: watch::Sender<bool>,
    stop_pings: watch::Sender<bool>,
    pings: Vec<tokio::task::JoinHandle<()>>,
    grace: Duration,
    services: Vec<Started>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Loads and checks the manifests, then starts everything.
pub async fn start(options: &Options, out: Out) -> Result<Running> {
    let started = Instant::now();
    let images = Images::load(&options.images)?;
    let (documents, problems) = crate::manifests::load(&options.paths, &options.namespace);
    let plan = crate::plan::plan(&documents, Some(&images), problems)?;
    for warning in &plan.warnings {
        out.say(&format!("warning: {warning}"));
    }
    if let Some(ignored) = plan.ignored_line() {
        out.say(&ignored);
    }
    let listener = TcpListener::bind((options.address, options.port))
        .await
        .map_err(|e| Error::Start(format!("cannot listen on {}:{}: {e}", options.address, options.port)))?;
    let ingress_addr = listener.local_addr().map_err(|e| Error::Start(e.to_string()))?;
    let (stop, stopped) = watch::channel(false);

    let mut routes = Routes { ingress: Some(ingress_addr), ..Routes::default() };
    let mut running = Vec::new();
    let mut failures = Vec::new();
    for service in &plan.services {
        let service = &with_reachable_sinks(service, ingress_addr);
        match services::start(service, &out, stopped.clone()).await {
            Ok(started) if service.source => running.push(started),
            Ok(started) => {
                routes.services.insert(service.host.clone(), started.addr);
                if let (Workload::Command(_), Some(limit)) = (&service.run, service.concurrency) {
                    routes.concurrency.insert(service.host.clone(), Arc::new(tokio::sync::Semaphore::new(limit)));
                }
                running.push(started);
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if !failures.is_empty() {
        let _ = stop.send(true);
        return Err(Error::Start(failures.join("\n")));
    }
    routes.mesh_hosts.extend(plan.channels.iter().map(|c| c.host.clone()));
    routes.mesh_hosts.insert(BROKER_INGRESS_HOST.to_owned());
    routes.internal_token = uuid::Uuid::new_v4().simple().to_string();
    let transport = Transport::new(routes);
    let settings =
        Settings { broker_ttl: options.broker_ttl, backlog: options.backlog, async_brokers: options.async_brokers };
    let mesh = Arc::new(Mesh::new(transport, out.clone(), plan.channels, plan.brokers, settings));
    let ingress = Arc::new(Ingress { mesh: mesh.clone(), objects: plan.objects, body_limit: options.body_limit });
    let mut tasks = Vec::new();
    let shutdown = wait_for(stopped.clone());
    // The ingress keeps the functions' header limits; by the time it stops, the mesh has
    // drained, so what is left in flight gets a short grace only.
    let serving = fnmesh_runtime::ServeConfig {
        shutdown_grace: Duration::from_secs(5),
        ..fnmesh_runtime::ServeConfig::default()
    };
    tasks.push(tokio::spawn(async move {
        let router = fnmesh_runtime::server::limit_headers(router(ingress), &serving);
        if let Err(e) = fnmesh_runtime::server::serve(listener, router, shutdown, &serving).await {
            tracing::error!(%e, "the ingress stopped");
        }
    }));
    out.say(&format!(
        "ready in {} ms: {} service(s), ingress on http://{ingress_addr} (send with a Host header, or `fnmesh send`)",
        started.elapsed().as_millis(),
        running.len()
    ));
    if let Some(warning) = exposure(options.address) {
        out.say(&warning);
    }
    let (stop_pings, pings_stopped) = watch::channel(false);
    let mut pings = Vec::new();
    for ping in plan.pings {
        pings.push(tokio::spawn(ping_loop(ping, mesh.clone(), options.ping_now, pings_stopped.clone())));
    }
    Ok(Running { ingress: ingress_addr, mesh, stop, stop_pings, pings, grace: options.grace, services: running, tasks })
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
        let _ = self.stop_pings.send(true);
        for ping in self.pings {
            let _ = tokio::time::timeout(Duration::from_secs(5), ping).await;
        }
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
            service.stop(self.grace).await;
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
