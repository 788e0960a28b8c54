//! OCI image layouts (the directory format `skopeo`, `crane` and `podman` read) for a
//! single static binary: one layer with the binary and the files a non-root user needs,
//! an image config with OCI labels, a manifest and an index, every blob named by its
//! sha256. Written byte for byte the same for the same input (fixed times, owners and
//! order), and checked by [`verify`].

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The user the image runs as (distroless's `nonroot`).
pub const USER: u32 = 65532;

/// What to put in an image.
#[derive(Debug, Clone)]
pub struct Image {
    /// The function: the binary is `/<name>`, the entrypoint.
    pub name: String,
    pub binary: PathBuf,
    pub version: String,
    /// `org.opencontainers.image.source`.
    pub source: String,
    pub description: String,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// `sha256:...` of the manifest: the image's digest.
    pub digest: String,
    /// Bytes of the compressed layer, config and manifest: what a registry stores.
    pub size: u64,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn put_blob(dir: &Path, bytes: &[u8]) -> std::io::Result<String> {
    let digest = sha256(bytes);
    let path = dir.join("blobs/sha256").join(&digest[7..]);
    std::fs::write(path, bytes)?;
    Ok(digest)
}

fn add(builder: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(if path.ends_with('/') { tar::EntryType::Directory } else { tar::EntryType::Regular });
    builder.append_data(&mut header, path, data)
}

/// The layer: `/<name>`, `/etc/passwd` and `/etc/group` with `nonroot`, and `/tmp`.
fn layer(image: &Image) -> std::io::Result<Vec<u8>> {
    let binary = std::fs::read(&image.binary)?;
    let mut builder = tar::Builder::new(Vec::new());
    add(&mut builder, "etc/", 0o755, b"")?;
    add(&mut builder, "etc/group", 0o644, format!("root:x:0:\nnonroot:x:{USER}:\n").as_bytes())?;
    add(
        &mut builder,
        "etc/passwd",
        0o644,
        format!("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{USER}:{USER}:nonroot:/home/nonroot:/sbin/nologin\n")
            .as_bytes(),
    )?;
    add(&mut builder, "tmp/", 0o1777, b"")?;
    add(&mut builder, &image.name, 0o755, &binary)?;
    builder.into_inner()
}

/// Writes the layout of `image` into `dir` (created; blobs of earlier images stay).
pub fn write(image: &Image, dir: &Path) -> std::io::Result<Written> {
    std::fs::create_dir_all(dir.join("blobs/sha256"))?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let tar = layer(image)?;
    let diff_id = sha256(&tar);
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar)?;
    let gz = gz.finish()?;
    let layer_digest = put_blob(dir, &gz)?;
    let labels = json!({
        "org.opencontainers.image.title": image.name,
        "org.opencontainers.image.description": image.description,
        "org.opencontainers.image.version": image.version,
        "org.opencontainers.image.source": image.source,
        "org.opencontainers.image.licenses": "Apache-2.0",
    });
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": format!("{USER}:{USER}"),
            "Entrypoint": [format!("/{}", image.name)],
            "Env": ["PORT=8080"],
            "ExposedPorts": {"8080/tcp": {}},
            "WorkingDir": "/",
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": format!("fnmesh-oci: /{} (static binary) and a non-root user", image.name)}],
    });
    let config = serde_json::to_vec(&config).map_err(std::io::Error::other)?;
    let config_digest = put_blob(dir, &config)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": gz.len()}],
        "annotations": labels,
    });
    let manifest = serde_json::to_vec(&manifest).map_err(std::io::Error::other)?;
    let digest = put_blob(dir, &manifest)?;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": manifest.len(),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"org.opencontainers.image.ref.name": image.version},
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&index).map_err(std::io::Error::other)?)?;
    Ok(Written { digest, size: (gz.len() + config.len() + manifest.len()) as u64 })
}

/// What [`verify`] found in a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub digest: String,
    /// Files in the layer.
    pub files: Vec<String>,
    pub entrypoint: String,
    pub user: String,
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

/// Checks a layout: the index, the manifest, the config and the layer exist, their
/// digests and sizes match their content, and the layer's uncompressed digest is the
/// config's diff_id.
pub fn verify(dir: &Path) -> Result<Checked, String> {
    let layout: Value =
        serde_json::from_slice(&std::fs::read(dir.join("oci-layout")).map_err(|e| format!("oci-layout: {e}"))?)
            .map_err(|e| format!("oci-layout: {e}"))?;
    if layout["imageLayoutVersion"] != "1.0.0" {
        return Err("oci-layout: imageLayoutVersion is not 1.0.0".into());
    }
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).map_err(|e| format!("index.json: {e}"))?)
            .map_err(|e| format!("index.json: {e}"))?;
    let descriptor = index["manifests"].get(0).ok_or("index.json: no manifest")?;
    let manifest: Value = serde_json::from_slice(&blob(dir, descriptor)?).map_err(|e| format!("manifest: {e}"))?;
    let config: Value = serde_json::from_slice(&blob(dir, &manifest["config"])?).map_err(|e| format!("config: {e}"))?;
    let layer = blob(dir, &manifest["layers"][0])?;
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(layer.as_slice()), &mut tar)
        .map_err(|e| format!("layer: {e}"))?;
    if config["rootfs"]["diff_ids"][0] != sha256(&tar) {
        return Err("the layer's uncompressed digest is not the config's diff_id".into());
    }
    let mut archive = tar::Archive::new(tar.as_slice());
    let files = archive
        .entries()
        .map_err(|e| e.to_string())?
        .map(|e| {
            e.map_err(|e| e.to_string())
                .and_then(|e| e.path().map(|p| p.display().to_string()).map_err(|e| e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Checked {
        digest: descriptor["digest"].as_str().unwrap_or_default().to_owned(),
        files,
        entrypoint: config["config"]["Entrypoint"][0].as_str().unwrap_or_default().to_owned(),
        user: config["config"]["User"].as_str().unwrap_or_default().to_owned(),
    })
}
