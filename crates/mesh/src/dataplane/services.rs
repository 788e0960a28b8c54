//! Starting services: an fnmesh function in-process on its own loopback port, with its
//! manifest `env:` as config, its output prefixed and `containerConcurrency` enforced; or
//! a local command (annotation `fnmesh.dev/command`) given `PORT`, in a process group of
//! its own ([`super::processes`]). A source's pod (a ContainerSource's) is not a Knative
//! Service: it gets no `K_SERVICE`, and a command is not waited for to listen.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use fnmesh_runtime::Env;
use fnmesh_runtime::server::serve;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::processes::CommandProcess;
use crate::error::{Error, Result};
use crate::output::{Out, pipe_lines};
use crate::plan::{ServicePlan, Workload};

/// A running service.
#[derive(Debug)]
pub struct Started {
    /// The loopback address it listens on.
    pub addr: SocketAddr,
    /// A command's processes, ended when this is stopped or dropped.
    command: Option<CommandProcess>,
}

impl Started {
    /// Ends a command's processes (`SIGTERM`, then `SIGKILL` after `grace`); an in-process
    /// function stops with the mesh's stop signal instead.
    pub async fn stop(self, grace: Duration) {
        if let Some(command) = self.command {
            command.stop(grace).await;
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
            Ok(Started { addr, command: None })
        }
        Workload::Command(command) => {
            drop(listener);
            let mut child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .envs(service.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .envs(knative.iter().map(|(k, v)| (*k, v.as_str())))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| fail(format!("cannot run {command:?}: {e}")))?;
            if let Some(stdout) = child.stdout.take() {
                pipe_lines(out.clone(), service.name.clone(), stdout);
            }
            if let Some(stderr) = child.stderr.take() {
                pipe_lines(out.clone(), service.name.clone(), stderr);
            }
            let mut child = CommandProcess::new(child);
            if service.source {
                // It sends events; nothing sends to it.
                return Ok(Started { addr, command: Some(child) });
            }
            for _ in 0..400 {
                if tokio::net::TcpStream::connect(addr).await.is_ok() {
                    return Ok(Started { addr, command: Some(child) });
                }
                if let Some(status) = child.try_wait() {
                    return Err(fail(format!(
                        "{command:?} exited ({status}) before listening on PORT={}",
                        addr.port()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(fail(format!("{command:?} did not listen on PORT={} within 10s", addr.port())))
        }
    }
}

/// Resolves when `stop` turns true (or its sender is gone).
pub async fn wait_for(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}
