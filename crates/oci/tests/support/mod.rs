//! Fixtures: an [`Image`] of fake ELF binaries (just a header with the platform's
//! machine, enough for the checks) and readers of a written layout's blobs.
#![allow(dead_code, clippy::unwrap_used)] // each test file uses part of it

use std::path::{Path, PathBuf};

use fnmesh_oci::{Image, Platform};
use serde_json::Value;

/// An ELF header for `architecture`, then some bytes that make each binary distinct.
pub fn fake_elf(architecture: &str) -> Vec<u8> {
    let machine: u16 = match architecture {
        "amd64" => 0x3e,
        "arm64" => 0xb7,
        other => panic!("no ELF machine for {other}"),
    };
    let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
    bytes.resize(18, 0);
    bytes.extend_from_slice(&machine.to_le_bytes());
    bytes.extend_from_slice(format!("not really the appender for {architecture}").as_bytes());
    bytes
}

/// The appender for `platforms` (e.g. `["linux/amd64", "linux/arm64"]`), binaries in `dir`.
pub fn image(dir: &Path, platforms: &[&str]) -> Image {
    let binaries = platforms
        .iter()
        .map(|p| {
            let platform: Platform = p.parse().unwrap();
            let binary = dir.join(format!("appender-{}", platform.architecture));
            std::fs::write(&binary, fake_elf(&platform.architecture)).unwrap();
            (platform, binary)
        })
        .collect();
    Image {
        name: "appender".into(),
        binaries,
        version: "0.1.0".into(),
        source: "https://github.com/fnmesh/fnmesh".into(),
        description: "test".into(),
    }
}

pub fn blobs(layout: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<_> =
        std::fs::read_dir(layout.join("blobs/sha256")).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
}

/// The first JSON blob for which `pick` is true.
pub fn json_blob(layout: &Path, pick: impl Fn(&Value) -> bool) -> Value {
    blobs(layout)
        .iter()
        .filter_map(|p| serde_json::from_slice::<Value>(&std::fs::read(p).unwrap()).ok())
        .find(|v| pick(v))
        .unwrap()
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The blob a descriptor names.
pub fn blob_path(layout: &Path, descriptor: &Value) -> PathBuf {
    layout.join("blobs/sha256").join(&descriptor["digest"].as_str().unwrap()[7..])
}
