//! `fnmesh run`: load, check, start every service, the ingress and the ping sources;
//! run until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::deliver::RetryOn;
use crate::delivery::DeliveryPolicy;
use crate::images::Images;
use crate::ingress::{Ingress, router};
use crate::mesh::Mesh;
use crate::output::Out;
use crate::ping::PingPlan;
use crate::transport::{Routes, Transport};
use crate::workloads::{self, Started, wait_for};

/// How long requests in flight at the ingress may finish once `fnmesh run` stops.
const INGRESS_GRACE: Duration = Duration::from_secs(20);

/// What `fnmesh run` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub paths: Vec<PathBuf>,
    /// The ingress port; 0 picks a free one.
    pub port: u16,
    /// The ingress address: loopback unless asked (services always listen on loopback).
    pub address: std::net::IpAddr,
    pub namespace: String,
    pub ping_now: bool,
    /// More image mappings (`--images`).
    pub images: Vec<PathBuf>,
    /// The TTL a broker gives an event that has none (`--broker-ttl`).
    pub broker_ttl: u32,
    /// The largest event the ingress reads, in bytes (`--body-limit`).
    pub body_limit: usize,
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
            broker_ttl: crate::mesh::BROKER_TTL,
            body_limit: crate::ingress::DEFAULT_BODY_LIMIT,
        }
    }
}

/// Why the mesh did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Manifests(#[from] crate::problems::Problems),
    #[error("{0}")]
    Other(String),
}

/// A running mesh.
#[derive(Debug)]
pub struct Running {
    pub ingress: SocketAddr,
    pub mesh: Arc<Mesh>,
    stop: watch::Sender<bool>,
    _services: Vec<Started>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Loads and checks the manifests, then starts everything.
pub async fn start(options: &Options, out: Out) -> Result<Running, StartError> {
    let started = Instant::now();
    let images = Images::load(&options.images).map_err(StartError::Other)?;
    let (documents, problems) = crate::manifest::load(&options.paths, &options.namespace);
    let plan = crate::plan::plan(&documents, Some(&images), problems)?;
    for warning in &plan.warnings {
        out.say(&format!("warning: {warning}"));
    }
    let listener = TcpListener::bind((options.address, options.port))
        .await
        .map_err(|e| StartError::Other(format!("cannot listen on {}:{}: {e}", options.address, options.port)))?;
    let ingress_addr = listener.local_addr().map_err(|e| StartError::Other(e.to_string()))?;
    let (stop, stopped) = watch::channel(false);

    let mut routes = Routes { ingress: Some(ingress_addr), ..Routes::default() };
    let mut services = Vec::new();
    let mut failures = Vec::new();
    for service in &plan.services {
        let service = &with_reachable_sinks(service, ingress_addr);
        match workloads::start(service, &out, stopped.clone()).await {
            Ok(started) => {
                routes.services.insert(service.host.clone(), started.addr);
                services.push(started);
            }
            Err(e) => failures.push(format!("service {}: {e}", service.name)),
        }
    }
    if !failures.is_empty() {
        let _ = stop.send(true);
        return Err(StartError::Other(failures.join("\n")));
    }
    routes.mesh_hosts.extend(plan.channels.iter().map(|c| c.host.clone()));
    routes.mesh_hosts.insert(crate::address::BROKER_INGRESS_HOST.to_owned());
    let transport = Transport::new(routes);
    let mesh = Arc::new(Mesh::new(transport, out.clone(), plan.channels, plan.brokers, options.broker_ttl));
    let ingress = Arc::new(Ingress { mesh: mesh.clone(), objects: plan.objects, body_limit: options.body_limit });
    let mut tasks = Vec::new();
    let shutdown = wait_for(stopped.clone());
    // The ingress keeps the functions' header limits.
    let serving =
        fnmesh_runtime::ServeConfig { shutdown_grace: INGRESS_GRACE, ..fnmesh_runtime::ServeConfig::default() };
    tasks.push(tokio::spawn(async move {
        let router = fnmesh_runtime::server::limit_headers(router(ingress), &serving);
        if let Err(e) = fnmesh_runtime::server::serve(listener, router, shutdown, &serving).await {
            tracing::error!(%e, "the ingress stopped");
        }
    }));
    out.say(&format!(
        "ready in {} ms: {} service(s), ingress on http://{ingress_addr} (send with a Host header, or `fnmesh send`)",
        started.elapsed().as_millis(),
        services.len()
    ));
    for ping in plan.pings {
        tasks.push(tokio::spawn(ping_loop(ping, mesh.clone(), options.ping_now, stopped.clone())));
    }
    Ok(Running { ingress: ingress_addr, mesh, stop, _services: services, tasks })
}

/// `K_SINK` (and the state machine runner's `EVENT_SINK`) as a SinkBinding injects them
/// hold in-cluster addresses, which a function's own HTTP client cannot resolve here:
/// they go through the ingress instead (`/.fnmesh/hosts/<host>/<path>`).
fn with_reachable_sinks(service: &crate::plan::ServicePlan, ingress: SocketAddr) -> crate::plan::ServicePlan {
    let mut service = service.clone();
    for (name, value) in &mut service.env {
        if !matches!(name.as_str(), "K_SINK" | "EVENT_SINK") {
            continue;
        }
        let Ok(url) = url::Url::parse(value) else { continue };
        let Some(host) = url.host_str() else { continue };
        let full = crate::transport::full_host(host);
        if full.ends_with(".svc.cluster.local") {
            *value = format!("http://{ingress}/.fnmesh/hosts/{full}{}", &url[url::Position::BeforePath..]);
        }
    }
    service
}

impl Running {
    /// Stops the ping sources and the ingress, lets services drain, and waits.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// Fires `ping` on its schedule (and once at once with `now`) until stopped.
async fn ping_loop(ping: PingPlan, mesh: Arc<Mesh>, now: bool, stopped: watch::Receiver<bool>) {
    let label = format!("pingsource/{}", ping.name);
    // The adapter retries a few times, with growing waits.
    let policy = DeliveryPolicy {
        retry: 3,
        backoff: Some((crate::delivery::Backoff::Exponential, Duration::from_millis(100))),
        ..DeliveryPolicy::default()
    };
    let fire = |at: chrono::DateTime<chrono::Utc>| {
        let (mesh, ping, policy, label) = (mesh.clone(), ping.clone(), policy.clone(), label.clone());
        tokio::spawn(async move {
            let event = ping.event(at);
            let sent = mesh
                .courier
                .deliver(&label, &ping.sink, &event, &http::HeaderMap::new(), &policy, RetryOn::Source)
                .await;
            if let Err(failure) = sent {
                mesh.courier.out.log(&format!(
                    "{label}: event {} lost: {}",
                    fnmesh_runtime::AttributesReader::id(&event),
                    failure.reason
                ));
            }
        });
    };
    if now {
        fire(chrono::Utc::now());
    }
    let stop = wait_for(stopped);
    tokio::pin!(stop);
    loop {
        let Some(next) = ping.next_after(chrono::Utc::now()) else { return };
        let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(wait) => fire(next),
        }
    }
}
