//! Checks a layout as a registry or `skopeo` would read it: every blob's digest and size
//! match its descriptor, media types are the OCI ones, an image index lists each
//! platform once, each config's platform is its index entry's, each layer's
//! uncompressed digest is its config's diff_id, and each entrypoint is an ELF binary
//! for its platform.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::platform::check_binary;
use crate::{INDEX, MANIFEST, Platform, sha256};

/// What [`verify`] found in a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// What `index.json` names: the image index, or the manifest of a one-platform image.
    pub digest: String,
    /// The image's platforms, in the index's order.
    pub platforms: Vec<CheckedPlatform>,
}

/// One platform's image in a checked layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPlatform {
    pub platform: Platform,
    /// The manifest's digest.
    pub digest: String,
    /// Files in the layer.
    pub files: Vec<String>,
    pub entrypoint: String,
    pub user: String,
    /// Bytes of its manifest, config and compressed layer: what a node pulls.
    pub size: u64,
}

fn json(bytes: &[u8], what: &str) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{what}: {e}"))
}

fn read(dir: &Path, file: &str) -> Result<Value, String> {
    json(&std::fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?, file)
}

fn blob(dir: &Path, descriptor: &Value) -> Result<Vec<u8>, String> {
    let digest = descriptor["digest"].as_str().ok_or("a descriptor has no digest")?;
    let hex = digest.strip_prefix("sha256:").ok_or_else(|| format!("{digest}: not sha256"))?;
    let bytes = std::fs::read(dir.join("blobs/sha256").join(hex)).map_err(|e| format!("blob {digest}: {e}"))?;
    if sha256(&bytes) != digest {
        return Err(format!("blob {digest}: its content has digest {}", sha256(&bytes)));
    }
    if descriptor["size"].as_u64() != Some(bytes.len() as u64) {
        return Err(format!("blob {digest}: size {} is not {}", bytes.len(), descriptor["size"]));
    }
    Ok(bytes)
}

fn media_type(value: &Value, expected: &str, what: &str) -> Result<(), String> {
    match value["mediaType"].as_str() {
        Some(t) if t == expected => Ok(()),
        other => Err(format!("{what}: mediaType {other:?} is not {expected}")),
    }
}

/// Checks a layout: `index.json` names one image, either a manifest or an image index
/// of manifests, one per platform (see the module doc for what is checked).
pub fn verify(dir: &Path) -> Result<Checked, String> {
    if read(dir, "oci-layout")?["imageLayoutVersion"] != "1.0.0" {
        return Err("oci-layout: imageLayoutVersion is not 1.0.0".into());
    }
    let layout = read(dir, "index.json")?;
    media_type(&layout, INDEX, "index.json")?;
    let top = match layout["manifests"].as_array().map(Vec::as_slice) {
        Some([top]) => top,
        _ => return Err("index.json: not exactly one image".into()),
    };
    let digest = top["digest"].as_str().unwrap_or_default().to_owned();
    if top["mediaType"] == MANIFEST {
        return Ok(Checked { digest, platforms: vec![image(dir, top)?] });
    }
    media_type(top, INDEX, "index.json's image")?;
    let index = json(&blob(dir, top)?, "image index")?;
    media_type(&index, INDEX, "image index")?;
    if index["schemaVersion"] != 2 {
        return Err("image index: schemaVersion is not 2".into());
    }
    let mut platforms: Vec<CheckedPlatform> = Vec::new();
    for descriptor in index["manifests"].as_array().ok_or("image index: no manifests")? {
        media_type(descriptor, MANIFEST, "image index entry")?;
        let checked = image(dir, descriptor)?;
        if platforms.iter().any(|p| p.platform == checked.platform) {
            return Err(format!("image index: {} is listed twice", checked.platform));
        }
        platforms.push(checked);
    }
    if platforms.is_empty() {
        return Err("image index: no manifests".into());
    }
    Ok(Checked { digest, platforms })
}

/// Checks one platform's manifest, config and layer.
fn image(dir: &Path, descriptor: &Value) -> Result<CheckedPlatform, String> {
    let digest = descriptor["digest"].as_str().unwrap_or_default().to_owned();
    let manifest = json(&blob(dir, descriptor)?, &format!("manifest {digest}"))?;
    media_type(&manifest, MANIFEST, &format!("manifest {digest}"))?;
    media_type(&manifest["config"], "application/vnd.oci.image.config.v1+json", &format!("config of {digest}"))?;
    let config = json(&blob(dir, &manifest["config"])?, &format!("config of {digest}"))?;
    let platform = Platform::from_json(&config).ok_or_else(|| format!("config of {digest}: no os or architecture"))?;
    if let Some(listed) = descriptor.get("platform")
        && Platform::from_json(listed).as_ref() != Some(&platform)
    {
        return Err(format!("manifest {digest}: listed as {listed}, its config says {platform}"));
    }
    let layer = &manifest["layers"][0];
    media_type(layer, "application/vnd.oci.image.layer.v1.tar+gzip", &format!("layer of {digest}"))?;
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(blob(dir, layer)?.as_slice())
        .read_to_end(&mut tar)
        .map_err(|e| format!("layer of {digest}: {e}"))?;
    if config["rootfs"]["diff_ids"][0] != sha256(&tar) {
        return Err(format!("{platform}: the layer's uncompressed digest is not the config's diff_id"));
    }
    let entrypoint = config["config"]["Entrypoint"][0].as_str().unwrap_or_default().to_owned();
    let mut files = Vec::new();
    let mut archive = tar::Archive::new(tar.as_slice());
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.display().to_string();
        if format!("/{path}") == entrypoint {
            let mut binary = Vec::new();
            entry.read_to_end(&mut binary).map_err(|e| e.to_string())?;
            check_binary(&format!("{platform}: {entrypoint}"), &binary, &platform)?;
        }
        files.push(path);
    }
    if !files.iter().any(|f| format!("/{f}") == entrypoint) {
        return Err(format!("{platform}: the entrypoint {entrypoint:?} is not in the layer"));
    }
    let user = config["config"]["User"].as_str().unwrap_or_default().to_owned();
    let size = [descriptor, &manifest["config"], layer].iter().filter_map(|d| d["size"].as_u64()).sum();
    Ok(CheckedPlatform { platform, digest, files, entrypoint, user, size })
}
