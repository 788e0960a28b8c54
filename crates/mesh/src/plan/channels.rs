//! InMemoryChannel and Channel with the Subscriptions on them: each subscription's
//! subscriber, reply and delivery (its own, else the channel's).

use super::address::channel_host;
use super::{ChannelPlan, Planner, SubscriptionPlan};
use crate::manifests::model::{ChannelSpec, SubscriptionSpec};
use crate::manifests::serving::Metadata;
use crate::manifests::{Document, Kind, Spec};

/// The annotation that makes a channel answer before its subscribers are done.
pub const ASYNC_ANNOTATION: &str = "messaging.knative.dev/async-handler";

/// Whether the async annotation is on: an InMemoryChannel's own, read as Go's
/// `strconv.ParseBool` reads it (`pkg/channel/fanout/fanout_event_handler.go` for the
/// handler, `pkg/reconciler/inmemorychannel/dispatcher` for the annotation).
pub(super) fn is_async(kind: Kind, metadata: &Metadata) -> bool {
    kind == Kind::InMemoryChannel
        && metadata
            .annotations
            .get(ASYNC_ANNOTATION)
            .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "TRUE" | "true" | "True"))
}

impl Planner<'_> {
    pub(super) fn channel(&mut self, doc: &Document, spec: &ChannelSpec) {
        let (channel_path, delivery) = match &spec.delivery {
            Some(delivery) => ("spec.delivery", Some(delivery)),
            None => (
                "spec.channelTemplate.spec.delivery",
                spec.channel_template.as_ref().and_then(|t| t.spec.as_ref()).and_then(|s| s.delivery.as_ref()),
            ),
        };
        // Subscriptions on this channel: planned here so the channel knows them all.
        let mut subscriptions = Vec::new();
        for sub_doc in self.all(Kind::Subscription) {
            let Some(Spec::Subscription(sub)) = &sub_doc.spec else { continue };
            let namespace = sub.channel.namespace.as_deref().unwrap_or(&sub_doc.namespace);
            if sub.channel.name != doc.name || namespace != doc.namespace || sub.channel.kind != doc.kind_name {
                continue;
            }
            let subscriber = sub.subscriber.as_ref().and_then(|d| self.destination(sub_doc, "spec.subscriber", d));
            let reply = sub.reply.as_ref().and_then(|d| self.destination(sub_doc, "spec.reply", d));
            let delivery = self.delivery_or(
                sub.delivery.as_ref().map(|own| (sub_doc, "spec.delivery", own)),
                delivery.map(|d| (doc, channel_path, d)),
            );
            subscriptions.push(SubscriptionPlan {
                label: format!("subscription/{}", sub_doc.name),
                subscriber,
                reply,
                delivery,
            });
        }
        self.plan.channels.push(ChannelPlan {
            host: channel_host(&doc.name, &doc.namespace),
            namespace: doc.namespace.clone(),
            label: format!("channel/{}", doc.name),
            asynchronous: is_async(doc.kind, &doc.metadata),
            subscriptions,
        });
    }

    /// Checks a Subscription; it is planned with its channel.
    pub(super) fn subscription(&mut self, doc: &Document, spec: &SubscriptionSpec) {
        let kind = Kind::of_api_version(&spec.channel.api_version, &spec.channel.kind);
        let namespace = spec.channel.namespace.as_deref().unwrap_or(&doc.namespace);
        if !kind.is_channel() {
            self.problems.add(
                &doc.place,
                "spec.channel",
                "must refer to an InMemoryChannel or a Channel (messaging.knative.dev/v1)",
            );
        } else if self.find(kind, namespace, &spec.channel.name).is_none() {
            self.problems.add(
                &doc.place,
                "spec.channel",
                format!("no {} {} in namespace {namespace}", spec.channel.kind, spec.channel.name),
            );
        }
    }
}
