//! Platforms (`linux/amd64`, `linux/arm64`) as OCI names them, and which one an ELF
//! binary is built for, so that an image never labels an x86_64 binary as arm64.

use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

/// An OCI platform: the `platform` of an index entry and the `os`/`architecture` of a
/// config, e.g. `linux/arm64`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    pub os: String,
    /// GOARCH spelling, as OCI uses it: `amd64`, `arm64`.
    pub architecture: String,
}

impl Platform {
    pub fn new(os: &str, architecture: &str) -> Self {
        Self { os: os.to_owned(), architecture: architecture.to_owned() }
    }

    /// The `platform` object of a descriptor.
    pub fn json(&self) -> Value {
        json!({"architecture": self.architecture, "os": self.os})
    }

    /// Reads the `platform` object of a descriptor (or the `os`/`architecture` of a config).
    pub fn from_json(value: &Value) -> Option<Self> {
        Some(Self::new(value["os"].as_str()?, value["architecture"].as_str()?))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)
    }
}

impl FromStr for Platform {
    type Err = String;

    /// `os/architecture`, e.g. `linux/arm64` (variants such as `linux/arm/v7` are not made).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split('/').collect::<Vec<_>>().as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Self::new(os, arch)),
            _ => Err(format!("{s:?}: a platform is os/architecture, e.g. linux/arm64")),
        }
    }
}

/// The OCI architecture an ELF binary runs on (from `e_machine`), `None` when `bytes`
/// is not a little-endian ELF file or its machine is not one we name.
pub fn elf_architecture(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 20 || !bytes.starts_with(b"\x7fELF") || bytes[5] != 1 {
        return None;
    }
    match u16::from_le_bytes([bytes[18], bytes[19]]) {
        0x03 => Some("386"),
        0x28 => Some("arm"),
        0x3e => Some("amd64"),
        0xb7 => Some("arm64"),
        0xf3 => Some("riscv64"),
        _ => None,
    }
}

/// Errors unless `bytes` is an ELF binary for `platform`'s architecture.
pub(crate) fn check_binary(what: &str, bytes: &[u8], platform: &Platform) -> Result<(), String> {
    match elf_architecture(bytes) {
        Some(arch) if arch == platform.architecture => Ok(()),
        Some(arch) => Err(format!("{what} is a binary for {arch}, not {}", platform.architecture)),
        None => Err(format!("{what} is not an ELF binary of a known architecture")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(machine: u16) -> Vec<u8> {
        let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
        bytes.resize(18, 0);
        bytes.extend_from_slice(&machine.to_le_bytes());
        bytes
    }

    #[test]
    fn platforms_parse_and_print_as_os_slash_arch() {
        let p: Platform = "linux/arm64".parse().unwrap();
        assert_eq!(p, Platform::new("linux", "arm64"));
        assert_eq!(p.to_string(), "linux/arm64");
        assert_eq!(Platform::from_json(&p.json()), Some(p));
        for bad in ["linux", "linux/", "/arm64", "linux/arm/v7"] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn elf_machines_name_their_architecture() {
        assert_eq!(elf_architecture(&elf(0x3e)), Some("amd64"));
        assert_eq!(elf_architecture(&elf(0xb7)), Some("arm64"));
        assert_eq!(elf_architecture(&elf(0x1234)), None);
        assert_eq!(elf_architecture(b"#!/bin/sh\necho not a binary\n"), None);
        let arm64 = Platform::new("linux", "arm64");
        assert!(check_binary("b", &elf(0xb7), &arm64).is_ok());
        assert_eq!(check_binary("b", &elf(0x3e), &arm64).unwrap_err(), "b is a binary for amd64, not arm64");
    }
}
