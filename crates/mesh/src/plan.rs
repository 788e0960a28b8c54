//! What the Knative controllers would make of the manifests: workloads, channels with
//! their subscriptions (Sequence and Parallel expanded as upstream does), brokers with
//! their triggers, ping sources; every destination resolved to a URL. All problems are
//! collected before anything starts.

use std::collections::{BTreeMap, HashMap};

use fnmesh_runtime::FunctionSpec;
use serde::de::DeserializeOwned;

use crate::address::{self, channel_host};
use crate::delivery::{self, DeliveryPolicy, Target};
use crate::filters::EventFilter;
use crate::images::Images;
use crate::manifest::{Document, group_of};
use crate::model::*;
use crate::ping::PingPlan;
use crate::problems::Problems;

/// The annotation that runs a local command as a service instead of an image.
pub const COMMAND_ANNOTATION: &str = "fnmesh.dev/command";
/// The annotation that makes a channel answer before its subscribers are done.
pub const ASYNC_ANNOTATION: &str = "messaging.knative.dev/async-handler";

/// Everything `fnmesh run` starts.
#[derive(Debug, Default)]
pub struct Plan {
    pub services: Vec<ServicePlan>,
    pub channels: Vec<ChannelPlan>,
    pub brokers: Vec<BrokerPlan>,
    pub pings: Vec<PingPlan>,
    /// What `fnmesh get` lists.
    pub objects: Vec<ObjectRow>,
    /// Valid but probably not meant: loops the broker TTL cannot stop.
    pub warnings: Vec<String>,
}

/// A workload: a Knative Service, or a v1 Service in front of a Deployment.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    pub name: String,
    pub namespace: String,
    /// `name.namespace.svc.cluster.local`.
    pub host: String,
    pub run: Workload,
    pub env: Vec<(String, String)>,
    /// `containerConcurrency`: at most this many requests at once; more wait, as
    /// Knative's queue-proxy makes them wait. `None`: no limit.
    pub concurrency: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum Workload {
    Function(FunctionSpec),
    /// A shell command (annotation `fnmesh.dev/command`), given `PORT`.
    Command(String),
}

#[derive(Debug, Clone)]
pub struct ChannelPlan {
    /// `C-kn-channel.namespace.svc.cluster.local`.
    pub host: String,
    /// For logs: `channel/C`, `sequence/Q step 0`, `parallel/P`, `parallel/P branch 1`.
    pub label: String,
    pub asynchronous: bool,
    pub subscriptions: Vec<SubscriptionPlan>,
}

#[derive(Debug, Clone)]
pub struct SubscriptionPlan {
    /// For logs, e.g. `sequence/sequence step 1`.
    pub label: String,
    /// `None` forwards every event to `reply` (a Parallel branch without a filter).
    pub subscriber: Option<Target>,
    pub reply: Option<Target>,
    pub delivery: DeliveryPolicy,
}

#[derive(Debug, Clone)]
pub struct BrokerPlan {
    pub namespace: String,
    pub name: String,
    pub triggers: Vec<TriggerPlan>,
}

#[derive(Debug, Clone)]
pub struct TriggerPlan {
    pub name: String,
    pub filter: EventFilter,
    pub subscriber: Target,
    pub delivery: DeliveryPolicy,
}

/// One row of `fnmesh get`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ObjectRow {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub url: String,
}

/// Identifies an object: API group, kind, namespace, name.
type Key = (String, String, String, String);

fn key(group: &str, kind: &str, namespace: &str, name: &str) -> Key {
    (group.to_owned(), kind.to_owned(), namespace.to_owned(), name.to_owned())
}

/// The namespace where an implicit Broker `default` exists, as eventing's namespace
/// injection makes it, when a Trigger or a ref names it and no manifest defines it.
const DEFAULT_BROKER: &str = "default";

struct Planner<'a> {
    documents: &'a [Document],
    index: HashMap<Key, &'a Document>,
    problems: Problems,
    plan: Plan,
    /// Brokers `default` referred to without a manifest.
    implicit_brokers: BTreeMap<String, ()>,
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
        implicit_brokers: BTreeMap::new(),
    };
    for doc in documents {
        let k = key(doc.group(), &doc.kind, &doc.namespace, &doc.name);
        if let Some(first) = planner.index.insert(k, doc) {
            let message =
                format!("{} {} is defined twice (first in {})", doc.kind, doc.name, first.place.file.display());
            planner.problems.add(&doc.place, "metadata.name", message);
        }
    }
    for doc in documents {
        planner.document(doc, images);
    }
    for namespace in planner.implicit_brokers.keys().cloned().collect::<Vec<_>>() {
        let triggers = planner.triggers_of(&namespace, DEFAULT_BROKER);
        planner.plan.brokers.push(BrokerPlan { namespace: namespace.clone(), name: DEFAULT_BROKER.into(), triggers });
        planner.row(
            "broker",
            &namespace,
            DEFAULT_BROKER,
            address::address("eventing.knative.dev", "Broker", &namespace, DEFAULT_BROKER),
        );
    }
    let Planner { problems, mut plan, .. } = planner;
    plan.warnings = loops(documents);
    problems.into_result(plan)
}

impl Planner<'_> {
    fn spec<T: DeserializeOwned>(&mut self, doc: &Document) -> Option<T> {
        let Some(spec) = doc.value.get("spec") else {
            self.problems.add(&doc.place, "spec", "required");
            return None;
        };
        match crate::yaml::typed::<T>(spec) {
            Ok(spec) => Some(spec),
            Err((path, message)) => {
                let path = if path.is_empty() { "spec".to_owned() } else { format!("spec.{path}") };
                self.problems.add(&doc.place, path, message);
                None
            }
        }
    }

    fn metadata(&mut self, doc: &Document) -> Metadata {
        match doc.value.get("metadata").map(crate::yaml::typed::<Metadata>) {
            Some(Ok(metadata)) => metadata,
            Some(Err((path, message))) => {
                self.problems.add(&doc.place, format!("metadata.{path}"), message);
                Metadata::default()
            }
            None => Metadata::default(),
        }
    }

    fn row(&mut self, kind: &str, namespace: &str, name: &str, url: Option<url::Url>) {
        let url = url.map(|u| u.to_string().trim_end_matches('/').to_owned()).unwrap_or_default();
        self.plan.objects.push(ObjectRow { kind: kind.into(), namespace: namespace.into(), name: name.into(), url });
    }

    fn document(&mut self, doc: &Document, images: Option<&Images>) {
        if let Some(spec) = doc.value.get("spec")
            && let Some(unknown) = crate::unknown::unknown_fields(doc.group(), &doc.kind, spec)
        {
            for path in unknown {
                self.problems.add(&doc.place, path, "unknown field (not in the Knative API)");
            }
        }
        let address = address::address(doc.group(), &doc.kind, &doc.namespace, &doc.name);
        match (doc.group(), doc.kind.as_str()) {
            ("serving.knative.dev", "Service") => {
                if let Some(spec) = self.spec::<KServiceSpec>(doc) {
                    let metadata = self.metadata(doc);
                    self.workload(doc, &metadata, &spec.template, images, &doc.name);
                }
                self.row("ksvc", &doc.namespace, &doc.name, address);
            }
            ("apps", "Deployment") => {
                // Runs only behind a v1 Service that selects its pods.
                self.spec::<DeploymentSpec>(doc);
            }
            ("", "Service") => {
                self.core_service(doc, images);
                self.row("service", &doc.namespace, &doc.name, address);
            }
            ("messaging.knative.dev", "InMemoryChannel" | "Channel") => {
                self.channel(doc);
                self.row(&doc.kind.to_lowercase(), &doc.namespace, &doc.name, address);
            }
            ("messaging.knative.dev", "Subscription") => {
                self.subscription(doc);
                self.row("subscription", &doc.namespace, &doc.name, None);
            }
            ("flows.knative.dev", "Sequence") => {
                self.sequence(doc);
                self.row("sequence", &doc.namespace, &doc.name, address);
            }
            ("flows.knative.dev", "Parallel") => {
                self.parallel(doc);
                self.row("parallel", &doc.namespace, &doc.name, address);
            }
            ("sources.knative.dev", "PingSource") => {
                self.ping(doc);
                self.row("pingsource", &doc.namespace, &doc.name, None);
            }
            ("eventing.knative.dev", "Broker") => {
                let triggers = self.triggers_of(&doc.namespace, &doc.name);
                if doc.value.get("spec").is_some() {
                    self.spec::<BrokerSpec>(doc);
                }
                let broker = BrokerPlan { namespace: doc.namespace.clone(), name: doc.name.clone(), triggers };
                self.plan.brokers.push(broker);
                self.row("broker", &doc.namespace, &doc.name, address);
            }
            ("eventing.knative.dev", "Trigger") => {
                // Planned with its broker; checked here.
                if let Some(spec) = self.spec::<TriggerSpec>(doc)
                    && self.broker_doc(&doc.namespace, &spec.broker).is_none()
                {
                    if spec.broker == DEFAULT_BROKER {
                        self.implicit_brokers.insert(doc.namespace.clone(), ());
                    } else {
                        let message = format!("no Broker {} in namespace {}", spec.broker, doc.namespace);
                        self.problems.add(&doc.place, "spec.broker", message);
                    }
                }
                self.row("trigger", &doc.namespace, &doc.name, None);
            }
            (_, kind) => self.problems.add(
                &doc.place,
                "kind",
                format!(
                    "{} {kind} is not something fnmesh run emulates (it runs serving.knative.dev Service, apps/v1 \
                     Deployment + v1 Service, Sequence, Parallel, InMemoryChannel, Channel, Subscription, PingSource, \
                     Broker, Trigger)",
                    doc.api_version
                ),
            ),
        }
    }

    fn broker_doc(&self, namespace: &str, name: &str) -> Option<&Document> {
        self.index.get(&key("eventing.knative.dev", "Broker", namespace, name)).copied()
    }

    /// Resolves a destination found at `path` of `doc`.
    fn destination(&mut self, doc: &Document, path: &str, destination: &Destination) -> Option<Target> {
        match self.resolve(doc, destination) {
            Ok(target) => Some(target),
            Err((sub, message)) => {
                let path = if sub.is_empty() { path.to_owned() } else { format!("{path}.{sub}") };
                self.problems.add(&doc.place, path, message);
                None
            }
        }
    }

    fn resolve(&mut self, doc: &Document, destination: &Destination) -> Result<Target, (String, String)> {
        let base = match &destination.reference {
            Some(r) => {
                let group = group_of(&r.api_version);
                let namespace = r.namespace.clone().unwrap_or_else(|| doc.namespace.clone());
                let exists = self.index.contains_key(&key(group, &r.kind, &namespace, &r.name));
                let implicit =
                    (group, r.kind.as_str(), r.name.as_str()) == ("eventing.knative.dev", "Broker", DEFAULT_BROKER);
                if !exists && !implicit {
                    return Err((
                        "ref".into(),
                        format!("no {} {} in namespace {namespace} ({})", r.kind, r.name, r.api_version),
                    ));
                }
                if !exists {
                    self.implicit_brokers.insert(namespace.clone(), ());
                }
                let url = address::address(group, &r.kind, &namespace, &r.name).ok_or_else(|| {
                    ("ref".to_owned(), format!("a {} ({}) has no address to send events to", r.kind, r.api_version))
                })?;
                Some((url, r.name.clone()))
            }
            None => None,
        };
        match (base, destination.uri.as_deref()) {
            (Some((url, name)), None) => Ok(Target { url, name }),
            (Some((base, name)), Some(uri)) => match base.join(uri) {
                Ok(url) => Ok(Target { name: format!("{name}{}", url.path()), url }),
                Err(e) => Err(("uri".into(), format!("cannot resolve {uri:?} against {base}: {e}"))),
            },
            (None, Some(uri)) => match url::Url::parse(uri) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(Target { name: uri.to_owned(), url }),
                Ok(_) => Err(("uri".into(), format!("{uri:?} is not an http(s) URL"))),
                Err(e) => {
                    Err(("uri".into(), format!("{uri:?} is not an absolute URL ({e}); a relative uri needs a ref")))
                }
            },
            (None, None) => Err((String::new(), "set ref or uri".into())),
        }
    }

    fn delivery(&mut self, doc: &Document, path: &str, spec: Option<&DeliverySpec>) -> DeliveryPolicy {
        let Some(spec) = spec else { return DeliveryPolicy::default() };
        let dead_letter =
            spec.dead_letter_sink.as_ref().and_then(|d| self.destination(doc, &format!("{path}.deadLetterSink"), d));
        match delivery::policy(spec, path, dead_letter) {
            Ok(policy) => policy,
            Err(problems) => {
                for (path, message) in problems {
                    self.problems.add(&doc.place, path, message);
                }
                DeliveryPolicy::default()
            }
        }
    }

    fn workload(
        &mut self,
        doc: &Document,
        metadata: &Metadata,
        template: &PodTemplate,
        images: Option<&Images>,
        name: &str,
    ) {
        let command =
            metadata.annotations.get(COMMAND_ANNOTATION).or(template.metadata.annotations.get(COMMAND_ANNOTATION));
        let Some(container) = template.spec.containers.first() else {
            self.problems.add(&doc.place, "spec.template.spec.containers", "at least one container is required");
            return;
        };
        let Some(images) = images else { return };
        let run = match command {
            Some(command) => Workload::Command(command.clone()),
            None => match images.resolve(&container.image) {
                Ok(spec) => Workload::Function(spec),
                Err(message) => {
                    self.problems.add(&doc.place, "spec.template.spec.containers[0].image", message);
                    return;
                }
            },
        };
        let env = container.env.iter().map(|e| (e.name.clone(), e.value.clone().unwrap_or_default())).collect();
        self.plan.services.push(ServicePlan {
            name: name.to_owned(),
            namespace: doc.namespace.clone(),
            host: format!("{name}.{}.svc.cluster.local", doc.namespace),
            run,
            env,
            concurrency: template.spec.container_concurrency.filter(|c| *c > 0).map(|c| c as usize),
        });
    }

    fn core_service(&mut self, doc: &Document, images: Option<&Images>) {
        let Some(spec) = self.spec::<CoreServiceSpec>(doc) else { return };
        if spec.selector.is_empty() {
            self.problems.add(
                &doc.place,
                "spec.selector",
                "required: fnmesh runs the Deployment whose pods it selects",
            );
            return;
        }
        let deployments: Vec<&Document> = self
            .documents
            .iter()
            .filter(|d| (d.group(), d.kind.as_str()) == ("apps", "Deployment") && d.namespace == doc.namespace)
            .collect();
        for deployment in deployments {
            let Some(Ok(spec_d)) = deployment.value.get("spec").map(crate::yaml::typed::<DeploymentSpec>) else {
                continue;
            };
            let labels = &spec_d.template.metadata.labels;
            if spec.selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                let metadata = self.metadata(deployment);
                self.workload(deployment, &metadata, &spec_d.template, images, &doc.name);
                return;
            }
        }
        let wanted: Vec<String> = spec.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.problems.add(
            &doc.place,
            "spec.selector",
            format!("no apps/v1 Deployment in namespace {} has pods labelled {}", doc.namespace, wanted.join(",")),
        );
    }

    fn channel(&mut self, doc: &Document) {
        let spec = if doc.value.get("spec").is_some() {
            self.spec::<ChannelSpec>(doc).unwrap_or_default()
        } else {
            ChannelSpec::default()
        };
        let metadata = self.metadata(doc);
        let delivery =
            spec.delivery.clone().or_else(|| spec.channel_template.and_then(|t| t.spec).and_then(|s| s.delivery));
        // Subscriptions on this channel: planned here so the channel knows them all.
        let mut subscriptions = Vec::new();
        for sub_doc in
            self.documents.iter().filter(|d| (d.group(), d.kind.as_str()) == ("messaging.knative.dev", "Subscription"))
        {
            let Some(Ok(sub)) = sub_doc.value.get("spec").map(crate::yaml::typed::<SubscriptionSpec>) else { continue };
            let namespace = sub.channel.namespace.clone().unwrap_or_else(|| sub_doc.namespace.clone());
            if sub.channel.name != doc.name || namespace != doc.namespace || sub.channel.kind != doc.kind {
                continue;
            }
            let subscriber = sub.subscriber.as_ref().and_then(|d| self.destination(sub_doc, "spec.subscriber", d));
            let reply = sub.reply.as_ref().and_then(|d| self.destination(sub_doc, "spec.reply", d));
            let delivery = match &sub.delivery {
                Some(_) => self.delivery(sub_doc, "spec.delivery", sub.delivery.as_ref()),
                None => self.delivery(doc, "spec.delivery", delivery.as_ref()),
            };
            subscriptions.push(SubscriptionPlan {
                label: format!("subscription/{}", sub_doc.name),
                subscriber,
                reply,
                delivery,
            });
        }
        self.plan.channels.push(ChannelPlan {
            host: channel_host(&doc.name, &doc.namespace),
            label: format!("channel/{}", doc.name),
            asynchronous: is_async(&metadata),
            subscriptions,
        });
    }

    /// Checks a Subscription; it is planned with its channel.
    fn subscription(&mut self, doc: &Document) {
        let Some(spec) = self.spec::<SubscriptionSpec>(doc) else { return };
        let group = group_of(&spec.channel.api_version);
        let namespace = spec.channel.namespace.clone().unwrap_or_else(|| doc.namespace.clone());
        if !matches!(spec.channel.kind.as_str(), "InMemoryChannel" | "Channel") || group != "messaging.knative.dev" {
            self.problems.add(
                &doc.place,
                "spec.channel",
                "must refer to an InMemoryChannel or a Channel (messaging.knative.dev/v1)",
            );
        } else if !self.index.contains_key(&key(group, &spec.channel.kind, &namespace, &spec.channel.name)) {
            self.problems.add(
                &doc.place,
                "spec.channel",
                format!("no {} {} in namespace {namespace}", spec.channel.kind, spec.channel.name),
            );
        }
    }

    fn sequence(&mut self, doc: &Document) {
        let Some(spec) = self.spec::<SequenceSpec>(doc) else { return };
        let metadata = self.metadata(doc);
        if spec.steps.is_empty() {
            self.problems.add(&doc.place, "spec.steps", "at least one step is required");
            return;
        }
        let template_delivery =
            spec.channel_template.as_ref().and_then(|t| t.spec.as_ref()).and_then(|s| s.delivery.clone());
        let reply = spec.reply.as_ref().and_then(|d| self.destination(doc, "spec.reply", d));
        let n = spec.steps.len();
        for (i, step) in spec.steps.iter().enumerate() {
            let subscriber = self.destination(doc, &format!("spec.steps[{i}]"), &step.destination());
            let delivery = match &step.delivery {
                Some(d) => self.delivery(doc, &format!("spec.steps[{i}].delivery"), Some(d)),
                None => self.delivery(doc, "spec.channelTemplate.spec.delivery", template_delivery.as_ref()),
            };
            let next = if i + 1 < n {
                let host = channel_host(&address::sequence_channel(&doc.name, i + 1), &doc.namespace);
                url::Url::parse(&format!("http://{host}"))
                    .ok()
                    .map(|url| Target { url, name: format!("step {}", i + 1) })
            } else {
                reply.clone()
            };
            self.plan.channels.push(ChannelPlan {
                host: channel_host(&address::sequence_channel(&doc.name, i), &doc.namespace),
                label: format!("sequence/{} step {i}", doc.name),
                asynchronous: is_async(&metadata),
                subscriptions: vec![SubscriptionPlan {
                    label: format!("sequence/{} step {i}", doc.name),
                    subscriber,
                    reply: next,
                    delivery,
                }],
            });
        }
    }

    fn parallel(&mut self, doc: &Document) {
        let Some(spec) = self.spec::<ParallelSpec>(doc) else { return };
        let metadata = self.metadata(doc);
        let template_delivery =
            spec.channel_template.as_ref().and_then(|t| t.spec.as_ref()).and_then(|s| s.delivery.clone());
        let reply = spec.reply.as_ref().and_then(|d| self.destination(doc, "spec.reply", d));
        let mut filters = Vec::new();
        for (i, branch) in spec.branches.iter().enumerate() {
            let path = format!("spec.branches[{i}]");
            let delivery = match &branch.delivery {
                Some(d) => self.delivery(doc, &format!("{path}.delivery"), Some(d)),
                None => self.delivery(doc, "spec.channelTemplate.spec.delivery", template_delivery.as_ref()),
            };
            let filter = branch.filter.as_ref().and_then(|d| self.destination(doc, &format!("{path}.filter"), d));
            let subscriber = self.destination(doc, &format!("{path}.subscriber"), &branch.subscriber);
            let branch_reply = match &branch.reply {
                Some(d) => self.destination(doc, &format!("{path}.reply"), d),
                None => reply.clone(),
            };
            let branch_channel = address::parallel_branch(&doc.name, i);
            let branch_host = channel_host(&branch_channel, &doc.namespace);
            let branch_target = url::Url::parse(&format!("http://{branch_host}"))
                .ok()
                .map(|url| Target { url, name: format!("branch {i}") });
            filters.push(SubscriptionPlan {
                label: format!("parallel/{} filter {i}", doc.name),
                subscriber: filter,
                reply: branch_target,
                delivery: delivery.clone(),
            });
            self.plan.channels.push(ChannelPlan {
                host: branch_host,
                label: format!("parallel/{} branch {i}", doc.name),
                asynchronous: is_async(&metadata),
                subscriptions: vec![SubscriptionPlan {
                    label: format!("parallel/{} branch {i}", doc.name),
                    subscriber,
                    reply: branch_reply,
                    delivery,
                }],
            });
        }
        self.plan.channels.push(ChannelPlan {
            host: channel_host(&address::parallel_ingress(&doc.name), &doc.namespace),
            label: format!("parallel/{}", doc.name),
            asynchronous: is_async(&metadata),
            subscriptions: filters,
        });
    }

    fn ping(&mut self, doc: &Document) {
        let Some(spec) = self.spec::<PingSourceSpec>(doc) else { return };
        let sink = self.destination(doc, "spec.sink", &spec.sink);
        match crate::ping::plan(doc, &spec) {
            Ok(mut ping) => {
                if let Some(sink) = sink {
                    ping.sink = sink;
                    self.plan.pings.push(ping);
                }
            }
            Err(problems) => {
                for (path, message) in problems {
                    self.problems.add(&doc.place, path, message);
                }
            }
        }
    }

    fn triggers_of(&mut self, namespace: &str, broker: &str) -> Vec<TriggerPlan> {
        let broker_delivery = self
            .broker_doc(namespace, broker)
            .and_then(|d| d.value.get("spec").map(crate::yaml::typed::<BrokerSpec>))
            .and_then(Result::ok)
            .and_then(|s| s.delivery);
        let broker_doc = self.broker_doc(namespace, broker).cloned();
        let mut triggers = Vec::new();
        let documents = self.documents;
        for doc in documents.iter().filter(|d| (d.group(), d.kind.as_str()) == ("eventing.knative.dev", "Trigger")) {
            if doc.namespace != namespace {
                continue;
            }
            let Some(Ok(spec)) = doc.value.get("spec").map(crate::yaml::typed::<TriggerSpec>) else { continue };
            if spec.broker != broker {
                continue;
            }
            let filter = match EventFilter::of_trigger(spec.filter.as_ref(), spec.filters.as_deref()) {
                Ok(filter) => filter,
                Err(problems) => {
                    for (path, message) in problems {
                        self.problems.add(&doc.place, path, message);
                    }
                    continue;
                }
            };
            let Some(subscriber) = self.destination(doc, "spec.subscriber", &spec.subscriber) else { continue };
            let delivery = match (&spec.delivery, &broker_doc) {
                (Some(d), _) => self.delivery(doc, "spec.delivery", Some(d)),
                (None, Some(b)) => self.delivery(b, "spec.delivery", broker_delivery.as_ref()),
                (None, None) => DeliveryPolicy::default(),
            };
            triggers.push(TriggerPlan { name: doc.name.clone(), filter, subscriber, delivery });
        }
        triggers
    }
}

/// A Trigger that feeds a Sequence or Parallel whose reply goes back to the same broker:
/// the trigger takes `knativebrokerttl` off before delivery (as upstream does), so on a
/// cluster the reply enters the broker as a new event, and if it matches the trigger
/// again it loops for ever (`fnmesh run` carries the TTL through and stops it).
fn loops(documents: &[Document]) -> Vec<String> {
    let typed = |doc: &Document| doc.value.get("spec").cloned();
    let mut warnings = Vec::new();
    for trigger in documents.iter().filter(|d| (d.group(), d.kind.as_str()) == ("eventing.knative.dev", "Trigger")) {
        let Some(Ok(spec)) = typed(trigger).map(|v| crate::yaml::typed::<TriggerSpec>(&v)) else { continue };
        let Some(target) =
            spec.subscriber.reference.as_ref().filter(|r| group_of(&r.api_version) == "flows.knative.dev")
        else {
            continue;
        };
        let Some(flow) = documents
            .iter()
            .find(|d| d.kind == target.kind && d.name == target.name && d.namespace == trigger.namespace)
        else {
            continue;
        };
        let replies: Vec<Destination> = match flow.kind.as_str() {
            "Sequence" => typed(flow)
                .and_then(|v| crate::yaml::typed::<SequenceSpec>(&v).ok())
                .and_then(|s| s.reply)
                .into_iter()
                .collect(),
            _ => typed(flow)
                .and_then(|v| crate::yaml::typed::<ParallelSpec>(&v).ok())
                .map(|p| p.branches.iter().filter_map(|b| b.reply.clone()).chain(p.reply).collect())
                .unwrap_or_default(),
        };
        let back =
            replies.iter().filter_map(|r| r.reference.as_ref()).any(|r| r.kind == "Broker" && r.name == spec.broker);
        if back {
            warnings.push(format!(
                "{}: trigger {} feeds {} {} whose reply goes back to broker {}: if the reply matches the trigger \
                 again the events loop; fnmesh run stops the loop when the broker TTL runs out, but a cluster \
                 does not (the trigger takes knativebrokerttl off before the flow sees it); give the reply \
                 another type, or filter it out",
                trigger.place.file.display(),
                trigger.name,
                flow.kind,
                flow.name,
                spec.broker
            ));
        }
    }
    warnings
}

fn is_async(metadata: &Metadata) -> bool {
    metadata.annotations.get(ASYNC_ANNOTATION).is_some_and(|v| v == "true")
}
