//! The `workflow` binary: see the library for what it does. Started with
//! `--fnmesh-jq-worker`, it is one of its own jq worker processes instead.

fn main() -> std::process::ExitCode {
    if std::env::args_os().nth(1).is_some_and(|arg| arg == fnmesh_jq::WORKER_ARG) {
        return fnmesh_jq::worker_main();
    }
    fnmesh_runtime::run_function(fnmesh_workflow::SPEC)
}
