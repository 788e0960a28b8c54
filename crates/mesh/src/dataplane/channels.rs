//! A channel's dispatcher: the fan-out of an event to every subscription at once, each
//! subscriber's reply sent on, and failures of either to the dead letter sink.

use std::sync::Arc;

use fnmesh_runtime::Event;
use http::HeaderMap;

use super::Mesh;
use super::courier::{Hop, Role};
use super::headers::{HOPS_HEADER, continue_trace};
use crate::plan::{ChannelPlan, SubscriptionPlan};

impl Mesh {
    /// Delivers `event` to every subscription of `channel` concurrently; an error when
    /// any failed and no dead letter sink took it.
    pub async fn fan_out(
        self: &Arc<Self>,
        channel: Arc<ChannelPlan>,
        event: Arc<Event>,
        headers: HeaderMap,
    ) -> Result<(), String> {
        let deliveries =
            channel.subscriptions.iter().map(|sub| self.subscription(&channel.namespace, sub, &event, &headers));
        super::all_delivered(deliveries).await
    }

    /// One subscription: subscriber, then its reply to `reply`; failures of either go
    /// to the dead letter sink with the original event.
    async fn subscription(
        self: &Arc<Self>,
        namespace: &str,
        sub: &SubscriptionPlan,
        event: &Arc<Event>,
        headers: &HeaderMap,
    ) -> Result<(), String> {
        let answer = match &sub.subscriber {
            None => Some((Arc::clone(event), headers.clone())),
            Some(subscriber) => {
                let hop = Hop { label: &sub.label, target: subscriber, role: Role::Subscriber, namespace };
                match self.courier.deliver(hop, event, headers, &sub.delivery).await {
                    Ok(answer) => answer,
                    Err(failure) => return self.courier.dead_letter(hop, &sub.delivery, event, headers, failure).await,
                }
            }
        };
        // No reply destination: a reply event ends here, as upstream.
        let (Some((reply_event, mut reply_headers)), Some(reply)) = (answer, &sub.reply) else { return Ok(()) };
        continue_trace(headers, &mut reply_headers);
        // The reply of a flow a trigger fed goes on with the TTL the event had.
        if let Some(hops) = headers.get(&HOPS_HEADER) {
            reply_headers.insert(HOPS_HEADER, hops.clone());
        }
        let label = format!("{} reply", sub.label);
        let hop = Hop { label: &label, target: reply, role: Role::Forward, namespace };
        match self.courier.deliver(hop, &reply_event, &reply_headers, &sub.delivery).await {
            Ok(_) => Ok(()),
            Err(failure) => self.courier.dead_letter(hop, &sub.delivery, event, headers, failure).await,
        }
    }
}
