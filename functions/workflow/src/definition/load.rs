//! Reading a definition file: JSON or YAML by extension (the one place YAML is
//! parsed), parts given as file names (`functions: "functions.json"`) read from beside
//! it, and serde errors reported with the path of the problem.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::model::Workflow;

/// Reads a JSON or YAML document: `.yaml`/`.yml` are YAML, anything else JSON (YAML
/// being a superset, a `.json` that fails as JSON is not retried as YAML).
pub fn read_document(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse_document(path, &text)
}

/// Parses `text` as the document `path` names.
pub fn parse_document(path: &Path, text: &str) -> Result<Value, String> {
    let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
    if yaml {
        serde_yaml_ng::from_str(text).map_err(|e| format!("{}: invalid YAML: {e}", path.display()))
    } else {
        serde_json::from_str(text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))
    }
}

/// The parts of a workflow that may be a file name instead of their content.
const PARTS: [&str; 6] = ["functions", "events", "errors", "retries", "secrets", "constants"];

/// Reads the workflow at `path`, with its file parts inlined.
pub fn read_workflow(path: &Path) -> Result<Workflow, String> {
    let document = read_document(path)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    workflow_from_value(document, &dir)
}

/// The workflow in `document`, file parts read from `dir`.
pub fn workflow_from_value(mut document: Value, dir: &Path) -> Result<Workflow, String> {
    if let Some(object) = document.as_object_mut() {
        for part in PARTS {
            let Some(Value::String(file)) = object.get(part) else { continue };
            let file_path = resolve(dir, file);
            let mut content = read_document(&file_path).map_err(|e| format!("{part}: {e}"))?;
            // A file may hold the list itself or `{"<part>": [...]}`.
            if let Some(inner) = content.get_mut(part) {
                content = inner.take();
            }
            object.insert(part.to_owned(), content);
        }
    }
    serde_path_to_error::deserialize(document).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." { inner } else { format!("{path}: {inner}") }
    })
}

/// `file` relative to `dir` (a `file://` prefix, Kogito's, is dropped; absolute paths stay).
pub fn resolve(dir: &Path, file: &str) -> PathBuf {
    let file = file.strip_prefix("file://").unwrap_or(file);
    let file = file.strip_prefix("classpath:").unwrap_or(file);
    dir.join(file)
}
