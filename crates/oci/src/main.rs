//! `fnmesh-oci NAME BINARY OUT_DIR VERSION SOURCE DESCRIPTION`: writes the OCI image
//! layout of one function and prints `<digest> <bytes>`; `fnmesh-oci --verify DIR`
//! checks one. Used by hack/build-images.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, dir] if flag == "--verify" => fnmesh_oci::verify(&PathBuf::from(dir))
            .map(|c| format!("{} {} files, entrypoint {}, user {}", c.digest, c.files.len(), c.entrypoint, c.user)),
        [name, binary, out, version, source, description] => {
            let image = fnmesh_oci::Image {
                name: name.clone(),
                binary: binary.into(),
                version: version.clone(),
                source: source.clone(),
                description: description.clone(),
            };
            fnmesh_oci::write(&image, &PathBuf::from(out))
                .map(|w| format!("{} {}", w.digest, w.size))
                .map_err(|e| e.to_string())
        }
        _ => Err("usage: fnmesh-oci NAME BINARY OUT_DIR VERSION SOURCE DESCRIPTION | fnmesh-oci --verify DIR".into()),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fnmesh-oci: {e}");
            ExitCode::FAILURE
        }
    }
}
