//! The `event-display` binary: see the library for what it does.

fn main() -> std::process::ExitCode {
    fnmesh_runtime::run_function(fnmesh_event_display::SPEC)
}
