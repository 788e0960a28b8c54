//! A container's environment as the kubelet builds it when the pod starts
//! (kubernetes `pkg/kubelet/kubelet_pods.go`, `makeEnvironmentVariables`): first every
//! key of each `envFrom` ConfigMap or Secret (with its `prefix`), then `env` in order (a
//! later entry wins), each a `value` or a `valueFrom` key of a Secret (`data`, base64,
//! with `stringData` over it, as the API server merges them) or of a ConfigMap (`data`),
//! read from the manifests in the set. A missing object or key is a problem at the field
//! that names it, unless `optional: true`, which leaves the variable out.
//! `fieldRef` and `resourceFieldRef` (the pod's own fields) have no local value: the
//! variable is left empty, with a warning.

use std::collections::BTreeMap;

use base64::Engine;

use super::{Key, Planner, key};
use crate::manifests::Document;
use crate::manifests::serving::Container;
use crate::manifests::yaml::Value;

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A `v1` ConfigMap.
    ConfigMap,
    /// A `v1` Secret.
    Secret,
}

impl Source {
    fn kind(self) -> &'static str {
        match self {
            Self::ConfigMap => "ConfigMap",
            Self::Secret => "Secret",
        }
    }
}

impl Planner<'_> {
    /// The environment of `container` (at `path` of `doc`, e.g.
    /// `spec.template.spec.containers[0]`), in the order the kubelet builds it.
    pub(super) fn environment(&mut self, doc: &Document, container: &Container, path: &str) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for (i, from) in container.env_from.iter().enumerate() {
            let prefix = from.prefix.as_deref().unwrap_or_default();
            let sources = [
                (Source::ConfigMap, "configMapRef", &from.config_map_ref),
                (Source::Secret, "secretRef", &from.secret_ref),
            ];
            for (source, field, reference) in sources {
                let Some(reference) = reference else { continue };
                let at = format!("{path}.envFrom[{i}].{field}.name");
                match self.config_data(source, &doc.namespace, &reference.name) {
                    Some(data) => env.extend(data.iter().map(|(k, v)| (format!("{prefix}{k}"), v.clone()))),
                    None if reference.optional == Some(true) => {}
                    None => self.problems.add(&doc.place, at, missing(source, &reference.name, &doc.namespace)),
                }
            }
        }
        for (i, var) in container.env.iter().enumerate() {
            let Some(from) = &var.value_from else {
                env.push((var.name.clone(), var.value.clone().unwrap_or_default()));
                continue;
            };
            let at = format!("{path}.env[{i}].valueFrom");
            let selected = [
                (Source::Secret, "secretKeyRef", &from.secret_key_ref),
                (Source::ConfigMap, "configMapKeyRef", &from.config_map_key_ref),
            ];
            let Some((source, field, Some(selector))) = selected.into_iter().find(|(_, _, s)| s.is_some()) else {
                let which = if from.field_ref.is_some() { "fieldRef" } else { "resourceFieldRef" };
                self.plan.warnings.push(format!(
                    "{} {}: {at}.{which} ({}) has no value outside a pod: empty",
                    doc.kind_name, doc.name, var.name
                ));
                env.push((var.name.clone(), String::new()));
                continue;
            };
            let optional = selector.optional == Some(true);
            match self.config_data(source, &doc.namespace, &selector.name) {
                Some(data) => match data.get(&selector.key) {
                    Some(value) => env.push((var.name.clone(), value.clone())),
                    None if optional => {}
                    None => self.problems.add(
                        &doc.place,
                        format!("{at}.{field}.key"),
                        format!("{} {} has no key {}", source.kind(), selector.name, selector.key),
                    ),
                },
                None if optional => {}
                None => self.problems.add(
                    &doc.place,
                    format!("{at}.{field}.name"),
                    missing(source, &selector.name, &doc.namespace),
                ),
            }
        }
        env
    }

    /// The data of ConfigMap or Secret `name` in `namespace` as text, read once (its own
    /// problems are reported at its place); `None` when the set has none.
    fn config_data(&mut self, source: Source, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let k: Key = key("", source.kind(), namespace, name);
        if let Some(data) = self.config.get(&k) {
            return Some(data.clone());
        }
        let doc = self.index.get(&k).copied()?;
        let (data, problems) = match source {
            Source::ConfigMap => strings(doc.value.get("data"), "data", |s| Ok(s.to_owned())),
            Source::Secret => {
                let (mut data, mut problems) = strings(doc.value.get("data"), "data", |s| {
                    let bytes =
                        base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("not base64: {e}"))?;
                    String::from_utf8(bytes).map_err(|_| {
                        "not UTF-8 text once decoded: fnmesh run passes environment variables as text".to_owned()
                    })
                });
                let (text, more) = strings(doc.value.get("stringData"), "stringData", |s| Ok(s.to_owned()));
                data.extend(text);
                problems.extend(more);
                (data, problems)
            }
        };
        for (path, message) in problems {
            self.problems.add(&doc.place, path, message);
        }
        self.config.insert(k, data.clone());
        Some(data)
    }
}

/// The string values of the mapping at `field`, each through `read`; the problems of
/// the others, with their paths.
fn strings(
    mapping: Option<&Value>,
    field: &str,
    read: impl Fn(&str) -> Result<String, String>,
) -> (BTreeMap<String, String>, Vec<(String, String)>) {
    let (mut data, mut problems) = (BTreeMap::new(), Vec::new());
    let Some(mapping) = mapping.filter(|m| !m.is_null()) else { return (data, problems) };
    let Some(mapping) = mapping.as_mapping() else {
        problems.push((field.to_owned(), "must be a map of strings".to_owned()));
        return (data, problems);
    };
    for (k, v) in mapping {
        let Some(k) = k.as_str() else {
            problems.push((field.to_owned(), "keys must be strings".to_owned()));
            continue;
        };
        let path = format!("{field}.{k}");
        match v.as_str().map(&read) {
            Some(Ok(text)) => {
                data.insert(k.to_owned(), text);
            }
            Some(Err(message)) => problems.push((path, message)),
            None => problems.push((path, "must be a string (quote it)".to_owned())),
        }
    }
    (data, problems)
}

fn missing(source: Source, name: &str, namespace: &str) -> String {
    format!("no {} {name} in namespace {namespace} (set optional: true if it may be missing)", source.kind())
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::plan::{Images, Plan, plan};

    /// Plans `yaml` with fnmesh's images; the plan, or the problems as text.
    pub(crate) fn planned(yaml: &str) -> Result<Plan, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("m.yaml"), yaml).map_err(|e| e.to_string())?;
        let (documents, problems) = crate::manifests::load(&[dir.path().to_owned()], "default");
        let images = Images::load(&[] as &[&str]).map_err(|e| e.to_string())?;
        plan(&documents, Some(&images), problems).map_err(|p| p.to_string())
    }

    fn env_of(plan: &Plan, name: &str) -> Vec<(String, String)> {
        plan.services.iter().find(|s| s.name == name).map(|s| s.env.clone()).unwrap_or_default()
    }

    const CONFIG: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello, level: debug}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {token: czNjcjN0, user: YWRh}
stringData: {user: bob}
---
";

    /// kubernetes pkg/kubelet/kubelet_pods.go `makeEnvironmentVariables`: `envFrom` first
    /// (with the prefix), then `env` in order; Secret `data` is base64 and the API server
    /// merges `stringData` over it; an `optional` reference that is missing leaves the
    /// variable out.
    #[test]
    fn env_reads_secrets_and_config_maps_as_the_kubelet_does() {
        let yaml = format!(
            "{CONFIG}apiVersion: serving.knative.dev/v1
kind: Service
metadata: {{name: web}}
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/fnmesh/event-display
        envFrom:
        - configMapRef: {{name: settings}}
          prefix: APP_
        - secretRef: {{name: absent, optional: true}}
        env:
        - {{name: TOKEN, valueFrom: {{secretKeyRef: {{name: creds, key: token}}}}}}
        - {{name: USER, valueFrom: {{secretKeyRef: {{name: creds, key: user}}}}}}
        - {{name: GREETING, valueFrom: {{configMapKeyRef: {{name: settings, key: greeting}}}}}}
        - {{name: MAYBE, valueFrom: {{configMapKeyRef: {{name: settings, key: nokey, optional: true}}}}}}
        - {{name: NONE, valueFrom: {{secretKeyRef: {{name: absent, key: x, optional: true}}}}}}
        - {{name: PLAIN, value: text}}
"
        );
        let plan = planned(&yaml).unwrap();
        let env = env_of(&plan, "web");
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("APP_greeting", "hello"),
                ("APP_level", "debug"),
                ("TOKEN", "s3cr3t"),
                ("USER", "bob"),
                ("GREETING", "hello"),
                ("PLAIN", "text"),
            ]
        );
        // Read for env, so not listed as ignored.
        assert_eq!(plan.ignored_line(), None);
    }

    #[test]
    fn a_missing_reference_is_a_problem_at_its_field() {
        let yaml = format!(
            "{CONFIG}apiVersion: apps/v1
kind: Deployment
metadata: {{name: api}}
spec:
  template:
    metadata: {{labels: {{app: api}}}}
    spec:
      containers:
      - image: ghcr.io/fnmesh/event-display
        envFrom: [{{configMapRef: {{name: nosuch}}}}]
        env:
        - {{name: A, valueFrom: {{secretKeyRef: {{name: creds, key: nokey}}}}}}
        - {{name: B, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: api}}
spec: {{selector: {{app: api}}}}
"
        );
        let err = planned(&yaml).unwrap_err();
        let expected = [
            "doc 3 (Deployment api): spec.template.spec.containers[0].envFrom[0].configMapRef.name: no ConfigMap \
             nosuch in namespace default (set optional: true if it may be missing)",
            "doc 3 (Deployment api): spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key: Secret \
             creds has no key nokey",
        ];
        for line in expected {
            assert!(err.contains(line), "{line:?} not in\n{err}");
        }
        assert!(err.starts_with("2 problems"), "{err}");
    }

    #[test]
    fn secret_and_config_map_values_must_be_text() {
        let yaml = "apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {port: 8080}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {token: '%%%'}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/fnmesh/event-display
        envFrom: [{configMapRef: {name: settings}}, {secretRef: {name: creds}}]
";
        let err = planned(yaml).unwrap_err();
        assert!(err.contains("doc 1 (ConfigMap settings): data.port: must be a string (quote it)"), "{err}");
        assert!(err.contains("doc 2 (Secret creds): data.token: not base64"), "{err}");
    }
}
