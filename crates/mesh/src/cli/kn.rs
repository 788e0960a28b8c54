//! The commands that put a flow on a real Knative cluster, as the manifests say it:
//! `kubectl apply` of the workloads as written (every field of a Knative Service kept:
//! concurrency, probes, resources, security context, annotations), `kubectl wait` until
//! they are ready, then one `kubectl apply` of the eventing objects, per namespace, in
//! the manifests' order. What a current cluster would not take as written is changed,
//! with a comment line in the script saying so: a PingSource `v1beta1` becomes `v1`, a
//! Broker `default` that `fnmesh run` made implicitly is created. What Kogito generates
//! for a workflow (its Triggers and SinkBinding, [`super::kn_workflow`]) follows the
//! eventing objects, each with a comment line. `hack/deploy` prints the script
//! (`--dry-run`) or runs it.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::manifests::schemas::served_by_knative;
use crate::manifests::yaml::{self, Mapping, Value};
use crate::manifests::{Document, Kind, Problems};
use crate::plan::local::SOURCE_ANNOTATION;
use crate::plan::{COMMAND_ANNOTATION, DEFAULT_BROKER, Images};

/// How images are written.
#[derive(Debug, Clone, Default)]
pub struct ImageChoice {
    /// Replace `ghcr.io/fnmesh` with this registry (`FNMESH_REGISTRY`).
    pub registry: Option<String>,
    /// Use fnmesh's image for every image it has a function for (else keep the images as
    /// written, e.g. the upstream appender).
    pub fnmesh_images: bool,
    /// The tag of fnmesh's images.
    pub version: String,
}

/// `value` quoted for a POSIX shell.
pub fn quote(value: &str) -> String {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b)) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

fn image(written: &str, images: &Images, choice: &ImageChoice) -> String {
    let registry = choice.registry.as_deref().unwrap_or("ghcr.io/fnmesh").trim_end_matches('/');
    if choice.fnmesh_images
        && let Ok(function) = images.resolve(written)
    {
        return format!("{registry}/{}:{}", function.name, choice.version);
    }
    match written.strip_prefix("ghcr.io/fnmesh/") {
        Some(rest) => format!("{registry}/{rest}"),
        None => written.to_owned(),
    }
}

/// One namespace's objects, in two applies: workloads (and whatever else is not
/// eventing: ConfigMaps, Secrets), then the eventing objects once the workloads are ready.
#[derive(Default)]
struct Batch {
    namespace: String,
    notes: Vec<String>,
    workloads: Vec<Value>,
    ready: Vec<String>,
    eventing: Vec<Value>,
    /// What Kogito generates for a workflow, each with its comment line.
    generated: Vec<(String, Value)>,
}

/// The script for `documents` (loaded without problems: a spec that did not fit is
/// reported by the loader, not here). The set is planned first, as `fnmesh validate`
/// does, so a set that would not run is not deployed either.
pub fn script(documents: &[Document], images: &Images, choice: &ImageChoice) -> Result<String> {
    let plan = crate::plan::plan(documents, None, Problems::default())?;
    let mut refused = Problems::default();
    let mut batches: Vec<Batch> = Vec::new();
    let batch = |batches: &mut Vec<Batch>, namespace: &str| -> usize {
        match batches.iter().position(|b| b.namespace == namespace) {
            Some(i) => i,
            None => {
                batches.push(Batch { namespace: namespace.to_owned(), ..Batch::default() });
                batches.len() - 1
            }
        }
    };
    for doc in documents {
        let i = batch(&mut batches, &doc.namespace);
        let mut value = doc.value.clone();
        let version = doc.api_version.rsplit('/').next().unwrap_or_default();
        let served = served_by_knative(doc.kind);
        if doc.kind == Kind::PingSource && version == "v1beta1" {
            value = ping_source_v1(value);
            batches[i].notes.push(format!(
                "PingSource {}: sources.knative.dev/v1beta1 is not served since Knative 0.23; applied as \
                 sources.knative.dev/v1 (jsonData -> data, contentType: application/json), as Knative 0.22 converted it",
                doc.name
            ));
        } else if !served.is_empty() && !served.contains(&version) {
            refused.add(
                &doc.place,
                "apiVersion",
                format!(
                    "{} {} is not served by current Knative: write {}/{} (fnmesh kn converts only PingSource v1beta1)",
                    doc.api_version,
                    doc.kind_name,
                    doc.group(),
                    served[0]
                ),
            );
            continue;
        }
        match doc.kind {
            Kind::KService | Kind::Deployment => {
                set_images(&mut value, images, choice);
                drop_local_annotations(&mut value);
                let image = containers(&value).first().cloned().unwrap_or_default();
                if let Some(source) = doc.metadata.annotations.get(SOURCE_ANNOTATION) {
                    let dir = crate::plan::local::source_dir(&doc.place.file, source);
                    batches[i].notes.push(format!(
                        "{} {}: fnmesh run builds {} ({SOURCE_ANNOTATION}, left out here); the cluster runs its \
                         image {image}: build it with hack/build-images --crate {} and push it",
                        doc.kind_name,
                        doc.name,
                        dir.display(),
                        dir.display()
                    ));
                } else if let Some(command) = doc.metadata.annotations.get(COMMAND_ANNOTATION) {
                    batches[i].notes.push(format!(
                        "{} {}: fnmesh run runs {command:?} ({COMMAND_ANNOTATION}, left out here); the cluster runs \
                         its image {image}",
                        doc.kind_name, doc.name,
                    ));
                }
                let ready = if doc.kind == Kind::KService { "ksvc" } else { "deployment" };
                batches[i].ready.push(format!("{ready}/{}", doc.name));
                batches[i].workloads.push(value);
            }
            Kind::CoreService | Kind::Other => batches[i].workloads.push(value),
            _ => batches[i].eventing.push(value),
        }
    }
    let generated = super::kn_workflow::generate(documents, images);
    for (namespace, note) in generated.notes {
        let i = batch(&mut batches, &namespace);
        batches[i].notes.push(note);
    }
    for (namespace, comment, value) in generated.objects {
        let i = batch(&mut batches, &namespace);
        batches[i].generated.push((comment, value));
    }
    // The Brokers `default` that `fnmesh run` makes (namespace injection) and a default
    // cluster does not (semantics: "No Broker is created implicitly"), and the one the
    // objects generated for a workflow name.
    let mut brokers: Vec<(String, String)> =
        plan.brokers.iter().map(|b| (b.namespace.clone(), b.name.clone())).collect();
    for broker in generated.brokers {
        if !brokers.contains(&broker) {
            brokers.push(broker);
        }
    }
    for (namespace, name) in &brokers {
        let defined = documents.iter().any(|d| d.kind == Kind::Broker && &d.namespace == namespace && &d.name == name);
        if !defined && name == DEFAULT_BROKER {
            let i = batch(&mut batches, namespace);
            batches[i].notes.push(format!(
                "Broker {DEFAULT_BROKER}: named by a Trigger or a ref and defined by no manifest; fnmesh run makes it \
                 (as namespace injection would), a default cluster does not: created here"
            ));
            batches[i].eventing.insert(0, implicit_broker());
        }
    }
    refused.into_result(())?;
    let mut out = String::from("set -euo pipefail\n");
    for batch in &batches {
        for note in &batch.notes {
            let _ = writeln!(out, "# {}", note.replace(['\n', '\r'], " "));
        }
        let namespace = quote(&batch.namespace);
        apply(&mut out, &namespace, batch.workloads.iter().map(|v| (None, v)))?;
        let (services, deployments): (Vec<&String>, Vec<&String>) =
            batch.ready.iter().partition(|r| r.starts_with("ksvc/"));
        for (condition, names) in [("Ready", services), ("Available", deployments)] {
            if !names.is_empty() {
                let names: Vec<String> = names.iter().map(|n| quote(n)).collect();
                let _ = writeln!(
                    out,
                    "kubectl wait --namespace {namespace} --for=condition={condition} --timeout=300s {}",
                    names.join(" ")
                );
            }
        }
        let generated = batch.generated.iter().map(|(comment, v)| (Some(comment.as_str()), v));
        apply(&mut out, &namespace, batch.eventing.iter().map(|v| (None, v)).chain(generated))?;
    }
    Ok(out)
}

/// One `kubectl apply` of `values` in `namespace` (objects that name none go there;
/// kubectl refuses one that names another), each after its comment line if it has one.
fn apply<'a>(
    out: &mut String,
    namespace: &str,
    values: impl IntoIterator<Item = (Option<&'a str>, &'a Value)>,
) -> Result<()> {
    let values: Vec<_> = values.into_iter().collect();
    if values.is_empty() {
        return Ok(());
    }
    let _ = writeln!(out, "kubectl apply --namespace {namespace} -f - <<'YAML'");
    for (i, (comment, value)) in values.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        if let Some(comment) = comment {
            let _ = writeln!(out, "# {}", comment.replace(['\n', '\r'], " "));
        }
        out.push_str(&yaml::to_string(value).map_err(Error::Output)?);
    }
    out.push_str("YAML\n");
    Ok(())
}

fn implicit_broker() -> Value {
    let mut metadata = Mapping::new();
    metadata.insert("name".into(), DEFAULT_BROKER.into());
    let mut broker = Mapping::new();
    broker.insert("apiVersion".into(), "eventing.knative.dev/v1".into());
    broker.insert("kind".into(), "Broker".into());
    broker.insert("metadata".into(), Value::Mapping(metadata));
    Value::Mapping(broker)
}

/// The images of the containers of a Knative Service or a Deployment.
fn containers(value: &Value) -> Vec<String> {
    let list =
        value.get("spec").and_then(|s| s.get("template")).and_then(|t| t.get("spec")).and_then(|s| s.get("containers"));
    list.and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|c| yaml::str_at(c, "image").map(str::to_owned))
        .collect()
}

/// Every container's image as `choice` writes it.
/// The `fnmesh.dev/` annotations say how `fnmesh run` runs a workload on this machine
/// (its sources, a command): a cluster has no use for them, and their paths would mean
/// nothing there.
fn drop_local_annotations(value: &mut Value) {
    let drop_from = |metadata: Option<&mut Value>| {
        let Some(metadata) = metadata.and_then(Value::as_mapping_mut) else { return };
        let Some(annotations) = metadata.get_mut("annotations").and_then(Value::as_mapping_mut) else { return };
        annotations.retain(|key, _| !key.as_str().is_some_and(|k| k.starts_with("fnmesh.dev/")));
        if annotations.is_empty() {
            metadata.remove("annotations");
        }
    };
    drop_from(value.get_mut("metadata"));
    drop_from(value.get_mut("spec").and_then(|s| s.get_mut("template")).and_then(|t| t.get_mut("metadata")));
}

fn set_images(value: &mut Value, images: &Images, choice: &ImageChoice) {
    let list = value
        .get_mut("spec")
        .and_then(|s| s.get_mut("template"))
        .and_then(|t| t.get_mut("spec"))
        .and_then(|s| s.get_mut("containers"))
        .and_then(Value::as_sequence_mut);
    for container in list.into_iter().flatten() {
        if let Some(Value::String(written)) = container.get_mut("image") {
            *written = image(written, images, choice);
        }
    }
}

/// A PingSource `sources.knative.dev/v1beta1` as `v1`: `jsonData` becomes `data` with
/// `contentType: application/json`, as Knative 0.22's conversion webhook made it
/// (knative/eventing `pkg/apis/sources/v1beta1/ping_conversion.go` before 0bfa8de2d,
/// "remove sources v1beta1 APIs"): a JSON object is re-encoded (compact, its keys
/// sorted, as Go's `json.Marshal` of a map), anything else is wrapped as
/// `{"body": "<jsonData>"}`. The other fields (schedule, timezone, sink, ceOverrides)
/// are the same in both versions.
pub fn ping_source_v1(mut value: Value) -> Value {
    if let Some(map) = value.as_mapping_mut() {
        map.insert("apiVersion".into(), "sources.knative.dev/v1".into());
    }
    let Some(spec) = value.get_mut("spec").and_then(Value::as_mapping_mut) else { return value };
    let json_data = spec.get("jsonData").and_then(Value::as_str).map(str::to_owned);
    let mut converted = Mapping::new();
    for (key, field) in std::mem::take(spec) {
        if key.as_str() == Some("jsonData") {
            if let Some(data) = json_data.as_deref().filter(|d| !d.is_empty()) {
                converted.insert("contentType".into(), "application/json".into());
                converted.insert("data".into(), json_message(data).into());
            }
        } else {
            converted.insert(key, field);
        }
    }
    *spec = converted;
    value
}

/// upstream's `makeMessage`: a JSON object re-encoded, else `{"body": text}`.
fn json_message(text: &str) -> String {
    match serde_json::from_str::<std::collections::BTreeMap<String, serde_json::Value>>(text) {
        Ok(object) => serde_json::to_string(&object).unwrap_or_else(|_| text.to_owned()),
        Err(_) => serde_json::json!({"body": text}).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(quote("first"), "first");
        assert_eq!(quote("MESSAGE= - Handled by 0"), "'MESSAGE= - Handled by 0'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn images_follow_the_registry_setting() {
        let images = Images::load(&[] as &[&str]).unwrap();
        let choice = |registry: Option<&str>, ours: bool| ImageChoice {
            registry: registry.map(str::to_owned),
            fnmesh_images: ours,
            version: "0.1.0".into(),
        };
        let upstream = "gcr.io/knative-releases/knative.dev/eventing/cmd/appender";
        assert_eq!(image(upstream, &images, &choice(None, false)), upstream);
        assert_eq!(
            image(upstream, &images, &choice(Some("registry.local:5000/me"), true)),
            "registry.local:5000/me/appender:0.1.0"
        );
        assert_eq!(
            image("ghcr.io/fnmesh/filter:0.1.0", &images, &choice(Some("quay.io/x/"), false)),
            "quay.io/x/filter:0.1.0"
        );
        assert_eq!(image("nginx", &images, &choice(None, true)), "nginx");
    }

    #[test]
    fn ping_source_v1beta1_becomes_v1_as_knative_0_22_converted_it() {
        // knative/eventing pkg/apis/sources/v1beta1/ping_conversion.go (removed in
        // 0bfa8de2d): makeMessage re-encodes a JSON object (json.Marshal of a map: compact,
        // keys sorted) and wraps anything else as {"body": ...}; contentType application/json.
        let v1beta1 = |json_data: &str| {
            let text = format!(
                "apiVersion: sources.knative.dev/v1beta1\nkind: PingSource\nmetadata: {{name: p}}\nspec:\n  \
                 schedule: '* * * * *'\n  jsonData: '{json_data}'\n  sink: {{uri: 'http://x'}}\n"
            );
            let value: Value = yaml::from_str(&text).unwrap();
            ping_source_v1(value)
        };
        let converted = v1beta1(r#"{"message": "hello, world!", "id": 1}"#);
        assert_eq!(
            yaml::to_string(&converted).unwrap(),
            "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata:\n  name: p\nspec:\n  schedule: '* * * * *'\n  \
             contentType: application/json\n  data: '{\"id\":1,\"message\":\"hello, world!\"}'\n  sink:\n    uri: http://x\n"
        );
        let wrapped = v1beta1("just text");
        assert_eq!(wrapped["spec"]["data"].as_str(), Some(r#"{"body":"just text"}"#));
        assert_eq!(wrapped["spec"]["contentType"].as_str(), Some("application/json"));
        let empty = v1beta1("");
        assert!(empty["spec"].get("data").is_none() && empty["spec"].get("contentType").is_none());
    }
}
