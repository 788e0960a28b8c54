//! A broker: its ingress (arrival time, the TTL loop guard) and its triggers (filter,
//! subscriber, reply back into the broker, dead letters).
//!
//! The TTL guard goes one step further than a cluster's: a trigger takes
//! `knativebrokerttl` off before its subscriber sees it (as upstream), so on a cluster a
//! Sequence or Parallel whose reply goes back to the same broker enters it as a new event
//! and can loop for ever (knative/docs#2851). Here the mesh runs every hop of such a
//! flow, so it carries the TTL alongside the event in its own [`HOPS_HEADER`], on
//! requests between its own hosts only (channels, brokers): functions never see it, and
//! the loop ends when the TTL runs out. `fnmesh run` also warns about such a loop at start.

use std::sync::Arc;

use fnmesh_runtime::{AttributesReader, Event};
use http::HeaderMap;

use super::Mesh;
use super::headers::{HOPS_HEADER, with_extension};
use crate::manifests::Kind;
use crate::plan::{BrokerPlan, Target, TriggerPlan, address};

/// The TTL a broker gives an event that has none, unless `--broker-ttl` says otherwise.
pub const BROKER_TTL: u32 = 255;

/// What a broker's ingress did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handed to the triggers: `202`.
    Accepted,
    /// The TTL guard dropped it: `400`.
    LoopDropped,
    /// The backlog is full: `503`, retried by the sender.
    Full,
}

impl Mesh {
    /// A broker's ingress, as knative/eventing's (`pkg/broker/ingress`, `TTLDefaulter`):
    /// stamps `knativearrivaltime`, sets `knativebrokerttl` to 255 (`--broker-ttl`) when
    /// absent and takes one off otherwise, drops the event when it reaches 0, and hands it
    /// to every trigger in the background. A TTL above the broker's is taken as the
    /// broker's: a sender cannot buy more hops than the mesh allows. An event without the
    /// extension that a flow fed by a trigger replied carries its TTL in [`HOPS_HEADER`]
    /// instead (the ingress passes that header only from the mesh's own hops).
    pub fn broker_ingress(self: &Arc<Self>, broker: Arc<BrokerPlan>, event: Event, headers: HeaderMap) -> Admission {
        let mut headers = headers;
        let carried = headers.remove(&HOPS_HEADER).and_then(|v| v.to_str().ok()?.parse::<i64>().ok());
        let ttl = ttl(&event).or(carried).map_or(self.broker_ttl, |t| (t.min(self.broker_ttl) - 1).max(0));
        if ttl <= 0 {
            self.courier.out.log(&format!(
                "broker/{}: dropped event {}: knativebrokerttl reached 0",
                broker.name,
                event.id()
            ));
            return Admission::LoopDropped;
        }
        let size = super::work::size_of(&event).saturating_mul(broker.triggers.len());
        let Some(ticket) = self.work.reserve(size) else {
            self.courier.out.log(&format!(
                "broker/{}: refused event {}: the backlog is full ({} bytes, --backlog)",
                broker.name,
                event.id(),
                self.work.backlog_limit()
            ));
            return Admission::Full;
        };
        let ticket = Arc::new(ticket);
        let event = with_extension(&event, "knativearrivaltime", fnmesh_runtime::rfc3339::format(&chrono::Utc::now()));
        let event = with_extension(&event, "knativebrokerttl", ttl.to_string());
        for index in 0..broker.triggers.len() {
            let (mesh, broker, event, headers) = (self.clone(), broker.clone(), event.clone(), headers.clone());
            let ticket = ticket.clone();
            tokio::spawn(async move {
                mesh.trigger(&broker, &broker.triggers[index], event, headers).await;
                drop(ticket);
            });
        }
        Admission::Accepted
    }

    /// One trigger: the filter decides, then the subscriber, its reply back into the
    /// broker, and the dead letter sink for failures of either.
    async fn trigger(self: Arc<Self>, broker: &BrokerPlan, trigger: &TriggerPlan, event: Event, headers: HeaderMap) {
        if !trigger.filter.matches(&event) {
            return;
        }
        let out = &self.courier.out;
        let label = format!("trigger/{}", trigger.name);
        // The broker's own attribute is not the subscriber's business: it is taken off
        // before delivery and put back, unchanged, on the reply (upstream's filter does so).
        let broker_ttl = ttl(&event).unwrap_or(self.broker_ttl);
        let mut event = event;
        event.remove_extension("knativebrokerttl");
        let mut carrying = headers.clone();
        carrying.insert(HOPS_HEADER, http::HeaderValue::from(broker_ttl));
        let answer = match self.courier.deliver(&label, &trigger.subscriber, &event, &carrying, &trigger.delivery).await
        {
            Ok(answer) => answer,
            Err(failure) => {
                if let Err(e) = self.courier.dead_letter(&label, &trigger.delivery, &event, &headers, failure).await {
                    out.log(&format!("{label}: event {} lost: {e}", event.id()));
                }
                return;
            }
        };
        let Some((reply, reply_headers)) = answer else { return };
        // Back into the broker with the TTL it came with; the ingress takes one off.
        let reply = with_extension(&reply, "knativebrokerttl", broker_ttl.to_string());
        let Some(ingress) = address::address(Kind::Broker, &broker.namespace, &broker.name) else { return };
        let target = Target { url: ingress, name: format!("broker/{}", broker.name) };
        let reply_label = format!("{label} reply");
        let sent = self.courier.deliver(&reply_label, &target, &reply, &reply_headers, &trigger.delivery);
        if let Err(failure) = sent.await
            && let Err(e) = self.courier.dead_letter(&reply_label, &trigger.delivery, &event, &headers, failure).await
        {
            out.log(&format!("{reply_label}: reply lost: {e}"));
        }
    }
}

/// `knativebrokerttl`, when it is an integer.
fn ttl(event: &Event) -> Option<i64> {
    event.extension("knativebrokerttl").and_then(|v| v.to_string().parse().ok())
}
