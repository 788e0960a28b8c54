//! Parallel, expanded as the flows controller does: an ingress channel `P-kn-parallel`
//! with one filter subscription per branch (subscriber = the branch's filter, reply = the
//! branch channel; no filter: every event goes to the branch), and per branch a channel
//! `P-kn-parallel-i` whose subscription calls the branch's subscriber and sends its reply
//! to the branch's reply, else the Parallel's.

use super::address::{self, channel_host, channel_url};
use super::channels::is_async;
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
            let delivery = match &branch.delivery {
                Some(d) => self.delivery(doc, &format!("{path}.delivery"), Some(d)),
                None => self.delivery(doc, "spec.channelTemplate.spec.delivery", template_delivery),
            };
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
                delivery: delivery.clone(),
            });
            self.plan.channels.push(ChannelPlan {
                host: branch_host,
                label: format!("parallel/{} branch {i}", doc.name),
                asynchronous: is_async(&doc.metadata),
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
            asynchronous: is_async(&doc.metadata),
            subscriptions: filters,
        });
    }
}
