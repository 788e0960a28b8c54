//! Writes a layout: per platform a layer (the binary, a non-root user, `/tmp`), a config
//! and a manifest; with several platforms an image index over the manifests; and
//! `index.json` naming the one image (the index, or the manifest when there is one
//! platform) by the version as its tag and by `<name>:<version>` for `podman load`.

use std::io::{Error, ErrorKind, Write};
use std::path::Path;

use serde_json::{Value, json};

use crate::platform::check_binary;
use crate::{INDEX, Image, MANIFEST, Platform, USER, Written, WrittenPlatform, sha256};

fn put_blob(dir: &Path, bytes: &[u8]) -> std::io::Result<String> {
    let digest = sha256(bytes);
    std::fs::write(dir.join("blobs/sha256").join(&digest[7..]), bytes)?;
    Ok(digest)
}

fn to_vec(value: &Value) -> std::io::Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(Error::other)
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
fn layer(name: &str, binary: &[u8]) -> std::io::Result<Vec<u8>> {
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
    add(&mut builder, name, 0o755, binary)?;
    builder.into_inner()
}

/// Writes one platform's layer, config and manifest; returns the manifest's descriptor
/// and the bytes a registry stores for them.
fn manifest(
    image: &Image,
    labels: &Value,
    platform: &Platform,
    binary: &[u8],
    dir: &Path,
) -> std::io::Result<(Value, u64)> {
    let tar = layer(&image.name, binary)?;
    let diff_id = sha256(&tar);
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar)?;
    let gz = gz.finish()?;
    let layer_digest = put_blob(dir, &gz)?;
    let config = to_vec(&json!({
        "architecture": platform.architecture,
        "os": platform.os,
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
    }))?;
    let config_digest = put_blob(dir, &config)?;
    let manifest = to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": gz.len()}],
        "annotations": labels,
    }))?;
    let digest = put_blob(dir, &manifest)?;
    let descriptor =
        json!({"mediaType": MANIFEST, "digest": digest, "size": manifest.len(), "platform": platform.json()});
    Ok((descriptor, (gz.len() + config.len() + manifest.len()) as u64))
}

/// Writes the layout of `image` into `dir` (created; blobs of earlier images stay).
pub fn write(image: &Image, dir: &Path) -> std::io::Result<Written> {
    let invalid = |message: String| Error::new(ErrorKind::InvalidInput, message);
    if image.binaries.is_empty() {
        return Err(invalid(format!("{}: no platform to build", image.name)));
    }
    for (i, (platform, _)) in image.binaries.iter().enumerate() {
        if image.binaries[..i].iter().any(|(p, _)| p == platform) {
            return Err(invalid(format!("{}: {platform} given twice", image.name)));
        }
    }
    std::fs::create_dir_all(dir.join("blobs/sha256"))?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut labels = json!({
        "org.opencontainers.image.title": image.name,
        "org.opencontainers.image.description": image.description,
        "org.opencontainers.image.version": image.version,
        "org.opencontainers.image.source": image.source,
        "org.opencontainers.image.licenses": "Apache-2.0",
    });
    // A user's crate may have no `repository`: no label rather than an empty one.
    if let Some(labels) = labels.as_object_mut() {
        labels.retain(|_, v| v != "");
    }
    let mut descriptors = Vec::new();
    let mut platforms = Vec::new();
    for (platform, path) in &image.binaries {
        let binary = std::fs::read(path).map_err(|e| Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        check_binary(&path.display().to_string(), &binary, platform).map_err(invalid)?;
        let (descriptor, size) = manifest(image, &labels, platform, &binary, dir)?;
        let digest = descriptor["digest"].as_str().unwrap_or_default().to_owned();
        platforms.push(WrittenPlatform { platform: platform.clone(), digest, size });
        descriptors.push(descriptor);
    }
    let mut top = if let [only] = descriptors.as_slice() {
        only.clone()
    } else {
        let index = to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": descriptors,
            "annotations": labels,
        }))?;
        json!({"mediaType": INDEX, "digest": put_blob(dir, &index)?, "size": index.len()})
    };
    // The tag for `skopeo copy oci:DIR:VERSION`, and a name for `podman load` and
    // `docker load` (which would otherwise name the image after the tag alone).
    top["annotations"] = json!({
        "org.opencontainers.image.ref.name": image.version,
        "io.containerd.image.name": format!("{}:{}", image.name, image.version),
    });
    let layout = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [top]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&layout).map_err(Error::other)?)?;
    Ok(Written { digest: top["digest"].as_str().unwrap_or_default().to_owned(), platforms })
}
