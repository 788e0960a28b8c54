//! Running `fnmesh run` in-process for tests: manifests from text or folders, output
//! captured, events sent to the ingress, output awaited with a bound.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fnmesh_mesh::cli::run::{Options, Running, start};
use fnmesh_mesh::output::Out;
use fnmesh_runtime::Capture;

/// A mesh under test.
#[derive(Debug)]
pub struct TestMesh {
    pub running: Running,
    capture: Capture,
    _dir: Option<tempfile::TempDir>,
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl TestMesh {
    /// Runs the manifests in `yaml` (one multi-document text).
    pub async fn from_yaml(yaml: &str) -> Result<Self, String> {
        Self::from_yaml_with(yaml, |_| {}).await
    }

    /// Runs the manifests in `yaml` with `fnmesh run` options changed by `adjust`.
    pub async fn from_yaml_with(yaml: &str, adjust: impl FnOnce(&mut Options)) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("manifests.yaml"), yaml).map_err(|e| e.to_string())?;
        let mut options = Options { port: 0, ..Options::new(vec![dir.path().to_owned()]) };
        adjust(&mut options);
        let mut mesh = Self::start(&options).await?;
        mesh._dir = Some(dir);
        Ok(mesh)
    }

    /// Runs the manifests under `paths`.
    pub async fn from_paths(paths: &[PathBuf], ping_now: bool) -> Result<Self, String> {
        Self::start(&Options { port: 0, ping_now, ..Options::new(paths.to_vec()) }).await
    }

    async fn start(options: &Options) -> Result<Self, String> {
        let (out, capture) = Out::capture();
        let running = start(options, out).await.map_err(|e| e.to_string())?;
        Ok(Self { running, capture, _dir: None })
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.capture.text()
    }

    /// Waits (at most `limit`) until the output holds `needle`; whether it does.
    pub async fn wait_for(&self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !self.output().contains(needle) {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Waits until the output has `n` lines starting with `prefix`; those lines.
    pub async fn wait_for_lines(&self, prefix: &str, n: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let lines: Vec<String> =
                self.output().lines().filter(|l| l.starts_with(prefix)).map(str::to_owned).collect();
            if lines.len() >= n || Instant::now() >= deadline {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// POSTs a binary-mode event to the ingress with `host` (and `path`); the status.
    pub async fn post(&self, host: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        self.client().post(host, path, headers, body).await
    }

    /// A client of the ingress that outlives the mesh (to send while it stops).
    pub fn client(&self) -> IngressClient {
        IngressClient { ingress: self.running.ingress }
    }

    /// The captured output, readable after the mesh is gone.
    pub fn output_handle(&self) -> Capture {
        self.capture.clone()
    }

    /// A ping-style event (`ce-*` headers) posted to `host`.
    pub async fn send(&self, host: &str, id: &str, ty: &str, body: &str) -> (u16, String) {
        let headers = [("ce-specversion", "1.0"), ("ce-id", id), ("ce-source", "/test"), ("ce-type", ty)];
        self.post(host, "/", &headers, body).await
    }

    /// Stops as `fnmesh run` stops (drain, then the rest); how it went.
    pub async fn stop(self) -> fnmesh_mesh::cli::run::Stopped {
        self.running.stop().await
    }
}

/// Sends to a mesh's ingress.
#[derive(Debug, Clone, Copy)]
pub struct IngressClient {
    ingress: std::net::SocketAddr,
}

impl IngressClient {
    /// POSTs a binary-mode event to the ingress with `host` (and `path`); the status and body.
    pub async fn post(&self, host: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let client = fnmesh_testkit::reqwest::Client::new();
        let mut request = client
            .post(format!("http://{}{path}", self.ingress))
            .header("host", host)
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }
}
