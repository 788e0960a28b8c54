//! The Knative Eventing objects fnmesh runs, typed with the upstream field names and
//! types: the `spec` of each eventing CRD in full (the field docs are upstream's, in
//! `../shared/knative/crds/`). Fields outside the model are reported as unknown
//! ([`super::unknown`]), except where the upstream schema preserves unknown fields
//! (`delivery`, `channelTemplate.spec`, ...). Workloads are in [`super::serving`].

#![allow(missing_docs)] // the fields are the upstream API's, named as upstream: their docs are the CRDs'

use std::collections::BTreeMap;

use serde::Deserialize;

use super::serving::PodTemplate;

/// A reference to another object (`duckv1.KReference`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// Where events go (`duckv1.Destination`): a ref, a URI, or a ref with a relative URI.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
pub struct Destination {
    #[serde(rename = "ref", default)]
    pub reference: Option<KRef>,
    #[serde(default)]
    pub uri: Option<String>,
    /// TLS roots for an https `uri` (not used locally).
    #[serde(rename = "CACerts", default)]
    pub ca_certs: Option<String>,
    /// OIDC audience (not used locally).
    #[serde(default)]
    pub audience: Option<String>,
}

/// `delivery:` (eventingduckv1.DeliverySpec).
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeliverySpec {
    #[serde(default)]
    pub dead_letter_sink: Option<Destination>,
    #[serde(default)]
    pub retry: Option<i32>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub backoff_policy: Option<String>,
    #[serde(default)]
    pub backoff_delay: Option<String>,
    #[serde(default)]
    pub retry_after_max: Option<String>,
    /// `binary` or `json` (triggers).
    #[serde(default)]
    pub format: Option<String>,
}

/// `channelTemplate:` of a Sequence, a Parallel or a Channel.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChannelTemplate {
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub spec: Option<ChannelTemplateSpec>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct ChannelTemplateSpec {
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SequenceSpec {
    #[serde(default)]
    pub channel_template: Option<ChannelTemplate>,
    pub steps: Vec<SequenceStep>,
    #[serde(default)]
    pub reply: Option<Destination>,
}

/// A step: a Destination with its own delivery (written out, not flattened, so that
/// unknown fields are seen).
#[derive(Debug, Clone, Deserialize)]
pub struct SequenceStep {
    #[serde(rename = "ref", default)]
    pub reference: Option<KRef>,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(rename = "CACerts", default)]
    pub ca_certs: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
}

impl SequenceStep {
    pub fn destination(&self) -> Destination {
        Destination {
            reference: self.reference.clone(),
            uri: self.uri.clone(),
            ca_certs: self.ca_certs.clone(),
            audience: self.audience.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParallelSpec {
    #[serde(default)]
    pub channel_template: Option<ChannelTemplate>,
    pub branches: Vec<Branch>,
    #[serde(default)]
    pub reply: Option<Destination>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Branch {
    #[serde(default)]
    pub filter: Option<Destination>,
    pub subscriber: Destination,
    #[serde(default)]
    pub reply: Option<Destination>,
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
}

/// InMemoryChannel and Channel.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSpec {
    #[serde(default)]
    pub channel_template: Option<ChannelTemplate>,
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
    /// Written by the Subscription controller on a cluster; fnmesh reads Subscriptions.
    #[serde(default)]
    pub subscribers: Option<Vec<ChannelSubscriber>>,
}

/// `spec.subscribers[]` of a channel (`eventingduckv1.SubscriberSpec`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSubscriber {
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub generation: Option<i64>,
    #[serde(default)]
    pub subscriber_uri: Option<String>,
    #[serde(rename = "subscriberCACerts", default)]
    pub subscriber_ca_certs: Option<String>,
    #[serde(default)]
    pub subscriber_audience: Option<String>,
    #[serde(default)]
    pub reply_uri: Option<String>,
    #[serde(rename = "replyCACerts", default)]
    pub reply_ca_certs: Option<String>,
    #[serde(default)]
    pub reply_audience: Option<String>,
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
    #[serde(default)]
    pub auth: Option<SubscriberAuth>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SubscriberAuth {
    #[serde(default)]
    pub service_account_name: Option<String>,
    #[serde(default)]
    pub service_account_names: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionSpec {
    pub channel: KRef,
    #[serde(default)]
    pub subscriber: Option<Destination>,
    #[serde(default)]
    pub reply: Option<Destination>,
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
}

/// PingSource, every version: v1beta1 has `jsonData`; v1beta2 and v1 have `contentType`,
/// `data`, `dataBase64` and `timezone`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PingSourceSpec {
    /// Empty or absent: `* * * * *` (the webhook's default).
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub json_data: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub data_base64: Option<String>,
    pub sink: Destination,
    #[serde(default)]
    pub ce_overrides: Option<CeOverrides>,
}

#[derive(Debug, Clone, Deserialize, Default, serde::Serialize)]
pub struct CeOverrides {
    /// Go's `omitempty`: none is no `extensions` key in `K_CE_OVERRIDES`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, String>,
}

/// ContainerSource (v1): a pod template that runs as a Deployment and sends events to
/// `sink`, which a SinkBinding made by the controller gives it as `K_SINK`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSourceSpec {
    pub sink: Destination,
    #[serde(default)]
    pub ce_overrides: Option<CeOverrides>,
    /// `Deployment.spec.template`.
    pub template: PodTemplate,
}

/// SinkBinding (v1): `sink` resolved and given to the `subject`'s containers as `K_SINK`
/// (with `K_CE_OVERRIDES`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SinkBindingSpec {
    pub sink: Destination,
    #[serde(default)]
    pub ce_overrides: Option<CeOverrides>,
    pub subject: Subject,
}

/// The objects a binding applies to (`tracker.Reference`): one by `name`, or every one
/// its `selector` matches.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub selector: Option<LabelSelector>,
}

/// `metav1.LabelSelector`: the requirements are ANDed.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One `matchExpressions` entry: `In`, `NotIn`, `Exists` or `DoesNotExist`.
#[derive(Debug, Clone, Deserialize)]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct BrokerSpec {
    /// The broker class's configuration (a ConfigMap, usually).
    #[serde(default)]
    pub config: Option<BrokerConfig>,
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BrokerConfig {
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSpec {
    /// The broker by name; [`TriggerSpec::broker_name`] also reads `brokerRef`.
    #[serde(default)]
    pub broker: Option<String>,
    /// The broker by reference (the newer form, accepted like `broker`).
    #[serde(default)]
    pub broker_ref: Option<KRef>,
    #[serde(default)]
    pub filter: Option<TriggerFilter>,
    #[serde(default)]
    pub filters: Option<Vec<SubscriptionsApiFilter>>,
    pub subscriber: Destination,
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
}

impl TriggerSpec {
    /// The broker's name: `broker`, else `brokerRef.name`; empty when neither is set
    /// (a problem the loader reports).
    pub fn broker_name(&self) -> &str {
        self.broker.as_deref().or(self.broker_ref.as_ref().map(|r| r.name.as_str())).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct TriggerFilter {
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// One of the CloudEvents Subscriptions API filter dialects; exactly one is set.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct SubscriptionsApiFilter {
    #[serde(default)]
    pub exact: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub prefix: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub suffix: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub all: Option<Vec<SubscriptionsApiFilter>>,
    #[serde(default)]
    pub any: Option<Vec<SubscriptionsApiFilter>>,
    #[serde(default)]
    pub not: Option<Box<SubscriptionsApiFilter>>,
    #[serde(default)]
    pub cesql: Option<String>,
}
