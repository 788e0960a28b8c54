//! A broker: its ingress (arrival time, the TTL loop guard) and its triggers (filter,
//! subscriber, reply back into the broker, dead letters).
//!
//! As the channel-based broker, the ingress is synchronous: it answers after every
//! trigger's subscriber (and its reply) is done, `202` when all succeeded or were
//! dead-lettered and `500` when one failed with no dead letter sink, so the sender's
//! retry re-delivers (`pkg/broker/ingress/ingress_handler.go` sends to the broker's
//! channel, whose dispatcher answers after its fan-out). `--async-brokers` answers `202`
//! at once and delivers in the background instead, within the bounded backlog.
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
use super::courier::{Hop, Role};
use super::headers::{HOPS_HEADER, continue_trace};
use crate::manifests::Kind;
use crate::plan::{BrokerPlan, Target, TriggerPlan, address};

/// The TTL a broker gives an event that has none, unless `--broker-ttl` says otherwise.
pub const BROKER_TTL: u32 = 255;

/// What a broker's ingress did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Delivered to every trigger (or dead-lettered), or with `--async-brokers` handed to
    /// them: `202`.
    Accepted,
    /// A trigger failed and no dead letter sink took the event: `500`.
    Failed(String),
    /// The TTL guard dropped it: `400`.
    LoopDropped,
    /// The backlog is full (`--async-brokers`): `503`, retried by the sender.
    Full,
}

impl Mesh {
    /// A broker's ingress, as knative/eventing's (`pkg/broker/ingress`, `TTLDefaulter`):
    /// stamps `knativearrivaltime`, sets `knativebrokerttl` to 255 (`--broker-ttl`) when
    /// absent and takes one off otherwise, drops the event when it reaches 0, and delivers
    /// it to every trigger. A TTL above the broker's is taken as the broker's: a sender
    /// cannot buy more hops than the mesh allows. An event without the extension that a
    /// flow fed by a trigger replied carries its TTL in [`HOPS_HEADER`] instead (the
    /// ingress passes that header only from the mesh's own hops).
    pub async fn broker_ingress(
        self: &Arc<Self>,
        broker: Arc<BrokerPlan>,
        mut event: Arc<Event>,
        headers: HeaderMap,
    ) -> Admission {
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
        // A copy only when the event is shared (its journey keeps the one that arrived).
        let accepted = Arc::make_mut(&mut event);
        accepted.set_extension("knativearrivaltime", fnmesh_runtime::rfc3339::format(&chrono::Utc::now()));
        accepted.set_extension("knativebrokerttl", ttl.to_string());
        self.courier.out.log(&format!(
            "broker/{}: accepted event {} (type {}, source {})",
            broker.name,
            event.id(),
            event.ty(),
            event.source()
        ));
        if !self.async_brokers {
            return match self.triggers(&broker, &event, &headers).await {
                Ok(()) => Admission::Accepted,
                Err(e) => {
                    self.courier.out.log(&format!("broker/{}: answering 500: {e}", broker.name));
                    Admission::Failed(e)
                }
            };
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
        let mesh = self.clone();
        tokio::spawn(async move {
            if let Err(e) = mesh.triggers(&broker, &event, &headers).await {
                mesh.courier.out.log(&format!("broker/{}: {e}", broker.name));
            }
            drop(ticket);
        });
        Admission::Accepted
    }

    /// Every trigger of `broker` at once; an error when one failed with no dead letter sink.
    async fn triggers(
        self: &Arc<Self>,
        broker: &Arc<BrokerPlan>,
        event: &Arc<Event>,
        headers: &HeaderMap,
    ) -> Result<(), String> {
        let broker_ttl = ttl(event).unwrap_or(self.broker_ttl);
        let delivered = std::sync::OnceLock::new();
        let sent = Sent { event, delivered: &delivered, broker_ttl };
        let deliveries = broker.triggers.iter().map(|trigger| self.trigger(broker, trigger, sent, headers));
        super::all_delivered(deliveries).await
    }

    /// One trigger: the filter decides, then the subscriber, its reply back into the
    /// broker, and the dead letter sink for failures of either.
    async fn trigger(
        self: &Arc<Self>,
        broker: &BrokerPlan,
        trigger: &TriggerPlan,
        sent: Sent<'_>,
        headers: &HeaderMap,
    ) -> Result<(), String> {
        let Sent { event, delivered, broker_ttl } = sent;
        let label = format!("trigger/{}", trigger.name);
        if let Some(why) = trigger.filter.explain(event) {
            self.courier.out.log(&format!("{label}: filtered out event {}: {why}", event.id()));
            let key = super::journal::trace_key(headers, event);
            self.courier.journal.filtered(&key, event, &label, &trigger.subscriber, &why);
            return Ok(());
        }
        let namespace = broker.namespace.as_str();
        let mut carrying = headers.clone();
        carrying.insert(HOPS_HEADER, http::HeaderValue::from(broker_ttl));
        let role = Role::Trigger { structured: trigger.structured };
        let hop = Hop { label: &label, target: &trigger.subscriber, role, namespace };
        let delivered = delivered.get_or_init(|| without_ttl(event));
        let answer = match self.courier.deliver(hop, delivered, &carrying, &trigger.delivery).await {
            Ok(answer) => answer,
            Err(failure) => {
                return self.courier.dead_letter(hop, &trigger.delivery, event, headers, failure).await.map_err(|e| {
                    self.courier.out.log(&format!("{label}: event {} lost: {e}", event.id()));
                    e
                });
            }
        };
        let Some((mut reply, mut reply_headers)) = answer else { return Ok(()) };
        continue_trace(headers, &mut reply_headers);
        // Back into the broker with the TTL it came with; the ingress takes one off.
        Arc::make_mut(&mut reply).set_extension("knativebrokerttl", broker_ttl.to_string());
        let Some(ingress) = address::address(Kind::Broker, &broker.namespace, &broker.name) else { return Ok(()) };
        let target = Target { url: ingress, name: format!("broker/{}", broker.name) };
        let reply_label = format!("{label} reply");
        let reply_hop = Hop { label: &reply_label, target: &target, role: Role::Forward, namespace };
        match self.courier.deliver(reply_hop, &reply, &reply_headers, &trigger.delivery).await {
            Ok(_) => Ok(()),
            Err(failure) => {
                self.courier.dead_letter(reply_hop, &trigger.delivery, event, headers, failure).await.map_err(|e| {
                    self.courier.out.log(&format!("{reply_label}: reply lost: {e}"));
                    e
                })
            }
        }
    }
}

/// The event a broker accepted, as its journey keeps it; as its triggers' subscribers get
/// it, made by the first trigger that passes it and shared by the others; and its TTL.
#[derive(Debug, Clone, Copy)]
struct Sent<'a> {
    event: &'a Arc<Event>,
    delivered: &'a std::sync::OnceLock<Arc<Event>>,
    broker_ttl: i64,
}

/// `event` as a trigger's subscriber gets it: the broker's own attribute
/// (`knativebrokerttl`) is not the subscriber's business. It is taken off before delivery
/// and put back, unchanged, on a reply (upstream's filter does so); a dead letter keeps it.
fn without_ttl(event: &Arc<Event>) -> Arc<Event> {
    if event.extension("knativebrokerttl").is_none() {
        return Arc::clone(event);
    }
    let mut delivered = Event::clone(event);
    delivered.remove_extension("knativebrokerttl");
    Arc::new(delivered)
}

/// `knativebrokerttl`, when it is an integer.
fn ttl(event: &Event) -> Option<i64> {
    event.extension("knativebrokerttl").and_then(|v| v.to_string().parse().ok())
}
