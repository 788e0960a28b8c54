//! The commands that put a flow on a real Knative cluster: `kn service create` for each
//! Knative Service (image and env), then one `kubectl apply` for everything else, in the
//! manifests' order. `hack/deploy` prints them (`--dry-run`) or runs them.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::manifests::{Document, Kind, Spec, yaml};
use crate::plan::{COMMAND_ANNOTATION, Images};

/// How images are written.
#[derive(Debug, Clone, Default)]
pub struct ImageChoice {
    /// Replace `ghcr.io/fnmesh` with this registry (`FNMESH_REGISTRY`).
    pub registry: Option<String>,
    /// Use fnmesh's image for every image it has a function for (else keep the images as
    /// written, e.g. the upstream appender).
    pub fnmesh_images: bool,
    /// The tag of fnmesh's images.
    pub version: String,
}

/// `value` quoted for a POSIX shell.
pub fn quote(value: &str) -> String {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b)) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

fn image(written: &str, images: &Images, choice: &ImageChoice) -> String {
    let registry = choice.registry.as_deref().unwrap_or("ghcr.io/fnmesh").trim_end_matches('/');
    if choice.fnmesh_images
        && let Ok(function) = images.resolve(written)
    {
        return format!("{registry}/{}:{}", function.name, choice.version);
    }
    match written.strip_prefix("ghcr.io/fnmesh/") {
        Some(rest) => format!("{registry}/{rest}"),
        None => written.to_owned(),
    }
}

/// The script for `documents`.
/// The script for `documents` (loaded without problems: a spec that did not fit is
/// reported by the loader, not here).
pub fn script(documents: &[Document], images: &Images, choice: &ImageChoice) -> Result<String> {
    let mut out = String::from("set -euo pipefail\n");
    let mut rest = Vec::new();
    for doc in documents {
        if doc.kind != Kind::KService {
            rest.push(doc);
            continue;
        }
        let Some(Spec::KService(spec)) = &doc.spec else { continue };
        if doc.metadata.annotations.contains_key(COMMAND_ANNOTATION) {
            let _ =
                writeln!(out, "# skipped {}: it runs a local command ({COMMAND_ANNOTATION}), not an image", doc.name);
            continue;
        }
        let Some(container) = spec.template.spec.containers.first() else { continue };
        let _ = write!(
            out,
            "kn service create {} --namespace {} --force --image {}",
            quote(&doc.name),
            quote(&doc.namespace),
            quote(&image(&container.image, images, choice))
        );
        for env in &container.env {
            let _ = write!(
                out,
                " \\\n  --env {}",
                quote(&format!("{}={}", env.name, env.value.clone().unwrap_or_default()))
            );
        }
        out.push('\n');
    }
    if !rest.is_empty() {
        out.push_str("kubectl apply -f - <<'YAML'\n");
        for (i, doc) in rest.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            out.push_str(&yaml::to_string(&doc.value).map_err(Error::Output)?);
        }
        out.push_str("YAML\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(quote("first"), "first");
        assert_eq!(quote("MESSAGE= - Handled by 0"), "'MESSAGE= - Handled by 0'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn images_follow_the_registry_setting() {
        let images = Images::load(&[] as &[&str]).unwrap();
        let choice = |registry: Option<&str>, ours: bool| ImageChoice {
            registry: registry.map(str::to_owned),
            fnmesh_images: ours,
            version: "0.1.0".into(),
        };
        let upstream = "gcr.io/knative-releases/knative.dev/eventing/cmd/appender";
        assert_eq!(image(upstream, &images, &choice(None, false)), upstream);
        assert_eq!(
            image(upstream, &images, &choice(Some("registry.local:5000/me"), true)),
            "registry.local:5000/me/appender:0.1.0"
        );
        assert_eq!(
            image("ghcr.io/fnmesh/filter:0.1.0", &images, &choice(Some("quay.io/x/"), false)),
            "quay.io/x/filter:0.1.0"
        );
        assert_eq!(image("nginx", &images, &choice(None, true)), "nginx");
    }
}
