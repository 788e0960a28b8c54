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

/// A running service.
#[derive(Debug)]
pub struct Started {
    /// The loopback address it listens on.
    pub addr: SocketAddr,
    /// A command's processes, ended when this is stopped or dropped.
    command: Option<CommandProcess>,
    /// A container's engine and name, removed when this is stopped.
    container: Option<(String, String)>,
}

impl Started {
    /// Ends a command's processes (`SIGTERM`, then `SIGKILL` after `grace`); an in-process
    /// function stops with the mesh's stop signal instead.
    pub async fn stop(self, grace: Duration) {
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

/// Starts `service`; it stops when `stop` turns true.
pub async fn start(service: &ServicePlan, out: &Out, stop: watch::Receiver<bool>) -> Result<Started> {
    let fail = |message: String| Error::Start(format!("service {}: {message}", service.name));
    let listener =
        TcpListener::bind("127.0.0.1:0").await.map_err(|e| fail(format!("cannot listen on loopback: {e}")))?;
    let addr = listener.local_addr().map_err(|e| fail(e.to_string()))?;
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
            let shutdown = wait_for(stop);
            tokio::spawn(serve(listener, router, shutdown, &config));
            Ok(Started { addr, command: None, container: None })
        }
        Workload::Local(local) => {
            drop(listener);
            let vars = vars(service, knative);
            let program = launch::build(&service.name, local, out).await.map_err(fail)?;
            let child = launch::start(&service.name, &program, local, &vars, addr.port(), out, !service.source)
                .await
                .map_err(fail)?;
            Ok(Started { addr, command: Some(child), container: None })
        }
        Workload::Container { image, engine } => {
            drop(listener);
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
            Ok(Started { addr, command: Some(child), container: Some((engine.clone(), container)) })
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
