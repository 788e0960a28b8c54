//! The third layer: the eventing data plane that runs a [`Plan`](crate::plan::Plan).
//!
//! * [`ingress`]: the one port, routing by `Host` to channels, brokers and services;
//! * [`channels`]: a channel's fan-out to its subscriptions, with replies;
//! * [`brokers`]: a broker's ingress (arrival time, TTL guard) and its triggers;
//! * [`courier`]: one event to one destination under a delivery policy (the runtime's
//!   engine: attempts, backoff, Retry-After), the reply, and the dead letter sink;
//! * [`transport`]: real HTTP to in-cluster addresses on loopback (the functions);
//!   [`handoff`]: the mesh's hops to its own channels and brokers, in-process;
//!   [`headers`]: what travels from hop to hop;
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
pub mod handoff;
pub mod headers;
pub mod ingress;
pub mod journal;
pub mod launch;
pub mod live;
pub mod loopback;
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

/// Runs every delivery of `deliveries` at once (one inline, without a task of its own);
/// one error naming each that failed (and no sink took), as a channel's dispatcher and a
/// broker answer their sender.
pub(crate) async fn all_delivered<F>(deliveries: impl ExactSizeIterator<Item = F>) -> Result<(), String>
where
    F: std::future::Future<Output = Result<(), String>>,
{
    let results = if deliveries.len() == 1 {
        let mut results = Vec::with_capacity(1);
        for delivery in deliveries {
            // Boxed, as `join_all` keeps them: a delivery's future is large, and the
            // future of what awaits it is moved whole into its task.
            results.push(Box::pin(delivery).await);
        }
        results
    } else {
        futures_util::future::join_all(deliveries).await
    };
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
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
    /// The data plane of `channels` and `brokers`, sending over `transport`, logging to
    /// `out`; it takes over the in-flight work of `previous` (a reload), and from now on
    /// the mesh's own hops enter it.
    pub fn new(
        transport: Transport,
        out: Out,
        plans: (Vec<ChannelPlan>, Vec<BrokerPlan>),
        settings: Settings,
        journal: Arc<journal::Journal>,
        previous: Option<&Mesh>,
    ) -> Arc<Self> {
        let (channels, brokers) = plans;
        let latest = previous.map(|p| p.courier.latest.clone()).unwrap_or_default();
        let work = previous.map_or_else(|| Work::new(settings.backlog), |p| p.work.clone());
        Arc::new_cyclic(|mesh| {
            latest.set(mesh.clone());
            Self {
                courier: Courier { transport, out, journal, latest },
                channels: channels.into_iter().map(|c| (c.host.clone(), Arc::new(c))).collect(),
                brokers: brokers.into_iter().map(|b| ((b.namespace.clone(), b.name.clone()), Arc::new(b))).collect(),
                broker_ttl: i64::from(settings.broker_ttl),
                async_brokers: settings.async_brokers,
                work,
            }
        })
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
