//! The running flow as a graph of the objects events travel between: sources, flows and
//! channels, brokers, services, URIs; each edge one route of the data plane (a channel
//! subscription, its reply, a trigger, a dead letter sink, a ping source's sink), keyed by
//! the label the courier logs it with, so that every delivery counts on its edge.

use std::sync::Arc;

use serde::Serialize;

use crate::plan::address::BROKER_INGRESS_HOST;
use crate::plan::{BrokerPlan, ChannelPlan, PingPlan, Target};

/// A node: an object of the flow.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Node {
    /// `ksvc/first`, `sequence/s`, `broker/default`, a URI.
    pub id: String,
    /// `source`, `flow`, `hub` (a broker or channel), `service`, `uri`.
    pub shape: &'static str,
}

/// A route between two nodes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Edge {
    /// The courier's label of the hops on this route (`sequence/s step 0`).
    pub key: Arc<str>,
    /// Where events come from.
    pub from: Arc<str>,
    /// Where they go.
    pub to: Arc<str>,
    /// What to write on it (`step 0`, `reply`, `trigger t: type=x`).
    pub label: String,
    /// A dead letter route.
    pub dashed: bool,
}

/// The route of one hop: its label and endpoints, shared with every hop that takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The courier's label ([`Edge::key`]).
    pub key: Arc<str>,
    /// Where from.
    pub from: Arc<str>,
    /// Where to.
    pub to: Arc<str>,
}

/// The graph of a data plane, and how hops map onto it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Topology {
    /// Every node, by id.
    pub nodes: Vec<Node>,
    /// Every planned route.
    pub edges: Vec<Edge>,
    #[serde(skip)]
    by_key: foldhash::HashMap<String, usize>,
    /// Host to node: services and channels.
    #[serde(skip)]
    hosts: foldhash::HashMap<String, String>,
}

/// `sequence/s step 0` gives `sequence/s`; `trigger/t` is itself.
pub fn object(label: &str) -> &str {
    [" step ", " branch ", " filter "].iter().fold(label, |label, cut| label.split(cut).next().unwrap_or(label))
}

fn shape(id: &str) -> &'static str {
    match id.split('/').next().unwrap_or_default() {
        "pingsource" | "containersource" | "sinkbinding" => "source",
        "sequence" | "parallel" => "flow",
        "broker" | "channel" => "hub",
        "ksvc" | "service" => "service",
        _ => "uri",
    }
}

impl Topology {
    /// The graph of `channels`, `brokers` and `pings`, with `services` (host, name).
    pub fn of(
        channels: &[ChannelPlan],
        brokers: &[BrokerPlan],
        pings: &[PingPlan],
        services: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let mut graph = Self::default();
        for (host, name) in services {
            graph.hosts.insert(host, format!("ksvc/{name}"));
        }
        for channel in channels {
            graph.hosts.insert(channel.host.clone(), object(&channel.label).to_owned());
        }
        for ping in pings {
            let from = format!("pingsource/{}", ping.name);
            let to = graph.node_of(&ping.sink);
            graph.add(&from.clone(), from, to, "ping".into(), false);
        }
        for channel in channels {
            let hub = object(&channel.label).to_owned();
            for sub in &channel.subscriptions {
                let step = sub.label.strip_prefix(&hub).map(str::trim).filter(|s| !s.is_empty());
                let step = step.unwrap_or(&sub.label).to_owned();
                let subscriber = sub.subscriber.as_ref().map_or_else(|| hub.clone(), |s| graph.node_of(s));
                if sub.subscriber.is_some() {
                    graph.add(&sub.label, hub.clone(), subscriber.clone(), step.clone(), false);
                }
                if let Some(reply) = &sub.reply {
                    let to = graph.node_of(reply);
                    graph.add(&format!("{} reply", sub.label), subscriber.clone(), to, format!("{step} reply"), false);
                }
                if let Some(sink) = &sub.delivery.dead_letter {
                    let to = graph.node_of(sink);
                    graph.add(&format!("{} dead letter", sub.label), subscriber, to, "dead letter".into(), true);
                }
            }
        }
        for broker in brokers {
            let hub = format!("broker/{}", broker.name);
            for trigger in &broker.triggers {
                let key = format!("trigger/{}", trigger.name);
                let subscriber = graph.node_of(&trigger.subscriber);
                let label = format!("trigger {}{}", trigger.name, trigger.filter.summary());
                graph.add(&key, hub.clone(), subscriber.clone(), label, false);
                graph.add(&format!("{key} reply"), subscriber.clone(), hub.clone(), "reply".into(), false);
                if let Some(sink) = &trigger.delivery.dead_letter {
                    let to = graph.node_of(sink);
                    graph.add(&format!("{key} dead letter"), subscriber, to, "dead letter".into(), true);
                }
            }
        }
        graph
    }

    fn node(&mut self, id: &str) {
        if !self.nodes.iter().any(|n| n.id == id) {
            self.nodes.push(Node { id: id.to_owned(), shape: shape(id) });
        }
    }

    fn add(&mut self, key: &str, from: String, to: String, label: String, dashed: bool) {
        self.node(&from);
        self.node(&to);
        self.by_key.insert(key.to_owned(), self.edges.len());
        self.edges.push(Edge { key: key.into(), from: from.into(), to: to.into(), label, dashed });
    }

    /// The node a destination is: a service, a channel's flow, a broker, or its URL.
    pub fn node_of(&self, target: &Target) -> String {
        let host = target.url.host_str().map(super::transport::full_host).unwrap_or_default();
        if let Some(node) = self.hosts.get(&host) {
            return node.clone();
        }
        if host == BROKER_INGRESS_HOST
            && let Some(name) = target.url.path().trim_matches('/').split('/').nth(1)
        {
            return format!("broker/{name}");
        }
        target.name.clone()
    }

    /// The route of a hop logged as `key` to `target`: its endpoints, planned or not.
    pub fn route(&self, key: &str, target: &Target) -> Route {
        match self.by_key.get(key) {
            Some(&i) => {
                let edge = &self.edges[i];
                Route { key: edge.key.clone(), from: edge.from.clone(), to: edge.to.clone() }
            }
            None => Route {
                key: key.into(),
                from: object(key.trim_end_matches(" reply").trim_end_matches(" dead letter")).into(),
                to: self.node_of(target).into(),
            },
        }
    }
}

/// Node ids and shapes, for tests.
#[cfg(test)]
fn ids(graph: &Topology) -> std::collections::BTreeMap<&str, &str> {
    graph.nodes.iter().map(|n| (n.id.as_str(), n.shape)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic in a test is a failed assertion

    use super::*;
    use crate::plan::{Delivery, SubscriptionPlan};

    fn target(host: &str, name: &str) -> Target {
        Target { url: url::Url::parse(&format!("http://{host}/")).unwrap(), name: name.into() }
    }

    #[test]
    fn a_sequence_is_a_chain_through_its_flow() {
        let step = |i: usize, service: &str, reply: Target| ChannelPlan {
            host: format!("s-kn-sequence-{i}-kn-channel.default.svc.cluster.local"),
            namespace: "default".into(),
            label: format!("sequence/s step {i}"),
            asynchronous: false,
            subscriptions: vec![SubscriptionPlan {
                label: format!("sequence/s step {i}"),
                subscriber: Some(target(&format!("{service}.default.svc.cluster.local"), service)),
                reply: Some(reply),
                delivery: Delivery::default(),
            }],
        };
        let channels = [
            step(0, "first", target("s-kn-sequence-1-kn-channel.default.svc.cluster.local", "step 1")),
            step(1, "second", target("display.default.svc.cluster.local", "display")),
        ];
        let services = ["first", "second", "display"].map(|n| (format!("{n}.default.svc.cluster.local"), n.to_owned()));
        let graph = Topology::of(&channels, &[], &[], services);
        let edges: Vec<(&str, &str, &str)> = graph.edges.iter().map(|e| (&*e.from, &*e.to, e.label.as_str())).collect();
        assert_eq!(
            edges,
            [
                ("sequence/s", "ksvc/first", "step 0"),
                ("ksvc/first", "sequence/s", "step 0 reply"),
                ("sequence/s", "ksvc/second", "step 1"),
                ("ksvc/second", "ksvc/display", "step 1 reply"),
            ]
        );
        assert_eq!(ids(&graph)["sequence/s"], "flow");
        let next = target("s-kn-sequence-1-kn-channel.default.svc.cluster.local", "step 1");
        let ends = |route: Route| (route.from.to_string(), route.to.to_string());
        let planned = graph.route("sequence/s step 0 reply", &next);
        assert_eq!(ends(planned.clone()), ("ksvc/first".into(), "sequence/s".into()));
        assert!(Arc::ptr_eq(&planned.from, &graph.edges[1].from), "a planned route is shared, not copied");
        let elsewhere = target("example.com", "http://example.com/");
        let unplanned = graph.route("sequence/s step 9 reply", &elsewhere);
        assert_eq!(ends(unplanned), ("sequence/s".into(), "http://example.com/".into()));
    }
}
