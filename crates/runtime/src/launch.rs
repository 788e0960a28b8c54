//! How a function binary starts: env, tracing, config, bind, serve, exit code.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use tokio::net::TcpListener;

use crate::{ConfigError, Console, Env, ServeConfig, server, telemetry};

/// What a function is: its name and how to build its router from its environment.
///
/// `launch` parses the function's own config from `env` (errors name the variable),
/// may log a start-up line on the console, and returns the routes for events.
/// The same spec serves the binary ([`run_function`]) and `fnmesh run`, which starts
/// functions in-process with a manifest's env and a captured console.
#[derive(Debug, Clone, Copy)]
pub struct FunctionSpec {
    /// The binary's name, e.g. `appender`; it prefixes start-up errors.
    pub name: &'static str,
    /// Builds the function's routes.
    pub launch: fn(&Env, &ServeConfig, Console) -> Result<Router, ConfigError>,
}

impl FunctionSpec {
    /// Parses the shared and the function's config from `env` and returns the
    /// complete service (function routes plus [`server::service`]) and its settings.
    pub fn build(&self, env: &Env, console: Console) -> Result<(Router, ServeConfig), ConfigError> {
        let serve = ServeConfig::from_env(env)?;
        let router = (self.launch)(env, &serve, console)?;
        Ok((server::service(router, &serve), serve))
    }
}

/// The whole life of a function binary: reads the process env once, installs
/// tracing (`RUST_LOG`), validates config, listens on `FNMESH_LISTEN_ADDR:PORT`,
/// serves until SIGTERM/SIGINT and drains. A config or bind error prints one line,
/// `<name>: <problem>`, and exits 1.
pub fn run_function(spec: FunctionSpec) -> ExitCode {
    let env = Env::from_process();
    telemetry::init(&env);
    let (router, serve) = match spec.build(&env, Console::std()) {
        Ok(built) => built,
        Err(err) => return fail(spec.name, &err),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return fail(spec.name, &format!("cannot start the async runtime: {err}")),
    };
    runtime.block_on(async move {
        let addr = SocketAddr::new(serve.listen_addr, serve.port);
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(err) => return fail(spec.name, &format!("cannot listen on {addr}: {err}")),
        };
        tracing::info!(function = spec.name, %addr, service = serve.k_service.as_deref(), "serving");
        match server::serve(listener, router, server::shutdown_signal(), &serve).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(spec.name, &format!("server error: {err}")),
        }
    })
}

#[allow(clippy::print_stderr)] // the one line a failed start prints, before tracing matters
fn fail(name: &str, problem: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("{name}: {problem}");
    ExitCode::FAILURE
}
