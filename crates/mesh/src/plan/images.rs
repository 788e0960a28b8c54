//! Which fnmesh function runs a container image: `config/images.yaml` (built in) plus
//! the files users give with `--images`.

use std::collections::BTreeMap;
use std::path::Path;

use fnmesh_runtime::FunctionSpec;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::manifests::yaml;

/// The built-in list, `config/images.yaml`.
const BUILT_IN: &str = include_str!("../../../../config/images.yaml");

/// The functions fnmesh can run, by name.
pub fn functions() -> [FunctionSpec; 7] {
    [
        fnmesh_appender::SPEC,
        fnmesh_event_display::SPEC,
        fnmesh_filter::SPEC,
        fnmesh_transformer::SPEC,
        fnmesh_switcher::SPEC,
        fnmesh_state_machine::SPEC,
        fnmesh_workflow::SPEC,
    ]
}

fn function(name: &str) -> Option<FunctionSpec> {
    functions().into_iter().find(|f| f.name == name)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImagesFile {
    functions: BTreeMap<String, Vec<String>>,
}

/// Image name (normalised) to function.
#[derive(Debug, Clone)]
pub struct Images {
    map: BTreeMap<String, FunctionSpec>,
    /// Finds a container engine that runs the images no function maps (`fnmesh run`
    /// gives one: `None` plans without).
    detect: Option<fn() -> std::result::Result<String, String>>,
    /// What `detect` found (the engine's program, or why there is none), once asked.
    engine: std::sync::OnceLock<std::result::Result<String, String>>,
}

impl Images {
    /// The built-in list and then each of `extra` (later entries win).
    pub fn load(extra: &[impl AsRef<Path>]) -> Result<Self> {
        let mut images = Self { map: BTreeMap::new(), detect: None, engine: std::sync::OnceLock::new() };
        images.add(Path::new("config/images.yaml (built in)"), BUILT_IN)?;
        for path in extra {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::File { path: path.to_owned(), message: format!("cannot read: {e}") })?;
            images.add(path, &text)?;
        }
        Ok(images)
    }

    fn add(&mut self, origin: &Path, text: &str) -> Result<()> {
        let fail = |message: String| Error::File { path: origin.to_owned(), message };
        let file: ImagesFile = yaml::from_str(text).map_err(fail)?;
        for (name, images) in file.functions {
            let spec = function(&name).ok_or_else(|| {
                let known: Vec<&str> = functions().iter().map(|f| f.name).collect();
                fail(format!("functions.{name}: no such function (fnmesh has {})", known.join(", ")))
            })?;
            for image in images {
                self.map.insert(normalise(&image).to_owned(), spec);
            }
        }
        Ok(())
    }

    /// These images, with `detect` finding the container engine that runs the images no
    /// function maps, the first time one is needed (`Err`: why none can).
    pub fn with_engine(mut self, detect: fn() -> std::result::Result<String, String>) -> Self {
        self.detect = Some(detect);
        self
    }

    /// The container engine that runs images no function maps, when there is one.
    pub fn engine(&self) -> Option<&str> {
        self.found().ok()
    }

    fn found(&self) -> std::result::Result<&str, &str> {
        let Some(detect) = self.detect else { return Err("") };
        self.engine.get_or_init(detect).as_deref().map_err(String::as_str)
    }

    /// The function for `image`, or an error that says how to map it.
    pub fn resolve(&self, image: &str) -> std::result::Result<FunctionSpec, String> {
        self.map.get(normalise(image)).copied().ok_or_else(|| {
            let engine = match self.found() {
                Err(why) if !why.is_empty() => format!(" ({why})"),
                _ => String::new(),
            };
            format!(
                "no fnmesh function runs image {image:?} and no container engine can{engine}: map it in a \
                 file given with --images (functions: {{appender: [{}]}}), build it from its sources with \
                 the annotation fnmesh.dev/source, or run a local command with fnmesh.dev/command",
                normalise(image)
            )
        })
    }
}

/// `docker.io/library/x:1@sha256:..` gives `x`: no digest, no tag, no default registry.
pub fn normalise(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    let image = match image[name_start..].find(':') {
        Some(colon) => &image[..name_start + colon],
        None => image,
    };
    let image = image.strip_prefix("docker.io/").or_else(|| image.strip_prefix("index.docker.io/")).unwrap_or(image);
    image.strip_prefix("library/").unwrap_or(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_tags_digests_and_the_default_registry() {
        assert_eq!(normalise("villardl/filter-nodejs:0.1"), "villardl/filter-nodejs");
        assert_eq!(normalise("gcr.io/x/appender@sha256:e9ed"), "gcr.io/x/appender");
        assert_eq!(normalise("localhost:5000/app:1"), "localhost:5000/app");
        assert_eq!(normalise("docker.io/library/busybox"), "busybox");
    }

    #[test]
    fn the_upstream_images_map_to_our_functions() {
        let images = Images::load(&[] as &[&str]).unwrap();
        let name = |image: &str| images.resolve(image).map(|f| f.name);
        assert_eq!(
            name("gcr.io/knative-releases/knative.dev/eventing-contrib/cmd/appender@sha256:e9ed"),
            Ok("appender")
        );
        assert_eq!(name("gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"), Ok("event-display"));
        assert_eq!(name("docker.io/villardl/filter-nodejs:0.1"), Ok("filter"));
        assert_eq!(name("villardl/transformer-nodejs:0.1"), Ok("transformer"));
        assert_eq!(name("villardl/switcher-nodejs:0.1"), Ok("switcher"));
        assert!(name("nginx:1").unwrap_err().contains("--images"));
    }
}
