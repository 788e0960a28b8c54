//! The third layer: the eventing data plane that runs a [`Plan`](crate::plan::Plan).
//!
//! * [`ingress`]: the one port, routing by `Host` to channels, brokers and services;
//! * [`channels`]: a channel's fan-out to its subscriptions, with replies;
//! * [`brokers`]: a broker's ingress (arrival time, TTL guard) and its triggers;
//! * [`courier`]: one event to one destination under a delivery policy (the runtime's
//!   engine: attempts, backoff, Retry-After), the reply, and the dead letter sink;
//! * [`transport`]: real HTTP to in-cluster addresses on loopback; [`headers`]: what
//!   travels from hop to hop;
//! * [`pings`]: the PingSource adapter; [`services`]: starting the workloads,
//!   [`launch`]: building and starting a local process, and [`processes`]: its process
//!   group;
//! * [`work`]: what was accepted and is not done yet: the bounded backlog, and the drain
//!   when `fnmesh run` stops;
//! * [`journal`]: every event's journey, hop by hop, for the live view and `fnmesh
//!   events`, mapped onto the [`topology`] of the running flow; [`live`]: the page and
//!   the JSON and streams it reads, on the ingress under `/.fnmesh/`; [`otlp`]: the
//!   journeys as OpenTelemetry spans.

pub mod brokers;
pub mod channels;
pub mod courier;
pub mod headers;
pub mod ingress;
pub mod journal;
pub mod launch;
pub mod live;
pub mod otlp;
pub mod pings;
pub mod processes;
pub mod services;
pub mod topology;
pub mod transport;
pub mod work;

use std::collections::HashMap;
use std::sync::Arc;

use crate::output::Out;
use crate::plan::{BrokerPlan, ChannelPlan};
pub use brokers::{Admission, BROKER_TTL};
use courier::Courier;
use transport::Transport;
use work::Work;

/// Waits for every delivery in `tasks`; one error naming each that failed (and no sink
/// took), as a channel's dispatcher and a broker answer their sender.
pub(crate) async fn all_delivered(mut tasks: tokio::task::JoinSet<Result<(), String>>) -> Result<(), String> {
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

/// Channels and brokers by address, and how to reach the rest.
#[derive(Debug)]
pub struct Mesh {
    /// Sends the events that channels and brokers pass on.
    pub courier: Courier,
    channels: HashMap<String, Arc<ChannelPlan>>,
    brokers: HashMap<(String, String), Arc<BrokerPlan>>,
    /// The TTL a broker gives an event that has none.
    broker_ttl: i64,
    /// Brokers answer `202` at once and deliver in the background.
    async_brokers: bool,
    /// What was accepted and is not done yet.
    pub work: Arc<Work>,
}

/// How a mesh's brokers and background deliveries behave.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The TTL a broker gives an event that has none (`--broker-ttl`).
    pub broker_ttl: u32,
    /// The most bytes of events that background deliveries hold (`--backlog`).
    pub backlog: usize,
    /// Brokers answer `202` at once and deliver in the background (`--async-brokers`);
    /// else, as a cluster's, after their triggers are done.
    pub async_brokers: bool,
}

impl Mesh {
    /// The data plane of `channels` and `brokers`, sending over `transport`, logging to `out`.
    pub fn new(
        transport: Transport,
        out: Out,
        channels: Vec<ChannelPlan>,
        brokers: Vec<BrokerPlan>,
        settings: Settings,
        journal: Arc<journal::Journal>,
    ) -> Self {
        Self {
            courier: Courier { transport, out, journal },
            channels: channels.into_iter().map(|c| (c.host.clone(), Arc::new(c))).collect(),
            brokers: brokers.into_iter().map(|b| ((b.namespace.clone(), b.name.clone()), Arc::new(b))).collect(),
            broker_ttl: i64::from(settings.broker_ttl),
            async_brokers: settings.async_brokers,
            work: Work::new(settings.backlog),
        }
    }

    /// The channel at `host` (`C-kn-channel.ns.svc.cluster.local`).
    pub fn channel(&self, host: &str) -> Option<Arc<ChannelPlan>> {
        self.channels.get(host).cloned()
    }

    /// Broker `name` of `namespace`.
    pub fn broker(&self, namespace: &str, name: &str) -> Option<Arc<BrokerPlan>> {
        self.brokers.get(&(namespace.to_owned(), name.to_owned())).cloned()
    }
}
