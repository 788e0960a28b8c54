//! The `fnmesh` command: see `fnmesh --help` and [`fnmesh_mesh::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    // The transformer's jq workers are this executable started again.
    if std::env::args_os().nth(1).is_some_and(|arg| arg == fnmesh_jq::WORKER_ARG) {
        return fnmesh_jq::worker_main();
    }
    fnmesh_mesh::cli::main()
}
