//! A journey and its hops: what the journal keeps of one trace, and where the journey
//! stands as hops are added to it.

use std::sync::Arc;
use std::time::Instant;

use fnmesh_runtime::{AttributesReader, Event};
use serde::Serialize;

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
    pub route: Arc<str>,
    /// Where from, where to (nodes of the topology).
    pub from: Arc<str>,
    /// Where to.
    pub to: Arc<str>,
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
    /// When it entered, RFC 3339 in milliseconds (formatted when it is shown).
    #[serde(serialize_with = "rfc3339_millis")]
    pub received: chrono::DateTime<chrono::Utc>,
    /// The node it entered at.
    pub entry: Arc<str>,
    /// The node of its last hop: where it is now.
    pub now: Arc<str>,
    /// Where it ended, or stands.
    pub outcome: Outcome,
    /// Every hop, oldest first (at most [`super::MAX_HOPS`]).
    pub hops: Vec<HopRecord>,
    /// Hops left out past [`super::MAX_HOPS`].
    pub hops_dropped: usize,
    /// The distinct events of its hops.
    #[serde(skip)]
    pub events: Vec<Arc<Event>>,
    #[serde(skip)]
    began: Option<Instant>,
    /// The bytes of its events, as the journal's budget counts them.
    #[serde(skip)]
    pub(super) bytes: usize,
    #[serde(skip)]
    progress: Progress,
}

/// What a journey's hops so far add up to, kept as hops are added (a journey of many hops
/// is not gone over again at each one).
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// The hop that began last: hops are recorded as they end, and an outer hop ends after
    /// those it caused.
    latest: Option<usize>,
    /// The hop that began last among those that got there (delivered, or received).
    arrived: Option<usize>,
    delivered: bool,
    dead_lettered: bool,
    failed: bool,
    filtered: bool,
}

impl Progress {
    /// Takes in `hops[i]`, the hop just added.
    fn add(&mut self, hops: &[HopRecord], i: usize) {
        let hop = &hops[i];
        let began = |h: &HopRecord| h.at_ms - h.latency_ms.unwrap_or_default();
        // `>=`: of hops that began at once, the one added last.
        let later = |other: Option<usize>| other.is_none_or(|o| began(hop) >= began(&hops[o]));
        if later(self.latest) {
            self.latest = Some(i);
        }
        match hop.kind {
            HopKind::Received | HopKind::Delivered if later(self.arrived) => self.arrived = Some(i),
            _ => {}
        }
        match hop.kind {
            HopKind::Delivered if hop.route.ends_with(" dead letter") => self.dead_lettered = true,
            HopKind::Delivered => self.delivered = true,
            HopKind::Failed => self.failed = true,
            HopKind::Filtered => self.filtered = true,
            HopKind::Received | HopKind::Retrying => {}
        }
    }

    /// Where the journey is now: the destination of the hop that began last among those
    /// that got there; a filter's verdict or a failure moves it nowhere, and while an
    /// attempt is to be retried it waits where it was sent from.
    fn now(&self, hops: &[HopRecord]) -> Option<Arc<str>> {
        let latest = &hops[self.latest?];
        Some(match (latest.kind, self.arrived) {
            (HopKind::Retrying, _) | (_, None) => latest.from.clone(),
            (_, Some(arrived)) => hops[arrived].to.clone(),
        })
    }

    /// Where the journey stands, `last` its last hop's kind.
    fn outcome(&self, last: Option<HopKind>) -> Outcome {
        if self.dead_lettered {
            Outcome::DeadLettered
        } else if self.failed {
            Outcome::Failed
        } else if last == Some(HopKind::Retrying) {
            Outcome::Retrying
        } else if self.delivered {
            Outcome::Delivered
        } else if self.filtered {
            Outcome::FilteredOut
        } else {
            Outcome::InFlight
        }
    }
}

impl Journey {
    /// A journey of `key`, number `seq`, that `event` begins.
    pub(super) fn new(key: &str, seq: u64, event: &Event) -> Self {
        Self {
            key: key.to_owned(),
            seq,
            id: event.id().to_owned(),
            ty: event.ty().to_owned(),
            source: event.source().to_string(),
            received: chrono::Utc::now(),
            entry: Arc::default(),
            now: Arc::default(),
            outcome: Outcome::InFlight,
            hops: Vec::with_capacity(8),
            hops_dropped: 0,
            events: Vec::with_capacity(4),
            began: Some(Instant::now()),
            bytes: 0,
            progress: Progress::default(),
        }
    }

    /// Milliseconds since the journey began.
    pub(super) fn elapsed_ms(&self) -> f64 {
        self.began.map_or(0.0, |b| b.elapsed().as_secs_f64() * 1000.0)
    }

    /// Adds `hop`: where the journey entered (its first hop), is now, and stands.
    pub(super) fn add(&mut self, hop: HopRecord) {
        if self.hops.is_empty() {
            self.entry = if hop.kind == HopKind::Received { hop.to.clone() } else { hop.from.clone() };
        }
        self.hops.push(hop);
        self.progress.add(&self.hops, self.hops.len() - 1);
        if let Some(now) = self.progress.now(&self.hops) {
            self.now = now;
        }
        self.outcome = self.progress.outcome(self.hops.last().map(|h| h.kind));
    }
}

/// `at` as RFC 3339 in milliseconds, `Z` for UTC: `2026-11-28T12:00:00.123Z`.
fn rfc3339_millis<S: serde::Serializer>(at: &chrono::DateTime<chrono::Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&at.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
}
