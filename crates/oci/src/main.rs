//! The command hack/build-images uses:
//!
//! - `fnmesh-oci NAME OUT_DIR VERSION SOURCE DESCRIPTION OS/ARCH=BINARY...` writes the
//!   layout of one function (an image index when there are several platforms) and prints
//!   `<digest>`, then `<os/arch> <manifest digest> <bytes>` per platform;
//! - `fnmesh-oci --verify DIR` checks a layout and prints what it holds;
//! - `fnmesh-oci --crate MANIFEST_PATH [BIN]` or `--package NAME [BIN]`, with
//!   `cargo metadata --format-version 1 --no-deps` on stdin, prints the function crate to
//!   build, one field a line (for bash's `mapfile`; a field may be empty): package,
//!   binary, version, target directory, source, description.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fnmesh_oci::cargo::{Select, function_crate};
use fnmesh_oci::{Image, Platform};

const USAGE: &str = "usage: fnmesh-oci NAME OUT_DIR VERSION SOURCE DESCRIPTION OS/ARCH=BINARY... \
                     | fnmesh-oci --verify DIR | fnmesh-oci (--crate MANIFEST_PATH | --package NAME) [BIN] < metadata";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, dir] if flag == "--verify" => verify(Path::new(dir)),
        [flag, which, bin @ ..] if (flag == "--crate" || flag == "--package") && bin.len() <= 1 => {
            let select = if flag == "--crate" { Select::Manifest(Path::new(which)) } else { Select::Package(which) };
            find_crate(select, bin.first().map(String::as_str))
        }
        [name, out, version, source, description, binaries @ ..] if !binaries.is_empty() && !name.starts_with('-') => {
            write(name, out, version, source, description, binaries)
        }
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fnmesh-oci: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(
    name: &str,
    out: &str,
    version: &str,
    source: &str,
    description: &str,
    binaries: &[String],
) -> Result<String, String> {
    let binaries = binaries
        .iter()
        .map(|b| {
            let (platform, path) = b.split_once('=').ok_or_else(|| format!("{b:?}: expected OS/ARCH=BINARY"))?;
            Ok((platform.parse::<Platform>()?, PathBuf::from(path)))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let image = Image {
        name: name.to_owned(),
        binaries,
        version: version.to_owned(),
        source: source.to_owned(),
        description: description.to_owned(),
    };
    let written = fnmesh_oci::write(&image, Path::new(out)).map_err(|e| e.to_string())?;
    let mut text = format!("{}\n", written.digest);
    for p in &written.platforms {
        text += &format!("{} {} {}\n", p.platform, p.digest, p.size);
    }
    Ok(text)
}

fn verify(dir: &Path) -> Result<String, String> {
    let checked = fnmesh_oci::verify(dir)?;
    let mut text = format!("{}\n", checked.digest);
    for p in &checked.platforms {
        text += &format!(
            "{} {} {} files, entrypoint {}, user {}\n",
            p.platform,
            p.digest,
            p.files.len(),
            p.entrypoint,
            p.user
        );
    }
    Ok(text)
}

fn find_crate(select: Select<'_>, bin: Option<&str>) -> Result<String, String> {
    let metadata: serde_json::Value =
        serde_json::from_reader(std::io::stdin().lock()).map_err(|e| format!("cargo metadata on stdin: {e}"))?;
    let found = function_crate(&metadata, select, bin)?;
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n",
        found.package,
        found.binary,
        found.version,
        found.target_directory.display(),
        found.source,
        found.description
    ))
}
