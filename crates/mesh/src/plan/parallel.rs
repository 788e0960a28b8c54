//! Parallel, expanded as the flows controller does: an ingress channel `P-kn-parallel`
//! with one filter subscription per branch (subscriber = the branch's filter, reply = the
//! branch channel; no filter: every event goes to the branch), and per branch a channel
//! `P-kn-parallel-i` whose subscription calls the branch's subscriber and sends its reply
//! to the branch's reply, else the Parallel's. The filter subscriptions use the channel
//! template's delivery; a branch's subscription its own, else the template's.

use super::address::{self, channel_host, channel_url};
use super::{ChannelPlan, Planner, SubscriptionPlan, Target};
use crate::manifests::Document;
use crate::manifests::model::ParallelSpec;

impl Planner<'_> {
    pub(super) fn parallel(&mut self, doc: &Document, spec: &ParallelSpec) {
        let template_delivery =
            spec.channel_template.as_ref().and_then(|t| t.spec.as_ref()).and_then(|s| s.delivery.as_ref());
        let reply = spec.reply.as_ref().and_then(|d| self.destination(doc, "spec.reply", d));
        let mut filters = Vec::new();
        for (i, branch) in spec.branches.iter().enumerate() {
            let path = format!("spec.branches[{i}]");
            let delivery_path = format!("{path}.delivery");
            let template = template_delivery.map(|d| (doc, "spec.channelTemplate.spec.delivery", d));
            let delivery =
                self.delivery_or(branch.delivery.as_ref().map(|d| (doc, delivery_path.as_str(), d)), template);
            // The filter subscription has no delivery of its own: it uses the ingress
            // channel's, the template's (`pkg/reconciler/parallel/resources/subscription.go`).
            let filter_delivery = self.delivery_or(None, template);
            let filter = branch.filter.as_ref().and_then(|d| self.destination(doc, &format!("{path}.filter"), d));
            let subscriber = self.destination(doc, &format!("{path}.subscriber"), &branch.subscriber);
            let branch_reply = match &branch.reply {
                Some(d) => self.destination(doc, &format!("{path}.reply"), d),
                None => reply.clone(),
            };
            let branch_host = channel_host(&address::parallel_branch(&doc.name, i), &doc.namespace);
            let branch_target = channel_url(&branch_host).map(|url| Target { url, name: format!("branch {i}") });
            filters.push(SubscriptionPlan {
                label: format!("parallel/{} filter {i}", doc.name),
                subscriber: filter,
                reply: branch_target,
                delivery: filter_delivery,
            });
            self.plan.channels.push(ChannelPlan {
                host: branch_host,
                namespace: doc.namespace.clone(),
                label: format!("parallel/{} branch {i}", doc.name),
                asynchronous: false,
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
            namespace: doc.namespace.clone(),
            label: format!("parallel/{}", doc.name),
            // A Parallel does not copy the async annotation to its channels.
            asynchronous: false,
            subscriptions: filters,
        });
    }
}
