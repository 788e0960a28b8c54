//! The kinds of object fnmesh knows, by API group and kind: the one place where
//! `eventing.knative.dev` and its siblings are spelled.

/// A kind of Kubernetes object, as fnmesh tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `serving.knative.dev` Service (a ksvc).
    KService,
    /// `v1` Service, in front of a Deployment's pods.
    CoreService,
    /// `apps/v1` Deployment.
    Deployment,
    /// `messaging.knative.dev` InMemoryChannel.
    InMemoryChannel,
    /// `messaging.knative.dev` Channel.
    Channel,
    /// `messaging.knative.dev` Subscription.
    Subscription,
    /// `flows.knative.dev` Sequence.
    Sequence,
    /// `flows.knative.dev` Parallel.
    Parallel,
    /// `sources.knative.dev` PingSource.
    PingSource,
    /// `sources.knative.dev` ContainerSource.
    ContainerSource,
    /// `sources.knative.dev` SinkBinding.
    SinkBinding,
    /// `eventing.knative.dev` Broker.
    Broker,
    /// `eventing.knative.dev` Trigger.
    Trigger,
    /// Anything else (a CustomResourceDefinition, a ConfigMap, a Job, ...).
    Other,
}

/// Knative Serving's API group.
const SERVING: &str = "serving.knative.dev";
/// Knative Eventing's groups.
const EVENTING: &str = "eventing.knative.dev";
const MESSAGING: &str = "messaging.knative.dev";
const FLOWS: &str = "flows.knative.dev";
const SOURCES: &str = "sources.knative.dev";

impl Kind {
    /// Every kind fnmesh models, for messages that list them.
    pub const MODELLED: [Kind; 13] = [
        Kind::KService,
        Kind::CoreService,
        Kind::Deployment,
        Kind::InMemoryChannel,
        Kind::Channel,
        Kind::Subscription,
        Kind::Sequence,
        Kind::Parallel,
        Kind::PingSource,
        Kind::ContainerSource,
        Kind::SinkBinding,
        Kind::Broker,
        Kind::Trigger,
    ];

    /// The kind of `kind` in API group `group` (`""` for the core group).
    pub fn of(group: &str, kind: &str) -> Self {
        Self::MODELLED.into_iter().find(|k| k.group() == group && k.name() == kind).unwrap_or(Self::Other)
    }

    /// The kind an `apiVersion` and a `kind` name.
    pub fn of_api_version(api_version: &str, kind: &str) -> Self {
        Self::of(group_of(api_version), kind)
    }

    /// The API group (empty for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Self::KService => SERVING,
            Self::CoreService | Self::Other => "",
            Self::Deployment => "apps",
            Self::InMemoryChannel | Self::Channel | Self::Subscription => MESSAGING,
            Self::Sequence | Self::Parallel => FLOWS,
            Self::PingSource | Self::ContainerSource | Self::SinkBinding => SOURCES,
            Self::Broker | Self::Trigger => EVENTING,
        }
    }

    /// The `kind:` as written in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Self::KService | Self::CoreService => "Service",
            Self::Deployment => "Deployment",
            Self::InMemoryChannel => "InMemoryChannel",
            Self::Channel => "Channel",
            Self::Subscription => "Subscription",
            Self::Sequence => "Sequence",
            Self::Parallel => "Parallel",
            Self::PingSource => "PingSource",
            Self::ContainerSource => "ContainerSource",
            Self::SinkBinding => "SinkBinding",
            Self::Broker => "Broker",
            Self::Trigger => "Trigger",
            Self::Other => "",
        }
    }

    /// What `fnmesh get` calls it (`ksvc`, `service`, `inmemorychannel`, ...).
    pub fn resource(self) -> &'static str {
        match self {
            Self::KService => "ksvc",
            Self::CoreService => "service",
            Self::Deployment => "deployment",
            Self::InMemoryChannel => "inmemorychannel",
            Self::Channel => "channel",
            Self::Subscription => "subscription",
            Self::Sequence => "sequence",
            Self::Parallel => "parallel",
            Self::PingSource => "pingsource",
            Self::ContainerSource => "containersource",
            Self::SinkBinding => "sinkbinding",
            Self::Broker => "broker",
            Self::Trigger => "trigger",
            Self::Other => "other",
        }
    }

    /// A channel kind, which Subscriptions can name.
    pub fn is_channel(self) -> bool {
        matches!(self, Self::InMemoryChannel | Self::Channel)
    }
}

/// The group of an apiVersion: `serving.knative.dev/v1` gives `serving.knative.dev`, `v1` gives "".
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_apart_by_group() {
        assert_eq!(Kind::of_api_version("serving.knative.dev/v1", "Service"), Kind::KService);
        assert_eq!(Kind::of_api_version("v1", "Service"), Kind::CoreService);
        assert_eq!(Kind::of_api_version("eventing.knative.dev/v1", "Trigger"), Kind::Trigger);
        assert_eq!(Kind::of_api_version("sources.knative.dev/v1beta1", "PingSource"), Kind::PingSource);
        assert_eq!(Kind::of_api_version("sources.knative.dev/v1", "SinkBinding"), Kind::SinkBinding);
        assert_eq!(Kind::of_api_version("sources.knative.dev/v1", "ContainerSource"), Kind::ContainerSource);
        assert_eq!(Kind::of_api_version("batch/v1", "Job"), Kind::Other);
        assert_eq!(Kind::of_api_version("flows.knative.dev/v1", "Trigger"), Kind::Other);
        for kind in Kind::MODELLED {
            assert_eq!(Kind::of(kind.group(), kind.name()), kind);
        }
    }
}
