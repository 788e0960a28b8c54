//! A jq worker for the test files' `jq:` predicates: `fnmesh test` runs them in workers
//! of its own executable, which in a test is the test binary; this one stands in for it
//! (`fnmesh_mesh::cli::test::Settings::jq_worker`).

fn main() -> std::process::ExitCode {
    fnmesh_jq::worker_main()
}
