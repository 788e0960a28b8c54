//! The eventing data plane: channel fan-out (synchronous unless the async annotation
//! says otherwise), subscriptions with replies and dead letters, and brokers with
//! their triggers, the arrival time and the TTL loop guard.
//!
//! The TTL guard goes one step further than a cluster's: a trigger takes
//! `knativebrokerttl` off before its subscriber sees it (as upstream), so on a cluster a
//! Sequence or Parallel whose reply goes back to the same broker enters it as a new event
//! and can loop for ever (knative/docs#2851). Here the mesh runs every hop of such a
//! flow, so it carries the TTL alongside the event in its own [`HOPS_HEADER`], on
//! requests between its own hosts only (channels, brokers): functions never see it, and
//! the loop ends when the TTL runs out. `fnmesh run` also warns about such a loop at start.

use std::collections::HashMap;
use std::sync::Arc;

use fnmesh_runtime::{AttributesReader, Event};
use http::HeaderMap;
use tokio::task::JoinSet;

use crate::deliver::{Courier, RetryOn, with_extension};
use crate::output::Out;
use crate::plan::{BrokerPlan, ChannelPlan, SubscriptionPlan, TriggerPlan};
use crate::transport::Transport;

/// The TTL a broker gives an event that has none, unless `--broker-ttl` says otherwise.
pub const BROKER_TTL: u32 = 255;

/// The TTL an event had at its last broker, carried by the mesh through a trigger's
/// flow to the next broker (see the module doc); only between the mesh's own hosts.
pub const HOPS_HEADER: http::HeaderName = http::HeaderName::from_static("fnmesh-broker-ttl");

/// Channels and brokers by address, and how to reach the rest.
#[derive(Debug)]
pub struct Mesh {
    pub courier: Courier,
    channels: HashMap<String, Arc<ChannelPlan>>,
    brokers: HashMap<(String, String), Arc<BrokerPlan>>,
    /// The TTL a broker gives an event that has none.
    broker_ttl: i64,
}

impl Mesh {
    pub fn new(
        transport: Transport,
        out: Out,
        channels: Vec<ChannelPlan>,
        brokers: Vec<BrokerPlan>,
        broker_ttl: u32,
    ) -> Self {
        Self {
            courier: Courier { transport, out },
            channels: channels.into_iter().map(|c| (c.host.clone(), Arc::new(c))).collect(),
            brokers: brokers.into_iter().map(|b| ((b.namespace.clone(), b.name.clone()), Arc::new(b))).collect(),
            broker_ttl: i64::from(broker_ttl),
        }
    }

    pub fn channel(&self, host: &str) -> Option<Arc<ChannelPlan>> {
        self.channels.get(host).cloned()
    }

    pub fn broker(&self, namespace: &str, name: &str) -> Option<Arc<BrokerPlan>> {
        self.brokers.get(&(namespace.to_owned(), name.to_owned())).cloned()
    }

    /// Delivers `event` to every subscription of `channel` concurrently; an error when
    /// any failed and no dead letter sink took it.
    pub async fn fan_out(
        self: &Arc<Self>,
        channel: Arc<ChannelPlan>,
        event: Event,
        headers: HeaderMap,
    ) -> Result<(), String> {
        let mut tasks = JoinSet::new();
        for index in 0..channel.subscriptions.len() {
            let (mesh, channel, event, headers) = (self.clone(), channel.clone(), event.clone(), headers.clone());
            tasks.spawn(async move { mesh.subscription(&channel.subscriptions[index], &event, &headers).await });
        }
        let mut errors = Vec::new();
        while let Some(result) = tasks.join_next().await {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(format!("delivery task failed: {e}")),
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    }

    /// One subscription: subscriber, then its reply to `reply`; failures of either go
    /// to the dead letter sink with the original event.
    async fn subscription(&self, sub: &SubscriptionPlan, event: &Event, headers: &HeaderMap) -> Result<(), String> {
        let answer = match &sub.subscriber {
            None => Some((event.clone(), headers.clone())),
            Some(subscriber) => {
                match self
                    .courier
                    .deliver(&sub.label, subscriber, event, headers, &sub.delivery, RetryOn::Dispatcher)
                    .await
                {
                    Ok(answer) => answer,
                    Err(failure) => {
                        return self.courier.dead_letter(&sub.label, &sub.delivery, event, headers, failure).await;
                    }
                }
            }
        };
        // No reply destination: a reply event ends here, as upstream.
        let (Some((reply_event, mut reply_headers)), Some(reply)) = (answer, &sub.reply) else { return Ok(()) };
        // The reply of a flow a trigger fed goes on with the TTL the event had.
        if let Some(hops) = headers.get(&HOPS_HEADER) {
            reply_headers.insert(HOPS_HEADER, hops.clone());
        }
        let label = format!("{} reply", sub.label);
        match self
            .courier
            .deliver(&label, reply, &reply_event, &reply_headers, &sub.delivery, RetryOn::Dispatcher)
            .await
        {
            Ok(_) => Ok(()),
            Err(failure) => self.courier.dead_letter(&label, &sub.delivery, event, headers, failure).await,
        }
    }

    /// A broker's ingress, as knative/eventing's (`pkg/broker/ingress`, `TTLDefaulter`):
    /// stamps `knativearrivaltime`, sets `knativebrokerttl` to 255 (`--broker-ttl`) when
    /// absent and takes one off otherwise, drops the event when it reaches 0, and hands it
    /// to every trigger in the background. `false` when the TTL guard drops it (the sender
    /// gets a 400). An event without the extension that a flow fed by a trigger replied
    /// carries its TTL in [`HOPS_HEADER`] instead.
    pub fn broker_ingress(self: &Arc<Self>, broker: Arc<BrokerPlan>, event: Event, headers: HeaderMap) -> bool {
        let mut headers = headers;
        let carried = headers.remove(&HOPS_HEADER).and_then(|v| v.to_str().ok()?.parse::<i64>().ok());
        let ttl = ttl(&event).or(carried).map_or(self.broker_ttl, |t| (t - 1).max(0));
        if ttl <= 0 {
            self.courier.out.log(&format!(
                "broker/{}: dropped event {}: knativebrokerttl reached 0",
                broker.name,
                event.id()
            ));
            return false;
        }
        let event = with_extension(&event, "knativearrivaltime", fnmesh_runtime::rfc3339::format(&chrono::Utc::now()));
        let event = with_extension(&event, "knativebrokerttl", ttl.to_string());
        for index in 0..broker.triggers.len() {
            let (mesh, broker, event, headers) = (self.clone(), broker.clone(), event.clone(), headers.clone());
            tokio::spawn(async move { mesh.trigger(&broker, &broker.triggers[index], event, headers).await });
        }
        true
    }

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
        let answer = match self
            .courier
            .deliver(&label, &trigger.subscriber, &event, &carrying, &trigger.delivery, RetryOn::Dispatcher)
            .await
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
        let Some(ingress) = crate::address::address("eventing.knative.dev", "Broker", &broker.namespace, &broker.name)
        else {
            return;
        };
        let target = crate::delivery::Target { url: ingress, name: format!("broker/{}", broker.name) };
        let reply_label = format!("{label} reply");
        let sent =
            self.courier.deliver(&reply_label, &target, &reply, &reply_headers, &trigger.delivery, RetryOn::Dispatcher);
        if let Err(failure) = sent.await
            && let Err(e) = self.courier.dead_letter(&reply_label, &trigger.delivery, &event, &headers, failure).await
        {
            out.log(&format!("{reply_label}: reply lost: {e}"));
        }
    }
}

fn ttl(event: &Event) -> Option<i64> {
    event.extension("knativebrokerttl").and_then(|v| v.to_string().parse().ok())
}
