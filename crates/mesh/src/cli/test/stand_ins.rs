//! Stand-ins: scripted servers that answer in place of a service during a test case
//! (each on `127.0.0.1:0`, the mesh routing the service's host to it), giving the
//! answers of their script in order and recording every request they receive.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fnmesh_runtime::AttributesWriter;
use fnmesh_runtime::binding::{Encoding, decode, encode};
use tokio::net::TcpListener;

use super::format::{Answer, StandIn};
use crate::error::{Error, Result};

/// A request a stand-in received, flattened for matching.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// Context attributes and extensions, as text (`time` in RFC 3339, UTC, `Z`).
    pub attributes: BTreeMap<String, String>,
    /// Request headers, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The request path.
    pub path: String,
    /// The body as text.
    pub body: String,
    /// The data as JSON, when it is JSON.
    pub data: Option<serde_json::Value>,
    /// Whether the request held a CloudEvent.
    pub is_event: bool,
}

impl Received {
    /// The event as JSON: attributes and extensions at the top, and `data` (jq's input).
    pub fn as_json(&self) -> serde_json::Value {
        let mut object: serde_json::Map<String, serde_json::Value> =
            self.attributes.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        let data = self.data.clone().unwrap_or_else(|| {
            if self.body.is_empty() { serde_json::Value::Null } else { serde_json::Value::String(self.body.clone()) }
        });
        object.insert("data".into(), data);
        serde_json::Value::Object(object)
    }
}

/// The answers of a script, one per request.
#[derive(Debug)]
struct Script {
    answers: Vec<Answer>,
    cycle: bool,
}

impl Script {
    /// The answer to request `n` (from 0).
    fn answer(&self, n: usize) -> Answer {
        let expanded: Vec<&Answer> =
            self.answers.iter().flat_map(|a| std::iter::repeat_n(a, a.times.unwrap_or(1))).collect();
        let Some(last) = expanded.last() else { return Answer::default() };
        let chosen = if self.cycle { expanded[n % expanded.len()] } else { expanded.get(n).copied().unwrap_or(last) };
        chosen.clone()
    }
}

#[derive(Debug)]
struct Inner {
    script: Script,
    received: Mutex<Vec<Received>>,
}

/// A running stand-in; it stops when dropped.
#[derive(Debug)]
pub struct StandInServer {
    /// Where it listens (for `down`, a port nothing listens on).
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl StandInServer {
    /// Starts the stand-in `name` scripted by `spec`.
    pub async fn start(name: &str, spec: &StandIn) -> Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| Error::Start(format!("stand-in {name}: cannot listen on loopback: {e}")))?;
        let addr = listener.local_addr().map_err(|e| Error::Start(e.to_string()))?;
        let inner = Arc::new(Inner {
            script: Script { answers: spec.answers.clone(), cycle: spec.cycle },
            received: Mutex::new(Vec::new()),
        });
        if spec.down {
            // The port was free a moment ago and nothing listens on it now: refused.
            drop(listener);
            return Ok(Self { addr, inner, task: None });
        }
        let app = Router::new().fallback(answer).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, inner, task: Some(task) })
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Drop for StandInServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Flattens a request.
fn flatten(headers: &HeaderMap, path: &str, body: &Bytes) -> Received {
    let mut received = Received {
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        path: path.to_owned(),
        body: String::from_utf8_lossy(body).into_owned(),
        ..Received::default()
    };
    let Ok(incoming) = decode(headers, body.clone()) else { return received };
    received.is_event = true;
    let event = &incoming.event;
    for (name, value) in event.iter_attributes() {
        let text = match value {
            fnmesh_runtime::cloudevents::event::AttributeValue::Time(time) => {
                time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            }
            other => other.to_string(),
        };
        received.attributes.insert(name.to_owned(), text);
    }
    for (name, value) in event.iter_extensions() {
        received.attributes.insert(name.to_owned(), value.to_string());
    }
    let data = incoming.wire_data.as_deref().unwrap_or(body);
    received.data = serde_json::from_slice(data).ok();
    if incoming.wire_data.is_some() {
        received.body = String::from_utf8_lossy(data).into_owned();
    }
    received
}

async fn answer(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let n = {
        let mut received = inner.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        received.push(flatten(&parts.headers, parts.uri.path(), &body));
        received.len() - 1
    };
    let answer = inner.script.answer(n);
    if let Some(delay) = answer.delay {
        tokio::time::sleep(delay).await;
    }
    let default = if answer.reply.is_some() || answer.body.is_some() { 200 } else { 202 };
    let status = StatusCode::from_u16(answer.status.unwrap_or(default)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            headers.insert(name, value);
        }
    }
    let mut response_body = Bytes::from(answer.body.clone().unwrap_or_default());
    if let Some(reply) = &answer.reply
        && let Ok(incoming) = decode(&parts.headers, body.clone())
    {
        let mut event = incoming.event;
        if let Some(ty) = &reply.ty {
            event.set_type(ty.as_str());
        }
        if let Some(source) = &reply.source {
            event.set_source(source.as_str());
        }
        if let Some(id) = &reply.id {
            event.set_id(id.as_str());
        }
        for (name, value) in &reply.extensions {
            event.set_extension(name, value.as_str());
        }
        if let Some(data) = &reply.data {
            event.set_data("application/json", data.to_string().into_bytes());
        }
        let encoded = encode(&event, Encoding::Binary);
        headers.extend(encoded.headers);
        response_body = encoded.body;
    }
    (status, headers, response_body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_repeat_their_last_answer_or_cycle() {
        let answers = vec![
            Answer { status: Some(503), times: Some(2), ..Answer::default() },
            Answer { status: Some(200), ..Answer::default() },
        ];
        let once = Script { answers: answers.clone(), cycle: false };
        let statuses: Vec<Option<u16>> = (0..5).map(|n| once.answer(n).status).collect();
        assert_eq!(statuses, [Some(503), Some(503), Some(200), Some(200), Some(200)]);
        let cycling = Script { answers, cycle: true };
        let statuses: Vec<Option<u16>> = (0..5).map(|n| cycling.answer(n).status).collect();
        assert_eq!(statuses, [Some(503), Some(503), Some(200), Some(503), Some(503)]);
        assert_eq!(Script { answers: Vec::new(), cycle: false }.answer(3).status, None);
    }
}
