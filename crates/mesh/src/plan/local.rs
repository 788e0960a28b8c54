//! Services that run on this machine as processes rather than as fnmesh's in-process
//! functions: a user's own function built from its sources, a local command, or an image
//! in a local container engine. What a Service's annotations say, checked at plan time:
//!
//! | annotation | meaning |
//! |---|---|
//! | `fnmesh.dev/source: DIR` | the service's sources, relative to the manifest's file; with a `Cargo.toml`, fnmesh builds the crate (`cargo build`) and starts its binary |
//! | `fnmesh.dev/command: CMD` | the shell command that starts it (in `DIR` when a source is given) |
//! | `fnmesh.dev/build: CMD` | a shell command run in `DIR` before every start (`npm ci`, `go build`) |
//! | `fnmesh.dev/startup-timeout: 2m` | how long it may take to answer its readiness probe (default 10 min, Serving's `progressDeadline`) |
//!
//! On a cluster the annotations are inert and the container's `image` runs, so the same
//! manifest serves both. The readiness probe is the container's `readinessProbe`
//! (`httpGet`, else a TCP connect to `PORT`, as Serving's default probe).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::manifests::serving::{Container, Metadata, PodTemplate};

/// The annotation that runs a local command as a service instead of an image.
pub const COMMAND_ANNOTATION: &str = "fnmesh.dev/command";
/// The annotation that names a service's sources, built and run by fnmesh.
pub const SOURCE_ANNOTATION: &str = "fnmesh.dev/source";
/// The annotation with a command that builds the sources before each start.
pub const BUILD_ANNOTATION: &str = "fnmesh.dev/build";
/// The annotation with the time a service may take to become ready.
pub const STARTUP_ANNOTATION: &str = "fnmesh.dev/startup-timeout";

/// Serving's default `progressDeadline`: how long a revision may take to become ready.
pub const DEFAULT_STARTUP: Duration = Duration::from_secs(600);

/// A service run as a process of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// Where it runs and what `--watch` watches: the source folder; `None`: fnmesh's own
    /// working directory, nothing watched.
    pub dir: Option<PathBuf>,
    /// How it is built before each start.
    pub build: Option<Build>,
    /// The shell command that starts it; `None` when cargo built it: its binary runs.
    pub command: Option<String>,
    /// How fnmesh knows it is ready.
    pub startup: Startup,
}

/// How a local service is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Build {
    /// `cargo build` of the crate in the source folder; its binary starts.
    Cargo,
    /// A shell command, run in the source folder.
    Shell(String),
}

/// When a started process counts as ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    /// The longest it may take.
    pub timeout: Duration,
    /// `readinessProbe.httpGet.path`: ready once it answers `2xx`/`3xx`; `None`: once it
    /// accepts a connection on `PORT`.
    pub http_path: Option<String>,
}

impl Local {
    /// What `metadata` (the Service's, then its pod template's) says about running
    /// `container` locally; `None` when nothing does (an image runs). `file` is the
    /// manifest's, which a source folder is relative to. Problems name the field.
    pub fn of(
        metadata: &Metadata,
        template: &PodTemplate,
        container: &Container,
        file: &Path,
    ) -> Result<Option<Self>, (String, String)> {
        let annotation = |name: &str| {
            metadata.annotations.get(name).or(template.metadata.annotations.get(name)).map(|v| v.trim().to_owned())
        };
        let field = |name: &str| format!("metadata.annotations.{name}");
        let command = annotation(COMMAND_ANNOTATION).filter(|c| !c.is_empty());
        let source = annotation(SOURCE_ANNOTATION).filter(|s| !s.is_empty());
        let build = annotation(BUILD_ANNOTATION).filter(|b| !b.is_empty());
        if command.is_none() && source.is_none() {
            if build.is_some() {
                return Err((field(BUILD_ANNOTATION), format!("needs {SOURCE_ANNOTATION}: the folder to build in")));
            }
            return Ok(None);
        }
        let timeout = match annotation(STARTUP_ANNOTATION) {
            None => DEFAULT_STARTUP,
            Some(text) => humantime::parse_duration(&text)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| (field(STARTUP_ANNOTATION), format!("{text:?} is not a duration such as 90s or 5m")))?,
        };
        let http_path = container
            .readiness_probe
            .as_ref()
            .and_then(|probe| probe.http_get.as_ref())
            .map(|get| get.path.clone().unwrap_or_else(|| "/".into()));
        let startup = Startup { timeout, http_path };
        let Some(source) = source else {
            return Ok(Some(Self { dir: None, build: None, command, startup }));
        };
        let dir = source_dir(file, &source);
        if !dir.is_dir() {
            return Err((field(SOURCE_ANNOTATION), format!("{} is not a folder", dir.display())));
        }
        let build = match build {
            Some(shell) => Some(Build::Shell(shell)),
            None if dir.join("Cargo.toml").is_file() => Some(Build::Cargo),
            None => None,
        };
        if command.is_none() && build != Some(Build::Cargo) {
            return Err((
                field(SOURCE_ANNOTATION),
                format!(
                    "{} has no Cargo.toml: say how to start it with {COMMAND_ANNOTATION} (and build it with \
                     {BUILD_ANNOTATION})",
                    dir.display()
                ),
            ));
        }
        Ok(Some(Self { dir: Some(dir), build, command, startup }))
    }
}

/// The folder `source` names, relative to the manifest `file`, without `..` where a
/// folder name can take it (`config/../fn` is `fn`).
pub fn source_dir(file: &Path, source: &str) -> PathBuf {
    use std::path::Component;
    let joined = file.parent().unwrap_or(Path::new("")).join(source);
    let mut parts: Vec<Component<'_>> = Vec::new();
    for part in joined.components() {
        match (part, parts.last()) {
            (Component::CurDir, _) => {}
            (Component::ParentDir, Some(Component::Normal(_))) => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    let dir: PathBuf = parts.iter().collect();
    if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic in a test is a failed assertion

    use super::*;

    fn template(annotations: &[(&str, &str)], probe: &str) -> (Metadata, PodTemplate, Container) {
        let yaml = format!(
            "metadata: {{annotations: {{{}}}}}\nspec: {{containers: [{{image: x{probe}}}]}}",
            annotations.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect::<Vec<_>>().join(", ")
        );
        let template: PodTemplate = crate::manifests::yaml::from_str(&yaml).unwrap();
        let container = template.spec.containers[0].clone();
        (Metadata::default(), template, container)
    }

    fn local(annotations: &[(&str, &str)], probe: &str, file: &Path) -> Result<Option<Local>, (String, String)> {
        let (metadata, template, container) = template(annotations, probe);
        Local::of(&metadata, &template, &container, file)
    }

    #[test]
    fn source_folders_are_relative_to_the_manifest() {
        assert_eq!(
            source_dir(Path::new("functions/greeter/config/greeter.yaml"), ".."),
            Path::new("functions/greeter")
        );
        assert_eq!(source_dir(Path::new("config/a.yaml"), "../.."), Path::new(".."));
        assert_eq!(source_dir(Path::new("a.yaml"), "."), Path::new("."));
        assert_eq!(source_dir(Path::new("/x/y/a.yaml"), "./src/../fn"), Path::new("/x/y/fn"));
    }

    #[test]
    fn an_image_alone_runs_no_local_process() {
        assert_eq!(local(&[], "", Path::new("a.yaml")), Ok(None));
    }

    #[test]
    fn a_crate_is_built_by_cargo_and_a_folder_needs_a_command() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("fn/src")).unwrap();
        std::fs::write(dir.path().join("fn/Cargo.toml"), "[package]\nname = \"fn\"\n").unwrap();
        std::fs::create_dir_all(dir.path().join("web")).unwrap();
        let file = dir.path().join("config/svc.yaml");
        std::fs::create_dir_all(dir.path().join("config")).unwrap();

        let built = local(&[(SOURCE_ANNOTATION, "../fn")], "", &file).unwrap().unwrap();
        assert_eq!(built.build, Some(Build::Cargo));
        assert_eq!(built.command, None);
        assert_eq!(built.dir, Some(dir.path().join("fn")));
        assert_eq!(built.startup, Startup { timeout: DEFAULT_STARTUP, http_path: None });

        let (field, message) = local(&[(SOURCE_ANNOTATION, "../web")], "", &file).unwrap_err();
        assert_eq!(field, "metadata.annotations.fnmesh.dev/source");
        assert!(
            message.ends_with(
                "has no Cargo.toml: say how to start it with fnmesh.dev/command (and build it with fnmesh.dev/build)"
            ),
            "{message}"
        );

        let npm = [(SOURCE_ANNOTATION, "../web"), (COMMAND_ANNOTATION, "npm start"), (BUILD_ANNOTATION, "npm ci")];
        let npm = local(&npm, "", &file).unwrap().unwrap();
        assert_eq!((npm.build, npm.command.as_deref()), (Some(Build::Shell("npm ci".into())), Some("npm start")));

        let (_, missing) = local(&[(SOURCE_ANNOTATION, "../nowhere")], "", &file).unwrap_err();
        assert!(missing.ends_with("nowhere is not a folder"), "{missing}");
    }

    #[test]
    fn the_startup_wait_comes_from_the_annotation_and_the_readiness_probe() {
        let probe = ", readinessProbe: {httpGet: {path: /ready, port: 8080}}";
        let ready = local(&[(COMMAND_ANNOTATION, "x"), (STARTUP_ANNOTATION, "90s")], probe, Path::new("a.yaml"));
        let ready = ready.unwrap().unwrap();
        assert_eq!(ready.startup, Startup { timeout: Duration::from_secs(90), http_path: Some("/ready".into()) });
        let (field, message) =
            local(&[(COMMAND_ANNOTATION, "x"), (STARTUP_ANNOTATION, "soon")], "", Path::new("a")).unwrap_err();
        assert_eq!(field, "metadata.annotations.fnmesh.dev/startup-timeout");
        assert_eq!(message, "\"soon\" is not a duration such as 90s or 5m");
        let (field, _) = local(&[(BUILD_ANNOTATION, "make")], "", Path::new("a")).unwrap_err();
        assert_eq!(field, "metadata.annotations.fnmesh.dev/build");
    }
}
