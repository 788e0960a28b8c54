//! The second layer: what the Knative controllers would make of the manifests.
//! Workloads to start, channels with their subscriptions, brokers with their triggers,
//! ping sources; every destination resolved to a URL, every `delivery:` to a policy,
//! every trigger filter compiled. All problems are collected before anything starts.
//!
//! One module per Knative kind: [`workloads`] (ksvc, Deployment + Service), [`channels`]
//! (InMemoryChannel, Channel, Subscription), [`sequence`], [`parallel`], [`brokers`]
//! (Broker, Trigger, and the loops a cluster's TTL cannot stop), [`pings`]
//! (PingSource), [`sources`] (ContainerSource, SinkBinding). Around them: [`address`]
//! (the addresses Knative reports), [`delivery`] (`delivery:` to a policy), [`filters`]
//! (trigger filters, compiled and evaluated), [`images`] (which function runs an
//! image), [`local`] (a service run as a process: from source, a command, a container), [`env`] (a container's environment, with Secrets and ConfigMaps),
//! [`schedule`] (cron as PingSource reads it) and [`resolve`] (destinations). Kinds
//! fnmesh does not emulate (a ServiceAccount, a Role, a Job, ...) are listed as
//! [`Plan::ignored`], as a cluster would run them without fnmesh's help.

pub mod address;
pub mod brokers;
pub mod channels;
pub mod delivery;
pub mod env;
pub mod filters;
pub mod images;
pub mod local;
pub mod objects;
pub mod parallel;
pub mod pings;
pub mod resolve;
pub mod schedule;
pub mod sequence;
pub mod sources;
pub mod workloads;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fnmesh_runtime::FunctionSpec;

use crate::manifests::{Document, Kind, Problems, Spec};
pub use delivery::{Delivery, Target};
pub use filters::EventFilter;
pub use images::Images;
pub use pings::PingPlan;

pub use local::{COMMAND_ANNOTATION, Local};

/// Everything `fnmesh run` starts.
#[derive(Debug, Default)]
pub struct Plan {
    /// The workloads to start.
    pub services: Vec<ServicePlan>,
    /// Every channel (those of Sequences and Parallels too), with its subscriptions.
    pub channels: Vec<ChannelPlan>,
    /// Every broker, with its triggers.
    pub brokers: Vec<BrokerPlan>,
    /// The PingSources to fire on schedule.
    pub pings: Vec<PingPlan>,
    /// What `fnmesh get` lists.
    pub objects: Vec<ObjectRow>,
    /// Valid but probably not meant: loops the broker TTL cannot stop, bindings that
    /// bind nothing, env values that only a pod has.
    pub warnings: Vec<String>,
    /// The objects of kinds fnmesh does not emulate (`v1 ServiceAccount app`), left out;
    /// the ConfigMaps and Secrets that env reads are not among them.
    pub ignored: Vec<String>,
}

impl Plan {
    /// The one line that lists [`Plan::ignored`]; `None` when nothing was.
    pub fn ignored_line(&self) -> Option<String> {
        (!self.ignored.is_empty())
            .then(|| format!("ignored (kinds fnmesh run does not emulate): {}", self.ignored.join(", ")))
    }
}

/// A workload: a Knative Service, or a v1 Service in front of a Deployment.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    /// The Service's name (also its `K_SERVICE`).
    pub name: String,
    /// The Service's namespace.
    pub namespace: String,
    /// The folder of the manifest that defines it: what a cluster would mount in its
    /// working directory (`fnmesh run` gives it as `FNMESH_MANIFEST_DIR`).
    pub manifest_dir: std::path::PathBuf,
    /// `name.namespace.svc.cluster.local`.
    pub host: String,
    /// What runs it.
    pub run: Workload,
    /// The container's `env:`, in order.
    pub env: Vec<(String, String)>,
    /// `containerConcurrency`: at most this many requests at once; more wait, as
    /// Knative's queue-proxy makes them wait. `None`: no limit.
    pub concurrency: Option<usize>,
    /// A source's pod (a ContainerSource's, or a SinkBinding's Deployment that no Service
    /// selects): nothing sends to it, so it has no address, and a command need not listen.
    pub source: bool,
}

/// What runs a service.
#[derive(Debug, Clone)]
pub enum Workload {
    /// An fnmesh function, in-process.
    Function(FunctionSpec),
    /// A process of this machine ([`local`]): a user's function built from its
    /// sources, or a command (annotation `fnmesh.dev/command`), given `PORT`.
    Local(Local),
    /// An image no function maps, run by a local container engine (`podman`, `docker`)
    /// with the host's network.
    Container {
        /// The image, as the manifest names it.
        image: String,
        /// The engine's program.
        engine: String,
    },
}

/// A channel, as its dispatcher serves it.
#[derive(Debug, Clone)]
pub struct ChannelPlan {
    /// `C-kn-channel.namespace.svc.cluster.local`.
    pub host: String,
    /// The namespace of the channel (`Kn-Namespace` on what its dispatcher sends).
    pub namespace: String,
    /// For logs: `channel/C`, `sequence/Q step 0`, `parallel/P`, `parallel/P branch 1`.
    pub label: String,
    /// Answers `202` at once instead of after the fan-out.
    pub asynchronous: bool,
    /// Who gets every event the channel receives.
    pub subscriptions: Vec<SubscriptionPlan>,
}

/// One subscriber of a channel, with where its replies go.
#[derive(Debug, Clone)]
pub struct SubscriptionPlan {
    /// For logs, e.g. `sequence/sequence step 1`.
    pub label: String,
    /// `None` forwards every event to `reply` (a Parallel branch without a filter).
    pub subscriber: Option<Target>,
    /// Where the subscriber's reply goes; `None`: the reply is dropped, as upstream.
    pub reply: Option<Target>,
    /// Retries and dead letter sink, for the subscriber and the reply.
    pub delivery: Delivery,
}

/// A broker and the triggers on it.
#[derive(Debug, Clone)]
pub struct BrokerPlan {
    /// The broker's namespace.
    pub namespace: String,
    /// The broker's name.
    pub name: String,
    /// The triggers that name this broker.
    pub triggers: Vec<TriggerPlan>,
}

/// A trigger: which events, to whom, how.
#[derive(Debug, Clone)]
pub struct TriggerPlan {
    /// The trigger's name, for logs.
    pub name: String,
    /// Which events it passes on.
    pub filter: EventFilter,
    /// Where matching events go; its reply goes back into the broker.
    pub subscriber: Target,
    /// Retries and dead letter sink, for the subscriber and the reply.
    pub delivery: Delivery,
    /// `delivery.format: json`: the subscriber gets structured mode.
    pub structured: bool,
}

/// One row of `fnmesh get`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ObjectRow {
    /// `ksvc`, `sequence`, ... ([`Kind::resource`]).
    pub kind: String,
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The address Knative would report; empty for kinds without one.
    pub url: String,
    /// The object as `kubectl get -o json` shows it: the manifest with its namespace,
    /// creation time and the status Knative would report ([`objects`]).
    #[serde(default)]
    pub object: serde_json::Value,
}

/// Identifies an object: API group, kind, namespace, name.
type Key = (String, String, String, String);

fn key(group: &str, kind: &str, namespace: &str, name: &str) -> Key {
    (group.to_owned(), kind.to_owned(), namespace.to_owned(), name.to_owned())
}

/// The Broker that eventing's namespace injection would create, when a Trigger or a
/// ref names it and no manifest defines it.
pub const DEFAULT_BROKER: &str = "default";

/// What the per-kind modules share while they plan: the documents by key, the problems
/// found so far, and the plan being built.
struct Planner<'a> {
    documents: &'a [Document],
    index: HashMap<Key, &'a Document>,
    problems: Problems,
    plan: Plan,
    /// Namespaces whose Broker `default` is referred to without a manifest.
    implicit_brokers: BTreeSet<String>,
    /// The ConfigMaps and Secrets read for env, by key, as text.
    config: HashMap<Key, BTreeMap<String, String>>,
    /// SinkBindings, applied once every workload is planned.
    bindings: Vec<sources::Binding<'a>>,
    /// The document each planned service runs the pod template of, by index in
    /// `plan.services`.
    origins: Vec<(Key, usize)>,
}

/// Plans `documents`; every problem is reported at once, after those already `found`.
/// Without `images` (`fnmesh validate`), images are not resolved and no service is
/// planned: a cluster runs any image.
pub fn plan(documents: &[Document], images: Option<&Images>, found: Problems) -> Result<Plan, Problems> {
    let mut planner = Planner {
        documents,
        index: HashMap::new(),
        problems: found,
        plan: Plan::default(),
        implicit_brokers: BTreeSet::new(),
        config: HashMap::new(),
        bindings: Vec::new(),
        origins: Vec::new(),
    };
    for doc in documents {
        let k = key(doc.group(), &doc.kind_name, &doc.namespace, &doc.name);
        if let Some(first) = planner.index.insert(k, doc) {
            let message =
                format!("{} {} is defined twice (first in {})", doc.kind_name, doc.name, first.place.file.display());
            planner.problems.add(&doc.place, "metadata.name", message);
        }
    }
    for doc in documents {
        planner.document(doc, images);
    }
    planner.bind_sinks(images);
    planner.implicit_default_brokers();
    let Planner { problems, mut plan, config, .. } = planner;
    plan.warnings.extend(brokers::loops(documents));
    plan.ignored = documents
        .iter()
        .filter(|d| d.kind == Kind::Other && !config.contains_key(&key(d.group(), &d.kind_name, &d.namespace, &d.name)))
        .map(|d| format!("{} {} {}", d.api_version, d.kind_name, d.name))
        .collect();
    problems.into_result(plan)
}

impl<'a> Planner<'a> {
    /// Plans one document with the module of its kind.
    fn document(&mut self, doc: &'a Document, images: Option<&Images>) {
        if doc.kind == Kind::Other {
            // Listed in `Plan::ignored` (ConfigMaps and Secrets are read by env).
            return;
        }
        match &doc.spec {
            Some(Spec::KService(spec)) => self.kservice(doc, spec, images),
            Some(Spec::CoreService(spec)) => self.core_service(doc, spec, images),
            // Runs only behind a v1 Service that selects its pods.
            Some(Spec::Deployment(_)) => {}
            Some(Spec::Channel(spec)) => self.channel(doc, spec),
            Some(Spec::Subscription(spec)) => self.subscription(doc, spec),
            Some(Spec::Sequence(spec)) => self.sequence(doc, spec),
            Some(Spec::Parallel(spec)) => self.parallel(doc, spec),
            Some(Spec::PingSource(spec)) => self.ping(doc, spec),
            Some(Spec::ContainerSource(spec)) => self.container_source(doc, spec, images),
            Some(Spec::SinkBinding(spec)) => self.sink_binding(doc, spec),
            Some(Spec::Broker(_)) => self.broker(doc),
            Some(Spec::Trigger(spec)) => self.trigger(doc, spec),
            // The spec did not fit: its problems are already reported.
            None => {}
        }
        if doc.kind != Kind::Deployment {
            self.row(doc.kind, &doc.namespace, &doc.name);
        }
    }

    /// A row for `fnmesh get`, with the address Knative would report.
    fn row(&mut self, kind: Kind, namespace: &str, name: &str) {
        let row = self.object_row(kind, namespace, name);
        self.plan.objects.push(row);
    }

    /// The document `kind`/`name` in `namespace`, if the set defines it.
    fn find(&self, kind: Kind, namespace: &str, name: &str) -> Option<&'a Document> {
        self.index.get(&key(kind.group(), kind.name(), namespace, name)).copied()
    }

    /// Every document of `kind`, in the manifests' order.
    fn all(&self, kind: Kind) -> impl Iterator<Item = &'a Document> + use<'a> {
        self.documents.iter().filter(move |d| d.kind == kind)
    }
}
