//! The `fnmesh` command: see `fnmesh --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fnmesh_mesh::client::{self, SendArgs};
use fnmesh_mesh::output::Out;
use fnmesh_mesh::run::{self, Options};

#[derive(Debug, Parser)]
#[command(
    name = "fnmesh",
    version,
    about = "Run Knative Sequence, Parallel, PingSource, Broker and Trigger YAML on one machine."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load the manifests, start every service and the eventing they describe, run until Ctrl-C.
    #[command(after_help = "Examples:
  fnmesh run flows/sequence --ping-now            # the seed's Sequence; fire the PingSource at once
  fnmesh run flows/parallel --exit-after 90s      # stop by itself after 90 seconds
  fnmesh run my-app/ --images my-images.yaml      # map your own images to fnmesh functions
Then, from another terminal:
  fnmesh send sequence/sequence --data '{\"message\": \"hi\"}'
  curl -H 'Host: sequence-kn-sequence-0-kn-channel.default.svc.cluster.local' localhost:8080 ...")]
    Run {
        /// Files or folders of YAML (every document, folders recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The ingress port.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The ingress address; loopback unless you mean to expose it (e.g. 0.0.0.0).
        #[arg(long, default_value = "127.0.0.1")]
        address: std::net::IpAddr,
        /// The namespace of objects that name none.
        #[arg(long, default_value = "default")]
        namespace: String,
        /// Fire every PingSource once as soon as everything is ready, then keep its schedule.
        #[arg(long)]
        ping_now: bool,
        /// Stop gracefully after this long (e.g. 10s, 2m).
        #[arg(long, value_parser = humantime::parse_duration)]
        exit_after: Option<Duration>,
        /// More image-to-function mappings (format of config/images.yaml); repeatable.
        #[arg(long)]
        images: Vec<PathBuf>,
        /// How many times an event may pass through a broker (knativebrokerttl); Knative's is 255.
        #[arg(long, default_value_t = fnmesh_mesh::mesh::BROKER_TTL, value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
        broker_ttl: u32,
        /// The largest event the ingress reads, in bytes; more is a 413.
        #[arg(long, default_value_t = fnmesh_mesh::ingress::DEFAULT_BODY_LIMIT, value_parser = body_limit)]
        body_limit: usize,
        /// Hide delivery decisions; show only what services print.
        #[arg(long, short)]
        quiet: bool,
        /// Colour the service names: auto (when a terminal), always, never.
        #[arg(long, default_value = "auto")]
        color: String,
    },
    /// Check manifests as `fnmesh run` does before it starts, without running anything.
    #[command(after_help = "Checks the typed Knative model (unknown fields too), the rules Knative's webhooks
enforce (required fields, data xor dataBase64, cron, ref or uri), and refs within the set.
Examples:
  fnmesh validate flows/
  fnmesh validate my-app/ --schemas crds/      # also against CRDs from your cluster:
                                               # kubectl get crd sequences.flows.knative.dev -o yaml > crds/sequence.yaml")]
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, default_value = "default")]
        namespace: String,
        /// A folder of CustomResourceDefinition YAML to check against as well.
        #[arg(long)]
        schemas: Option<PathBuf>,
    },
    /// Draw the flow: sources, flows, brokers and channels, subscribers, replies; dead letters dashed.
    #[command(after_help = "Examples:
  fnmesh graph flows/sequence                   # Mermaid, for a README
  fnmesh graph flows/saga --format svg > saga.svg
  fnmesh graph flows/parallel --format dot | dot -Tpng > parallel.png")]
    Graph {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// mermaid, dot or svg.
        #[arg(long, default_value = "mermaid")]
        format: String,
        #[arg(long, default_value = "default")]
        namespace: String,
    },
    /// Print the kn and kubectl commands that deploy these manifests to a Knative cluster.
    #[command(after_help = "hack/deploy runs them. Examples:
  fnmesh kn flows/sequence                              # the images as written (upstream ones)
  fnmesh kn flows/sequence --fnmesh-images --registry registry.local:5000/me")]
    Kn {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, default_value = "default")]
        namespace: String,
        /// The registry of fnmesh's images (default ghcr.io/fnmesh).
        #[arg(long)]
        registry: Option<String>,
        /// Use fnmesh's image wherever an fnmesh function runs the image written.
        #[arg(long)]
        fnmesh_images: bool,
        /// More image mappings, as for `run`.
        #[arg(long)]
        images: Vec<PathBuf>,
    },
    /// Post a CloudEvent to a running `fnmesh run` and print the answer.
    #[command(after_help = "TARGET: sequence/NAME, parallel/NAME, broker/NAME, channel/NAME, ksvc/NAME, or a URL.
Examples:
  fnmesh send sequence/sequence --data '{\"id\": 0, \"message\": \"hello\"}'
  fnmesh send broker/default --type samples.http.mod3 --ext flow=demo")]
    Send {
        target: String,
        /// JSON data.
        #[arg(long)]
        data: Option<String>,
        #[arg(long = "type", default_value = "dev.fnmesh.send")]
        ty: String,
        #[arg(long, default_value = "/fnmesh/send")]
        source: String,
        /// The event id (default: a new UUID).
        #[arg(long)]
        id: Option<String>,
        /// An extension, name=value; repeatable.
        #[arg(long = "ext")]
        extensions: Vec<String>,
        #[arg(long, default_value_t = 8080)]
        port: u16,
        #[arg(long, default_value = "default")]
        namespace: String,
    },
    /// List what a running `fnmesh run` serves, with the addresses Knative would report.
    #[command(after_help = "Examples:\n  fnmesh get\n  fnmesh get ksvc\n  fnmesh get sequence --port 9090")]
    Get {
        /// ksvc, service, sequence, parallel, broker, trigger, pingsource, channel, subscription.
        kind: Option<String>,
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
}

fn main() -> ExitCode {
    // The transformer's jq workers are this executable started again.
    if std::env::args_os().nth(1).is_some_and(|arg| arg == fnmesh_jq::WORKER_ARG) {
        return fnmesh_jq::worker_main();
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        match cli.command {
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
                quiet,
                color,
            } => {
                let color = match color.as_str() {
                    "always" => Some(true),
                    "never" => Some(false),
                    _ => None,
                };
                let out = Out::stdout(color, !quiet);
                let options = Options {
                    port,
                    address,
                    namespace,
                    ping_now,
                    images,
                    broker_ttl,
                    body_limit,
                    ..Options::new(paths)
                };
                run_until_stopped(&options, out, exit_after).await
            }
            Command::Send { target, data, ty, source, id, extensions, port, namespace } => {
                let args = SendArgs { target, data, ty, source, id, extensions, port, namespace };
                report(client::send(&args).await)
            }
            Command::Get { kind, port } => report(client::get(kind.as_deref(), port).await),
            Command::Graph { paths, format, namespace } => {
                let (documents, problems) = fnmesh_mesh::manifest::load(&paths, &namespace);
                if !problems.is_empty() {
                    return fail(&problems.to_string());
                }
                let graph = fnmesh_mesh::graph::Graph::of(&documents);
                report(match format.as_str() {
                    "mermaid" => Ok(graph.mermaid()),
                    "dot" => Ok(graph.dot()),
                    "svg" => graph.svg(),
                    other => Err(format!("--format {other}: write mermaid, dot or svg")),
                })
            }
            Command::Kn { paths, namespace, registry, fnmesh_images, images } => {
                let (documents, problems) = fnmesh_mesh::manifest::load(&paths, &namespace);
                if !problems.is_empty() {
                    return fail(&problems.to_string());
                }
                let choice = fnmesh_mesh::deploy::ImageChoice {
                    registry,
                    fnmesh_images,
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                };
                report(
                    fnmesh_mesh::images::Images::load(&images)
                        .and_then(|images| fnmesh_mesh::deploy::script(&documents, &images, &choice)),
                )
            }
            Command::Validate { paths, namespace, schemas } => {
                report(fnmesh_mesh::validate::validate(&paths, &namespace, schemas.as_deref()).map(|checked| {
                    let against = if checked.against_schemas > 0 {
                        format!(", {} against CRD schemas", checked.against_schemas)
                    } else {
                        String::new()
                    };
                    format!("{} document(s) valid{against}\n", checked.documents)
                }))
            }
        }
    })
}

/// `--body-limit`: a positive number of bytes.
fn body_limit(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1 byte".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a number of bytes: {e}")),
    }
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
fn report(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

#[allow(clippy::print_stderr)] // the one line a failed command prints
fn fail(problem: &str) -> ExitCode {
    eprintln!("fnmesh: {}", problem.trim_end());
    ExitCode::FAILURE
}
