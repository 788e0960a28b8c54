//! ContainerSource and SinkBinding (`sources.knative.dev/v1`): containers that send
//! events on their own, told where by `K_SINK`. As on a cluster:
//!
//! * a ContainerSource's template runs as the Deployment `<name>-deployment`
//!   (knative/eventing `pkg/reconciler/containersource/resources/deployment.go`), which a
//!   SinkBinding made by its controller binds to its sink (`resources/sinkbinding.go`):
//!   here a workload whose image is an fnmesh function, or whose annotation
//!   `fnmesh.dev/command` runs a local command;
//! * a SinkBinding gives the containers of its subject (a Knative Service or a
//!   Deployment, by name or by label selector) `K_SINK` (the sink's URL), `K_CA_CERTS`
//!   (the sink's `CACerts`, when set) and `K_CE_OVERRIDES` (`ceOverrides` as JSON, empty
//!   without them), after the container's own `env`, which loses any of the three
//!   (`SinkBinding.Do`, `pkg/apis/sources/v1/sinkbinding_lifecycle.go`).
//!
//! A Deployment that no v1 Service selects runs when a SinkBinding binds it, as a
//! source's pod. `fnmesh run` sends an in-cluster `K_SINK` through its ingress.

use super::delivery::Target;
use super::{Images, Planner, key};
use crate::manifests::model::{CeOverrides, ContainerSourceSpec, Destination, LabelSelector, SinkBindingSpec, Subject};
use crate::manifests::{Document, FieldProblem, Kind, Spec};

/// The variables a SinkBinding sets, and that it takes off a container's own `env`.
const BOUND: [&str; 3] = ["K_SINK", "K_CE_OVERRIDES", "K_CA_CERTS"];

/// A SinkBinding, with what it binds and the variables it gives.
#[derive(Debug)]
pub(super) struct Binding<'a> {
    /// The Knative Services and Deployments it binds.
    subjects: Vec<&'a Document>,
    /// `K_SINK`, `K_CA_CERTS`, `K_CE_OVERRIDES`.
    env: Vec<(String, String)>,
}

/// `kmeta.ChildName(name, "-deployment")`: the ContainerSource's Deployment
/// (`resources/names.go`; names past 63 characters, hashed upstream, are kept whole).
pub fn deployment_name(source: &str) -> String {
    format!("{source}-deployment")
}

/// The problems of `ceOverrides` (`duckv1.CloudEventOverrides.Validate`): extension
/// names are letters and digits, lowercase as CloudEvents requires.
pub fn ce_overrides_problems(overrides: Option<&CeOverrides>) -> Vec<FieldProblem> {
    overrides
        .iter()
        .flat_map(|o| o.extensions.keys())
        .filter(|name| !fnmesh_runtime::binding::is_valid_extension_name(name))
        .map(|name| {
            FieldProblem::new(
                format!("spec.ceOverrides.extensions.{name}"),
                "extension names are lowercase letters and digits (a-z, 0-9)",
            )
        })
        .collect()
}

/// `K_SINK` as the binding writes it: `status.address.url` of a ref (no trailing `/`),
/// a `uri` as written.
fn sink_text(destination: &Destination, target: &Target) -> String {
    match (&destination.reference, &destination.uri) {
        (None, Some(uri)) => uri.clone(),
        (_, uri) => {
            let text = target.url.to_string();
            let written_slash = uri.as_deref().is_some_and(|u| u.ends_with('/'));
            if target.url.path() == "/" && target.url.query().is_none() && !written_slash {
                text.trim_end_matches('/').to_owned()
            } else {
                text
            }
        }
    }
}

/// The binding's variables on a container's `env`: the container's own values of them
/// are dropped first (`SinkBinding.Undo`), then they are appended.
pub fn bind(env: &mut Vec<(String, String)>, bound: &[(String, String)]) {
    env.retain(|(name, _)| !BOUND.contains(&name.as_str()));
    env.extend(bound.iter().cloned());
}

impl<'a> Planner<'a> {
    pub(super) fn container_source(&mut self, doc: &'a Document, spec: &ContainerSourceSpec, images: Option<&Images>) {
        let bound = self.sink_env(doc, &spec.sink, spec.ce_overrides.as_ref());
        let name = deployment_name(&doc.name);
        if let Some(index) = self.workload(doc, &doc.metadata, &spec.template, images, &name, true)
            && let Some(bound) = bound
        {
            bind(&mut self.plan.services[index].env, &bound);
        }
    }

    pub(super) fn sink_binding(&mut self, doc: &'a Document, spec: &SinkBindingSpec) {
        let bound = self.sink_env(doc, &spec.sink, spec.ce_overrides.as_ref());
        let subjects = self.subjects(doc, &spec.subject);
        if let Some(env) = bound {
            self.bindings.push(Binding { subjects, env });
        }
    }

    /// Applies every SinkBinding to the services planned from its subjects; a bound
    /// Deployment that no Service runs is planned now, as a source's pod.
    pub(super) fn bind_sinks(&mut self, images: Option<&Images>) {
        let bindings = std::mem::take(&mut self.bindings);
        for binding in &bindings {
            for subject in &binding.subjects {
                let origin = key(subject.group(), &subject.kind_name, &subject.namespace, &subject.name);
                let mut planned: Vec<usize> =
                    self.origins.iter().filter(|(k, _)| *k == origin).map(|(_, index)| *index).collect();
                if planned.is_empty()
                    && let Some(Spec::Deployment(deployment)) = &subject.spec
                    && let Some(index) =
                        self.workload(subject, &subject.metadata, &deployment.template, images, &subject.name, true)
                {
                    planned.push(index);
                }
                for index in planned {
                    bind(&mut self.plan.services[index].env, &binding.env);
                }
            }
        }
        self.bindings = bindings;
    }

    /// The variables a binding to `sink` gives; `None` (and a problem) when the sink
    /// cannot be resolved.
    fn sink_env(
        &mut self,
        doc: &Document,
        sink: &Destination,
        overrides: Option<&CeOverrides>,
    ) -> Option<Vec<(String, String)>> {
        let problems = ce_overrides_problems(overrides);
        let failed = !problems.is_empty();
        self.problems.extend(&doc.place, problems);
        let target = self.destination(doc, "spec.sink", sink)?;
        if failed {
            return None;
        }
        let mut env = vec![("K_SINK".to_owned(), sink_text(sink, &target))];
        if let Some(ca) = &sink.ca_certs {
            env.push(("K_CA_CERTS".to_owned(), ca.clone()));
        }
        // json.Marshal of duckv1.CloudEventOverrides: keys sorted, `extensions` omitted
        // when empty; no ceOverrides: an empty value.
        let overrides = overrides.map(|o| serde_json::to_string(o).unwrap_or_default()).unwrap_or_default();
        env.push(("K_CE_OVERRIDES".to_owned(), overrides));
        Some(env)
    }

    /// The objects `subject` of SinkBinding `doc` names (`tracker.Reference.Validate`,
    /// knative.dev/pkg `tracker/interface.go`); problems where it is invalid, and a
    /// warning when it binds nothing that fnmesh runs.
    fn subjects(&mut self, doc: &'a Document, subject: &Subject) -> Vec<&'a Document> {
        let mut problems = Vec::new();
        for (field, value) in [("apiVersion", &subject.api_version), ("kind", &subject.kind)] {
            if value.is_empty() {
                problems.push(FieldProblem::new(format!("spec.subject.{field}"), "required"));
            }
        }
        // sinkbinding_validation.go: a binding binds objects of its own namespace.
        if let Some(namespace) = subject.namespace.as_deref().filter(|n| !n.is_empty() && *n != doc.namespace) {
            problems.push(FieldProblem::new(
                "spec.subject.namespace",
                format!(
                    "invalid value: {namespace} (a SinkBinding binds objects of its own namespace, {})",
                    doc.namespace
                ),
            ));
        }
        let name = subject.name.as_deref().filter(|n| !n.is_empty());
        match (name, &subject.selector) {
            (Some(_), Some(_)) => {
                problems.push(FieldProblem::new("spec.subject", "expected exactly one, got both: name, selector"));
            }
            (None, None) => {
                problems.push(FieldProblem::new("spec.subject", "expected exactly one, got neither: name, selector"));
            }
            (None, Some(selector)) => problems.extend(selector_problems(selector)),
            (Some(_), None) => {}
        }
        if !problems.is_empty() {
            self.problems.extend(&doc.place, problems);
            return Vec::new();
        }
        let kind = Kind::of_api_version(&subject.api_version, &subject.kind);
        if !matches!(kind, Kind::KService | Kind::Deployment) {
            self.plan.warnings.push(format!(
                "SinkBinding {}: fnmesh run runs no {} {}: the binding binds nothing here (it binds \
                 serving.knative.dev Services and apps/v1 Deployments)",
                doc.name, subject.api_version, subject.kind
            ));
            return Vec::new();
        }
        if let (Some(name), None) = (name, &subject.selector) {
            return match self.find(kind, &doc.namespace, name) {
                Some(found) => vec![found],
                None => {
                    let message =
                        format!("no {} {name} in namespace {} ({})", subject.kind, doc.namespace, subject.api_version);
                    self.problems.add(&doc.place, "spec.subject.name", message);
                    Vec::new()
                }
            };
        }
        let selector = subject.selector.clone().unwrap_or_default();
        let found: Vec<&'a Document> =
            self.all(kind).filter(|d| d.namespace == doc.namespace && selects(&selector, &d.metadata.labels)).collect();
        if found.is_empty() {
            self.plan.warnings.push(format!(
                "SinkBinding {}: no {} {} in namespace {} has the labels its selector asks for: it binds nothing",
                doc.name, subject.api_version, subject.kind, doc.namespace
            ));
        }
        found
    }
}

/// `metav1.LabelSelectorAsSelector`'s checks: a known operator, values for `In` and
/// `NotIn` only.
fn selector_problems(selector: &LabelSelector) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    for (i, requirement) in selector.match_expressions.iter().enumerate() {
        let path = format!("spec.subject.selector.matchExpressions[{i}]");
        match requirement.operator.as_str() {
            "In" | "NotIn" if requirement.values.is_empty() => problems.push(FieldProblem::new(
                format!("{path}.values"),
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            "Exists" | "DoesNotExist" if !requirement.values.is_empty() => problems.push(FieldProblem::new(
                format!("{path}.values"),
                "values set must be empty for exists and does not exist",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => problems.push(FieldProblem::new(
                format!("{path}.operator"),
                format!("{other:?} is not a valid label selector operator"),
            )),
        }
    }
    problems
}

/// Whether `labels` satisfy `selector` (every requirement; an empty selector takes all).
fn selects(selector: &LabelSelector, labels: &std::collections::BTreeMap<String, String>) -> bool {
    selector.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
        && selector.match_expressions.iter().all(|r| {
            let value = labels.get(&r.key);
            match r.operator.as_str() {
                "In" => value.is_some_and(|v| r.values.contains(v)),
                "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::model::LabelSelectorRequirement;
    use crate::plan::env::tests::planned;

    fn env(plan: &crate::plan::Plan, name: &str) -> Vec<(String, String)> {
        plan.services.iter().find(|s| s.name == name).map(|s| s.env.clone()).unwrap_or_default()
    }

    const DISPLAY: &str = "apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: display, labels: {role: sink}}
spec: {template: {spec: {containers: [{image: ghcr.io/fnmesh/event-display}]}}}
---
";

    /// pkg/reconciler/containersource/resources/deployment.go and names.go: the template
    /// runs as `<name>-deployment`; resources/sinkbinding.go binds it to the sink, and
    /// sinkbinding_lifecycle.go `Do` appends K_SINK then K_CE_OVERRIDES (json.Marshal of
    /// the overrides) after the container's env, without its own K_SINK.
    #[test]
    fn a_container_source_runs_its_template_with_k_sink_and_k_ce_overrides() {
        let yaml = format!(
            "{DISPLAY}apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata: {{name: beats}}
spec:
  ceOverrides: {{extensions: {{flow: beats, area: eu}}}}
  sink: {{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: display}}}}
  template:
    spec:
      containers:
      - image: ghcr.io/fnmesh/event-display
        env: [{{name: K_SINK, value: 'http://mine'}}, {{name: PERIOD, value: '1'}}]
"
        );
        let plan = planned(&yaml).unwrap();
        let beats = plan.services.iter().find(|s| s.name == "beats-deployment").unwrap();
        assert!(beats.source);
        let pairs: Vec<(&str, &str)> = beats.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("PERIOD", "1"),
                ("K_SINK", "http://display.default.svc.cluster.local"),
                ("K_CE_OVERRIDES", r#"{"extensions":{"area":"eu","flow":"beats"}}"#),
            ]
        );
        assert!(!plan.services.iter().find(|s| s.name == "display").unwrap().source);
    }

    /// sinkbinding_lifecycle.go `Do`: K_CE_OVERRIDES is always set, empty without
    /// `ceOverrides`; K_CA_CERTS when the sink has CACerts. A subject by name (a ksvc)
    /// or by selector (a Deployment no Service selects: it runs as a source's pod).
    #[test]
    fn a_sink_binding_binds_its_subjects_by_name_or_selector() {
        let yaml = format!(
            "{DISPLAY}apiVersion: apps/v1
kind: Deployment
metadata: {{name: producer, labels: {{app: producer}}}}
spec: {{template: {{spec: {{containers: [{{image: ghcr.io/fnmesh/event-display}}]}}}}}}
---
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata: {{name: by-selector}}
spec:
  subject: {{apiVersion: apps/v1, kind: Deployment, selector: {{matchLabels: {{app: producer}}}}}}
  sink: {{uri: 'https://sink.example/events', CACerts: PEM}}
---
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata: {{name: by-name}}
spec:
  subject: {{apiVersion: serving.knative.dev/v1, kind: Service, name: display}}
  ceOverrides: {{}}
  sink: {{ref: {{apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}}}
"
        );
        let plan = planned(&yaml).unwrap();
        let producer = plan.services.iter().find(|s| s.name == "producer").unwrap();
        assert!(producer.source, "a bound Deployment without a Service is a source's pod");
        assert_eq!(
            env(&plan, "producer"),
            [
                ("K_SINK".to_owned(), "https://sink.example/events".to_owned()),
                ("K_CA_CERTS".to_owned(), "PEM".to_owned()),
                ("K_CE_OVERRIDES".to_owned(), String::new()),
            ]
        );
        assert_eq!(
            env(&plan, "display"),
            [
                (
                    "K_SINK".to_owned(),
                    "http://broker-ingress.knative-eventing.svc.cluster.local/default/default".to_owned()
                ),
                ("K_CE_OVERRIDES".to_owned(), "{}".to_owned()),
            ]
        );
        let rows: Vec<&str> = plan.objects.iter().map(|o| o.kind.as_str()).collect();
        assert!(rows.contains(&"sinkbinding"), "{rows:?}");
    }

    #[test]
    fn a_binding_of_a_kind_fnmesh_does_not_run_is_a_warning() {
        let yaml = "apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata: {name: cron}
spec:
  subject: {apiVersion: batch/v1, kind: Job, selector: {matchLabels: {app: heartbeat-cron}}}
  sink: {uri: 'http://sink.example'}
---
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata: {name: nobody}
spec:
  subject: {apiVersion: apps/v1, kind: Deployment, selector: {matchLabels: {app: nobody}}}
  sink: {uri: 'http://sink.example'}
";
        let plan = planned(yaml).unwrap();
        assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
        assert!(
            plan.warnings[0].starts_with("SinkBinding cron: fnmesh run runs no batch/v1 Job"),
            "{:?}",
            plan.warnings
        );
        assert!(plan.warnings[1].contains("it binds nothing"), "{:?}", plan.warnings);
    }

    #[test]
    fn the_binding_replaces_the_containers_own_variables() {
        let mut env = vec![("A".into(), "1".into()), ("K_SINK".into(), "http://old".into()), ("B".into(), "2".into())];
        bind(&mut env, &[("K_SINK".into(), "http://new".into()), ("K_CE_OVERRIDES".into(), String::new())]);
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["A", "B", "K_SINK", "K_CE_OVERRIDES"]);
        assert_eq!(env[2].1, "http://new");
    }

    /// k8s.io/apimachinery `labels.Selector` semantics: `NotIn` matches a missing label.
    #[test]
    fn selectors_match_as_kubernetes_matches() {
        let labels = [("app".to_owned(), "heartbeat".to_owned())].into_iter().collect();
        let requirement = |key: &str, operator: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        };
        let with = |expressions| LabelSelector { match_expressions: expressions, ..LabelSelector::default() };
        assert!(selects(&LabelSelector::default(), &labels));
        assert!(selects(&with(vec![requirement("app", "In", &["heartbeat", "x"])]), &labels));
        assert!(selects(&with(vec![requirement("tier", "NotIn", &["web"])]), &labels));
        assert!(!selects(&with(vec![requirement("app", "DoesNotExist", &[])]), &labels));
        assert!(selects(&with(vec![requirement("app", "Exists", &[])]), &labels));
        let problems = selector_problems(&with(vec![requirement("app", "Matches", &[]), requirement("a", "In", &[])]));
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["spec.subject.selector.matchExpressions[0].operator", "spec.subject.selector.matchExpressions[1].values"]
        );
    }

    #[test]
    fn k_sink_is_written_as_the_binding_writes_it() {
        let target = |url: &str| Target { url: url::Url::parse(url).unwrap(), name: "x".into() };
        let by_ref = Destination {
            reference: Some(crate::manifests::model::KRef {
                api_version: "serving.knative.dev/v1".into(),
                kind: "Service".into(),
                name: "display".into(),
                namespace: None,
            }),
            ..Destination::default()
        };
        assert_eq!(
            sink_text(&by_ref, &target("http://display.default.svc.cluster.local")),
            "http://display.default.svc.cluster.local"
        );
        let by_uri = Destination { uri: Some("http://Sink.example:8080".into()), ..Destination::default() };
        assert_eq!(sink_text(&by_uri, &target("http://sink.example:8080/")), "http://Sink.example:8080");
    }
}
