//! Which binary of a user's function crate goes into an image, read from
//! `cargo metadata --format-version 1 --no-deps`: the package (by its `Cargo.toml` or its
//! name), its one binary (or the one asked for), the version and description for the
//! labels, and the target directory cargo builds it in. A crate that does not depend on
//! `fnmesh-runtime` is refused: its binary would not be a function.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// How the package is named on the command line.
#[derive(Debug, Clone, Copy)]
pub enum Select<'a> {
    /// Its `Cargo.toml` (absolute, as cargo prints it).
    Manifest(&'a Path),
    /// Its package name, in the workspace of the metadata.
    Package(&'a str),
}

/// A function crate to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCrate {
    pub package: String,
    /// The binary: the image's name and entrypoint.
    pub binary: String,
    pub version: String,
    /// The package's `description`, or `<binary> function`.
    pub description: String,
    /// The package's `repository`, or empty.
    pub source: String,
    /// Where cargo writes the build (the workspace's target directory).
    pub target_directory: PathBuf,
}

/// Finds the package and its binary in `metadata`.
pub fn function_crate(metadata: &Value, select: Select<'_>, bin: Option<&str>) -> Result<FunctionCrate, String> {
    let packages = metadata["packages"].as_array().ok_or("cargo metadata: no packages")?;
    let package = packages
        .iter()
        .find(|p| match select {
            Select::Manifest(path) => p["manifest_path"].as_str().map(Path::new) == Some(path),
            Select::Package(name) => p["name"] == name,
        })
        .ok_or_else(|| match select {
            Select::Manifest(path) => format!("{}: not the manifest of a package (a workspace root?)", path.display()),
            Select::Package(name) => format!("no package {name} in this workspace"),
        })?;
    let name = package["name"].as_str().unwrap_or_default();
    let deps = package["dependencies"].as_array().map(Vec::as_slice).unwrap_or_default();
    if !deps.iter().any(|d| d["name"] == "fnmesh-runtime" && d["kind"].is_null()) {
        return Err(format!("{name} does not depend on fnmesh-runtime: its binary is not a function"));
    }
    let binaries: Vec<&str> = package["targets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|t| t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin")))
        .filter_map(|t| t["name"].as_str())
        .collect();
    let binary = match (bin, binaries.as_slice()) {
        (Some(bin), _) if binaries.contains(&bin) => bin,
        (Some(bin), _) => return Err(format!("{name} has no binary {bin} (it has: {})", binaries.join(", "))),
        (None, [only]) => only,
        (None, []) => return Err(format!("{name} has no binary")),
        (None, _) => return Err(format!("{name} has binaries {}: say which with --bin", binaries.join(", "))),
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
    let description = match text(&package["description"]) {
        d if d.is_empty() => format!("{binary} function"),
        d => d,
    };
    Ok(FunctionCrate {
        package: name.to_owned(),
        binary: binary.to_owned(),
        version: text(&package["version"]),
        description,
        source: text(&package["repository"]),
        target_directory: metadata["target_directory"].as_str().ok_or("cargo metadata: no target_directory")?.into(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn metadata() -> Value {
        let runtime = json!({"name": "fnmesh-runtime", "kind": null});
        let bin = |name: &str| json!({"name": name, "kind": ["bin"]});
        json!({
            "target_directory": "/w/target",
            "packages": [
                {"name": "fnmesh-runtime", "version": "0.1.0", "manifest_path": "/w/crates/runtime/Cargo.toml",
                 "dependencies": [], "targets": [{"name": "fnmesh_runtime", "kind": ["lib"]}]},
                {"name": "greeter", "version": "0.2.0", "manifest_path": "/w/functions/greeter/Cargo.toml",
                 "description": "Says\n  hello.", "repository": null, "dependencies": [runtime],
                 "targets": [{"name": "greeter", "kind": ["lib"]}, bin("greeter")]},
                {"name": "two", "version": "0.1.0", "manifest_path": "/w/two/Cargo.toml",
                 "dependencies": [runtime], "targets": [bin("a"), bin("b")]},
            ],
        })
    }

    #[test]
    fn a_function_crate_is_found_by_manifest_or_name() {
        let by_path = function_crate(&metadata(), Select::Manifest(Path::new("/w/functions/greeter/Cargo.toml")), None);
        let expected = FunctionCrate {
            package: "greeter".into(),
            binary: "greeter".into(),
            version: "0.2.0".into(),
            description: "Says hello.".into(),
            source: String::new(),
            target_directory: "/w/target".into(),
        };
        assert_eq!(by_path.unwrap(), expected);
        assert_eq!(function_crate(&metadata(), Select::Package("greeter"), None).unwrap(), expected);
        let b = function_crate(&metadata(), Select::Package("two"), Some("b")).unwrap();
        assert_eq!((b.binary.as_str(), b.description.as_str()), ("b", "b function"));
    }

    #[test]
    fn other_crates_are_refused_with_the_reason() {
        let err = |select, bin| function_crate(&metadata(), select, bin).unwrap_err();
        assert!(err(Select::Package("fnmesh-runtime"), None).contains("does not depend on fnmesh-runtime"));
        assert!(err(Select::Package("two"), None).contains("binaries a, b: say which with --bin"));
        assert!(err(Select::Package("two"), Some("c")).contains("has no binary c"));
        assert!(err(Select::Package("nope"), None).contains("no package nope"));
        assert!(err(Select::Manifest(Path::new("/w/Cargo.toml")), None).contains("a workspace root?"));
    }
}
