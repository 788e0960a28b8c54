//! The live view on the ingress, under `/.fnmesh/`: the page (its assets are in the
//! binary: nothing comes from the internet), and the JSON it reads, which scripts and
//! `fnmesh events`/`fnmesh logs` read too.
//!
//! | path | answers |
//! |---|---|
//! | `/.fnmesh/` | the page |
//! | `/.fnmesh/graph` | the running flow: nodes, routes and their counts |
//! | `/.fnmesh/journeys?q=&type=&id=&source=` | the recent journeys, oldest first (no event bodies) |
//! | `/.fnmesh/journeys/{trace or event id}` | one journey with the event at each hop (attributes, data, and as event-display prints it) |
//! | `/.fnmesh/stream` | updates as Server-Sent Events; `?format=ndjson`: one JSON document per line |
//! | `/.fnmesh/logs?service=NAME&follow=true` | a service's recent lines (`{"source", "line"}` per line), then new ones |
//! | `POST /.fnmesh/send` | sends `{"target", "type", "source", "id", "data", "extensions"}` as `fnmesh send` does |

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use fnmesh_runtime::binding::{Encoding, IncomingEvent};
use fnmesh_runtime::{AttributesReader, Data, Error, Event, EventBuilder, EventBuilderV10};
use http::{Method, StatusCode, header};
use serde::Deserialize;

use super::headers::ensure_trace;
use super::ingress::Ingress;
use super::journal::{Attempted, Journey, trace_key};
use super::transport::Attempt;
use crate::plan::Target;

const PAGE: &str = include_str!("../../assets/live/index.html");
const SCRIPT: &str = include_str!("../../assets/live/app.js");
const STYLE: &str = include_str!("../../assets/live/app.css");

/// The answer to `/.fnmesh/{rest}` when it is the live view's; else the request, back.
pub async fn answer(ingress: &Arc<Ingress>, rest: &str, request: Request) -> Result<Response, Request> {
    let query: BTreeMap<String, String> = request
        .uri()
        .query()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let get = request.method() == Method::GET || request.method() == Method::HEAD;
    let journal = &ingress.mesh.courier.journal;
    let response = match rest {
        "" | "index.html" if get => asset("text/html; charset=utf-8", PAGE),
        "app.js" if get => asset("text/javascript; charset=utf-8", SCRIPT),
        "app.css" if get => asset("text/css; charset=utf-8", STYLE),
        "graph" if get => {
            let topology = journal.topology();
            let counts = journal.counts();
            axum::Json(serde_json::json!({"nodes": topology.nodes, "edges": topology.edges, "counts": counts}))
                .into_response()
        }
        "journeys" if get => {
            let journeys: Vec<Journey> = journal.journeys().into_iter().filter(|j| selected(j, &query)).collect();
            axum::Json(journeys).into_response()
        }
        "stream" if get => stream(journal.subscribe(), query.get("format").is_some_and(|f| f == "ndjson")),
        "logs" if get => logs(ingress, &query),
        "send" if request.method() == Method::POST => send(ingress, request).await,
        _ => match rest.strip_prefix("journeys/") {
            Some(key) if get => match journal.journey(key) {
                Some(journey) => axum::Json(detail(&journey)).into_response(),
                None => Error::NotFound(format!("no journey {key} (the journal keeps the most recent ones)"))
                    .into_response(),
            },
            _ => return Err(request),
        },
    };
    Ok(response)
}

fn asset(content_type: &'static str, text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], text).into_response()
}

/// Whether `journey` passes the query's filters: `type`, `id`, `source` (exact), and `q`
/// (in its id, type, source, or any extension value of its events).
pub fn selected(journey: &Journey, query: &BTreeMap<String, String>) -> bool {
    let exact = |name: &str, have: &str| query.get(name).is_none_or(|want| want.is_empty() || want == have);
    if !(exact("type", &journey.ty) && exact("source", &journey.source)) {
        return false;
    }
    if let Some(id) = query.get("id").filter(|i| !i.is_empty())
        && journey.id != *id
        && journey.key != *id
        && !journey.events.iter().any(|e| e.id() == id)
    {
        return false;
    }
    let Some(q) = query.get("q").map(|q| q.to_lowercase()).filter(|q| !q.is_empty()) else { return true };
    let found = |text: &str| text.to_lowercase().contains(&q);
    found(&journey.id)
        || found(&journey.ty)
        || found(&journey.source)
        || journey.events.iter().any(|e| {
            found(e.id()) || found(e.ty()) || e.iter_extensions().any(|(k, v)| found(k) || found(&v.to_string()))
        })
}

/// A journey with its events in full.
fn detail(journey: &Journey) -> serde_json::Value {
    let events: Vec<serde_json::Value> = journey.events.iter().map(|e| event_json(e)).collect();
    serde_json::json!({"journey": journey, "events": events})
}

/// An event as the page shows it: its attributes, its data (JSON when it is JSON), and the
/// block event-display prints for it.
pub fn event_json(event: &Event) -> serde_json::Value {
    let mut attributes = serde_json::Map::new();
    for (name, value) in event.iter_attributes() {
        attributes.insert(name.to_owned(), value.to_string().into());
    }
    for (name, value) in event.iter_extensions() {
        attributes.insert(name.to_owned(), value.to_string().into());
    }
    let (data, wire): (serde_json::Value, Option<Bytes>) = match event.data() {
        None => (serde_json::Value::Null, None),
        Some(Data::Json(value)) => (value.clone(), Some(Bytes::from(value.to_string()))),
        Some(Data::String(text)) => {
            (serde_json::from_str(text).unwrap_or_else(|_| text.clone().into()), Some(Bytes::from(text.clone())))
        }
        Some(Data::Binary(bytes)) => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            (serde_json::from_str(&text).unwrap_or(text.into()), Some(Bytes::from(bytes.clone())))
        }
    };
    let incoming =
        IncomingEvent { event: event.clone(), encoding: Encoding::Binary, wire_data: wire, data_base64: false };
    let display = String::from_utf8_lossy(&fnmesh_event_display::render(&incoming)).into_owned();
    serde_json::json!({"attributes": attributes, "data": data, "display": display})
}

/// Updates as Server-Sent Events (or NDJSON), until the client goes.
fn stream(updates: tokio::sync::broadcast::Receiver<Arc<str>>, ndjson: bool) -> Response {
    let lines = futures_util::stream::unfold(updates, move |mut updates| async move {
        let text = match updates.recv().await {
            Ok(update) => update.to_string(),
            // A slow reader missed some: it reads on (the page reloads the list).
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                serde_json::json!({"lagged": missed}).to_string()
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        let text = if ndjson { format!("{text}\n") } else { format!("data: {text}\n\n") };
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(text)), updates))
    });
    let content_type = if ndjson { "application/x-ndjson" } else { "text/event-stream" };
    // A first line at once, so that a client knows it is connected.
    let hello = futures_util::stream::once(async move {
        Ok::<_, std::convert::Infallible>(Bytes::from(if ndjson {
            "{\"connected\":true}\n"
        } else {
            ": connected\n\n"
        }))
    });
    let body = Body::from_stream(futures_util::StreamExt::chain(hello, lines));
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// A service's lines: those kept, then (with `follow`) new ones, as NDJSON.
fn logs(ingress: &Ingress, query: &BTreeMap<String, String>) -> Response {
    let recent = ingress.mesh.courier.out.recent.clone();
    let service = query.get("service").cloned().filter(|s| !s.is_empty());
    let follow = query.get("follow").is_some_and(|f| f == "true" || f == "1");
    let line = |source: &str, text: &str| format!("{}\n", serde_json::json!({"source": source, "line": text}));
    let kept: String = recent.lines(service.as_deref()).iter().map(|(s, l)| line(s, l)).collect();
    if !follow {
        return ([(header::CONTENT_TYPE, "application/x-ndjson")], kept).into_response();
    }
    let updates = recent.subscribe();
    let new = futures_util::stream::unfold((updates, service), move |(mut updates, service)| async move {
        loop {
            match updates.recv().await {
                Ok((source, text)) if service.as_ref().is_none_or(|s| *s == source) => {
                    let text = format!("{}\n", serde_json::json!({"source": source, "line": text}));
                    return Some((Ok::<_, std::convert::Infallible>(Bytes::from(text)), (updates, service)));
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let first = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(Bytes::from(kept)) });
    let body = Body::from_stream(futures_util::StreamExt::chain(first, new));
    ([(header::CONTENT_TYPE, "application/x-ndjson"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// What the page's form sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendForm {
    target: String,
    #[serde(rename = "type", default = "default_type")]
    ty: String,
    #[serde(default = "default_source")]
    source: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    extensions: BTreeMap<String, String>,
    #[serde(default)]
    namespace: Option<String>,
}

fn default_type() -> String {
    "dev.fnmesh.send".into()
}

fn default_source() -> String {
    "/fnmesh/live".into()
}

/// Sends the form's event to its target; answers what the target answered.
async fn send(ingress: &Arc<Ingress>, request: Request) -> Response {
    let body = match axum::body::to_bytes(request.into_body(), ingress.body_limit).await {
        Ok(body) => body,
        Err(_) => return Error::PayloadTooLarge { limit: ingress.body_limit, setting: "--body-limit" }.into_response(),
    };
    let form: SendForm = match serde_json::from_slice(&body) {
        Ok(form) => form,
        Err(e) => return Error::BadData(format!("the send form: {e}")).into_response(),
    };
    let namespace = form.namespace.as_deref().unwrap_or("default");
    let (host, path) = match crate::plan::address::receiver(&form.target, namespace) {
        Ok(found) => found,
        Err(e) => return Error::BadData(e).into_response(),
    };
    let mut builder = EventBuilderV10::new()
        .id(form.id.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string()))
        .ty(form.ty.as_str())
        .source(form.source.as_str())
        .time(chrono::Utc::now());
    for (name, value) in &form.extensions {
        if !fnmesh_runtime::binding::is_valid_extension_name(name) {
            return Error::BadData(format!("extension {name:?}: names are lowercase letters and digits"))
                .into_response();
        }
        builder = builder.extension(name, value.as_str());
    }
    if let Some(data) = form.data {
        builder = builder.data("application/json", data);
    }
    let event = match builder.build() {
        Ok(event) => Arc::new(event),
        Err(e) => return Error::BadData(format!("the event: {e}")).into_response(),
    };
    let Ok(url) = url::Url::parse(&format!("http://{host}{path}")) else {
        return Error::BadData(format!("{host:?} is not a host")).into_response();
    };
    let mut headers = http::HeaderMap::new();
    ensure_trace(&mut headers);
    let key = trace_key(&headers, &event);
    let journal = &ingress.mesh.courier.journal;
    let transport = &ingress.mesh.courier.transport;
    let target = Target { url: url.clone(), name: form.target.clone() };
    let to_mesh = transport.routes.is_mesh(&url);
    journal.received(&key, &event, &form.target);
    let attempt = transport.post(&url, &event, headers, None, Encoding::Binary).await;
    let (status, body) = match attempt {
        Attempt::Answered { status, body, elapsed, .. } => {
            if !to_mesh {
                // A service's answer is not recorded by the mesh: record it here.
                let reason = (!status.is_success()).then(|| format!("answered {status}"));
                let attempted = Attempted {
                    route: "send",
                    target: &target,
                    status: Some(status.as_u16()),
                    reason,
                    latency: elapsed,
                    attempt: 1,
                    backoff: None,
                    gave_up: !status.is_success(),
                    reply: None,
                };
                journal.attempted(&key, &event, attempted);
            }
            (status.as_u16(), String::from_utf8_lossy(&body).into_owned())
        }
        Attempt::Failed { reason, .. } => {
            return Error::BadGateway(format!("{}: {reason}", form.target)).into_response();
        }
    };
    let answer = serde_json::json!({"status": status, "id": event.id(), "journey": key, "body": body});
    (StatusCode::OK, axum::Json(answer)).into_response()
}
