//! Fields a manifest has and the typed model does not: typos (`spce`, `subscirber`) that
//! a cluster would reject (`kubectl` validates strictly) and that would otherwise be
//! silently dropped. Where the upstream schema keeps unknown fields
//! (`x-kubernetes-preserve-unknown-fields`), they are allowed here too. The fields are
//! collected while the spec is read ([`super::spec`]), in the same pass.

use super::kind::Kind;

/// Whether fnmesh checks the unknown fields of `kind` (it has the full upstream model).
pub fn checked(kind: Kind) -> bool {
    !matches!(kind, Kind::CoreService | Kind::Deployment | Kind::Other)
}

/// Paths whose unknown fields the upstream schemas preserve: a prefix (`spec.channel.`),
/// or `*` for the fields right under a path (`spec.*`: the Trigger's spec itself keeps
/// unknown fields, its nested objects do not).
fn preserved(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Subscription => &["spec.channel.", "spec.subscriber.ref."],
        Kind::KService => &["spec.template.metadata.", "spec.template.spec."],
        // A `corev1.PodTemplateSpec`, which fnmesh models only in part.
        Kind::ContainerSource => &["spec.template."],
        Kind::Trigger => &["spec.*"],
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

/// Of the fields the model of `kind` ignored, those the upstream schema does not keep.
pub fn not_preserved(kind: Kind, ignored: Vec<String>) -> Vec<String> {
    let keep = preserved(kind);
    ignored.into_iter().filter(|p| !preserved_anywhere(p) && !keep.iter().any(|k| matches(k, p))).collect()
}

/// `serde_ignored`'s path as `.steps[1].ref.nme`.
pub fn render(path: &serde_ignored::Path<'_>) -> String {
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
    use super::super::spec::read;
    use super::*;

    fn unknown(kind: Kind, yaml: &str) -> Vec<String> {
        let problems = read(kind, &serde_yaml_ng::from_str(yaml).unwrap()).1;
        problems.into_iter().filter(|p| p.message.starts_with("unknown field")).map(|p| p.path).collect()
    }

    #[test]
    fn typos_are_found_where_they_are() {
        assert_eq!(
            unknown(
                Kind::Sequence,
                "{steps: [{ref: {apiVersion: v1, kind: Service, name: x, nme: x}}, {uri: 'http://x', subscirber: y}], replyy: {}}"
            ),
            ["spec.steps[0].ref.nme", "spec.steps[1].subscirber", "spec.replyy"]
        );
        assert_eq!(
            unknown(Kind::Trigger, "{broker: b, subscriber: {uri: 'http://x'}, filters: [{exakt: {type: t}}]}"),
            ["spec.filters[0].exakt"]
        );
        // The Trigger's spec keeps unknown fields, as its CRD says; nested objects do not.
        assert_eq!(
            unknown(Kind::Trigger, "{broker: b, extra: 1, subscriber: {uri: 'http://x', urri: y}}"),
            ["spec.subscriber.urri"]
        );
    }

    #[test]
    fn preserved_places_accept_anything() {
        let delivery = "{steps: [{uri: 'http://x', delivery: {retry: 1, timeout: PT1S, anything: 1}}], channelTemplate: {apiVersion: a, kind: k, spec: {whatever: 1}}}";
        assert!(unknown(Kind::Sequence, delivery).is_empty());
        let ksvc = "{template: {metadata: {annotations: {a: b}}, spec: {containerConcurrency: 1, containers: [{image: x, ports: [{containerPort: 8080}]}]}}}";
        assert!(unknown(Kind::KService, ksvc).is_empty());
        let traffic = "{template: {spec: {containers: [{image: x}]}}, traffc: []}";
        assert_eq!(unknown(Kind::KService, traffic), ["spec.traffc"]);
        assert!(!checked(Kind::Deployment));
    }
}
