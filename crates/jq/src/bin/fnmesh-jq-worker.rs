//! A jq worker and nothing else (see `fnmesh_jq::worker_main`); also accepts
//! `--fnmesh-jq-worker` as its first argument, like the functions that embed one.

fn main() -> std::process::ExitCode {
    fnmesh_jq::worker_main()
}
