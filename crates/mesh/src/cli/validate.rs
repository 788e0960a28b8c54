//! `fnmesh validate`: what `fnmesh run` checks before it starts (the typed model with
//! unknown fields, the rules Knative's webhooks enforce, refs resolvable within the set),
//! without running anything; and, with `--schemas`, the CRD schemas of a cluster.
//! Besides problems (exit 1), warnings (exit 0): what `fnmesh run` runs but a default
//! cluster does not take as written.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::manifests::schemas::{Schemas, served_by_knative};
use crate::manifests::spec::deliveries;
use crate::manifests::{Document, Kind, Problem};

/// What was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Documents read and checked.
    pub documents: usize,
    /// Documents a schema covered.
    pub against_schemas: usize,
    /// What runs locally but not on a default cluster as written, one line each
    /// (`file:doc N (Kind name): path: message`).
    pub warnings: Vec<String>,
}

/// Checks the manifests under `paths`; every problem at once.
pub fn validate(paths: &[PathBuf], namespace: &str, schemas: Option<&Path>) -> Result<Checked> {
    let schemas = schemas.map(Schemas::load).transpose()?;
    let (documents, mut problems) = crate::manifests::load(paths, namespace);
    let mut against_schemas = 0;
    if let Some(schemas) = &schemas {
        for doc in &documents {
            if let Some(found) = schemas.check(doc) {
                against_schemas += 1;
                problems.extend(&doc.place, found);
            }
        }
    }
    let plan = crate::plan::plan(&documents, None, problems)?;
    let mut warnings: Vec<String> = documents.iter().flat_map(warnings_of).map(|w| w.to_string()).collect();
    warnings.extend(plan.ignored_line());
    warnings.extend(plan.warnings);
    Ok(Checked { documents: documents.len(), against_schemas, warnings })
}

/// The warnings of one document: an `apiVersion` current Knative does not serve, and
/// `retryAfterMax` (an alpha field a default cluster refuses).
pub fn warnings_of(doc: &Document) -> Vec<Problem> {
    let mut warnings = Vec::new();
    let mut warn = |path: &str, message: String| {
        warnings.push(Problem { place: doc.place.clone(), path: path.to_owned(), message });
    };
    if let Some(message) = unserved(doc) {
        warn("apiVersion", message);
    }
    for (path, delivery) in doc.spec.as_ref().map(deliveries).unwrap_or_default() {
        if delivery.retry_after_max.is_some() {
            // knative/eventing pkg/apis/duck/v1/delivery_types.go: without the feature,
            // `apis.ErrDisallowedFields("retryAfterMax")`; config/core/configmaps/features.yaml:
            // `delivery-retryafter: "disabled"`.
            warn(
                &format!("{path}.retryAfterMax"),
                "a default cluster's webhook refuses it (the alpha feature delivery-retryafter is disabled in \
                 config-features); fnmesh run honours it"
                    .to_owned(),
            );
        }
    }
    warnings
}

/// Why `doc`'s `apiVersion` is not one current Knative serves, if it is not.
fn unserved(doc: &Document) -> Option<String> {
    let served = served_by_knative(doc.kind);
    let version = doc.api_version.rsplit('/').next().unwrap_or_default();
    if served.is_empty() || served.contains(&version) {
        return None;
    }
    let group = doc.group();
    let current: Vec<String> =
        served.iter().map(|v| if group.is_empty() { (*v).to_owned() } else { format!("{group}/{v}") }).collect();
    let mut message = format!(
        "{} {} is not served by current Knative (it serves {})",
        doc.api_version,
        doc.kind_name,
        current.join(", ")
    );
    if doc.kind == Kind::PingSource && version == "v1beta1" {
        message.push_str(
            ": removed in Knative 0.23; fnmesh run runs it, and fnmesh kn deploys it as sources.knative.dev/v1 \
             (jsonData becomes data with contentType: application/json)",
        );
    } else {
        message.push_str(": fnmesh run reads it as the served version; fnmesh kn refuses it");
    }
    Some(message)
}
