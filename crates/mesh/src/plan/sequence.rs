//! Sequence, expanded as the flows controller does: channel `Q-kn-sequence-i` per step
//! with one subscription (subscriber = the step, reply = the next step's channel, or the
//! Sequence's reply after the last step); delivery is the step's, else the channel
//! template's, the dead letter sink falling back on its own.

use super::address::{self, channel_host, channel_url};
use super::{ChannelPlan, Planner, SubscriptionPlan, Target};
use crate::manifests::Document;
use crate::manifests::model::SequenceSpec;

impl Planner<'_> {
    pub(super) fn sequence(&mut self, doc: &Document, spec: &SequenceSpec) {
        if spec.steps.is_empty() {
            self.problems.add(&doc.place, "spec.steps", "at least one step is required");
            return;
        }
        let template_delivery =
            spec.channel_template.as_ref().and_then(|t| t.spec.as_ref()).and_then(|s| s.delivery.as_ref());
        let reply = spec.reply.as_ref().and_then(|d| self.destination(doc, "spec.reply", d));
        let n = spec.steps.len();
        for (i, step) in spec.steps.iter().enumerate() {
            let subscriber = self.destination(doc, &format!("spec.steps[{i}]"), &step.destination());
            let path = format!("spec.steps[{i}].delivery");
            let delivery = self.delivery_or(
                step.delivery.as_ref().map(|d| (doc, path.as_str(), d)),
                template_delivery.map(|d| (doc, "spec.channelTemplate.spec.delivery", d)),
            );
            let next = if i + 1 < n {
                channel_url(&channel_host(&address::sequence_channel(&doc.name, i + 1), &doc.namespace))
                    .map(|url| Target { url, name: format!("step {}", i + 1) })
            } else {
                reply.clone()
            };
            self.plan.channels.push(ChannelPlan {
                host: channel_host(&address::sequence_channel(&doc.name, i), &doc.namespace),
                namespace: doc.namespace.clone(),
                label: format!("sequence/{} step {i}", doc.name),
                // The async annotation is an InMemoryChannel's own: a Sequence does not
                // copy its annotations to the channels it creates.
                asynchronous: false,
                subscriptions: vec![SubscriptionPlan {
                    label: format!("sequence/{} step {i}", doc.name),
                    subscriber,
                    reply: next,
                    delivery,
                }],
            });
        }
    }
}
