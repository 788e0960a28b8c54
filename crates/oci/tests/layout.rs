//! A layout written for one platform checks out: digests and sizes match their content,
//! the layer holds the binary and a non-root user, and the same input gives the same
//! bytes. (Two platforms, the image index: `tests/index.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

mod support;

use fnmesh_oci::{Platform, USER, verify, write};
use support::{blobs, image, json_blob};

#[test]
fn written_layouts_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("layout");
    let written = write(&image(tmp.path(), &["linux/amd64"]), &out).unwrap();
    let checked = verify(&out).unwrap();
    assert_eq!(checked.digest, written.digest);
    assert_eq!(written.platforms[0].digest, written.digest, "one platform: index.json names the manifest");
    let [only] = checked.platforms.as_slice() else { panic!("{checked:?}") };
    assert_eq!(only.platform, Platform::new("linux", "amd64"));
    assert_eq!(only.files, ["etc/", "etc/group", "etc/passwd", "tmp/", "appender"]);
    assert_eq!((only.entrypoint.as_str(), only.user.clone()), ("/appender", format!("{USER}:{USER}")));
    let config = json_blob(&out, |v| v.get("architecture").is_some());
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["config"]["Labels"]["org.opencontainers.image.source"], "https://github.com/fnmesh/fnmesh");
    assert_eq!(config["config"]["Labels"]["org.opencontainers.image.version"], "0.1.0");

    let again = write(&image(tmp.path(), &["linux/amd64"]), &tmp.path().join("again")).unwrap();
    assert_eq!(again, written, "reproducible");
}

#[test]
fn empty_labels_are_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("layout");
    let mut no_source = image(tmp.path(), &["linux/amd64"]);
    no_source.source = String::new();
    write(&no_source, &out).unwrap();
    let labels = &json_blob(&out, |v| v.get("architecture").is_some())["config"]["Labels"];
    assert!(labels.get("org.opencontainers.image.source").is_none(), "{labels}");
    assert_eq!(labels["org.opencontainers.image.title"], "appender");
}

#[test]
fn tampered_layouts_do_not_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("layout");
    write(&image(tmp.path(), &["linux/amd64"]), &out).unwrap();
    let layer = blobs(&out).into_iter().find(|p| std::fs::read(p).unwrap().starts_with(&[0x1f, 0x8b])).unwrap();
    std::fs::write(layer, b"changed").unwrap();
    let err = verify(&out).unwrap_err();
    assert!(err.contains("its content has digest"), "{err}");
    assert!(verify(&tmp.path().join("nothing")).unwrap_err().starts_with("oci-layout"));
}

#[test]
fn a_binary_for_another_architecture_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wrong = image(tmp.path(), &["linux/amd64"]);
    wrong.binaries[0].0 = Platform::new("linux", "arm64");
    let err = write(&wrong, &tmp.path().join("layout")).unwrap_err().to_string();
    assert!(err.ends_with("is a binary for amd64, not arm64"), "{err}");
    let mut twice = image(tmp.path(), &["linux/amd64"]);
    twice.binaries.push(twice.binaries[0].clone());
    assert!(write(&twice, &tmp.path().join("layout")).unwrap_err().to_string().contains("linux/amd64 given twice"));
}
