//! Starting services: an fnmesh function in-process on its own loopback port, with its
//! manifest `env:` as config, its output prefixed and `containerConcurrency` enforced; or
//! a process of this machine ([`super::launch`]: built from its sources, a command, an
//! image in a container engine) given `PORT`, in a process group of its own
//! ([`super::processes`]). A source's pod (a ContainerSource's) is not a Knative
//! Service: it gets no `K_SERVICE`, and a process is not waited for to listen.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use fnmesh_runtime::Env;
use fnmesh_runtime::server::serve;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::launch;
use super::processes::CommandProcess;
use crate::error::{Error, Result};
use crate::output::Out;
use crate::plan::local::{DEFAULT_STARTUP, Startup};
use crate::plan::{Local, ServicePlan, Workload};
use fnmesh_runtime::ports;

/// A running service.
#[derive(Debug)]
pub struct Started {
    /// The loopback address it listens on.
    pub addr: SocketAddr,
    /// A command's processes, ended when this is stopped or dropped.
    command: Option<CommandProcess>,
    /// A container's engine and name, removed when this is stopped.
    container: Option<(String, String)>,
    /// An in-process function's stop signal and server.
    server: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
}

impl Started {
    /// Nothing running, at `port`: what stands in a service's place while it restarts.
    pub fn placeholder(port: u16) -> Self {
        Self { addr: SocketAddr::from(([127, 0, 0, 1], port)), command: None, container: None, server: None }
    }

    /// For a process: resolves when it exits, with how if it exited on its own (`None`
    /// when it was stopped).
    pub fn crashed(&self) -> Option<impl Future<Output = Option<std::process::ExitStatus>> + Send + 'static> {
        self.command.as_ref().map(CommandProcess::crashed)
    }

    /// Stops it as a pod is stopped: an in-process function drains (at most its own
    /// grace), a process gets `SIGTERM`, then `SIGKILL` after `grace`.
    pub async fn stop(self, grace: Duration) {
        if let Some((stop, server)) = self.server {
            let _ = stop.send(true);
            let _ = server.await;
        }
        if let Some(command) = self.command {
            command.stop(grace).await;
        }
        if let Some((engine, container)) = self.container {
            // `run --rm` removes it once it stops; this is for a client that died first.
            let _ = tokio::process::Command::new(engine)
                .args(["rm", "-f", &container])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
        }
    }
}

/// Starts `service` on loopback `port` (0: a free one); it runs until [`Started::stop`].
/// `built`: the program a local service's build gave just before, so it is not built again.
pub async fn start(service: &ServicePlan, out: &Out, port: u16, built: Option<String>) -> Result<Started> {
    let fail = |message: String| Error::Start(format!("service {}: {message}", service.name));
    let process = !matches!(service.run, Workload::Function(_));
    let (listener, addr) = if process {
        // The process binds the port itself: one drawn from below the ephemeral range.
        let port = if port == 0 { ports::for_process().map_err(|e| fail(format!("no free port: {e}")))? } else { port };
        (None, SocketAddr::from(([127, 0, 0, 1], port)))
    } else {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| fail(format!("cannot listen on loopback port {port}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| fail(e.to_string()))?;
        (Some(listener), addr)
    };
    let serving = [
        ("K_SERVICE", service.name.clone()),
        ("K_CONFIGURATION", service.name.clone()),
        ("K_REVISION", format!("{}-00001", service.name)),
        ("PORT", addr.port().to_string()),
    ];
    // A source's pod has no Serving contract; `PORT` still tells a function where to listen.
    let knative = if service.source { &serving[3..] } else { &serving[..] };
    match &service.run {
        Workload::Function(spec) => {
            let Some(listener) = listener else { return Err(fail("bound no port for a function".to_owned())) };
            let env = Env::from_pairs(
                knative
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .chain(service.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            );
            let (mut router, config) =
                spec.build(&env, out.console(&service.name)).map_err(|e| fail(format!("{}: {e}", spec.name)))?;
            if let Some(limit) = service.concurrency {
                // containerConcurrency: more requests wait for a free slot, as Knative's
                // queue-proxy makes them wait.
                let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(limit));
                router = router.layer(axum::middleware::from_fn(
                    move |request: axum::extract::Request, next: axum::middleware::Next| {
                        let permits = permits.clone();
                        async move {
                            let _permit = permits.acquire_owned().await;
                            next.run(request).await
                        }
                    },
                ));
            }
            let (stop, stopped) = watch::channel(false);
            let shutdown = wait_for(stopped);
            let server = tokio::spawn(async move {
                if let Err(e) = serve(listener, router, shutdown, &config).await {
                    tracing::error!(%e, "a function's server stopped");
                }
            });
            Ok(Started { addr, command: None, container: None, server: Some((stop, server)) })
        }
        Workload::Local(local) => {
            let vars = vars(service, knative);
            let program = match built {
                Some(program) => program,
                None => launch::build(&service.name, local, out).await.map_err(fail)?,
            };
            let child = launch::start(&service.name, &program, local, &vars, addr.port(), out, !service.source)
                .await
                .map_err(fail)?;
            Ok(Started { addr, command: Some(child), container: None, server: None })
        }
        Workload::Container { image, engine } => {
            let vars = vars(service, knative);
            let container = format!("fnmesh-{}-{}-{}", service.namespace, service.name, addr.port());
            let program = launch::engine::run_command(engine, image, &container, &vars);
            let local = Local {
                dir: None,
                build: None,
                command: Some(program.clone()),
                startup: Startup { timeout: DEFAULT_STARTUP, http_path: None },
            };
            let child = launch::start(&service.name, &program, &local, &vars, addr.port(), out, !service.source)
                .await
                .map_err(fail)?;
            Ok(Started { addr, command: Some(child), container: Some((engine.clone(), container)), server: None })
        }
    }
}

/// The manifest's env, then Knative's.
fn vars(service: &ServicePlan, knative: &[(&str, String)]) -> launch::Vars {
    service.env.iter().cloned().chain(knative.iter().map(|(k, v)| ((*k).to_owned(), v.clone()))).collect()
}

/// Resolves when `stop` turns true (or its sender is gone).
pub async fn wait_for(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}
