//! Fields a manifest has and the typed model does not: typos (`spce`, `subscirber`) that
//! a cluster would reject and that would otherwise be silently dropped. The fields are
//! collected while the spec is read ([`super::spec`]), in the same pass.
//!
//! A cluster refuses a field in two places. The API server, with `kubectl`'s strict field
//! validation, refuses what the CRD schema does not declare, except under
//! `x-kubernetes-preserve-unknown-fields`. Then eventing's webhook decodes the object into
//! its Go types with unknown fields disallowed (knative/eventing `cmd/webhook/main.go`:
//! "Whether to disallow unknown fields. true"; knative.dev/pkg `webhook/json/decode.go`),
//! so what the CRD preserves (every `delivery:`, the Trigger's `spec`, a Parallel's
//! branches, `filters[].not`) is still refused unless the Go type itself takes any field:
//! a channel template's `spec` (a `runtime.RawExtension`), and the `address` of a
//! `duckv1.KReference` where the CRD keeps the ref's unknown fields (a Subscription's
//! `channel` and `subscriber.ref`). A Knative Service's pod template is Serving's, which
//! fnmesh models only in part: its unknown fields are not checked.

use super::kind::Kind;

/// Whether fnmesh checks the unknown fields of `kind` (it has the full upstream model).
pub fn checked(kind: Kind) -> bool {
    !matches!(kind, Kind::CoreService | Kind::Deployment | Kind::Other)
}

/// Paths whose unknown fields a cluster keeps: a prefix (`spec.template.spec.`), or an
/// exact path.
fn preserved(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Subscription => &["spec.channel.address", "spec.subscriber.ref.address"],
        Kind::KService => &["spec.template.metadata.", "spec.template.spec."],
        // A `corev1.PodTemplateSpec`, which fnmesh models only in part.
        Kind::ContainerSource => &["spec.template."],
        _ => &[],
    }
}

fn matches(pattern: &str, path: &str) -> bool {
    if pattern.ends_with('.') { path.starts_with(pattern) } else { path == pattern }
}

/// Anywhere: a channel template's `spec`, which the Go types keep as raw JSON for the
/// channel they make.
fn preserved_anywhere(path: &str) -> bool {
    path.contains("channelTemplate.spec.")
}

/// Of the fields the model of `kind` ignored, those a cluster refuses.
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
        // The Trigger's CRD keeps unknown fields of its spec, but eventing's webhook decodes
        // it into the Go TriggerSpec with unknown fields disallowed (cmd/webhook/main.go).
        assert_eq!(
            unknown(Kind::Trigger, "{broker: b, extra: 1, subscriber: {uri: 'http://x', urri: y}}"),
            ["spec.extra", "spec.subscriber.urri"]
        );
    }

    #[test]
    fn a_misindented_dead_letter_ref_is_found() {
        // `ref` one level too far left under `deadLetterSink:`: the sink is null and the
        // ref lands in `delivery`, which the CRD preserves and the webhook refuses
        // (pkg/apis/duck/v1/delivery_types.go has no `ref`).
        let yaml = "{broker: b, subscriber: {uri: 'http://x'}, delivery: {deadLetterSink: null, ref: {apiVersion: v1, kind: Service, name: dls}}}";
        assert_eq!(unknown(Kind::Trigger, yaml), ["spec.delivery.ref"]);
        let sequence = "{steps: [{uri: 'http://x', delivery: {retry: 1, deadLetterSink: {uri: 'http://d', nme: x}, anything: 1}}]}";
        assert_eq!(
            unknown(Kind::Sequence, sequence),
            ["spec.steps[0].delivery.deadLetterSink.nme", "spec.steps[0].delivery.anything"]
        );
    }

    #[test]
    fn preserved_places_accept_anything() {
        // A channel template's spec is a runtime.RawExtension (messaging/v1 channel_template_types.go).
        let delivery = "{steps: [{uri: 'http://x', delivery: {retry: 1, timeout: PT1S}}], channelTemplate: {apiVersion: a, kind: k, spec: {whatever: 1}}}";
        assert!(unknown(Kind::Sequence, delivery).is_empty());
        let subscription = "{channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: c, address: a}, subscriber: {ref: {apiVersion: v1, kind: Service, name: s, address: b}}}";
        assert!(unknown(Kind::Subscription, subscription).is_empty());
        let ksvc = "{template: {metadata: {annotations: {a: b}}, spec: {containerConcurrency: 1, containers: [{image: x, ports: [{containerPort: 8080}]}]}}}";
        assert!(unknown(Kind::KService, ksvc).is_empty());
        let traffic = "{template: {spec: {containers: [{image: x}]}}, traffc: []}";
        assert_eq!(unknown(Kind::KService, traffic), ["spec.traffc"]);
        assert!(!checked(Kind::Deployment));
    }
}
