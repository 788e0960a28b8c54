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
use std::time::Duration;

use fnmesh_runtime::{AttributesReader, Event};
use serde::Serialize;
use tokio::sync::broadcast;

use super::topology::{Route, Topology};
use crate::plan::Target;

mod journey;

pub use journey::{HopKind, HopRecord, Journey, Outcome};

/// The most hops a journey keeps (an event loop through a broker makes many).
pub const MAX_HOPS: usize = 256;

/// The journeys kept unless `--journal` says otherwise.
pub const DEFAULT_JOURNEYS: usize = 1000;

/// The bytes of events the journal holds at most.
pub const BYTE_BUDGET: usize = 32 * 1024 * 1024;

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
    pub reply: Option<&'a Arc<Event>>,
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
    /// Where a received event comes from (`outside`), one string for every journey.
    outside: Arc<str>,
}

/// The key of the journey `headers` belong to: the trace id.
pub fn trace_key(headers: &http::HeaderMap, event: &Event) -> String {
    // `version-trace-span-flags`, the trace 32 hex digits from offset 3.
    headers
        .get(&super::headers::TRACEPARENT)
        .map(http::HeaderValue::as_bytes)
        .filter(|t| t.len() >= 36 && t[2] == b'-' && t[35] == b'-')
        .map(|t| &t[3..35])
        .filter(|trace| trace.iter().all(u8::is_ascii_hexdigit))
        .and_then(|trace| std::str::from_utf8(trace).ok())
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
            outside: "outside".into(),
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
    pub fn received(&self, key: &str, event: &Arc<Event>, node: &str) {
        if !self.records() {
            return;
        }
        let hop = HopRecord {
            at_ms: 0.0,
            route: format!("-> {node}").into(),
            from: self.outside.clone(),
            to: node.into(),
            kind: HopKind::Received,
            status: None,
            detail: None,
            latency_ms: None,
            attempt: None,
            backoff_ms: None,
            event: 0,
            reply: None,
        };
        self.record(key, event, None, None, hop);
    }

    /// A trigger's filter left `event` out, for `why`.
    pub fn filtered(&self, key: &str, event: &Arc<Event>, route: &str, target: &Target, why: &str) {
        if !self.records() {
            return;
        }
        let Route { key: route, from, to } = self.topology().route(route, target);
        let hop = HopRecord {
            at_ms: 0.0,
            route,
            from,
            to,
            kind: HopKind::Filtered,
            status: None,
            detail: Some(why.to_owned()),
            latency_ms: None,
            attempt: None,
            backoff_ms: None,
            event: 0,
            reply: None,
        };
        self.record(key, event, None, Some(&|c| c.filtered += 1), hop);
    }

    /// One attempt to deliver `event`.
    pub fn attempted(&self, key: &str, event: &Arc<Event>, attempt: Attempted<'_>) {
        if !self.records() {
            return;
        }
        let Route { key: route, from, to } = self.topology().route(attempt.route, attempt.target);
        let ok = attempt.status.is_some_and(|s| (200..300).contains(&s)) && attempt.reason.is_none();
        let count = |c: &mut Counts| {
            if ok {
                c.events += 1;
            } else {
                c.failures += 1;
            }
            if attempt.attempt > 1 {
                c.retries += 1;
            }
        };
        let kind = match (ok, attempt.gave_up) {
            (true, _) => HopKind::Delivered,
            (false, true) => HopKind::Failed,
            (false, false) => HopKind::Retrying,
        };
        let hop = HopRecord {
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
            event: 0,
            reply: None,
        };
        self.record(key, event, attempt.reply, Some(&count), hop);
    }

    /// Adds `hop` to the journey of `key`, starting the journey when it is new, with
    /// `event` and `reply` kept as its event and reply, and `count` applied to its route's
    /// counts: one lock for all of it.
    fn record(
        &self,
        key: &str,
        event: &Arc<Event>,
        reply: Option<&Arc<Event>>,
        count: Option<&dyn Fn(&mut Counts)>,
        mut hop: HopRecord,
    ) {
        let listened = self.updates.receiver_count() > 0;
        let mut state = self.lock();
        let counts = count.map(|change| Self::count(&mut state, &hop.route, change));
        let seq = match state.by_key.get(key) {
            Some(seq) if Self::find(&state, *seq).is_some() => *seq,
            _ => Self::begin(&mut state, key, event),
        };
        let first = state.journeys.front().map_or(0, |j| j.seq);
        let Some(position) = usize::try_from(seq - first).ok() else { return };
        let mut added = 0;
        let mut update = None;
        if let Some(journey) = state.journeys.get_mut(position) {
            if journey.hops.len() >= MAX_HOPS {
                journey.hops_dropped += 1;
            } else {
                hop.event = Self::keep(journey, event, &mut added);
                hop.at_ms = journey.elapsed_ms();
                hop.reply = reply.map(|reply| Self::keep(journey, reply, &mut added));
                self.export(key, event, &hop);
                journey.add(hop);
                journey.bytes += added;
                update = listened.then(|| serde_json::json!({ "journey": &*journey }).to_string());
            }
        }
        state.bytes += added;
        // The journey let go is freed after the lock (it is most often one): freeing its
        // events takes a while.
        let mut evicted = None;
        while state.journeys.len() > self.capacity || (state.bytes > self.budget && state.journeys.len() > 1) {
            if let Some(old) = state.journeys.pop_front() {
                state.bytes = state.bytes.saturating_sub(old.bytes);
                if state.by_key.get(&old.key) == Some(&old.seq) {
                    state.by_key.remove(&old.key);
                }
                drop(evicted.replace(old));
            }
        }
        drop(state);
        drop(evicted);
        if let Some((route, counts)) = counts.filter(|_| listened) {
            let update = serde_json::json!({"route": route, "counts": counts}).to_string();
            let _ = self.updates.send(update.into());
        }
        if let Some(update) = update {
            let _ = self.updates.send(update.into());
        }
    }

    /// A new journey of `key`, which `event` begins; its number.
    fn begin(state: &mut State, key: &str, event: &Event) -> u64 {
        let seq = state.next_seq;
        state.next_seq += 1;
        state.by_key.insert(key.to_owned(), seq);
        state.journeys.push_back(Journey::new(key, seq, event));
        seq
    }

    /// Applies `change` to the counts of `route`; the route and its counts after.
    fn count(state: &mut State, route: &Arc<str>, change: &dyn Fn(&mut Counts)) -> (Arc<str>, Counts) {
        // One lookup, and no new key (an allocation) but for a route's first event.
        let counts = match state.counts.get_mut(&**route) {
            Some(counts) => {
                change(counts);
                *counts
            }
            None => {
                let mut counts = Counts::default();
                change(&mut counts);
                state.counts.insert(route.to_string(), counts);
                counts
            }
        };
        (route.clone(), counts)
    }

    /// Sends `hop` as a span, when spans are exported and its journey is a trace.
    fn export(&self, key: &str, event: &Event, hop: &HopRecord) {
        if let Some(exporter) = self.exporter.get()
            && key.len() == 32
        {
            let span = super::otlp::Span {
                trace: key.to_owned(),
                hop: hop.clone(),
                event: (event.id().to_owned(), event.ty().to_owned()),
                ended: std::time::SystemTime::now(),
            };
            // Full: the span is dropped, the delivery goes on.
            let _ = exporter.try_send(span);
        }
    }

    /// The index of `event` among the journey's events, adding it when it is not one of
    /// the last few kept. Events are shared with the hops that send them: the one a hop
    /// sent is most often the very one kept.
    fn keep(journey: &mut Journey, event: &Arc<Event>, added: &mut usize) -> usize {
        // Hops are recorded as they end, an outer one after those it caused: the event of
        // a hop ending now is often one kept a few hops back.
        let recent = journey.events.len().saturating_sub(RECENT_EVENTS);
        let kept = &journey.events[recent..];
        if let Some(found) = kept.iter().rposition(|kept| Arc::ptr_eq(kept, event)) {
            return recent + found;
        }
        if let Some(found) = kept.iter().rposition(|kept| **kept == **event) {
            return recent + found;
        }
        *added += size_of(event);
        journey.events.push(Arc::clone(event));
        journey.events.len() - 1
    }
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
        assert_eq!(key(&format!("00-{}g-00f067aa0ba902b7-01", &trace[..31])), "/here/e-1", "not hex");
        assert_eq!(trace_key(&http::HeaderMap::new(), &event), "/here/e-1");
    }

    fn target(name: &str) -> Target {
        Target { url: url::Url::parse(&format!("http://{name}.example/")).unwrap(), name: name.into() }
    }

    fn attempt<'a>(route: &'a str, to: &'a Target, status: u16, gave_up: bool) -> Attempted<'a> {
        Attempted {
            route,
            target: to,
            status: Some(status),
            reason: (status >= 300).then(|| format!("answered {status}")),
            latency: Duration::ZERO,
            attempt: 1,
            backoff: None,
            gave_up,
            reply: None,
        }
    }

    #[test]
    fn a_journey_is_where_its_latest_arrival_went_and_stands_as_its_hops_say() {
        let journal = Journal::new(10);
        let event = Arc::new(EventBuilderV10::new().id("e-1").source("/here").ty("t").build().unwrap());
        let reply = Arc::new(EventBuilderV10::new().id("e-2").source("/a").ty("t").build().unwrap());
        let (a, b) = (target("a"), target("b"));
        let stands = || {
            let journey = journal.journey("k").unwrap();
            (journey.now.to_string(), journey.outcome)
        };
        journal.received("k", &event, "sequence/s");
        assert_eq!(stands(), ("sequence/s".into(), Outcome::InFlight));
        journal.attempted("k", &event, attempt("sequence/s step 0", &a, 503, false));
        assert_eq!(stands(), ("sequence/s".into(), Outcome::Retrying), "waits where it was sent from");
        journal.attempted(
            "k",
            &event,
            Attempted { reply: Some(&reply), ..attempt("sequence/s step 0", &a, 200, true) },
        );
        assert_eq!(stands(), ("a".into(), Outcome::Delivered));
        // A hop ending now that began before the last one (an outer hop, ending after the
        // hops it caused) moves it nowhere.
        journal.attempted("k", &reply, attempt("sequence/s step 1", &b, 200, true));
        let outer = Attempted { latency: Duration::from_secs(60), ..attempt("sequence/s step 0 reply", &a, 202, true) };
        journal.attempted("k", &reply, outer);
        assert_eq!(stands(), ("b".into(), Outcome::Delivered));
        journal.attempted("k", &reply, attempt("sequence/s step 1", &b, 500, true));
        assert_eq!(stands(), ("b".into(), Outcome::Failed), "a failure moves it nowhere");
        journal.attempted("k", &reply, attempt("sequence/s step 1 dead letter", &a, 202, true));
        assert_eq!(stands(), ("a".into(), Outcome::DeadLettered));
        let journey = journal.journey("k").unwrap();
        assert_eq!(journey.entry.as_ref(), "sequence/s");
        assert_eq!(journey.events.len(), 2, "each event kept once");
        assert!(Arc::ptr_eq(&journey.events[0], &event), "shared, not copied");
        assert_eq!(journey.hops.iter().map(|h| h.event).collect::<Vec<_>>(), [0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(journey.hops[2].reply, Some(1));
        let counts = journal.counts();
        let step = counts["sequence/s step 1"];
        assert_eq!((step.events, step.failures), (1, 1));
        let shown = serde_json::to_value(&journey).unwrap();
        let received = shown["received"].as_str().unwrap();
        assert_eq!((received.len(), &received[10..11], &received[23..]), (24, "T", "Z"), "{received}");
    }
}
