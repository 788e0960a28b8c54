//! `fnmesh new NAME`: a function crate to start from, written from the templates in
//! `crates/mesh/templates/new/`: `src/lib.rs` (the handler and its config), a one-line
//! `src/main.rs`, `tests/function.rs` (the handler called in-process), `config/NAME.yaml`
//! (a Knative Service that `fnmesh run` builds from these sources) and a README.
//!
//! Inside this repository (a Cargo workspace whose members include `functions/*`) the
//! crate goes to `functions/NAME` and joins the workspace; elsewhere it goes to `./NAME`
//! and depends on `fnmesh-runtime` by path (this fnmesh's own sources, or
//! `--runtime-path`) or by version (`--runtime-version`), with this workspace's
//! `Cargo.lock` as its start, so that it builds offline from the same cached crates.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Which kind of function to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// A CloudEvents handler: an event in, a reply event (or none, or an error) out.
    Cloudevents,
    /// A plain HTTP handler: a JSON body in, a JSON body out.
    Http,
}

/// What `fnmesh new` was asked.
#[derive(Debug, Clone)]
pub struct NewArgs {
    /// The function's name: its crate, binary, Knative Service and image.
    pub name: String,
    /// The template.
    pub template: Template,
    /// Where to write it, instead of `functions/NAME` or `./NAME`.
    pub dir: Option<PathBuf>,
    /// `fnmesh-runtime` by path (a crate outside this repository).
    pub runtime_path: Option<PathBuf>,
    /// `fnmesh-runtime` by version from a registry (a crate outside this repository).
    pub runtime_version: Option<String>,
    /// The image registry of `config/NAME.yaml`'s image.
    pub registry: String,
}

/// The fnmesh sources this binary was built from, when they are still there.
fn own_sources() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("crates/runtime/Cargo.toml").is_file().then(|| std::fs::canonicalize(&root).unwrap_or(root))
}

/// The workspace around `dir` whose members include `functions/*`.
fn workspace(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find_map(|at| {
        let text = std::fs::read_to_string(at.join("Cargo.toml")).ok()?;
        // A line check is enough for the manifests `fnmesh new` itself expects.
        let workspace = text.lines().any(|l| l.trim() == "[workspace]");
        (workspace && text.contains("\"functions/*\"")).then(|| at.to_owned())
    })
}

/// Whether `name` can be a Knative Service's name (a DNS-1035 label) and a crate's.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{name:?} cannot name a Knative Service: use lowercase letters, digits and '-', starting with a \
             letter, at most 63 characters (e.g. greeter, order-check)"
        )))
    }
}

/// Writes the crate; what to do next, for the user.
pub fn new(args: &NewArgs, cwd: &Path) -> Result<String> {
    check_name(&args.name)?;
    let root = workspace(cwd);
    let dest = match (&args.dir, &root) {
        (Some(dir), _) => cwd.join(dir),
        (None, Some(root)) => root.join("functions").join(&args.name),
        (None, None) => cwd.join(&args.name),
    };
    if dest.exists() && std::fs::read_dir(&dest).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(Error::Usage(format!("{} exists and is not empty: choose another name or --dir", dest.display())));
    }
    let in_workspace = root.as_ref().is_some_and(|root| dest.parent() == Some(root.join("functions").as_path()));
    let shown = |path: &Path| path.strip_prefix(cwd).map_or_else(|_| path.to_owned(), Path::to_owned);
    let dir = shown(&dest);
    let dir_text = if dir.as_os_str().is_empty() { ".".to_owned() } else { dir.display().to_string() };
    let config = dir.join("config");
    let manifest = if in_workspace {
        include_str!("../../templates/new/Cargo.toml.workspace").to_owned()
    } else {
        let runtime = match (&args.runtime_path, &args.runtime_version, own_sources()) {
            (Some(path), _, _) => format!("{{ path = {:?} }}", cwd.join(path).display().to_string()),
            (None, Some(version), _) => format!("{version:?}"),
            (None, None, Some(sources)) => {
                format!("{{ path = {:?} }}", sources.join("crates/runtime").display().to_string())
            }
            (None, None, None) => {
                return Err(Error::Usage(
                    "outside the fnmesh repository, say where fnmesh-runtime comes from: --runtime-path \
                     PATH/TO/fnmesh/crates/runtime, or --runtime-version VERSION"
                        .into(),
                ));
            }
        };
        include_str!("../../templates/new/Cargo.toml.alone").replace("{{runtime}}", &runtime)
    };
    let (lib, test, template, send) = match args.template {
        Template::Cloudevents => (
            include_str!("../../templates/new/cloudevents.lib.rs"),
            include_str!("../../templates/new/cloudevents.test.rs"),
            "cloudevents",
            "--data '{\"name\": \"Ada\"}'".to_owned(),
        ),
        Template::Http => (
            include_str!("../../templates/new/http.lib.rs"),
            include_str!("../../templates/new/http.test.rs"),
            "http",
            "(a CloudEvent), or: curl -H 'Host: NAME.default.svc.cluster.local' localhost:8080 -d '{\"name\": \"Ada\"}'"
                .replace("NAME", &args.name),
        ),
    };
    let fill = |text: &str| {
        text.replace("{{name}}", &args.name)
            .replace("{{crate}}", &args.name.replace('-', "_"))
            .replace("{{template}}", template)
            .replace("{{dir}}", &dir_text)
            .replace("{{config}}", &config.display().to_string())
            .replace("{{image}}", &format!("{}/{}:0.1.0", args.registry.trim_end_matches('/'), args.name))
            .replace("{{send}}", &send)
            .replace("{{package_flag}}", &if in_workspace { format!("-p {}", args.name) } else { String::new() })
    };
    let files: Vec<(PathBuf, String)> = vec![
        ("Cargo.toml".into(), fill(&manifest)),
        ("src/lib.rs".into(), fill(lib)),
        ("src/main.rs".into(), fill(include_str!("../../templates/new/main.rs"))),
        ("tests/function.rs".into(), fill(test)),
        (format!("config/{}.yaml", args.name).into(), fill(include_str!("../../templates/new/service.yaml"))),
        ("README.md".into(), fill(include_str!("../../templates/new/README.md"))),
        (".gitignore".into(), if in_workspace { String::new() } else { "/target\n".into() }),
    ];
    for (path, text) in &files {
        if text.is_empty() {
            continue;
        }
        let path = dest.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::File { path: parent.to_owned(), message: format!("cannot create: {e}") })?;
        }
        std::fs::write(&path, text).map_err(|e| Error::File { path, message: format!("cannot write: {e}") })?;
    }
    if !in_workspace && let Some(lock) = own_sources().map(|s| s.join("Cargo.lock")).filter(|l| l.is_file()) {
        // The same versions as this workspace's, so that an offline build finds them cached.
        let _ = std::fs::copy(lock, dest.join("Cargo.lock"));
    }
    let test =
        if in_workspace { format!("cargo test -p {}", args.name) } else { format!("cd {dir_text} && cargo test") };
    Ok(format!(
        "wrote {name} ({template}) in {dir_text}{joined}\n\nNext:\n  {test}\n  fnmesh run {config} --watch\n  \
         fnmesh send ksvc/{name} {send}\n",
        name = args.name,
        joined = if in_workspace { ", a member of the workspace" } else { "" },
        config = config.display(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic in a test is a failed assertion

    use super::*;

    fn args(name: &str) -> NewArgs {
        NewArgs {
            name: name.into(),
            template: Template::Cloudevents,
            dir: None,
            runtime_path: None,
            runtime_version: None,
            registry: "dev.local".into(),
        }
    }

    #[test]
    fn names_must_be_service_names() {
        for bad in ["", "Greeter", "9lives", "a_b", "end-", &"x".repeat(64)] {
            let e = new(&args(bad), Path::new("/nonexistent")).unwrap_err().to_string();
            assert!(e.contains("cannot name a Knative Service"), "{bad}: {e}");
        }
    }

    #[test]
    fn inside_a_workspace_the_crate_joins_it() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("Cargo.toml"), "[workspace]\nmembers = [\"crates/*\", \"functions/*\"]\n")
            .unwrap();
        std::fs::create_dir_all(root.path().join("docs")).unwrap();
        let said = new(&args("greeter"), &root.path().join("docs")).unwrap();
        let dest = root.path().join("functions/greeter");
        assert!(
            said.starts_with("wrote greeter (cloudevents) in ../functions/greeter, a member of the workspace")
                || said.contains("functions/greeter, a member of the workspace"),
            "{said}"
        );
        let manifest = std::fs::read_to_string(dest.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("fnmesh-runtime.workspace = true"), "{manifest}");
        let service = std::fs::read_to_string(dest.join("config/greeter.yaml")).unwrap();
        assert!(service.contains("name: greeter\n") && service.contains("image: dev.local/greeter:0.1.0"));
        assert!(service.contains("fnmesh.dev/source: \"..\""));
        let test = std::fs::read_to_string(dest.join("tests/function.rs")).unwrap();
        assert!(test.contains("use greeter::{Config, app};"), "{test}");
        assert!(!dest.join(".gitignore").exists());
        let again = new(&args("greeter"), root.path()).unwrap_err().to_string();
        assert!(again.contains("exists and is not empty"), "{again}");
    }

    /// `functions/greeter` is what `fnmesh new greeter` writes in this repository: the
    /// example stays the template's output, file for file.
    #[test]
    fn the_repositorys_greeter_is_the_templates_output() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("Cargo.toml"), "[workspace]\nmembers = [\"functions/*\"]\n").unwrap();
        new(&args("greeter"), root.path()).unwrap();
        let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../functions/greeter");
        for file in ["Cargo.toml", "README.md", "src/lib.rs", "src/main.rs", "tests/function.rs", "config/greeter.yaml"]
        {
            let written = std::fs::read_to_string(root.path().join("functions/greeter").join(file)).unwrap();
            let kept = std::fs::read_to_string(ours.join(file)).unwrap();
            assert_eq!(written, kept, "functions/greeter/{file} differs from what fnmesh new writes");
        }
    }

    #[test]
    fn outside_it_the_runtime_comes_by_path_or_version() {
        let dir = tempfile::tempdir().unwrap();
        let by_version = NewArgs { runtime_version: Some("0.1".into()), template: Template::Http, ..args("hook") };
        new(&by_version, dir.path()).unwrap();
        let manifest = std::fs::read_to_string(dir.path().join("hook/Cargo.toml")).unwrap();
        assert!(manifest.contains("fnmesh-runtime = \"0.1\""), "{manifest}");
        assert!(std::fs::read_to_string(dir.path().join("hook/src/lib.rs")).unwrap().contains("routing::post"));
        let by_path = NewArgs { runtime_path: Some("vendor/runtime".into()), ..args("order-check") };
        new(&by_path, dir.path()).unwrap();
        let manifest = std::fs::read_to_string(dir.path().join("order-check/Cargo.toml")).unwrap();
        let expected =
            format!("fnmesh-runtime = {{ path = {:?} }}", dir.path().join("vendor/runtime").display().to_string());
        assert!(manifest.contains(&expected), "{manifest}");
        let main = std::fs::read_to_string(dir.path().join("order-check/src/main.rs")).unwrap();
        assert!(main.contains("fnmesh_runtime::run_function(order_check::SPEC)"), "{main}");
    }
}
