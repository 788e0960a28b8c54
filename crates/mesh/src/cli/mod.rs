//! The fourth layer: the `fnmesh` commands, each a thin use of the layers below.
//!
//! * [`args`]: the command line; [`run`]: `fnmesh run` (load, plan, start the services,
//!   the ingress and the ping sources);
//! * [`validate`]: `fnmesh validate`; [`graph`]: `fnmesh graph`; [`kn`]: `fnmesh kn`;
//!   [`new`]: `fnmesh new`, a function crate from a template; [`watch`]: what `fnmesh
//!   run --watch` watches and what a change asks for;
//! * [`client`]: `fnmesh send`, and [`get`]: `fnmesh get` (with [`columns`]), against a
//!   running mesh;
//! * [`test`](mod@test): `fnmesh test`, flows tested as data.

pub mod args;
pub mod client;
pub mod columns;
pub mod events;
pub mod get;
pub mod graph;
pub mod kn;
mod kn_workflow;
pub mod new;
pub mod run;
pub mod test;
pub mod validate;
pub mod watch;

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
            watch,
            journal,
            otlp_endpoint,
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
                watch,
                journal: journal as usize,
                // The standard OTEL variables, read once here, as an SDK reads them.
                otlp_endpoint: crate::dataplane::otlp::endpoint(otlp_endpoint.as_deref(), &|key| {
                    std::env::var(key).ok()
                }),
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
        Command::New { name, template, dir, runtime_path, runtime_version, registry } => {
            let args = new::NewArgs { name, template, dir, runtime_path, runtime_version, registry };
            match std::env::current_dir() {
                Ok(cwd) => report(new::new(&args, &cwd)),
                Err(e) => fail(&format!("cannot read the current directory: {e}")),
            }
        }
        Command::Events { follow, json, ty, id, port } => {
            let args = events::EventsArgs { follow, json, ty, id, port };
            report(events::events(&args).await.map(|()| String::new()))
        }
        Command::Logs { service, follow, port } => {
            report(events::logs(&service, follow, port).await.map(|()| String::new()))
        }
        Command::Graph { paths, format, namespace } => report(graph(&paths, &format, &namespace)),
        Command::Kn { paths, namespace, registry, fnmesh_images, images } => {
            let choice = kn::ImageChoice { registry, fnmesh_images, version: env!("CARGO_PKG_VERSION").to_owned() };
            report(kn(&paths, &namespace, &images, &choice))
        }
        Command::Test(args) => run_tests(args).await,
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
    let mut running = match run::start(options, out.clone()).await {
        Ok(running) => running,
        Err(e) => return fail(&e.to_string()),
    };
    let limit = async {
        match exit_after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(limit);
    let mut watcher = None;
    if options.watch {
        match watch::Watcher::new(&running) {
            Ok(watching) => {
                out.say("watching the manifests and the services' sources for changes");
                watcher = Some(watching);
            }
            Err(e) => out.say(&format!("warning: {e}; not watching")),
        }
    }
    loop {
        let changes = async {
            match &mut watcher {
                Some(watcher) => watcher.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = fnmesh_runtime::server::shutdown_signal() => {
                out.say("stopping (signal)");
                break;
            }
            () = &mut limit => {
                out.say("stopping (--exit-after)");
                break;
            }
            crash = running.next_crash() => running.restart_crashed(crash).await,
            changes = changes => {
                if changes.manifests {
                    running.reload().await;
                }
                for host in &changes.services {
                    running.restart(host).await;
                }
                // The services and their folders may have changed.
                watcher = watch::Watcher::new(&running).map_err(|e| out.say(&format!("warning: {e}"))).ok();
            }
        }
    }
    running.stop().await;
    ExitCode::SUCCESS
}

/// `fnmesh test`: runs the cases, prints the report, writes `--junit`.
#[allow(clippy::print_stdout, clippy::print_stderr)] // the command's output
async fn run_tests(args: args::TestArgs) -> ExitCode {
    let settings = test::Settings { jobs: args.jobs, update: args.update, images: args.images, jq_worker: None };
    let outcome = test::run_paths(&args.paths, &settings).await;
    if !outcome.invalid.is_empty() {
        eprint!("fnmesh: {}", outcome.invalid.to_string().replacen("in the manifests", "in the test files", 1));
        return ExitCode::from(2);
    }
    print!("{}", test::report::text(&outcome));
    if args.show_output {
        for failed in outcome.results.iter().filter(|r| !r.passed()) {
            println!("--- output of {}: {}\n{}", failed.file.display(), failed.name, failed.output);
        }
    }
    if let Some(path) = &args.junit
        && let Err(e) = std::fs::write(path, test::junit::xml(&outcome.results))
    {
        return fail(&format!("--junit {}: {e}", path.display()));
    }
    ExitCode::from(outcome.exit_code())
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
