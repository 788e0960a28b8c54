//! Loading manifests, once: every YAML document of the files and folders given
//! (recursively, in path order), read into a typed [`Document`] with its place.

use std::path::{Path, PathBuf};

use super::kind::Kind;
use super::problems::{Place, Problems};
use super::serving::Metadata;
use super::spec::{self, Spec};
use super::yaml::{self, Value};

/// One Kubernetes object from a manifest file, typed.
#[derive(Debug, Clone)]
pub struct Document {
    /// Where it was defined.
    pub place: Place,
    /// `apiVersion` as written.
    pub api_version: String,
    /// What fnmesh makes of `apiVersion` and `kind`.
    pub kind: Kind,
    /// `kind:` as written.
    pub kind_name: String,
    /// `metadata.name`.
    pub name: String,
    /// Its namespace, or the one `fnmesh` was given for objects that name none.
    pub namespace: String,
    /// `metadata`: annotations and labels.
    pub metadata: Metadata,
    /// The typed `spec`; `None` when it does not fit the model (the problems say why)
    /// or the kind has none that fnmesh reads.
    pub spec: Option<Spec>,
    /// The document as written: what `fnmesh kn` applies and CRD schemas check.
    pub value: Value,
}

impl Document {
    /// The API group (`flows.knative.dev`; empty for the core group of `v1`).
    pub fn group(&self) -> &str {
        super::kind::group_of(&self.api_version)
    }
}

/// Every document under `paths` (`namespace` for objects that name none), and the
/// problems of those that could not be read; checking goes on with the rest, so that
/// every problem is reported at once.
pub fn load(paths: &[PathBuf], namespace: &str) -> (Vec<Document>, Problems) {
    let mut problems = Problems::default();
    let mut files = Vec::new();
    for path in paths {
        if let Err(e) = collect(path, &mut files) {
            problems.add(&Place::new(path, 0), "", format!("cannot read: {e}"));
        }
    }
    if files.is_empty() && problems.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        problems.add(&Place::new(Path::new(&shown.join(" ")), 0), "", "no .yaml or .yml file there");
    }
    let mut documents = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                problems.add(&Place::new(&file, 0), "", format!("cannot read: {e}"));
                continue;
            }
        };
        // A `func` project: the objects `func deploy` makes of it.
        let text = if file.file_name().is_some_and(|n| n == "func.yaml") {
            match super::func::documents(&text, &|key| std::env::var(key).ok()) {
                Ok(objects) => objects,
                Err(problem) => {
                    problems.add(&Place::new(&file, 0), problem.path, problem.message);
                    continue;
                }
            }
        } else {
            text
        };
        for (i, document) in yaml::documents(&text).into_iter().enumerate() {
            let mut place = Place::new(&file, i + 1);
            let value = match document {
                Ok(Value::Null) => continue,
                Ok(value) => value,
                Err(e) => {
                    problems.add(&place, "", format!("not valid YAML: {e}"));
                    continue;
                }
            };
            let field = |key: &str| yaml::str_at(&value, key).map(str::to_owned);
            let metadata = value.get("metadata");
            let meta = |key: &str| metadata.and_then(|m| yaml::str_at(m, key)).map(str::to_owned);
            let (api_version, kind, name) = (field("apiVersion"), field("kind"), meta("name"));
            if let (Some(kind), Some(name)) = (&kind, &name) {
                place.object = Some(format!("{kind} {name}"));
            }
            for (path, present) in
                [("apiVersion", api_version.is_some()), ("kind", kind.is_some()), ("metadata.name", name.is_some())]
            {
                if !present {
                    problems.add(&place, path, "required");
                }
            }
            let (Some(api_version), Some(kind_name), Some(name)) = (api_version, kind, name) else { continue };
            let namespace = meta("namespace").unwrap_or_else(|| namespace.to_owned());
            let kind = Kind::of_api_version(&api_version, &kind_name);
            let metadata = match (kind, metadata) {
                (Kind::Other, _) | (_, None) => Metadata::default(),
                (_, Some(metadata)) => {
                    let (parsed, _) = spec::deserialize::<Metadata>(metadata, "metadata");
                    parsed.unwrap_or_else(|problem| {
                        problems.add(&place, problem.path, problem.message);
                        Metadata::default()
                    })
                }
            };
            let (spec, found) = spec::read_optional(kind, value.get("spec"));
            problems.extend(&place, found);
            documents.push(Document { place, api_version, kind, kind_name, name, namespace, metadata, spec, value });
        }
    }
    (documents, problems)
}

/// YAML files under `path` (itself when it is a file), sorted; in a folder, the test
/// files of `fnmesh test` (`*.test.yaml`) beside the manifests are not manifests.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_file() {
        files.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        let name = entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if entry.is_dir() {
            // Build output, dependencies and hidden folders (`.github`) hold no manifests.
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                collect(&entry, files)?;
            }
        } else if entry.extension().is_some_and(|e| e == "yaml" || e == "yml") && !is_test_file(&entry) {
            files.push(entry);
        }
    }
    Ok(())
}

/// Whether `path` is an `fnmesh test` file (`NAME.test.yaml` or `NAME.test.yml`).
pub fn is_test_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}
