//! `fnmesh validate --schemas DIR`: manifests checked against CRD files (for example
//! `kubectl get crd sequences.flows.knative.dev -o yaml` from a cluster) with a JSON
//! Schema validator. As a cluster does with strict field validation, a field the schema
//! does not declare is an error, except under `x-kubernetes-preserve-unknown-fields`.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::load::{Document, load};
use super::problems::{FieldProblem, Place, Problems};

/// Compiled schemas by (group, kind, version).
pub struct Schemas {
    validators: HashMap<(String, String, String), jsonschema::Validator>,
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
            for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
                let Some(schema) = version.get("schema").and_then(|s| s.get("openAPIV3Schema")) else { continue };
                let name = version["name"].as_str().unwrap_or_default().to_owned();
                let validator = jsonschema::validator_for(&strict_below_root(schema.clone()))
                    .map_err(|e| fail(doc, format!("{kind} {name}: the schema does not compile: {e}")))?;
                validators.insert((group.clone(), kind.clone(), name), validator);
            }
        }
        if validators.is_empty() {
            let mut problems = Problems::default();
            problems.add(&Place::new(dir, 0), "", "no CustomResourceDefinition with a schema there");
            return Err(problems);
        }
        Ok(Self { validators })
    }

    /// The problems of `doc`; `None` when no schema covers its kind.
    pub fn check(&self, doc: &Document) -> Option<Vec<FieldProblem>> {
        let version = doc.api_version.rsplit('/').next().unwrap_or_default();
        let validator = self.validators.get(&(doc.group().to_owned(), doc.kind_name.clone(), version.to_owned()))?;
        let instance = match serde_json::to_value(&doc.value) {
            Ok(instance) => instance,
            Err(e) => return Some(vec![FieldProblem::new("", format!("not representable as JSON: {e}"))]),
        };
        Some(
            validator
                .iter_errors(&instance)
                .map(|e| FieldProblem::new(path(e.instance_path.as_str()), format!("{e} (CRD schema)")))
                .collect(),
        )
    }

    /// Whether `spec` alone fits the schema of (group, kind, version).
    pub fn spec_is_valid(&self, group: &str, kind: &str, version: &str, spec: &Value) -> Option<bool> {
        let validator = self.validators.get(&(group.to_owned(), kind.to_owned(), version.to_owned()))?;
        Some(
            validator
                .is_valid(&serde_json::json!({"apiVersion": format!("{group}/{version}"), "kind": kind, "spec": spec})),
        )
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
}
