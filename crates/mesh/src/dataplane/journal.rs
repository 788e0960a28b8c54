//! The journal: every event's journey through the mesh, kept for the live view
//! (`/.fnmesh/`), its stream and `fnmesh events`. A journey is one trace (`traceparent`:
//! the ingress and the ping sources start one when an event has none), from where it
//! entered through every hop: each attempt with its status, latency, attempt number and
//! backoff, each filter's verdict with the reason, each reply, and the event as it was at
//! each hop. Each route of the [`Topology`] counts its events, failures, retries and
//! filtered events.
//!
//! Memory is bounded: the most recent journeys only (`--journal N`; `0` turns the journal
//! off), within a byte
//! budget that counts the events they hold, each journey at most [`MAX_HOPS`] hops. When
//! nobody watches, recording is a short lock and a push; updates are serialised for the
//! stream only while someone listens.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use fnmesh_runtime::{AttributesReader, Event};
use serde::Serialize;
use tokio::sync::broadcast;

use super::topology::Topology;
use crate::plan::Target;

/// The most hops a journey keeps (an event loop through a broker makes many).
pub const MAX_HOPS: usize = 256;

/// The journeys kept unless `--journal` says otherwise.
pub const DEFAULT_JOURNEYS: usize = 1000;

/// The bytes of events the journal holds at most.
pub const BYTE_BUDGET: usize = 32 * 1024 * 1024;

/// How a hop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HopKind {
    /// The event entered the mesh here.
    Received,
    /// Delivered (`2xx`).
    Delivered,
    /// Failed; another attempt follows after the backoff.
    Retrying,
    /// Failed for good on this route.
    Failed,
    /// A trigger's filter did not pass it.
    Filtered,
}

/// Where a journey ended, or stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Entered, nothing delivered yet.
    InFlight,
    /// Every route it took delivered it.
    Delivered,
    /// Every trigger's filter left it out.
    FilteredOut,
    /// Its last attempt failed and another will follow.
    Retrying,
    /// A route failed and its dead letter sink took it.
    DeadLettered,
    /// A route failed with no dead letter sink: the sender got the error.
    Failed,
}

/// One hop of a journey.
#[derive(Debug, Clone, Serialize)]
pub struct HopRecord {
    /// Milliseconds since the journey began.
    pub at_ms: f64,
    /// The route: the courier's label ([`super::topology::Edge::key`]).
    pub route: String,
    /// Where from, where to (nodes of the topology).
    pub from: String,
    /// Where to.
    pub to: String,
    /// How it went.
    pub kind: HopKind,
    /// The answer's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed or was filtered out; what decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How long the attempt took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The attempt's number, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// The wait before the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_ms: Option<f64>,
    /// The event at this hop: an index into the journey's events.
    pub event: usize,
    /// The reply this hop produced: an index into the journey's events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<usize>,
}

/// An event's journey.
#[derive(Debug, Clone, Serialize)]
pub struct Journey {
    /// The trace id (or `source/id` of an event without a trace).
    pub key: String,
    /// Its order of arrival.
    pub seq: u64,
    /// The first event's id, type and source.
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Its source.
    pub source: String,
    /// When it entered, RFC 3339.
    pub received: String,
    /// The node it entered at.
    pub entry: String,
    /// The node of its last hop: where it is now.
    pub now: String,
    /// Where it ended, or stands.
    pub outcome: Outcome,
    /// Every hop, oldest first (at most [`MAX_HOPS`]).
    pub hops: Vec<HopRecord>,
    /// Hops left out past [`MAX_HOPS`].
    pub hops_dropped: usize,
    /// The distinct events of its hops.
    #[serde(skip)]
    pub events: Vec<Arc<Event>>,
    #[serde(skip)]
    began: Option<Instant>,
    #[serde(skip)]
    bytes: usize,
}

/// Counts of a route.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Events delivered.
    pub events: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Events a filter left out.
    pub filtered: u64,
}

#[derive(Debug, Default)]
struct State {
    journeys: VecDeque<Journey>,
    by_key: foldhash::HashMap<String, u64>,
    next_seq: u64,
    bytes: usize,
    counts: foldhash::HashMap<String, Counts>,
}

/// One attempt on a route, as the courier saw it.
#[derive(Debug, Clone)]
pub struct Attempted<'a> {
    /// The route's label.
    pub route: &'a str,
    /// Its destination.
    pub target: &'a Target,
    /// The answer's status, if any.
    pub status: Option<u16>,
    /// Why it failed.
    pub reason: Option<String>,
    /// How long it took.
    pub latency: Duration,
    /// Its number, from 1.
    pub attempt: u32,
    /// The wait before the next one, when one follows.
    pub backoff: Option<Duration>,
    /// It failed for good.
    pub gave_up: bool,
    /// The reply it produced.
    pub reply: Option<&'a Event>,
}

/// The journal of a running mesh (it outlives reloads of the manifests).
#[derive(Debug)]
pub struct Journal {
    state: Mutex<State>,
    topology: RwLock<Arc<Topology>>,
    updates: broadcast::Sender<Arc<str>>,
    capacity: usize,
    budget: usize,
    /// Where hops go as OpenTelemetry spans, when an endpoint is set.
    exporter: std::sync::OnceLock<tokio::sync::mpsc::Sender<super::otlp::Span>>,
}

/// The key of the journey `headers` belong to: the trace id.
pub fn trace_key(headers: &http::HeaderMap, event: &Event) -> String {
    // `version-trace-span-flags`, the trace 32 characters from offset 3.
    headers
        .get(&super::headers::TRACEPARENT)
        .map(http::HeaderValue::as_bytes)
        .filter(|t| t.len() >= 36 && t[2] == b'-' && t[35] == b'-')
        .and_then(|t| std::str::from_utf8(&t[3..35]).ok())
        .filter(|trace| !trace.contains('-'))
        .map_or_else(|| format!("{}/{}", event.source(), event.id()), str::to_owned)
}

/// How many of a journey's last events [`Journal::keep`] compares a new one with.
const RECENT_EVENTS: usize = 8;

fn size_of(event: &Event) -> usize {
    super::work::size_of(event) + 256
}

impl Journal {
    /// A journal of the last `capacity` journeys; none at all with `0` (the journal is
    /// off: no journeys, no counts, unless spans are exported).
    pub fn new(capacity: usize) -> Arc<Self> {
        let (updates, _) = broadcast::channel(1024);
        Arc::new(Self {
            state: Mutex::default(),
            topology: RwLock::default(),
            updates,
            capacity,
            budget: BYTE_BUDGET,
            exporter: std::sync::OnceLock::new(),
        })
    }

    /// Sends every hop from now on to `exporter` as a span (when its trace has an id).
    pub fn export_to(&self, exporter: tokio::sync::mpsc::Sender<super::otlp::Span>) {
        let _ = self.exporter.set(exporter);
    }

    /// The graph that routes map onto, for a new data plane.
    pub fn set_topology(&self, topology: Topology) {
        *self.topology.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(topology);
    }

    /// The current graph.
    pub fn topology(&self) -> Arc<Topology> {
        self.topology.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Updates as they happen, one JSON document each: `{"journey": ...}` (without the
    /// events) and `{"route": key, "counts": ...}`.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.updates.subscribe()
    }

    /// The journeys kept, oldest first.
    pub fn journeys(&self) -> Vec<Journey> {
        self.lock().journeys.iter().cloned().collect()
    }

    /// The journey of `key` (a trace id, or the id of one of its events).
    pub fn journey(&self, key: &str) -> Option<Journey> {
        let state = self.lock();
        let by_key = state.by_key.get(key).and_then(|seq| Self::find(&state, *seq)).cloned();
        by_key.or_else(|| state.journeys.iter().rev().find(|j| j.events.iter().any(|e| e.id() == key)).cloned())
    }

    /// Every route's counts.
    pub fn counts(&self) -> BTreeMap<String, Counts> {
        self.lock().counts.iter().map(|(route, counts)| (route.clone(), *counts)).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn find(state: &State, seq: u64) -> Option<&Journey> {
        let first = state.journeys.front()?.seq;
        state.journeys.get(usize::try_from(seq.checked_sub(first)?).ok()?)
    }

    /// Whether hops are recorded: journeys are kept, or exported as spans.
    pub fn records(&self) -> bool {
        self.capacity > 0 || self.exporter.get().is_some()
    }

    /// `event` entered the mesh at `node`.
    pub fn received(&self, key: &str, event: &Event, node: &str) {
        if !self.records() {
            return;
        }
        self.record(key, event, None, |index| HopRecord {
            at_ms: 0.0,
            route: format!("-> {node}"),
            from: "outside".into(),
            to: node.to_owned(),
            kind: HopKind::Received,
            status: None,
            detail: None,
            latency_ms: None,
            attempt: None,
            backoff_ms: None,
            event: index,
            reply: None,
        });
    }

    /// A trigger's filter left `event` out, for `why`.
    pub fn filtered(&self, key: &str, event: &Event, route: &str, target: &Target, why: &str) {
        if !self.records() {
            return;
        }
        let (from, to) = self.topology().route(route, target);
        self.count(route, |c| c.filtered += 1);
        self.record(key, event, None, |index| HopRecord {
            at_ms: 0.0,
            route: route.to_owned(),
            from,
            to,
            kind: HopKind::Filtered,
            status: None,
            detail: Some(why.to_owned()),
            latency_ms: None,
            attempt: None,
            backoff_ms: None,
            event: index,
            reply: None,
        });
    }

    /// One attempt to deliver `event`.
    pub fn attempted(&self, key: &str, event: &Event, attempt: Attempted<'_>) {
        if !self.records() {
            return;
        }
        let (from, to) = self.topology().route(attempt.route, attempt.target);
        let ok = attempt.status.is_some_and(|s| (200..300).contains(&s)) && attempt.reason.is_none();
        self.count(attempt.route, |c| {
            if ok {
                c.events += 1;
            } else {
                c.failures += 1;
            }
            if attempt.attempt > 1 {
                c.retries += 1;
            }
        });
        let kind = match (ok, attempt.gave_up) {
            (true, _) => HopKind::Delivered,
            (false, true) => HopKind::Failed,
            (false, false) => HopKind::Retrying,
        };
        let route = attempt.route.to_owned();
        self.record(key, event, attempt.reply, |index| HopRecord {
            at_ms: 0.0,
            route,
            from,
            to,
            kind,
            status: attempt.status,
            detail: attempt.reason.clone().or_else(|| (ok && attempt.reply.is_none()).then(|| "no reply".to_owned())),
            latency_ms: Some(attempt.latency.as_secs_f64() * 1000.0),
            attempt: Some(attempt.attempt),
            backoff_ms: attempt.backoff.map(|b| b.as_secs_f64() * 1000.0),
            event: index,
            reply: None,
        });
    }

    fn count(&self, route: &str, change: impl FnOnce(&mut Counts)) {
        let counts = {
            let mut state = self.lock();
            // One lookup, and no new key (an allocation) but for a route's first event.
            match state.counts.get_mut(route) {
                Some(counts) => {
                    change(counts);
                    *counts
                }
                None => {
                    let mut counts = Counts::default();
                    change(&mut counts);
                    state.counts.insert(route.to_owned(), counts);
                    counts
                }
            }
        };
        if self.updates.receiver_count() > 0 {
            let update = serde_json::json!({"route": route, "counts": counts}).to_string();
            let _ = self.updates.send(update.into());
        }
    }

    /// Adds the hop `make` builds (given the event's index) to the journey of `key`,
    /// starting the journey when it is new; `reply` is kept as the hop's reply.
    fn record(&self, key: &str, event: &Event, reply: Option<&Event>, make: impl FnOnce(usize) -> HopRecord) {
        let mut state = self.lock();
        let seq = match state.by_key.get(key) {
            Some(seq) if Self::find(&state, *seq).is_some() => *seq,
            _ => {
                let seq = state.next_seq;
                state.next_seq += 1;
                state.by_key.insert(key.to_owned(), seq);
                state.journeys.push_back(Journey {
                    key: key.to_owned(),
                    seq,
                    id: event.id().to_owned(),
                    ty: event.ty().to_owned(),
                    source: event.source().to_string(),
                    received: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    entry: String::new(),
                    now: String::new(),
                    outcome: Outcome::InFlight,
                    hops: Vec::new(),
                    hops_dropped: 0,
                    events: Vec::new(),
                    began: Some(Instant::now()),
                    bytes: 0,
                });
                seq
            }
        };
        let first = state.journeys.front().map_or(0, |j| j.seq);
        let Some(position) = usize::try_from(seq - first).ok() else { return };
        let mut added = 0;
        let update = {
            let Some(journey) = state.journeys.get_mut(position) else { return };
            if journey.hops.len() >= MAX_HOPS {
                journey.hops_dropped += 1;
                return;
            }
            let index = Self::keep(journey, event, &mut added);
            let mut hop = make(index);
            hop.at_ms = journey.began.map_or(0.0, |b| b.elapsed().as_secs_f64() * 1000.0);
            hop.reply = reply.map(|reply| Self::keep(journey, reply, &mut added));
            if let Some(exporter) = self.exporter.get()
                && key.len() == 32
            {
                let event = (event.id().to_owned(), event.ty().to_owned());
                let span = super::otlp::Span {
                    trace: key.to_owned(),
                    hop: hop.clone(),
                    event,
                    ended: std::time::SystemTime::now(),
                };
                // Full: the span is dropped, the delivery goes on.
                let _ = exporter.try_send(span);
            }
            if journey.entry.is_empty() {
                journey.entry = if hop.kind == HopKind::Received { hop.to.clone() } else { hop.from.clone() };
            }
            journey.hops.push(hop);
            // Where it is now: the destination of the hop that began last among those that
            // got there (hops are recorded as they end, and an outer hop ends after those it
            // caused); a filter's verdict or a failure moves it nowhere, and while an
            // attempt is to be retried it waits where it was sent from.
            let began = |h: &HopRecord| h.at_ms - h.latency_ms.unwrap_or_default();
            let latest = |hops: &mut dyn Iterator<Item = &HopRecord>| {
                hops.max_by(|a, b| began(a).total_cmp(&began(b))).map(|h| (h.kind, h.from.clone(), h.to.clone()))
            };
            let arrived =
                latest(&mut journey.hops.iter().filter(|h| matches!(h.kind, HopKind::Delivered | HopKind::Received)));
            journey.now = match (latest(&mut journey.hops.iter()), arrived) {
                (Some((HopKind::Retrying, from, _)), _) => from,
                (_, Some((_, _, to))) => to,
                (Some((_, from, _)), None) => from,
                (None, None) => String::new(),
            };
            journey.outcome = outcome(&journey.hops);
            journey.bytes += added;
            (self.updates.receiver_count() > 0).then(|| serde_json::json!({ "journey": &*journey }).to_string())
        };
        state.bytes += added;
        while state.journeys.len() > self.capacity || (state.bytes > self.budget && state.journeys.len() > 1) {
            if let Some(old) = state.journeys.pop_front() {
                state.bytes = state.bytes.saturating_sub(old.bytes);
                if state.by_key.get(&old.key) == Some(&old.seq) {
                    state.by_key.remove(&old.key);
                }
            }
        }
        drop(state);
        if let Some(update) = update {
            let _ = self.updates.send(update.into());
        }
    }

    /// The index of `event` among the journey's events, adding it when it differs from
    /// the last one kept.
    fn keep(journey: &mut Journey, event: &Event, added: &mut usize) -> usize {
        // Hops are recorded as they end, an outer one after those it caused: the event of
        // a hop ending now is often one kept a few hops back.
        let recent = journey.events.len().saturating_sub(RECENT_EVENTS);
        if let Some(found) = journey.events[recent..].iter().rposition(|kept| **kept == *event) {
            return recent + found;
        }
        *added += size_of(event);
        journey.events.push(Arc::new(event.clone()));
        journey.events.len() - 1
    }
}

/// Where a journey stands after `hops`.
fn outcome(hops: &[HopRecord]) -> Outcome {
    let dead_lettered = hops.iter().any(|h| h.kind == HopKind::Delivered && h.route.ends_with(" dead letter"));
    let failed = hops.iter().any(|h| h.kind == HopKind::Failed);
    if failed && !dead_lettered {
        return Outcome::Failed;
    }
    if dead_lettered {
        return Outcome::DeadLettered;
    }
    if hops.last().is_some_and(|h| h.kind == HopKind::Retrying) {
        return Outcome::Retrying;
    }
    if hops.iter().any(|h| h.kind == HopKind::Delivered) {
        return Outcome::Delivered;
    }
    if hops.iter().any(|h| h.kind == HopKind::Filtered) {
        return Outcome::FilteredOut;
    }
    Outcome::InFlight
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic in a test is a failed assertion

    use super::*;
    use fnmesh_runtime::{EventBuilder, EventBuilderV10};

    #[test]
    fn a_journey_is_keyed_by_its_trace_or_else_by_source_and_id() {
        let event = EventBuilderV10::new().id("e-1").source("/here").ty("t").build().unwrap();
        let key = |traceparent: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert("traceparent", traceparent.parse().unwrap());
            trace_key(&headers, &event)
        };
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(key(&format!("00-{trace}-00f067aa0ba902b7-01")), trace);
        assert_eq!(key("00-short-00f067aa0ba902b7-01"), "/here/e-1");
        assert_eq!(key(&format!("00-{}-x-01", &trace[..31])), "/here/e-1");
        assert_eq!(trace_key(&http::HeaderMap::new(), &event), "/here/e-1");
    }
}
