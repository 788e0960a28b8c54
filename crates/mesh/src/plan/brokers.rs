//! Broker and Trigger: each broker with the triggers on it (filter compiled, subscriber
//! resolved, delivery the trigger's else the broker's), the Broker `default` that
//! namespace injection would create, and the loops a cluster's broker TTL cannot stop.

use super::filters::EventFilter;
use super::{BrokerPlan, DEFAULT_BROKER, Planner, TriggerPlan};
use crate::manifests::model::{DeliverySpec, Destination, TriggerSpec};
use crate::manifests::{Document, Kind, Spec};

impl Planner<'_> {
    pub(super) fn broker(&mut self, doc: &Document) {
        let triggers = self.triggers_of(&doc.namespace, &doc.name);
        self.plan.brokers.push(BrokerPlan { namespace: doc.namespace.clone(), name: doc.name.clone(), triggers });
    }

    /// Checks a Trigger; it is planned with its broker.
    pub(super) fn trigger(&mut self, doc: &Document, spec: &TriggerSpec) {
        let broker = spec.broker_name();
        if self.find(Kind::Broker, &doc.namespace, broker).is_some() {
            return;
        }
        let path = if spec.broker.is_some() { "spec.broker" } else { "spec.brokerRef" };
        if broker == DEFAULT_BROKER {
            self.implicit_brokers.insert(doc.namespace.clone());
        } else {
            let message = format!("no Broker {broker} in namespace {}", doc.namespace);
            self.problems.add(&doc.place, path, message);
        }
    }

    /// The Brokers `default` that triggers or refs named and no manifest defines.
    pub(super) fn implicit_default_brokers(&mut self) {
        for namespace in std::mem::take(&mut self.implicit_brokers) {
            let triggers = self.triggers_of(&namespace, DEFAULT_BROKER);
            self.plan.brokers.push(BrokerPlan { namespace: namespace.clone(), name: DEFAULT_BROKER.into(), triggers });
            self.row(Kind::Broker, &namespace, DEFAULT_BROKER);
        }
    }

    fn triggers_of(&mut self, namespace: &str, broker: &str) -> Vec<TriggerPlan> {
        let broker_doc = self.find(Kind::Broker, namespace, broker);
        // A Broker without `delivery:` gets the cluster's default (`config-br-defaults`).
        let broker_delivery = match broker_doc.and_then(|d| d.spec.as_ref()) {
            Some(Spec::Broker(spec)) => spec.delivery.clone(),
            _ => None,
        }
        .unwrap_or_else(default_broker_delivery);
        let mut triggers = Vec::new();
        for doc in self.all(Kind::Trigger).filter(|d| d.namespace == namespace) {
            let Some(Spec::Trigger(spec)) = &doc.spec else { continue };
            if spec.broker_name() != broker {
                continue;
            }
            let filter = match EventFilter::of_trigger(spec.filter.as_ref(), spec.filters.as_deref()) {
                Ok(filter) => filter,
                Err(problems) => {
                    self.problems.extend(&doc.place, problems);
                    continue;
                }
            };
            let Some(subscriber) = self.destination(doc, "spec.subscriber", &spec.subscriber) else { continue };
            // The trigger's delivery replaces the broker's as a whole, but its dead letter
            // sink falls back to the broker's.
            let fallback = broker_doc.unwrap_or(doc);
            let delivery = self.delivery_or(
                spec.delivery.as_ref().map(|d| (doc, "spec.delivery", d)),
                Some((fallback, "spec.delivery", &broker_delivery)),
            );
            let structured = spec.delivery.as_ref().and_then(|d| d.format.as_deref()) == Some("json");
            triggers.push(TriggerPlan { name: doc.name.clone(), filter, subscriber, delivery, structured });
        }
        triggers
    }
}

/// The delivery of a Broker that has none: the cluster default of `config-br-defaults`
/// (knative/eventing `config/core/configmaps/default-broker.yaml`): 10 retries,
/// exponential backoff from 0.2 s.
pub fn default_broker_delivery() -> DeliverySpec {
    DeliverySpec {
        retry: Some(10),
        backoff_policy: Some("exponential".into()),
        backoff_delay: Some("PT0.2S".into()),
        ..DeliverySpec::default()
    }
}

/// A Trigger that feeds a Sequence or Parallel whose reply goes back to the same broker:
/// the trigger takes `knativebrokerttl` off before delivery (as upstream does), so on a
/// cluster the reply enters the broker as a new event, and if it matches the trigger
/// again it loops for ever (`fnmesh run` carries the TTL through and stops it).
pub fn loops(documents: &[Document]) -> Vec<String> {
    let mut warnings = Vec::new();
    for trigger in documents.iter().filter(|d| d.kind == Kind::Trigger) {
        let Some(Spec::Trigger(spec)) = &trigger.spec else { continue };
        let Some(target) = spec.subscriber.reference.as_ref() else { continue };
        let kind = Kind::of_api_version(&target.api_version, &target.kind);
        let Some(flow) = documents
            .iter()
            .filter(|d| matches!(kind, Kind::Sequence | Kind::Parallel) && d.kind == kind)
            .find(|d| d.name == target.name && d.namespace == trigger.namespace)
        else {
            continue;
        };
        let replies: Vec<&Destination> = match &flow.spec {
            Some(Spec::Sequence(s)) => s.reply.iter().collect(),
            Some(Spec::Parallel(p)) => {
                p.branches.iter().filter_map(|b| b.reply.as_ref()).chain(p.reply.as_ref()).collect()
            }
            _ => Vec::new(),
        };
        let back = replies
            .iter()
            .filter_map(|r| r.reference.as_ref())
            .any(|r| r.kind == "Broker" && r.name == spec.broker_name());
        if back {
            warnings.push(format!(
                "{}: trigger {} feeds {} {} whose reply goes back to broker {}: if the reply matches the trigger \
                 again the events loop; fnmesh run stops the loop when the broker TTL runs out, but a cluster \
                 does not (the trigger takes knativebrokerttl off before the flow sees it); give the reply \
                 another type, or filter it out",
                trigger.place.file.display(),
                trigger.name,
                flow.kind_name,
                flow.name,
                spec.broker_name()
            ));
        }
    }
    warnings
}
