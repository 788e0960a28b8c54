//! `fnmesh validate`: what `fnmesh run` checks before it starts (the typed model with
//! unknown fields, the rules Knative's webhooks enforce, refs resolvable within the set),
//! without running anything; and, with `--schemas`, the CRD schemas of a cluster.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::manifests::schemas::Schemas;

/// What was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Documents read and checked.
    pub documents: usize,
    /// Documents a schema covered.
    pub against_schemas: usize,
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
    crate::plan::plan(&documents, None, problems)?;
    Ok(Checked { documents: documents.len(), against_schemas })
}
