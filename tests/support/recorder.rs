//! A scripted HTTP server for delivery tests: it answers each request with the next
//! step of its script (the last step repeats) and records what it received.

#![allow(clippy::expect_used)] // test support: a panic here is a failed test

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// One answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// This status, empty body.
    Status(u16),
    /// This status with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// This status and body (a plain-text error).
    Body(u16, &'static str),
    /// Wait, then answer with the status.
    Slow(Duration, u16),
    /// 200 with the received event echoed back with this type (a reply).
    Echo(&'static str),
    /// Faults by event: ids ending in `fail` always answer 503, ids ending in `hang`
    /// wait 2 s, every `flaky`-th request answers 503 once; the rest 200.
    Faulty { fail: &'static str, hang: &'static str, flaky: usize },
}

/// A request the recorder received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When, from the recorder's start.
    pub at: Duration,
    /// The status it answered at once (`None`: it answered late, or in some other way).
    pub answered: Option<u16>,
}

impl Received {
    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }
}

#[derive(Debug)]
struct Inner {
    killed: std::sync::atomic::AtomicBool,
    script: Vec<Step>,
    received: Mutex<Vec<Received>>,
    started: Instant,
}

/// The running recorder; stops with the test's runtime, or at [`Recorder::kill`].
#[derive(Debug, Clone)]
pub struct Recorder {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    inner: Arc<Inner>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Recorder {
    pub async fn start(script: Vec<Step>) -> Self {
        let inner = Arc::new(Inner {
            killed: std::sync::atomic::AtomicBool::new(false),
            script,
            received: Mutex::new(Vec::new()),
            started: Instant::now(),
        });
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let app = Router::new().fallback(answer).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inner, task: Arc::new(task) }
    }

    /// Stops answering at once, as a killed process does: the listener closes (new
    /// connections are refused) and open connections are dropped without an answer.
    pub fn kill(&self) {
        self.inner.killed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.task.abort();
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().expect("lock").clone()
    }

    /// Waits (at most `limit`) until `n` requests arrived; what arrived.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        while self.received().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.received()
    }
}

async fn answer(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    if inner.killed.load(std::sync::atomic::Ordering::SeqCst) {
        // Unwinds the connection's task: the client sees the connection close, no answer.
        std::panic::resume_unwind(Box::new("killed"));
    }
    let n = {
        let mut received = inner.received.lock().expect("lock");
        received.push(Received {
            headers: headers.clone(),
            body: body.clone(),
            at: inner.started.elapsed(),
            answered: None,
        });
        received.len() - 1
    };
    let step = inner.script.get(n).or(inner.script.last()).cloned().unwrap_or(Step::Status(202));
    let status = |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match step {
        Step::Status(code) => status(code).into_response(),
        Step::RetryAfter(code, seconds) => (status(code), [("retry-after", seconds.to_string())]).into_response(),
        Step::Body(code, text) => (status(code), text).into_response(),
        Step::Slow(wait, code) => {
            tokio::time::sleep(wait).await;
            status(code).into_response()
        }
        Step::Faulty { fail, hang, flaky } => {
            let id = headers.get("ce-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
            if id.ends_with(hang) {
                tokio::time::sleep(Duration::from_secs(2)).await;
                return StatusCode::OK.into_response();
            }
            let code = if id.ends_with(fail) || (flaky > 0 && n % flaky == 0) { 503 } else { 200 };
            if let Some(record) = inner.received.lock().expect("lock").get_mut(n) {
                record.answered = Some(code);
            }
            status(code).into_response()
        }
        Step::Echo(ty) => {
            let mut reply = HeaderMap::new();
            for (name, value) in &headers {
                if name.as_str().starts_with("ce-") || name == "content-type" {
                    reply.insert(name.clone(), value.clone());
                }
            }
            reply.insert("ce-type", ty.parse().expect("header value"));
            (StatusCode::OK, reply, body).into_response()
        }
    }
}
