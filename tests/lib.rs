//! Helpers for the cross-crate integration tests in this folder.
//!
//! [`recorder`] is a scripted HTTP server for delivery tests; [`mesh`] runs `fnmesh run`
//! in-process with its output captured.
//!
//! [`InProcess`] runs a function's [`FunctionSpec`] in this process, on a real loopback
//! port, with the same service and drain code as its binary: what `fnmesh run` does.

#[path = "support/mesh.rs"]
pub mod mesh;
#[path = "support/recorder.rs"]
pub mod recorder;

use std::net::SocketAddr;

use fnmesh_runtime::{Console, Env, FunctionSpec, server};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A function served in-process on `127.0.0.1:<free port>`; stopped when dropped.
#[derive(Debug)]
pub struct InProcess {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl InProcess {
    /// Starts `spec` with `env` (nothing from the process environment) and `console`.
    pub async fn start(spec: FunctionSpec, env: &[(&str, &str)], console: Console) -> Result<Self, String> {
        let env = Env::from_pairs(env.iter().copied());
        let (router, config) = spec.build(&env, console).map_err(|e| format!("{}: {e}", spec.name))?;
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.map_err(|e| e.to_string())?;
        let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(server::serve(listener, router, shutdown, &config));
        Ok(Self { base, stop: Some(stop), task })
    }

    /// Drains and waits for the server to return.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.task.abort();
    }
}
