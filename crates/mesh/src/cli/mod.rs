//! The fourth layer: the `fnmesh` commands, each a thin use of the layers below.
//!
//! * [`args`]: the command line; [`run`]: `fnmesh run` (load, plan, start the services,
//!   the ingress and the ping sources);
//! * [`validate`]: `fnmesh validate`; [`graph`]: `fnmesh graph`; [`kn`]: `fnmesh kn`;
//! * [`client`]: `fnmesh send`, and [`get`]: `fnmesh get` (with [`columns`]), against a
//!   running mesh.

pub mod args;
pub mod client;
pub mod columns;
pub mod get;
pub mod graph;
pub mod kn;
pub mod run;
pub mod validate;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::error::{Error, Result};
use crate::output::Out;
use args::{Cli, Command};
use client::SendArgs;
use run::Options;

/// Parses the command line and runs the command; what `fnmesh` exits with.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(command(cli.command))
}

async fn command(command: Command) -> ExitCode {
    match command {
        Command::Run {
            paths,
            port,
            address,
            namespace,
            ping_now,
            exit_after,
            images,
            broker_ttl,
            body_limit,
            grace,
            backlog,
            async_brokers,
            quiet,
            color,
        } => {
            let out = Out::stdout(color.forced(), !quiet);
            let options = Options {
                port,
                address,
                namespace,
                ping_now,
                images,
                broker_ttl,
                body_limit,
                grace,
                backlog,
                async_brokers,
                ..Options::new(paths)
            };
            run_until_stopped(&options, out, exit_after).await
        }
        Command::Send { target, data, ty, source, id, extensions, port, namespace } => {
            let args = SendArgs { target, data, ty, source, id, extensions, port, namespace };
            report(client::send(&args).await)
        }
        Command::Get { kind, name, output, namespace, all_namespaces, port } => {
            let args = get::GetArgs { kind, name, output, namespace: (!all_namespaces).then_some(namespace), port };
            report(get::get(&args).await)
        }
        Command::Graph { paths, format, namespace } => report(graph(&paths, &format, &namespace)),
        Command::Kn { paths, namespace, registry, fnmesh_images, images } => {
            let choice = kn::ImageChoice { registry, fnmesh_images, version: env!("CARGO_PKG_VERSION").to_owned() };
            report(kn(&paths, &namespace, &images, &choice))
        }
        Command::Validate { paths, namespace, schemas } => {
            report(validate::validate(&paths, &namespace, schemas.as_deref()).map(|checked| {
                warn(&checked.warnings);
                let against = if checked.against_schemas > 0 {
                    format!(", {} against CRD schemas", checked.against_schemas)
                } else {
                    String::new()
                };
                format!("{} document(s) valid{against}\n", checked.documents)
            }))
        }
    }
}

/// `fnmesh graph`: the manifests drawn in `format`.
/// A Serverless Workflow definition (`*.sw.json`, `*.sw.yaml`) draws its states instead.
fn graph(paths: &[std::path::PathBuf], format: &str, namespace: &str) -> Result<String> {
    let workflow = match paths {
        [path] if path.is_file() && path.file_name().and_then(|n| n.to_str()).is_some_and(is_workflow_file) => {
            let workflow = fnmesh_workflow::definition::load::read_workflow(path)
                .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
            Some(graph::Graph::of_workflow(&workflow))
        }
        _ => None,
    };
    let graph = match workflow {
        Some(graph) => graph,
        None => {
            let (documents, problems) = crate::manifests::load(paths, namespace);
            problems.into_result(())?;
            graph::Graph::of(&documents)
        }
    };
    match format {
        "mermaid" => Ok(graph.mermaid()),
        "dot" => Ok(graph.dot()),
        "svg" => graph.svg(),
        other => Err(Error::Usage(format!("--format {other}: write mermaid, dot or svg"))),
    }
}

fn is_workflow_file(name: &str) -> bool {
    [".sw.json", ".sw.yaml", ".sw.yml"].iter().any(|suffix| name.ends_with(suffix))
}

/// `fnmesh kn`: the script that deploys the manifests.
fn kn(
    paths: &[std::path::PathBuf],
    namespace: &str,
    images: &[std::path::PathBuf],
    choice: &kn::ImageChoice,
) -> Result<String> {
    let (documents, problems) = crate::manifests::load(paths, namespace);
    problems.into_result(())?;
    kn::script(&documents, &crate::plan::Images::load(images)?, choice)
}

async fn run_until_stopped(options: &Options, out: Out, exit_after: Option<Duration>) -> ExitCode {
    let running = match run::start(options, out.clone()).await {
        Ok(running) => running,
        Err(e) => return fail(&e.to_string()),
    };
    let limit = async {
        match exit_after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = fnmesh_runtime::server::shutdown_signal() => out.say("stopping (signal)"),
        () = limit => out.say("stopping (--exit-after)"),
    }
    running.stop().await;
    ExitCode::SUCCESS
}

#[allow(clippy::print_stdout)] // the command's output
fn report(result: Result<String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

#[allow(clippy::print_stderr)] // warnings go beside the output, as kubectl's do
fn warn(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

#[allow(clippy::print_stderr)] // the one line a failed command prints
fn fail(problem: &str) -> ExitCode {
    eprintln!("fnmesh: {}", problem.trim_end());
    ExitCode::FAILURE
}
