fn main() -> std::process::ExitCode {
    fnmesh_runtime::run_function({{crate}}::SPEC)
}
