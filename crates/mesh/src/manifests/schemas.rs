//! `fnmesh validate --schemas DIR`: manifests checked against CRD files (for example
//! `kubectl get crd sequences.flows.knative.dev -o yaml` from a cluster) with a JSON
//! Schema validator. As a cluster does with strict field validation, a field the schema
//! does not declare is an error, except under `x-kubernetes-preserve-unknown-fields`;
//! a `null` is dropped first where the schema does not say `nullable`, as the API server
//! prunes it; and an `apiVersion` the CRD does not serve is an error. Without a CRD
//! folder, [`served_by_knative`] says which versions current Knative serves.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use super::kind::Kind;
use super::load::{Document, load};
use super::problems::{FieldProblem, Place, Problems};

/// Compiled schemas by (group, kind, version), and the versions each CRD serves.
pub struct Schemas {
    validators: HashMap<(String, String, String), Compiled>,
    /// (group, kind) to the CRD's name and the versions it serves.
    served: BTreeMap<(String, String), (String, Vec<String>)>,
}

/// One version's schema: the validator, and the schema itself (read again to prune nulls).
struct Compiled {
    validator: jsonschema::Validator,
    schema: Value,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas").field("kinds", &self.validators.len()).finish()
    }
}

impl Schemas {
    /// Every CustomResourceDefinition in the YAML files under `dir`.
    pub fn load(dir: &Path) -> Result<Self, Problems> {
        let mut validators = HashMap::new();
        let mut served = BTreeMap::new();
        let (documents, problems) = load(&[dir.to_owned()], "default");
        if !problems.is_empty() {
            return Err(problems);
        }
        let fail = |doc: &Document, message: String| {
            let mut problems = Problems::default();
            problems.add(&doc.place, "", message);
            problems
        };
        for doc in documents.iter().filter(|d| d.kind_name == "CustomResourceDefinition") {
            let crd: Value = serde_json::to_value(&doc.value).map_err(|e| fail(doc, e.to_string()))?;
            let group = crd["spec"]["group"].as_str().unwrap_or_default().to_owned();
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default().to_owned();
            let mut versions = Vec::new();
            for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
                let name = version["name"].as_str().unwrap_or_default().to_owned();
                // A version with `served: false` is refused by the API server like an absent one.
                if version.get("served").and_then(Value::as_bool) == Some(false) {
                    continue;
                }
                versions.push(name.clone());
                let Some(schema) = version.get("schema").and_then(|s| s.get("openAPIV3Schema")) else { continue };
                let validator = jsonschema::validator_for(&strict_below_root(schema.clone()))
                    .map_err(|e| fail(doc, format!("{kind} {name}: the schema does not compile: {e}")))?;
                validators.insert((group.clone(), kind.clone(), name), Compiled { validator, schema: schema.clone() });
            }
            served.insert((group.clone(), kind.clone()), (doc.name.clone(), versions));
        }
        if validators.is_empty() {
            let mut problems = Problems::default();
            problems.add(&Place::new(dir, 0), "", "no CustomResourceDefinition with a schema there");
            return Err(problems);
        }
        Ok(Self { validators, served })
    }

    /// The problems of `doc`; `None` when no CRD there defines its group and kind. An
    /// `apiVersion` the CRD does not serve is a problem, as the API server refuses it
    /// (`the server could not find the requested resource`).
    pub fn check(&self, doc: &Document) -> Option<Vec<FieldProblem>> {
        let version = doc.api_version.rsplit('/').next().unwrap_or_default();
        let (crd, versions) = self.served.get(&(doc.group().to_owned(), doc.kind_name.clone()))?;
        if !versions.iter().any(|v| v == version) {
            let message = format!(
                "{} {} is not served by the CustomResourceDefinition {crd} (it serves {})",
                doc.api_version,
                doc.kind_name,
                versions.join(", ")
            );
            return Some(vec![FieldProblem::new("apiVersion", message)]);
        }
        let Some(compiled) = self.validators.get(&(doc.group().to_owned(), doc.kind_name.clone(), version.to_owned()))
        else {
            return Some(Vec::new());
        };
        let instance = match serde_json::to_value(&doc.value) {
            Ok(instance) => prune_nulls(instance, &compiled.schema),
            Err(e) => return Some(vec![FieldProblem::new("", format!("not representable as JSON: {e}"))]),
        };
        Some(
            compiled
                .validator
                .iter_errors(&instance)
                .map(|e| FieldProblem::new(path(e.instance_path.as_str()), format!("{e} (CRD schema)")))
                .collect(),
        )
    }

    /// Whether `spec` alone fits the schema of (group, kind, version).
    pub fn spec_is_valid(&self, group: &str, kind: &str, version: &str, spec: &Value) -> Option<bool> {
        let compiled = self.validators.get(&(group.to_owned(), kind.to_owned(), version.to_owned()))?;
        let instance = serde_json::json!({"apiVersion": format!("{group}/{version}"), "kind": kind, "spec": spec});
        Some(compiled.validator.is_valid(&prune_nulls(instance, &compiled.schema)))
    }

    /// The `openAPIV3Schema` of (group, kind, version), as the CRD writes it.
    pub fn schema(&self, group: &str, kind: &str, version: &str) -> Option<&Value> {
        self.validators.get(&(group.to_owned(), kind.to_owned(), version.to_owned())).map(|c| &c.schema)
    }

    /// The versions the CRD of (group, kind) serves; `None` when there is none here.
    pub fn served(&self, group: &str, kind: &str) -> Option<&[String]> {
        self.served.get(&(group.to_owned(), kind.to_owned())).map(|(_, versions)| versions.as_slice())
    }

    /// The (group, kind) of every CRD here.
    pub fn kinds(&self) -> impl Iterator<Item = (&str, &str)> {
        self.served.keys().map(|(group, kind)| (group.as_str(), kind.as_str()))
    }
}

/// The versions of `kind` that a current Knative (eventing 1.x, serving 1.x) serves, and
/// Kubernetes for the workload kinds; empty for kinds fnmesh has no opinion on. The
/// eventing and serving lines are the `served: true` versions of their CRDs (a test
/// holds them against `../shared/knative/crds/`). PingSource `v1beta1` was removed in
/// Knative 0.23 (eventing commit 0bfa8de2d, "remove sources v1beta1 APIs").
pub fn served_by_knative(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::PingSource => &["v1", "v1beta2"],
        Kind::KService
        | Kind::Sequence
        | Kind::Parallel
        | Kind::InMemoryChannel
        | Kind::Channel
        | Kind::Subscription
        | Kind::Broker
        | Kind::Trigger
        | Kind::CoreService
        | Kind::Deployment => &["v1"],
        // Kinds without an entry: no opinion (the CRDs of the cluster still say, with --schemas).
        _ => &[],
    }
}

/// `instance` without the `null` values the API server drops before it validates: an
/// object's field that is `null` where the schema does not say `nullable: true` is
/// pruned (Kubernetes, "Defaulting and Nullable" of CustomResourceDefinitions), so a
/// `deadLetterSink:` left empty is as if absent, not a type error.
fn prune_nulls(instance: Value, schema: &Value) -> Value {
    match instance {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter_map(|(key, value)| {
                    let field = schema
                        .get("properties")
                        .and_then(|p| p.get(&key))
                        .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
                    let nullable = field.and_then(|f| f.get("nullable")).and_then(Value::as_bool) == Some(true);
                    if value.is_null() && !nullable {
                        return None;
                    }
                    let value = match field {
                        Some(field) => prune_nulls(value, field),
                        None => value,
                    };
                    Some((key, value))
                })
                .collect(),
        ),
        Value::Array(items) => {
            let item = schema.get("items").cloned().unwrap_or(Value::Null);
            Value::Array(items.into_iter().map(|v| prune_nulls(v, &item)).collect())
        }
        other => other,
    }
}

/// A JSON pointer (`/spec/steps/0/ref`) as a field path (`spec.steps[0].ref`).
fn path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

/// [`strict`] for everything under the root: the root lists only `spec` and `status`,
/// while `apiVersion`, `kind` and `metadata` are Kubernetes' own.
fn strict_below_root(mut schema: Value) -> Value {
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for value in properties.values_mut() {
            *value = strict(std::mem::take(value));
        }
    }
    schema
}

/// The schema with `additionalProperties: false` on every object that lists its
/// properties and does not preserve unknown fields.
fn strict(mut schema: Value) -> Value {
    if let Value::Object(map) = &mut schema {
        let preserve = map.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool).unwrap_or(false);
        if map.contains_key("properties") && !preserve && !map.contains_key("additionalProperties") {
            map.insert("additionalProperties".into(), Value::Bool(false));
        }
        for value in map.values_mut() {
            *value = strict(std::mem::take(value));
        }
    } else if let Value::Array(items) = &mut schema {
        for item in items {
            *item = strict(std::mem::take(item));
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_field_paths() {
        assert_eq!(path("/spec/steps/0/ref/name"), "spec.steps[0].ref.name");
        assert_eq!(path(""), "");
        assert_eq!(path("/metadata/annotations/a~1b"), "metadata.annotations.a/b");
    }

    #[test]
    fn strict_schemas_refuse_undeclared_fields_unless_preserved() {
        let schema = serde_json::json!({"type": "object", "properties": {
            "a": {"type": "string"},
            "d": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"r": {"type": "integer"}}}
        }});
        let validator = jsonschema::validator_for(&strict(schema)).unwrap();
        assert!(validator.is_valid(&serde_json::json!({"a": "x", "d": {"r": 1, "other": true}})));
        assert!(!validator.is_valid(&serde_json::json!({"a": "x", "b": 1})));
        assert!(!validator.is_valid(&serde_json::json!({"d": {"r": "one"}})));
    }

    #[test]
    fn nulls_are_pruned_unless_nullable() {
        let schema = serde_json::json!({"type": "object", "properties": {
            "sink": {"type": "object", "properties": {"uri": {"type": "string"}}},
            "kept": {"type": "object", "nullable": true},
            "list": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}}}
        }});
        let instance = serde_json::json!({"sink": null, "kept": null, "list": [{"x": null}], "other": null});
        assert_eq!(prune_nulls(instance, &schema), serde_json::json!({"kept": null, "list": [{}]}));
    }
}
