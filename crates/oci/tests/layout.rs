//! A layout written for a binary checks out: digests and sizes match their content, the
//! layer holds the binary and a non-root user, and the same input gives the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_oci::{Image, USER, verify, write};

fn image(dir: &std::path::Path) -> Image {
    let binary = dir.join("appender");
    std::fs::write(&binary, b"\x7fELF not really a binary").unwrap();
    Image {
        name: "appender".into(),
        binary,
        version: "0.1.0".into(),
        source: "https://github.com/fnmesh/fnmesh".into(),
        description: "test".into(),
    }
}

#[test]
fn written_layouts_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("layout");
    let written = write(&image(tmp.path()), &out).unwrap();
    let checked = verify(&out).unwrap();
    assert_eq!(checked.digest, written.digest);
    assert_eq!(checked.files, ["etc/", "etc/group", "etc/passwd", "tmp/", "appender"]);
    assert_eq!((checked.entrypoint.as_str(), checked.user), ("/appender", format!("{USER}:{USER}")));
    let config_text = std::fs::read_dir(out.join("blobs/sha256"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .find(|b| b.starts_with(b"{\"architecture\""))
        .unwrap();
    let config: serde_json::Value = serde_json::from_slice(&config_text).unwrap();
    assert_eq!(config["config"]["Labels"]["org.opencontainers.image.source"], "https://github.com/fnmesh/fnmesh");
    assert_eq!(config["config"]["Labels"]["org.opencontainers.image.version"], "0.1.0");

    let again = write(&image(tmp.path()), &tmp.path().join("again")).unwrap();
    assert_eq!(again, written, "reproducible");
}

#[test]
fn tampered_layouts_do_not_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("layout");
    write(&image(tmp.path()), &out).unwrap();
    let blobs: Vec<_> = std::fs::read_dir(out.join("blobs/sha256")).unwrap().map(|e| e.unwrap().path()).collect();
    let layer = blobs.iter().find(|p| std::fs::read(p).unwrap().starts_with(&[0x1f, 0x8b])).unwrap();
    std::fs::write(layer, b"changed").unwrap();
    let err = verify(&out).unwrap_err();
    assert!(err.contains("its content has digest"), "{err}");
    assert!(verify(&tmp.path().join("nothing")).unwrap_err().starts_with("oci-layout"));
}
