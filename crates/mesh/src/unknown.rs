//! Fields a manifest has and the typed model does not: typos (`spce`, `subscirber`) that
//! a cluster would reject (`kubectl` validates strictly) and that would otherwise be
//! silently dropped. Where the upstream schema keeps unknown fields
//! (`x-kubernetes-preserve-unknown-fields`), they are allowed here too.

use serde::de::DeserializeOwned;

use crate::model::*;
use crate::yaml::Value;

/// Paths whose unknown fields the upstream schemas preserve: a prefix (`spec.channel.`),
/// or `*` for the fields right under a path (`spec.*`: the Trigger's spec itself keeps
/// unknown fields, its nested objects do not).
fn preserved(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("messaging.knative.dev", "Subscription") => &["spec.channel.", "spec.subscriber.ref."],
        ("serving.knative.dev", "Service") => &["spec.template.metadata.", "spec.template.spec."],
        ("eventing.knative.dev", "Trigger") => &["spec.*"],
        _ => &[],
    }
}

fn matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(parent) => path.strip_prefix(parent).is_some_and(|rest| !rest.contains(['.', '['])),
        None => path.starts_with(pattern),
    }
}

/// Anywhere: a `delivery` block, and a channel template's `spec`.
fn preserved_anywhere(path: &str) -> bool {
    path.contains(".delivery.") || path.contains("channelTemplate.spec.") || path.contains(".not.")
}

/// What reading a spec into its typed model found: whether it fits, and the fields the
/// model does not have (before preserved places are taken out).
struct Read {
    parsed: Result<(), String>,
    ignored: Vec<String>,
}

/// Reads `spec` into the model of its kind, in one pass; `None` for kinds without one.
fn read(group: &str, kind: &str, spec: &Value) -> Option<Read> {
    Some(match (group, kind) {
        ("flows.knative.dev", "Sequence") => read_as::<SequenceSpec>(spec),
        ("flows.knative.dev", "Parallel") => read_as::<ParallelSpec>(spec),
        ("messaging.knative.dev", "InMemoryChannel" | "Channel") => read_as::<ChannelSpec>(spec),
        ("messaging.knative.dev", "Subscription") => read_as::<SubscriptionSpec>(spec),
        ("sources.knative.dev", "PingSource") => read_as::<PingSourceSpec>(spec),
        ("eventing.knative.dev", "Broker") => read_as::<BrokerSpec>(spec),
        ("eventing.knative.dev", "Trigger") => read_as::<TriggerSpec>(spec),
        ("serving.knative.dev", "Service") => read_as::<KServiceTop>(spec),
        _ => return None,
    })
}

/// The unknown fields of `doc`'s `spec`, as paths like `spec.steps[1].ref.nme`; `None`
/// for kinds whose spec this does not check.
pub fn unknown_fields(group: &str, kind: &str, spec: &Value) -> Option<Vec<String>> {
    Some(not_preserved(group, kind, read(group, kind, spec)?.ignored))
}

fn not_preserved(group: &str, kind: &str, ignored: Vec<String>) -> Vec<String> {
    let keep = preserved(group, kind);
    ignored.into_iter().filter(|p| !preserved_anywhere(p) && !keep.iter().any(|k| matches(k, p))).collect()
}

/// Whether `spec` fits the typed model of its kind: it deserializes and has no unknown
/// field. `None` for kinds without a model here. This is the verdict the tests hold
/// against the upstream CRD schemas.
pub fn fits_model(group: &str, kind: &str, spec: &Value) -> Option<Result<(), String>> {
    let Read { parsed, ignored } = read(group, kind, spec)?;
    let unknown = not_preserved(group, kind, ignored);
    Some(parsed.and_then(|()| if unknown.is_empty() { Ok(()) } else { Err(format!("unknown fields {unknown:?}")) }))
}

/// A Knative Service's spec: fnmesh reads `template`; `traffic` is Serving's.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)] // read only to see what is unknown
struct KServiceTop {
    template: Value,
    #[serde(default)]
    traffic: Option<Value>,
}

fn read_as<T: DeserializeOwned>(spec: &Value) -> Read {
    let mut ignored = Vec::new();
    let parsed =
        serde_ignored::deserialize::<_, _, T>(spec.clone(), |path| ignored.push(format!("spec{}", render(&path))))
            .map(drop)
            .map_err(|e| format!("spec: {e}"));
    Read { parsed, ignored }
}

/// `serde_ignored`'s path as `.steps[1].ref.nme`.
fn render(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render(parent)),
        Path::Map { parent, key } => format!("{}.{key}", render(parent)),
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => render(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(group: &str, kind: &str, yaml: &str) -> Vec<String> {
        unknown_fields(group, kind, &serde_yaml_ng::from_str(yaml).unwrap()).unwrap()
    }

    #[test]
    fn typos_are_found_where_they_are() {
        assert_eq!(
            unknown(
                "flows.knative.dev",
                "Sequence",
                "{steps: [{ref: {apiVersion: v1, kind: Service, name: x, nme: x}}, {uri: 'http://x', subscirber: y}], replyy: {}}"
            ),
            ["spec.steps[0].ref.nme", "spec.steps[1].subscirber", "spec.replyy"]
        );
        assert_eq!(
            unknown(
                "eventing.knative.dev",
                "Trigger",
                "{broker: b, subscriber: {uri: 'http://x'}, filters: [{exakt: {type: t}}]}"
            ),
            ["spec.filters[0].exakt"]
        );
        // The Trigger's spec keeps unknown fields, as its CRD says; nested objects do not.
        assert_eq!(
            unknown("eventing.knative.dev", "Trigger", "{broker: b, extra: 1, subscriber: {uri: 'http://x', urri: y}}"),
            ["spec.subscriber.urri"]
        );
    }

    #[test]
    fn preserved_places_accept_anything() {
        let delivery = "{steps: [{uri: 'http://x', delivery: {retry: 1, timeout: PT1S, anything: 1}}], channelTemplate: {apiVersion: a, kind: k, spec: {whatever: 1}}}";
        assert!(unknown("flows.knative.dev", "Sequence", delivery).is_empty());
        let ksvc = "{template: {metadata: {annotations: {a: b}}, spec: {containerConcurrency: 1, containers: [{image: x, ports: [{containerPort: 8080}]}]}}}";
        assert!(unknown("serving.knative.dev", "Service", ksvc).is_empty());
        assert_eq!(unknown("serving.knative.dev", "Service", "{template: {}, traffc: []}"), ["spec.traffc"]);
        assert!(unknown_fields("apps", "Deployment", &Value::Null).is_none());
    }
}
