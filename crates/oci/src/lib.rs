//! OCI image layouts (the directory format `skopeo`, `crane` and `podman` read) for a
//! single static binary per platform: per platform one layer with the binary and the
//! files a non-root user needs, an image config with OCI labels and a manifest; with
//! several platforms (`linux/amd64` and `linux/arm64`) one image index over them. Every
//! blob is named by its sha256, written byte for byte the same for the same input
//! (fixed times, owners and order), and checked by [`verify`].

use std::path::PathBuf;

use sha2::{Digest, Sha256};

pub mod cargo;
mod platform;
mod verify;
mod write;

pub use platform::{Platform, elf_architecture};
pub use verify::{Checked, CheckedPlatform, verify};
pub use write::write;

/// The user the image runs as (distroless's `nonroot`).
pub const USER: u32 = 65532;

/// Media type of an image index (also the type of `index.json`).
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Media type of an image manifest.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// What to put in an image.
#[derive(Debug, Clone)]
pub struct Image {
    /// The function: the binary is `/<name>`, the entrypoint.
    pub name: String,
    /// One static binary per platform, each an ELF binary for its platform.
    pub binaries: Vec<(Platform, PathBuf)>,
    /// `org.opencontainers.image.version`, and the tag (`ref.name`) in `index.json`.
    pub version: String,
    /// `org.opencontainers.image.source`.
    pub source: String,
    pub description: String,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// `sha256:...` of what `index.json` names: the image index, or the manifest when
    /// there is one platform. The digest to pull the image by.
    pub digest: String,
    /// Each platform's image, in the order of [`Image::binaries`].
    pub platforms: Vec<WrittenPlatform>,
}

/// One platform's image in a written layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPlatform {
    pub platform: Platform,
    /// `sha256:...` of its manifest.
    pub digest: String,
    /// Bytes of its compressed layer, config and manifest: what a registry stores and
    /// a node pulls for this platform.
    pub size: u64,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}
