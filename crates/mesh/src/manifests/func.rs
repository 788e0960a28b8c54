//! A Knative `func` project (a folder with `func.yaml`) read as the objects `func deploy`
//! makes of it (knative/func `pkg/knative/deployer.go`): a Knative Service named after the
//! function, with `run.envs` as its env, `deploy.annotations` and `deploy.labels`, and
//! one Trigger per `deploy.subscriptions` entry, `<name>-function-trigger-<i>` on the
//! broker `source` with the `filters` as attributes. `fnmesh run` builds the project from
//! its folder (`fnmesh.dev/source: .`): a Rust crate with cargo, Node.js with `npm start`;
//! other runtimes say how to start them with a `fnmesh.dev/command` annotation.
//!
//! Env values: literal, `{{ env:NAME }}` (from the environment `fnmesh` runs in, as
//! `func deploy` reads it), `{{ secret:NAME:KEY }}` and `{{ configMap:NAME:KEY }}` (read
//! from the manifests as a pod reads them), and a whole Secret or ConfigMap with no name.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::problems::FieldProblem;

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Function {
    #[serde(default)]
    name: String,
    #[serde(default)]
    runtime: String,
    #[serde(default)]
    registry: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    run: Run,
    /// Before func 0.35 the env lived at the top level.
    #[serde(default)]
    envs: Vec<Env>,
    #[serde(default)]
    deploy: Deploy,
}

#[derive(Debug, Deserialize, Default)]
struct Run {
    #[serde(default)]
    envs: Vec<Env>,
}

#[derive(Debug, Deserialize, Default)]
struct Env {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Deploy {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    labels: Vec<Label>,
    #[serde(default)]
    health_endpoints: HealthEndpoints,
    #[serde(default)]
    subscriptions: Vec<Subscription>,
}

#[derive(Debug, Deserialize, Default)]
struct Label {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize, Default)]
struct HealthEndpoints {
    #[serde(default)]
    readiness: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Subscription {
    source: String,
    #[serde(default)]
    filters: BTreeMap<String, String>,
}

/// The documents `func deploy` would make of `text` (a `func.yaml`), as YAML text;
/// `lookup` reads the environment for `{{ env:NAME }}`.
pub fn documents(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, FieldProblem> {
    let value: super::yaml::Value =
        super::yaml::from_str(text).map_err(|message| FieldProblem { path: String::new(), message })?;
    let function: Function = super::spec::deserialize::<Function>(&value, "")
        .0
        .map_err(|p| FieldProblem { path: p.path.trim_start_matches('.').to_owned(), message: p.message })?;
    if function.name.is_empty() {
        return Err(FieldProblem { path: "name".into(), message: "required: it names the Knative Service".into() });
    }
    let mut env = Vec::new();
    let mut env_from = Vec::new();
    let (envs, field) =
        if function.run.envs.is_empty() { (&function.envs, "envs") } else { (&function.run.envs, "run.envs") };
    for (i, var) in envs.iter().enumerate() {
        let path = |leaf: &str| format!("{field}[{i}].{leaf}");
        let value = var.value.clone().unwrap_or_default();
        let parts = template(&value);
        match (&var.name, parts.as_ref().map(|(kind, args)| (*kind, args.as_slice()))) {
            (Some(name), None) => env.push(json!({"name": name, "value": value})),
            (Some(name), Some(("env", [key]))) => match lookup(key) {
                Some(value) => env.push(json!({"name": name, "value": value})),
                None => {
                    return Err(FieldProblem {
                        path: path("value"),
                        message: format!("{{{{ env:{key} }}}}: {key} is not set in the environment fnmesh runs in"),
                    });
                }
            },
            (Some(name), Some((kind @ ("secret" | "configMap"), [object, key]))) => {
                let reference = if kind == "secret" { "secretKeyRef" } else { "configMapKeyRef" };
                env.push(json!({"name": name, "valueFrom": {reference: {"name": object, "key": key}}}));
            }
            (None, Some((kind @ ("secret" | "configMap"), [object]))) => {
                let reference = if kind == "secret" { "secretRef" } else { "configMapRef" };
                env_from.push(json!({reference: {"name": object}}));
            }
            _ => {
                return Err(FieldProblem {
                    path: path("value"),
                    message: format!(
                        "{value:?}: write a value, {{{{ env:NAME }}}}, {{{{ secret:NAME:KEY }}}} or \
                         {{{{ configMap:NAME:KEY }}}} (a whole Secret or ConfigMap with no name)"
                    ),
                });
            }
        }
    }
    let mut annotations = function.deploy.annotations.clone();
    // `crate::plan::local`'s annotations, which that layer reads.
    annotations.entry("fnmesh.dev/source".into()).or_insert_with(|| ".".into());
    if matches!(function.runtime.as_str(), "node" | "typescript") {
        annotations.entry("fnmesh.dev/command".into()).or_insert_with(|| "npm start".into());
    }
    let image =
        [&function.deploy.image, &function.image].into_iter().find(|i| !i.is_empty()).cloned().unwrap_or_else(|| {
            match function.registry.as_str() {
                "" => format!("{}:latest", function.name),
                registry => format!("{}/{}:latest", registry.trim_end_matches('/'), function.name),
            }
        });
    let labels: BTreeMap<&str, &str> =
        function.deploy.labels.iter().map(|l| (l.key.as_str(), l.value.as_str())).collect();
    let mut metadata = json!({"name": function.name, "annotations": annotations, "labels": labels});
    let namespace = [&function.deploy.namespace, &function.namespace].into_iter().find(|n| !n.is_empty());
    if let Some(namespace) = namespace {
        metadata["namespace"] = json!(namespace);
    }
    let mut container = json!({"image": image, "env": env, "envFrom": env_from});
    if let Some(path) = &function.deploy.health_endpoints.readiness {
        container["readinessProbe"] = json!({"httpGet": {"path": path}});
    }
    let service = json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"template": {"spec": {"containers": [container]}}},
    });
    let mut documents = vec![service];
    for (i, subscription) in function.deploy.subscriptions.iter().enumerate() {
        let mut metadata = json!({"name": format!("{}-function-trigger-{i}", function.name)});
        if let Some(namespace) = namespace {
            metadata["namespace"] = json!(namespace);
        }
        documents.push(json!({
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": metadata,
            "spec": {
                "broker": subscription.source,
                "filter": {"attributes": subscription.filters},
                "subscriber": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": function.name}},
            },
        }));
    }
    // JSON is YAML: one document per object.
    Ok(documents.iter().map(Value::to_string).collect::<Vec<_>>().join("\n---\n"))
}

/// `{{ kind:a:b }}` as `("kind", ["a", "b"])`.
fn template(value: &str) -> Option<(&str, Vec<&str>)> {
    let inner = value.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let mut parts = inner.split(':').map(str::trim);
    let kind = parts.next()?;
    Some((kind, parts.collect()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic in a test is a failed assertion

    use super::*;

    fn objects(text: &str) -> Vec<Value> {
        let lookup = |key: &str| (key == "API_TOKEN").then(|| "t0k3n".to_owned());
        let yaml = documents(text, &lookup).unwrap();
        yaml.split("\n---\n").map(|d| serde_json::from_str(d).unwrap()).collect()
    }

    #[test]
    fn a_func_project_is_a_service_and_its_triggers() {
        let objects = objects(
            "specVersion: 0.36.0\nname: hello\nruntime: rust\nregistry: quay.io/me\ncreated: 2024-01-01T00:00:00Z\n\
             run:\n  envs:\n  - {name: GREETING, value: Hi}\n  - {name: TOKEN, value: '{{ env:API_TOKEN }}'}\n  \
             - {name: PASSWORD, value: '{{ secret:db:password }}'}\n  - {value: '{{ configMap:settings }}'}\n\
             deploy:\n  annotations: {a: b}\n  labels: [{key: team, value: x}]\n  healthEndpoints: {readiness: /health/readiness}\n  \
             subscriptions:\n  - source: default\n    filters: {type: com.example}\n  - source: other\n",
        );
        assert_eq!(objects.len(), 3);
        let service = &objects[0];
        assert_eq!(service["metadata"]["name"], "hello");
        assert_eq!(service["metadata"]["annotations"], json!({"a": "b", "fnmesh.dev/source": "."}));
        assert_eq!(service["metadata"]["labels"], json!({"team": "x"}));
        let container = &service["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "quay.io/me/hello:latest");
        assert_eq!(
            container["env"],
            json!([{"name": "GREETING", "value": "Hi"}, {"name": "TOKEN", "value": "t0k3n"},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}])
        );
        assert_eq!(container["envFrom"], json!([{"configMapRef": {"name": "settings"}}]));
        assert_eq!(container["readinessProbe"], json!({"httpGet": {"path": "/health/readiness"}}));
        assert_eq!(objects[1]["metadata"]["name"], "hello-function-trigger-0");
        assert_eq!(objects[1]["spec"]["broker"], "default");
        assert_eq!(objects[1]["spec"]["filter"]["attributes"], json!({"type": "com.example"}));
        assert_eq!(objects[1]["spec"]["subscriber"]["ref"]["name"], "hello");
        assert_eq!(objects[2]["metadata"]["name"], "hello-function-trigger-1");
        assert_eq!(objects[2]["spec"]["filter"]["attributes"], json!({}));
    }

    #[test]
    fn node_starts_with_npm_and_problems_name_the_field() {
        let node = objects("name: web\nruntime: node\nimage: docker.io/me/web:v1\nenvs: [{name: A, value: b}]\n");
        assert_eq!(node[0]["metadata"]["annotations"]["fnmesh.dev/command"], "npm start");
        assert_eq!(node[0]["spec"]["template"]["spec"]["containers"][0]["image"], "docker.io/me/web:v1");
        assert_eq!(node[0]["spec"]["template"]["spec"]["containers"][0]["env"], json!([{"name": "A", "value": "b"}]));
        let problem = |text: &str| documents(text, &|_| None).unwrap_err();
        let unset = problem("name: x\nrun:\n  envs: [{name: A, value: '{{ env:NOPE }}'}]\n");
        assert_eq!(unset.path, "run.envs[0].value");
        assert!(unset.message.contains("NOPE is not set"), "{}", unset.message);
        assert_eq!(problem("runtime: go\n").path, "name");
        let typed = problem("name: x\ndeploy:\n  subscriptions: [{filters: {}}]\n");
        assert!(typed.path.starts_with("deploy.subscriptions[0]"), "{typed:?}");
    }
}
