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
pub fn read_optional(kind: Kind, spec: Option<&Value>) -> (Option<Spec>, Vec<FieldProblem>) {
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
/// the tests hold against the upstream CRD schemas.
pub fn fits_model(kind: Kind, spec: &Value) -> Option<Result<(), String>> {
    if !unknown::checked(kind) {
        return None;
    }
    let problems = read(kind, spec).1;
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
