//! A layout for `linux/amd64` and `linux/arm64` is one image index: `index.json` names
//! the index (tagged with the version), the index lists one manifest per platform with
//! its `platform`, every digest and size is its blob's, media types are OCI's, and
//! `verify` refuses an index whose entries were changed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

mod support;

use fnmesh_oci::{INDEX, MANIFEST, Platform, verify, write};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{blob_path, image, read_json};

const BOTH: [&str; 2] = ["linux/amd64", "linux/arm64"];

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Writes the two-platform appender in `tmp`; returns the layout.
fn two_platforms(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    let out = tmp.path().join("layout");
    write(&image(tmp.path(), &BOTH), &out).unwrap();
    out
}

#[test]
fn index_json_names_one_image_index_tagged_with_the_version() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("layout");
    let written = write(&image(tmp.path(), &BOTH), &out).unwrap();
    let layout = read_json(&out.join("index.json"));
    assert_eq!((layout["schemaVersion"].clone(), layout["mediaType"].clone()), (json!(2), json!(INDEX)));
    let [top] = layout["manifests"].as_array().unwrap().as_slice() else { panic!("{layout}") };
    assert_eq!(top["mediaType"], INDEX);
    assert_eq!(top["annotations"]["org.opencontainers.image.ref.name"], "0.1.0");
    assert_eq!(top["annotations"]["io.containerd.image.name"], "appender:0.1.0");
    assert_eq!(top["digest"], written.digest.as_str());
    let bytes = std::fs::read(blob_path(&out, top)).unwrap();
    assert_eq!((sha256(&bytes), bytes.len()), (written.digest.clone(), top["size"].as_u64().unwrap() as usize));
    assert_eq!(read_json(&out.join("oci-layout")), json!({"imageLayoutVersion": "1.0.0"}));
}

#[test]
fn the_index_lists_each_platform_with_the_digest_of_its_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("layout");
    let written = write(&image(tmp.path(), &BOTH), &out).unwrap();
    let index = read_json(&blob_path(&out, &read_json(&out.join("index.json"))["manifests"][0]));
    assert_eq!((index["schemaVersion"].clone(), index["mediaType"].clone()), (json!(2), json!(INDEX)));
    let entries = index["manifests"].as_array().unwrap();
    let platforms: Vec<_> = entries.iter().map(|e| e["platform"].clone()).collect();
    assert_eq!(
        platforms,
        [json!({"architecture": "amd64", "os": "linux"}), json!({"architecture": "arm64", "os": "linux"})]
    );
    for (entry, platform) in entries.iter().zip(&written.platforms) {
        assert_eq!(entry["mediaType"], MANIFEST);
        let bytes = std::fs::read(blob_path(&out, entry)).unwrap();
        assert_eq!(sha256(&bytes), entry["digest"].as_str().unwrap(), "the digest is the manifest blob's");
        assert_eq!(bytes.len() as u64, entry["size"].as_u64().unwrap());
        assert_eq!(platform.digest, entry["digest"].as_str().unwrap());
        let manifest: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(manifest["mediaType"], MANIFEST);
        assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
        assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
        let config = read_json(&blob_path(&out, &manifest["config"]));
        assert_eq!(Platform::from_json(&config), Some(platform.platform.clone()));
        assert_eq!(Platform::from_json(&entry["platform"]), Some(platform.platform.clone()));
    }
    assert_ne!(written.platforms[0].digest, written.platforms[1].digest);
}

#[test]
fn verify_reads_every_platform_of_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("layout");
    let written = write(&image(tmp.path(), &BOTH), &out).unwrap();
    let checked = verify(&out).unwrap();
    assert_eq!(checked.digest, written.digest);
    let seen: Vec<_> = checked.platforms.iter().map(|p| (p.platform.to_string(), p.digest.clone(), p.size)).collect();
    let wrote: Vec<_> = written.platforms.iter().map(|p| (p.platform.to_string(), p.digest.clone(), p.size)).collect();
    assert_eq!(seen, wrote);
    assert!(checked.platforms.iter().all(|p| p.entrypoint == "/appender" && p.files.contains(&"appender".into())));
    let again = write(&image(tmp.path(), &BOTH), &tmp.path().join("again")).unwrap();
    assert_eq!(again, written, "reproducible");
}

/// Rewrites the image index blob with `change` and points `index.json` at the new blob.
fn tamper(out: &std::path::Path, change: Change) -> String {
    let mut layout = read_json(&out.join("index.json"));
    let mut index = read_json(&blob_path(out, &layout["manifests"][0]));
    change(&mut index);
    let bytes = serde_json::to_vec(&index).unwrap();
    let digest = sha256(&bytes);
    std::fs::write(out.join("blobs/sha256").join(&digest[7..]), &bytes).unwrap();
    layout["manifests"][0]["digest"] = json!(digest);
    layout["manifests"][0]["size"] = json!(bytes.len());
    std::fs::write(out.join("index.json"), serde_json::to_vec(&layout).unwrap()).unwrap();
    verify(out).unwrap_err()
}

type Change = fn(&mut Value);

#[test]
fn verify_refuses_a_changed_index() {
    let cases: [(Change, &str); 5] = [
        (|i| i["manifests"][1]["platform"]["architecture"] = json!("amd64"), "its config says linux/arm64"),
        (|i| i["manifests"][1] = i["manifests"][0].clone(), "linux/amd64 is listed twice"),
        (|i| i["manifests"][0]["size"] = json!(1), "size"),
        (
            |i| i["mediaType"] = json!("application/vnd.docker.distribution.manifest.list.v2+json"),
            "image index: mediaType",
        ),
        (|i| i["manifests"] = json!([]), "no manifests"),
    ];
    for (change, expected) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let out = two_platforms(&tmp);
        verify(&out).unwrap();
        let err = tamper(&out, change);
        assert!(err.contains(expected), "{err} (expected {expected})");
    }
}

#[test]
fn write_refuses_a_binary_swapped_between_platforms() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("layout");
    let mut swapped = image(tmp.path(), &BOTH);
    let amd64 = swapped.binaries[0].1.clone();
    swapped.binaries[1].1 = amd64;
    let err = write(&swapped, &out).unwrap_err().to_string();
    assert!(err.ends_with("is a binary for amd64, not arm64"), "{err}");
}
