//! A document's `spec`, read once into the typed model of its kind: type errors with
//! their field path, and the fields the model does not have, found in the same pass.

use serde::de::DeserializeOwned;

use super::kind::Kind;
use super::model::*;
use super::problems::FieldProblem;
use super::serving::*;
use super::unknown;
use super::yaml::Value;

/// The typed `spec` of an object fnmesh models.
#[derive(Debug, Clone)]
pub enum Spec {
    /// A Knative Service (ksvc).
    KService(KServiceSpec),
    /// A `v1` Service.
    CoreService(CoreServiceSpec),
    /// An `apps/v1` Deployment.
    Deployment(DeploymentSpec),
    /// An InMemoryChannel or a Channel.
    Channel(ChannelSpec),
    /// A Subscription.
    Subscription(SubscriptionSpec),
    /// A Sequence.
    Sequence(SequenceSpec),
    /// A Parallel.
    Parallel(ParallelSpec),
    /// A PingSource.
    PingSource(PingSourceSpec),
    /// A ContainerSource.
    ContainerSource(ContainerSourceSpec),
    /// A SinkBinding.
    SinkBinding(SinkBindingSpec),
    /// A Broker.
    Broker(BrokerSpec),
    /// A Trigger.
    Trigger(TriggerSpec),
}

/// The message of an unknown field.
pub const UNKNOWN_FIELD: &str = "unknown field (not in the Knative API)";

/// Reads the `spec` of a `kind` (`None` when the document has none): the typed spec,
/// or `None` when it does not fit; and every problem, with paths from `spec`.
/// Kinds without a model give `None` and no problem.
pub fn read(kind: Kind, spec: &Value) -> (Option<Spec>, Vec<FieldProblem>) {
    read_optional(kind, Some(spec))
}

/// [`read`] for a document that may have no `spec`: Brokers and channels need none.
/// Besides the typed model, the rules of eventing's webhook that need only the spec
/// ([`webhook_rules`]).
pub fn read_optional(kind: Kind, spec: Option<&Value>) -> (Option<Spec>, Vec<FieldProblem>) {
    let (typed, mut problems) = read_model(kind, spec);
    if let Some(typed) = &typed {
        problems.extend(webhook_rules(typed));
    }
    (typed, problems)
}

/// The typed model alone: types and unknown fields.
fn read_model(kind: Kind, spec: Option<&Value>) -> (Option<Spec>, Vec<FieldProblem>) {
    let empty = Value::Mapping(Default::default());
    let spec = match (spec, kind) {
        (Some(spec), _) => spec,
        (None, Kind::Broker | Kind::InMemoryChannel | Kind::Channel) => &empty,
        (None, Kind::Other) => return (None, Vec::new()),
        (None, _) => return (None, vec![FieldProblem::new("spec", "required")]),
    };
    match kind {
        Kind::KService => typed(kind, spec, Spec::KService),
        Kind::CoreService => typed(kind, spec, Spec::CoreService),
        Kind::Deployment => typed(kind, spec, Spec::Deployment),
        Kind::InMemoryChannel | Kind::Channel => typed(kind, spec, Spec::Channel),
        Kind::Subscription => typed(kind, spec, Spec::Subscription),
        Kind::Sequence => typed(kind, spec, Spec::Sequence),
        Kind::Parallel => typed(kind, spec, Spec::Parallel),
        Kind::PingSource => typed(kind, spec, Spec::PingSource),
        Kind::ContainerSource => typed(kind, spec, Spec::ContainerSource),
        Kind::SinkBinding => typed(kind, spec, Spec::SinkBinding),
        Kind::Broker => typed(kind, spec, Spec::Broker),
        Kind::Trigger => {
            let (trigger, mut problems) = typed(kind, spec, Spec::Trigger);
            // `broker` is required unless `brokerRef` names it (trigger_validation.go).
            if let Some(Spec::Trigger(t)) = &trigger
                && t.broker.is_none()
                && t.broker_ref.is_none()
            {
                problems.push(FieldProblem::new("spec", "missing field `broker`"));
                return (None, problems);
            }
            (trigger, problems)
        }
        Kind::Other => (None, Vec::new()),
    }
}

/// Whether `spec` fits the typed model of `kind`: it deserializes and has no unknown
/// field. `None` for kinds whose unknown fields are not checked. This is the verdict
/// the tests hold against the upstream CRD schemas (and the webhook's decoding); the
/// webhook's other rules ([`webhook_rules`]) are not part of it.
pub fn fits_model(kind: Kind, spec: &Value) -> Option<Result<(), String>> {
    if !unknown::checked(kind) {
        return None;
    }
    let problems = read_model(kind, Some(spec)).1;
    Some(if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect::<Vec<_>>().join("; "))
    })
}

fn typed<T: DeserializeOwned>(kind: Kind, spec: &Value, wrap: fn(T) -> Spec) -> (Option<Spec>, Vec<FieldProblem>) {
    let (parsed, ignored) = deserialize::<T>(spec, "spec");
    let mut problems: Vec<FieldProblem> = if unknown::checked(kind) {
        unknown::not_preserved(kind, ignored).into_iter().map(|path| FieldProblem::new(path, UNKNOWN_FIELD)).collect()
    } else {
        Vec::new()
    };
    match parsed {
        Ok(spec) => (Some(wrap(spec)), problems),
        Err(problem) => {
            problems.push(problem);
            (None, problems)
        }
    }
}

/// `value` as a `T`, and the paths (under `base`) of the fields `T` has not.
pub fn deserialize<T: DeserializeOwned>(value: &Value, base: &str) -> (Result<T, FieldProblem>, Vec<String>) {
    let mut ignored = Vec::new();
    let mut collect = |path: serde_ignored::Path<'_>| ignored.push(format!("{base}{}", unknown::render(&path)));
    let deserializer = serde_ignored::Deserializer::new(value, &mut collect);
    let parsed = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { base.to_owned() } else { format!("{base}.{path}") };
        FieldProblem::new(path, e.into_inner().to_string())
    });
    (parsed, ignored)
}

/// What eventing's webhook refuses in a spec on a default cluster (no alpha feature on),
/// that the typed model lets through; the rules that need more than the spec (refs
/// within the set, a Channel's namespace) are the plan's ([`crate::plan`]).
///
/// * A Subscription without `subscriber` (`pkg/apis/messaging/v1/subscription_validation.go`).
/// * A `namespace` in a Subscription's `channel` or a Trigger's `brokerRef`: refused
///   whatever its value while `cross-namespace-event-links` is disabled
///   (`subscribable_channelable_validation.go`, `trigger_validation.go`).
/// * A trigger filter attribute name outside `^[a-z][a-z0-9]*$`, in `filter.attributes`
///   and in the `exact`, `prefix` and `suffix` of `filters` (`trigger_validation.go`).
pub fn webhook_rules(spec: &Spec) -> Vec<FieldProblem> {
    const CROSS_NAMESPACE: &str = "must not be set: only name, apiVersion and kind are supported fields when \
                                   feature.CrossNamespaceEventLinks is disabled (a default cluster)";
    let mut problems = Vec::new();
    match spec {
        Spec::Subscription(subscription) => {
            // An empty one (`subscriber: {}`) is upstream's "missing" too; the plan says
            // so already ("set ref or uri"), where it resolves the destination.
            if subscription.subscriber.is_none() {
                problems
                    .push(FieldProblem::new("spec.subscriber", "required: a Subscription must reference a subscriber"));
            }
            if subscription.channel.namespace.as_deref().is_some_and(|n| !n.is_empty()) {
                problems.push(FieldProblem::new("spec.channel.namespace", CROSS_NAMESPACE));
            }
        }
        Spec::Trigger(trigger) => {
            if trigger.broker_ref.as_ref().and_then(|r| r.namespace.as_deref()).is_some_and(|n| !n.is_empty()) {
                problems.push(FieldProblem::new("spec.brokerRef.namespace", CROSS_NAMESPACE));
            }
            if let Some(filter) = &trigger.filter {
                attribute_names(&filter.attributes, "spec.filter.attributes", &mut problems);
            }
            for (i, filter) in trigger.filters.iter().flatten().enumerate() {
                filter_attribute_names(filter, &format!("spec.filters[{i}]"), &mut problems);
            }
        }
        _ => {}
    }
    problems
}

fn filter_attribute_names(filter: &SubscriptionsApiFilter, path: &str, problems: &mut Vec<FieldProblem>) {
    for (dialect, map) in [("exact", &filter.exact), ("prefix", &filter.prefix), ("suffix", &filter.suffix)] {
        if let Some(map) = map {
            attribute_names(map, &format!("{path}.{dialect}"), problems);
        }
    }
    for (dialect, list) in [("all", &filter.all), ("any", &filter.any)] {
        for (i, inner) in list.iter().flatten().enumerate() {
            filter_attribute_names(inner, &format!("{path}.{dialect}[{i}]"), problems);
        }
    }
    if let Some(inner) = &filter.not {
        filter_attribute_names(inner, &format!("{path}.not"), problems);
    }
}

/// Upstream's `validAttributeName`: `^[a-z][a-z0-9]*$`.
fn attribute_names(map: &std::collections::BTreeMap<String, String>, path: &str, problems: &mut Vec<FieldProblem>) {
    for name in map.keys() {
        let mut bytes = name.bytes();
        let valid = bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            problems.push(FieldProblem::new(
                format!("{path}.{name}"),
                format!(
                    "invalid key name {name:?}: an attribute name must start with a letter and can only contain \
                     lowercase alphanumeric"
                ),
            ));
        }
    }
}

/// Every `delivery:` of `spec`, with its field path: steps, branches, channel
/// templates, channels and their subscribers, subscriptions, brokers, triggers.
pub fn deliveries(spec: &Spec) -> Vec<(String, &DeliverySpec)> {
    fn template(t: &Option<ChannelTemplate>) -> Option<&DeliverySpec> {
        t.as_ref().and_then(|t| t.spec.as_ref()).and_then(|s| s.delivery.as_ref())
    }
    let mut out: Vec<(String, &DeliverySpec)> = Vec::new();
    match spec {
        Spec::Sequence(s) => {
            out.extend(template(&s.channel_template).map(|d| ("spec.channelTemplate.spec.delivery".into(), d)));
            for (i, step) in s.steps.iter().enumerate() {
                out.extend(step.delivery.as_ref().map(|d| (format!("spec.steps[{i}].delivery"), d)));
            }
        }
        Spec::Parallel(p) => {
            out.extend(template(&p.channel_template).map(|d| ("spec.channelTemplate.spec.delivery".into(), d)));
            for (i, branch) in p.branches.iter().enumerate() {
                out.extend(branch.delivery.as_ref().map(|d| (format!("spec.branches[{i}].delivery"), d)));
            }
        }
        Spec::Channel(c) => {
            out.extend(template(&c.channel_template).map(|d| ("spec.channelTemplate.spec.delivery".into(), d)));
            out.extend(c.delivery.as_ref().map(|d| ("spec.delivery".into(), d)));
            for (i, subscriber) in c.subscribers.iter().flatten().enumerate() {
                out.extend(subscriber.delivery.as_ref().map(|d| (format!("spec.subscribers[{i}].delivery"), d)));
            }
        }
        Spec::Subscription(s) => out.extend(s.delivery.as_ref().map(|d| ("spec.delivery".into(), d))),
        Spec::Broker(b) => out.extend(b.delivery.as_ref().map(|d| ("spec.delivery".into(), d))),
        Spec::Trigger(t) => out.extend(t.delivery.as_ref().map(|d| ("spec.delivery".into(), d))),
        _ => {}
    }
    out
}
