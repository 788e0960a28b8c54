//! The `state-machine` binary: see the library for what it does.

fn main() -> std::process::ExitCode {
    fnmesh_runtime::run_function(fnmesh_state_machine::SPEC)
}
