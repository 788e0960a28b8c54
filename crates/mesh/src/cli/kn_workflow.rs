//! What Kogito's Knative eventing add-on generates for a workflow, for `fnmesh kn`: for
//! every Knative Service that runs fnmesh's `workflow` function (its image maps to the
//! function `workflow`, its container names `WORKFLOW_FILE`), a Trigger per event type
//! the definition consumes, on the broker the manifests use, and a SinkBinding to that
//! broker when the definition produces events and nothing else gives the service a sink.
//! What the manifests already write (a Trigger to the service filtering that type, a
//! `K_SINK`, a SinkBinding for it) is not added again; a note says so.
//!
//! Names are Kogito's: `KnativeResourcesUtil` of
//! `quarkus/addons/knative/eventing/deployment` in apache/incubator-kie-kogito-runtimes
//! names a Trigger `<event type>-trigger-<app>` and a SinkBinding `sb-<app>` (the app
//! being the service), both through fabric8's `KubernetesResourceUtil.sanitizeName`.

use std::path::{Path, PathBuf};

use fnmesh_workflow::definition::{EventKind, Workflow};

use crate::manifests::yaml::{self, Mapping, Value};
use crate::manifests::{Document, Kind};
use crate::plan::{DEFAULT_BROKER, Images};

/// What was generated for the workflows of a set of manifests.
#[derive(Debug, Default)]
pub(super) struct Generated {
    /// Per namespace: notes for the script's header (what was not added, and why).
    pub notes: Vec<(String, String)>,
    /// Per namespace: the objects, each with the comment line that precedes it.
    pub objects: Vec<(String, String, Value)>,
    /// The brokers the objects name, as (namespace, name).
    pub brokers: Vec<(String, String)>,
}

/// The objects Kogito generates for every workflow service of `documents`.
pub(super) fn generate(documents: &[Document], images: &Images) -> Generated {
    let mut out = Generated::default();
    for doc in documents.iter().filter(|d| d.kind == Kind::KService) {
        let Some(file) = workflow_file(&doc.value, images) else { continue };
        let (ns, ksvc) = (doc.namespace.as_str(), doc.name.as_str());
        let workflow = match read(&file, &doc.place.file) {
            Ok(workflow) => workflow,
            Err(why) => {
                out.notes.push((
                    ns.to_owned(),
                    format!(
                        "Service {ksvc}: runs the workflow {file}, which cannot be read here ({why}): the Triggers and \
                         SinkBinding Kogito generates for it are not added"
                    ),
                ));
                continue;
            }
        };
        let id = if workflow.id.is_empty() { ksvc.to_owned() } else { workflow.id.clone() };
        let broker = documents
            .iter()
            .find(|d| d.kind == Kind::Broker && d.namespace == ns)
            .map_or(DEFAULT_BROKER, |d| d.name.as_str());
        let mut types = Vec::new();
        for event in workflow.events.iter().filter(|e| e.kind == EventKind::Consumed) {
            if !types.contains(&event.ty) {
                types.push(event.ty.clone());
            }
        }
        let mut written = Vec::new();
        for ty in types {
            if let Some(trigger) = documents.iter().find(|d| is_trigger_to(d, ns, ksvc, &ty)) {
                written.push(format!("{ty} (Trigger {})", trigger.name));
                continue;
            }
            out.objects.push((
                ns.to_owned(),
                format!(
                    "What Kogito generates for workflow {id} (Service {ksvc}): a Trigger for the event type {ty} it \
                     consumes"
                ),
                trigger(&trigger_name(&ty, ksvc), broker, &ty, ksvc),
            ));
            push_broker(&mut out.brokers, ns, broker);
        }
        if !written.is_empty() {
            out.notes.push((
                ns.to_owned(),
                format!(
                    "Workflow {id} (Service {ksvc}): the manifests already define the Triggers Kogito generates for \
                     what it consumes: {}; none added",
                    written.join(", ")
                ),
            ));
        }
        if workflow.events.iter().any(|e| e.kind == EventKind::Produced) {
            let binding = documents.iter().find(|d| d.kind == Kind::SinkBinding && d.namespace == ns && binds(d, ksvc));
            if let Some(binding) = binding {
                out.notes.push((
                    ns.to_owned(),
                    format!(
                        "Workflow {id} (Service {ksvc}): SinkBinding {} gives its produced events a sink; no \
                         SinkBinding added",
                        binding.name
                    ),
                ));
            } else if has_env(&doc.value, "K_SINK") {
                out.notes.push((
                    ns.to_owned(),
                    format!(
                        "Workflow {id} (Service {ksvc}): its K_SINK is written in the manifest; the SinkBinding Kogito \
                         generates for its produced events is not added"
                    ),
                ));
            } else {
                out.objects.push((
                    ns.to_owned(),
                    format!(
                        "What Kogito generates for workflow {id} (Service {ksvc}): a SinkBinding sending the events it \
                         produces to Broker {broker}"
                    ),
                    sink_binding(&sanitize_name(&format!("sb-{ksvc}")), ksvc, broker),
                ));
                push_broker(&mut out.brokers, ns, broker);
            }
        }
    }
    out
}

fn push_broker(brokers: &mut Vec<(String, String)>, ns: &str, broker: &str) {
    let entry = (ns.to_owned(), broker.to_owned());
    if !brokers.contains(&entry) {
        brokers.push(entry);
    }
}

/// The containers of a Knative Service.
fn containers(value: &Value) -> impl Iterator<Item = &Value> {
    let list =
        value.get("spec").and_then(|s| s.get("template")).and_then(|t| t.get("spec")).and_then(|s| s.get("containers"));
    list.and_then(Value::as_sequence).into_iter().flatten()
}

/// The value of the variable `name` of a container.
fn env<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    let vars = container.get("env").and_then(Value::as_sequence)?;
    vars.iter().find(|v| yaml::str_at(v, "name") == Some(name)).map(|v| yaml::str_at(v, "value").unwrap_or_default())
}

fn has_env(ksvc: &Value, name: &str) -> bool {
    containers(ksvc).any(|c| env(c, name).is_some())
}

/// `WORKFLOW_FILE` of the container of `ksvc` whose image runs the `workflow` function.
fn workflow_file(ksvc: &Value, images: &Images) -> Option<String> {
    containers(ksvc).find_map(|c| {
        let image = yaml::str_at(c, "image")?;
        let runs_workflow = images.resolve(image).is_ok_and(|f| f.name == fnmesh_workflow::SPEC.name);
        env(c, "WORKFLOW_FILE").filter(|f| runs_workflow && !f.is_empty()).map(str::to_owned)
    })
}

/// The definition at `file`: relative to the current directory (as `fnmesh run` reads
/// it), else to the manifest's folder.
fn read(file: &str, manifest: &Path) -> Result<Workflow, String> {
    let mut candidates = vec![PathBuf::from(file)];
    if let Some(dir) = manifest.parent() {
        candidates.push(dir.join(file));
    }
    let found = candidates.iter().find(|p| p.is_file()).ok_or_else(|| "no such file".to_owned())?;
    fnmesh_workflow::definition::load::read_workflow(found)
}

/// `doc` is a Trigger in `ns` that sends events of type `ty` to the Knative Service `ksvc`.
fn is_trigger_to(doc: &Document, ns: &str, ksvc: &str, ty: &str) -> bool {
    if doc.kind != Kind::Trigger || doc.namespace != ns {
        return false;
    }
    let spec = doc.value.get("spec");
    let subscriber = spec.and_then(|s| s.get("subscriber")).and_then(|s| s.get("ref"));
    let filtered = spec.and_then(|s| s.get("filter")).and_then(|f| f.get("attributes")).and_then(|a| a.get("type"));
    subscriber.is_some_and(|r| is_ksvc_ref(r, ksvc)) && filtered.and_then(Value::as_str) == Some(ty)
}

/// `doc` (a SinkBinding) binds the Knative Service `ksvc`.
fn binds(doc: &Document, ksvc: &str) -> bool {
    doc.value.get("spec").and_then(|s| s.get("subject")).is_some_and(|s| is_ksvc_ref(s, ksvc))
}

fn is_ksvc_ref(reference: &Value, ksvc: &str) -> bool {
    yaml::str_at(reference, "kind") == Some("Service")
        && yaml::str_at(reference, "apiVersion").is_some_and(|v| v.starts_with("serving.knative.dev/"))
        && yaml::str_at(reference, "name") == Some(ksvc)
}

/// Kogito's `KnativeResourcesUtil.generateTriggerName`: `<type>-trigger-<app>`, sanitized.
fn trigger_name(ty: &str, ksvc: &str) -> String {
    sanitize_name(&format!("{ty}-trigger-{ksvc}"))
}

/// fabric8's `KubernetesResourceUtil.sanitizeName`, as Kogito calls it: every run of
/// characters other than `[-A-Za-z0-9]` becomes `-`, an `a` goes before a first
/// character that is not a letter or digit, the name is cut at 63 characters and
/// lowercased, and a last character that is not a letter or digit (with the one before
/// it) becomes `a`.
fn sanitize_name(name: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in name.chars() {
        if c == '-' || c.is_ascii_alphanumeric() {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    if !out.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        out.insert(0, 'a');
    }
    out.truncate(63);
    out.make_ascii_lowercase();
    if !out.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        out.truncate(out.len().saturating_sub(2));
        out.push('a');
    }
    out
}

fn mapping(entries: Vec<(&str, Value)>) -> Value {
    let mut map = Mapping::new();
    for (key, value) in entries {
        map.insert(key.into(), value);
    }
    Value::Mapping(map)
}

fn ksvc_ref(ksvc: &str) -> Value {
    mapping(vec![("apiVersion", "serving.knative.dev/v1".into()), ("kind", "Service".into()), ("name", ksvc.into())])
}

fn trigger(name: &str, broker: &str, ty: &str, ksvc: &str) -> Value {
    mapping(vec![
        ("apiVersion", "eventing.knative.dev/v1".into()),
        ("kind", "Trigger".into()),
        ("metadata", mapping(vec![("name", name.into())])),
        (
            "spec",
            mapping(vec![
                ("broker", broker.into()),
                ("filter", mapping(vec![("attributes", mapping(vec![("type", ty.into())]))])),
                ("subscriber", mapping(vec![("ref", ksvc_ref(ksvc))])),
            ]),
        ),
    ])
}

fn sink_binding(name: &str, ksvc: &str, broker: &str) -> Value {
    let broker_ref = mapping(vec![
        ("apiVersion", "eventing.knative.dev/v1".into()),
        ("kind", "Broker".into()),
        ("name", broker.into()),
    ]);
    mapping(vec![
        ("apiVersion", "sources.knative.dev/v1".into()),
        ("kind", "SinkBinding".into()),
        ("metadata", mapping(vec![("name", name.into())])),
        ("spec", mapping(vec![("subject", ksvc_ref(ksvc)), ("sink", mapping(vec![("ref", broker_ref)]))])),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DEFINITION: &str = r#"{"id": "greet", "specVersion": "0.8", "start": "Wait",
      "events": [
        {"name": "Hello", "kind": "consumed", "type": "greeting.hello"},
        {"name": "Bye", "kind": "consumed", "type": "greeting.Bye"},
        {"name": "Done", "kind": "produced", "type": "greeting.done"}
      ],
      "states": [{"name": "Wait", "type": "event", "onEvents": [{"eventRefs": ["Hello"]}], "end": {"produceEvents": [{"eventRef": "Done"}]}}]
    }"#;

    fn ksvc(extra_env: &str) -> String {
        format!(
            "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {{name: greeter-flow}}\nspec:\n  template:\n    \
             spec:\n      containers:\n        - image: ghcr.io/fnmesh/workflow\n          env:\n            - {{name: \
             WORKFLOW_FILE, value: greet.sw.json}}\n{extra_env}"
        )
    }

    /// The set `manifests` in a folder beside the definition (named relative to the
    /// folder, not the current directory).
    fn generate_in(manifests: &str) -> Generated {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("greet.sw.json"), DEFINITION).unwrap();
        std::fs::write(dir.path().join("flow.yaml"), manifests).unwrap();
        let (documents, problems) = crate::manifests::load(&[dir.path().to_owned()], "default");
        assert!(problems.is_empty(), "{problems}");
        generate(&documents, &Images::load(&[] as &[&str]).unwrap())
    }

    fn names(generated: &Generated) -> Vec<(String, String)> {
        generated
            .objects
            .iter()
            .map(|(_, _, v)| {
                (v["kind"].as_str().unwrap().to_owned(), v["metadata"]["name"].as_str().unwrap().to_owned())
            })
            .collect()
    }

    #[test]
    fn kogito_names() {
        assert_eq!(trigger_name("greeting.hello", "greeter-flow"), "greeting-hello-trigger-greeter-flow");
        assert_eq!(sanitize_name("Confirm..Subscription"), "confirm-subscription");
        assert_eq!(sanitize_name(".x"), "a-x");
        assert_eq!(sanitize_name("ab."), "aa");
        let long = trigger_name(&"t".repeat(60), "svc");
        assert_eq!(long.len(), 63);
        assert!(long.starts_with("tttt") && long.ends_with("-tr"));
    }

    #[test]
    fn a_trigger_per_consumed_type_and_a_sink_binding_when_none_is_written() {
        let generated = generate_in(&ksvc(""));
        assert_eq!(
            names(&generated),
            [
                ("Trigger".into(), "greeting-hello-trigger-greeter-flow".into()),
                ("Trigger".into(), "greeting-bye-trigger-greeter-flow".into()),
                ("SinkBinding".into(), "sb-greeter-flow".into()),
            ]
        );
        let (ns, comment, trigger) = &generated.objects[1];
        assert_eq!(ns, "default");
        assert!(comment.starts_with("What Kogito generates for workflow greet (Service greeter-flow)"), "{comment}");
        assert_eq!(
            yaml::to_string(trigger).unwrap(),
            "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: greeting-bye-trigger-greeter-flow\n\
             spec:\n  broker: default\n  filter:\n    attributes:\n      type: greeting.Bye\n  subscriber:\n    ref:\n      \
             apiVersion: serving.knative.dev/v1\n      kind: Service\n      name: greeter-flow\n"
        );
        assert_eq!(
            yaml::to_string(&generated.objects[2].2).unwrap(),
            "apiVersion: sources.knative.dev/v1\nkind: SinkBinding\nmetadata:\n  name: sb-greeter-flow\nspec:\n  subject:\n    \
             apiVersion: serving.knative.dev/v1\n    kind: Service\n    name: greeter-flow\n  sink:\n    ref:\n      \
             apiVersion: eventing.knative.dev/v1\n      kind: Broker\n      name: default\n"
        );
        assert_eq!(generated.brokers, [("default".to_owned(), DEFAULT_BROKER.to_owned())]);
        assert!(generated.notes.is_empty(), "{:?}", generated.notes);
    }

    #[test]
    fn triggers_and_sinks_the_manifests_write_are_not_added_again() {
        let trigger = |name: &str, ty: &str| {
            format!(
                "---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {{name: {name}}}\nspec:\n  broker: \
                 greetings\n  filter: {{attributes: {{type: {ty}}}}}\n  subscriber: {{ref: {{apiVersion: \
                 serving.knative.dev/v1, kind: Service, name: greeter-flow}}}}\n"
            )
        };
        let broker = "---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: greetings}\n";
        // Both types written by hand, and a K_SINK: nothing added.
        let sink = "            - {name: K_SINK, value: 'http://broker-ingress.knative-eventing.svc.cluster.local/default/greetings'}\n";
        let all =
            format!("{}{broker}{}{}", ksvc(sink), trigger("hello", "greeting.hello"), trigger("bye", "greeting.Bye"));
        let generated = generate_in(&all);
        assert!(generated.objects.is_empty(), "{:?}", names(&generated));
        assert_eq!(generated.notes.len(), 2, "{:?}", generated.notes);
        assert!(
            generated.notes[0].1.contains("greeting.hello (Trigger hello), greeting.Bye (Trigger bye); none added")
        );
        assert!(generated.notes[1].1.contains("K_SINK"));
        // One written: the other is added, on the set's broker; a SinkBinding written for it.
        let binding = "---\napiVersion: sources.knative.dev/v1\nkind: SinkBinding\nmetadata: {name: mine}\nspec:\n  \
                       subject: {apiVersion: serving.knative.dev/v1, kind: Service, name: greeter-flow}\n  sink: {ref: \
                       {apiVersion: eventing.knative.dev/v1, kind: Broker, name: greetings}}\n";
        let generated = generate_in(&format!("{}{broker}{}{binding}", ksvc(""), trigger("hello", "greeting.hello")));
        assert_eq!(names(&generated), [("Trigger".into(), "greeting-bye-trigger-greeter-flow".into())]);
        assert_eq!(generated.objects[0].2["spec"]["broker"].as_str(), Some("greetings"));
        assert!(generated.notes.iter().any(|(_, n)| n.contains("SinkBinding mine")), "{:?}", generated.notes);
    }

    #[test]
    fn services_that_do_not_run_the_workflow_function_are_left_alone() {
        let other = ksvc("").replace("ghcr.io/fnmesh/workflow", "ghcr.io/fnmesh/event-display");
        assert!(generate_in(&other).objects.is_empty());
        let missing = ksvc("").replace("greet.sw.json", "nowhere.sw.json");
        let generated = generate_in(&missing);
        assert!(generated.objects.is_empty());
        assert!(generated.notes[0].1.contains("cannot be read here"), "{:?}", generated.notes);
    }
}
