//! Shared fixtures of the workflow tests: a workflow written to a temporary folder and
//! started in-process (its jq workers being the built `workflow` binary), requests to
//! its REST API and CloudEvents, and recording HTTP services on loopback that play
//! the called services and the `K_SINK`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::sync::{Arc, Mutex};

use axum::Router;
use fnmesh_runtime::{Console, Env};
use fnmesh_testkit::{Answer, CeRequest, call};
use http::Method;
use serde_json::{Value, json};

/// A workflow under test.
pub struct Flow {
    /// Holds the definition and its files (and a SQLite store).
    pub dir: tempfile::TempDir,
    /// The function's routes.
    pub router: Router,
    /// Its id.
    pub id: String,
}

/// The environment every test flow gets, plus `extra`.
pub fn env(dir: &std::path::Path, file: &str, extra: &[(&str, &str)]) -> Env {
    let mut env = Env::from_pairs([
        ("WORKFLOW_FILE", dir.join(file).display().to_string()),
        ("WORKFLOW_STORE", "memory".to_owned()),
        ("FNMESH_JQ_WORKER", env!("CARGO_BIN_EXE_workflow").to_owned()),
        ("WORKFLOW_EXPR_TIMEOUT", "10s".to_owned()),
        ("FNMESH_SINK_BACKOFF", "1ms".to_owned()),
        ("FNMESH_SINK_RETRIES", "0".to_owned()),
    ]);
    for (k, v) in extra {
        env = env.with(*k, *v);
    }
    env
}

/// Writes `definition` (and `files`: name, content) to a new folder and starts it.
pub fn flow(definition: &Value, files: &[(&str, &str)], extra: &[(&str, &str)]) -> Flow {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flow.sw.json"), definition.to_string()).unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let router = start(dir.path(), "flow.sw.json", extra).unwrap_or_else(|e| panic!("{e}"));
    Flow { dir, router, id: definition["id"].as_str().unwrap().to_owned() }
}

/// Starts the workflow `file` of `dir` (the error is the start-up message).
pub fn start(dir: &std::path::Path, file: &str, extra: &[(&str, &str)]) -> Result<Router, String> {
    fnmesh_workflow::SPEC
        .build(&env(dir, file, extra), Console::null())
        .map(|(router, _)| router)
        .map_err(|e| e.to_string())
}

/// The start-up error of `definition` (it must fail).
pub fn start_error(definition: &Value, files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flow.sw.json"), definition.to_string()).unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    match start(dir.path(), "flow.sw.json", &[]) {
        Ok(_) => panic!("{definition} started"),
        Err(e) => e,
    }
}

impl Flow {
    /// `POST /{id}` with `input`.
    pub async fn start(&self, input: &Value) -> Answer {
        request(&self.router, Method::POST, &format!("/{}", self.id), Some(input)).await
    }

    /// Starts an instance and returns `(id, workflowdata)`, asserting a `201`.
    pub async fn run(&self, input: &Value) -> (String, Value) {
        let answer = self.start(input).await;
        assert_eq!(answer.status, 201, "{}", answer.text());
        let body = answer.json();
        (body["id"].as_str().unwrap().to_owned(), body["workflowdata"].clone())
    }

    /// `GET /{id}/{instance}`.
    pub async fn instance(&self, instance: &str) -> Answer {
        request(&self.router, Method::GET, &format!("/{}/{instance}", self.id), None).await
    }

    /// Polls (at most ~10 s) until instance `id` has ended (`404`).
    pub async fn until_ended(&self, instance: &str) {
        for _ in 0..1000 {
            if self.instance(instance).await.status == 404 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("instance {instance} did not end: {}", self.instance(instance).await.text());
    }

    /// Polls until instance `id` has status `status`; its view.
    pub async fn until_status(&self, instance: &str, status: &str) -> Value {
        for _ in 0..1000 {
            let answer = self.instance(instance).await;
            if answer.status == 200 && answer.json()["status"] == status {
                return answer.json();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("instance {instance} never became {status}: {}", self.instance(instance).await.text());
    }

    /// Posts a CloudEvent of `ty` with `extensions` and JSON `data`.
    pub async fn event(&self, ty: &str, extensions: &[(&str, &str)], data: &Value) -> Answer {
        let mut request = CeRequest::binary().header("ce-type", ty).header("ce-id", &uuid()).json(data);
        for (name, value) in extensions {
            request = request.header(&format!("ce-{name}"), value);
        }
        call(&self.router, &request).await
    }
}

fn uuid() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("e{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// A request to `router`.
pub async fn request(router: &Router, method: Method, path: &str, body: Option<&Value>) -> Answer {
    let mut request = CeRequest::raw().method(method).path(path);
    if let Some(body) = body {
        request = request.json(body);
    }
    call(router, &request).await
}

/// A request a [`Service`] received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, ...
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string.
    pub query: String,
    /// The headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`null` when empty or not JSON).
    pub body: Value,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The status an answerer returns for "answer nothing for a minute".
pub const HANG: u16 = 599;

type Answerer = Arc<dyn Fn(&Recorded, usize) -> (u16, Value) + Send + Sync>;

/// An HTTP server on loopback that records every request and answers with `answer`
/// (given the request and how many came before it).
pub struct Service {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Service {
    /// Starts a service.
    pub async fn start(answer: impl Fn(&Recorded, usize) -> (u16, Value) + Send + Sync + 'static) -> Self {
        let answer: Answerer = Arc::new(answer);
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let seen = requests.clone();
        let router = Router::new().fallback(move |request: axum::extract::Request| {
            let (answer, seen) = (answer.clone(), seen.clone());
            async move {
                let (parts, body) = request.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                let recorded = Recorded {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().unwrap_or_default().to_owned(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                        .collect(),
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                };
                let count = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(recorded.clone());
                    seen.len() - 1
                };
                let (status, body) = answer(&recorded, count);
                if status == HANG {
                    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                }
                let status = if status == HANG { 200 } else { status };
                (http::StatusCode::from_u16(status).unwrap(), axum::Json(body))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, requests }
    }

    /// A service that answers `200 {}` to everything (a sink).
    pub async fn sink() -> Self {
        Self::start(|_, _| (200, json!({}))).await
    }

    /// What it received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}
