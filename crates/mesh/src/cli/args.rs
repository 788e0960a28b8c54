//! The command line: `fnmesh run`, `new`, `validate`, `graph`, `kn`, `send`, `get`,
//! `events`, `logs`, `test` as clap parses them (see `fnmesh --help`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// The `fnmesh` command line.
#[derive(Debug, Parser)]
#[command(
    name = "fnmesh",
    version,
    about = "Run Knative Sequence, Parallel, PingSource, Broker and Trigger YAML on one machine."
)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The `fnmesh` subcommands, with their flags.
#[derive(Debug, Subcommand)]
pub enum Command {
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
        #[arg(long, default_value_t = crate::dataplane::BROKER_TTL, value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
        broker_ttl: u32,
        /// The largest event the ingress reads, in bytes; more is a 413.
        #[arg(long, default_value_t = crate::dataplane::ingress::DEFAULT_BODY_LIMIT, value_parser = positive_bytes)]
        body_limit: usize,
        /// How long accepted events may take to be delivered when stopping (e.g. 20s).
        #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
        grace: Duration,
        /// The bytes of accepted events that brokers and async channels may hold while they
        /// deliver; beyond it new events are refused with a 503 (retryable).
        #[arg(long, default_value_t = crate::cli::run::DEFAULT_BACKLOG, value_parser = positive_bytes)]
        backlog: usize,
        /// Brokers answer 202 as soon as they accept an event and deliver in the background
        /// (a cluster's channel-based broker answers after its triggers are done).
        #[arg(long)]
        async_brokers: bool,
        /// Hide delivery decisions; show only what services print.
        #[arg(long, short)]
        quiet: bool,
        /// Colour the service names: auto (when a terminal), always, never.
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
        /// Watch the manifests and the services' sources (fnmesh.dev/source): on a change,
        /// rebuild and restart only what changed, keeping the rest of the mesh up.
        #[arg(long, short)]
        watch: bool,
        /// How many recent event journeys the live view (/.fnmesh/) and `fnmesh events` keep;
        /// 0 turns the journal off (the live view then shows the graph only).
        #[arg(long, default_value_t = crate::dataplane::journal::DEFAULT_JOURNEYS as u32, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
        journal: u32,
        /// Export every journey as OpenTelemetry spans (OTLP/HTTP JSON) to this endpoint,
        /// e.g. http://localhost:4318 (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
        /// OTEL_EXPORTER_OTLP_ENDPOINT when set).
        #[arg(long)]
        otlp_endpoint: Option<String>,
    },
    /// Write a new function crate: handler, config, test, Knative Service, README.
    #[command(after_help = "Inside the fnmesh repository the crate goes to functions/NAME and joins the workspace;
elsewhere to ./NAME, depending on fnmesh-runtime by path or version. Then:
  cargo test -p NAME                          # its test: an event posted in-process
  fnmesh run functions/NAME/config --watch    # built from its sources, rebuilt on change
Examples:
  fnmesh new greeter
  fnmesh new webhook --template http
  fnmesh new checker --runtime-path ~/src/fnmesh/crates/runtime   # outside the repository")]
    New {
        /// The function's name (a Knative Service name: lowercase letters, digits, '-').
        name: String,
        /// cloudevents: an event in, a reply event out; http: a JSON body in and out.
        #[arg(long, value_enum, default_value_t = crate::cli::new::Template::Cloudevents)]
        template: crate::cli::new::Template,
        /// Write it here instead of functions/NAME (in the repository) or ./NAME.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Outside the repository: fnmesh-runtime from this folder.
        #[arg(long, conflicts_with = "runtime_version")]
        runtime_path: Option<PathBuf>,
        /// Outside the repository: fnmesh-runtime of this version from the registry.
        #[arg(long)]
        runtime_version: Option<String>,
        /// The registry of the image that config/NAME.yaml names (dev.local is never pulled
        /// by Knative: load it into your cluster, e.g. `kind load`).
        #[arg(long, default_value = "dev.local")]
        registry: String,
    },
    /// Check manifests as `fnmesh run` does before it starts, without running anything.
    #[command(after_help = "Checks the typed Knative model (unknown fields too), the rules Knative's webhooks
enforce (required fields, data xor dataBase64, cron, ref or uri, filter attribute names,
namespaces), and refs within the set. Warns (exit 0) about what runs locally but not on a
default cluster as written: an apiVersion current Knative does not serve, retryAfterMax.
With --schemas, an apiVersion the CRD does not serve is a problem.
Examples:
  fnmesh validate flows/
  fnmesh validate my-app/ --schemas crds/      # also against CRDs from your cluster:
                                               # kubectl get crd sequences.flows.knative.dev -o yaml > crds/sequence.yaml")]
    Validate {
        /// Files or folders of YAML (every document, folders recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The namespace of objects that name none.
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
        /// Files or folders of YAML (every document, folders recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// mermaid, dot or svg.
        #[arg(long, default_value = "mermaid")]
        format: String,
        /// The namespace of objects that name none.
        #[arg(long, default_value = "default")]
        namespace: String,
    },
    /// Print the kubectl commands that deploy these manifests to a Knative cluster, as written.
    #[command(after_help = "Workloads first (kubectl wait until ready), then the eventing objects. What a current
cluster would not take as written is changed, with a comment saying so: a PingSource
sources.knative.dev/v1beta1 becomes v1; a Broker default that fnmesh run made is created.
hack/deploy runs them. Examples:
  fnmesh kn flows/sequence                              # the images as written (upstream ones)
  fnmesh kn flows/sequence --fnmesh-images --registry registry.local:5000/me")]
    Kn {
        /// Files or folders of YAML (every document, folders recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The namespace of objects that name none.
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
        /// Where to send: KIND/NAME or a URL (see below).
        target: String,
        /// JSON data.
        #[arg(long)]
        data: Option<String>,
        /// The event type.
        #[arg(long = "type", default_value = "dev.fnmesh.send")]
        ty: String,
        /// The event source.
        #[arg(long, default_value = "/fnmesh/send")]
        source: String,
        /// The event id (default: a new UUID).
        #[arg(long)]
        id: Option<String>,
        /// An extension, name=value; repeatable.
        #[arg(long = "ext")]
        extensions: Vec<String>,
        /// The ingress port of the running `fnmesh run`.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The namespace of the KIND/NAME target.
        #[arg(long, default_value = "default")]
        namespace: String,
    },
    /// List what a running `fnmesh run` serves, as `kubectl get` shows it on a cluster.
    #[command(after_help = "Columns per kind are the CRDs' (a Trigger: BROKER, SUBSCRIBER_URI); READY of a
service is whether it answers now. Examples:
  fnmesh get                                     # every kind, one table each
  fnmesh get ksvc
  fnmesh get trigger my-trigger -o yaml
  fnmesh get sequence --port 9090 -A")]
    Get {
        /// ksvc, service, sequence, parallel, broker, trigger, pingsource, containersource,
        /// sinkbinding, inmemorychannel, channel, subscription (plurals and short names
        /// too: imc, sub, svc).
        kind: Option<String>,
        /// One object of that kind.
        name: Option<String>,
        /// Output: a table (default), wide, yaml, json, name.
        #[arg(long, short, value_enum)]
        output: Option<GetOutput>,
        /// The namespace to list.
        #[arg(long, short, default_value = "default")]
        namespace: String,
        /// Every namespace (a NAMESPACE column first).
        #[arg(long, short = 'A')]
        all_namespaces: bool,
        /// The ingress port of the running `fnmesh run`.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Print where events went: every journey the running mesh keeps, hop by hop.
    #[command(after_help = "Each journey: when and what entered, every hop (from -> to, the route, delivered,
retrying, failed or filtered, status, latency, attempt, backoff, why), where it ended.
The same records as the live view (http://127.0.0.1:PORT/.fnmesh/). Examples:
  fnmesh events
  fnmesh events --follow --type dev.knative.sources.ping
  fnmesh events --id 5a1e... --json | jq .hops")]
    Events {
        /// Keep printing new hops as they happen.
        #[arg(long, short)]
        follow: bool,
        /// One JSON journey per line (each update of a journey again, with --follow).
        #[arg(long)]
        json: bool,
        /// Only events of this type.
        #[arg(long = "type")]
        ty: Option<String>,
        /// Only the journey of this event id (or trace id).
        #[arg(long)]
        id: Option<String>,
        /// The ingress port of the running `fnmesh run`.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Print one service's lines from a running mesh (its recent ones; -f: then new ones).
    Logs {
        /// The service (its name, as `fnmesh get ksvc` lists it), or `fnmesh` for the mesh's own lines.
        service: String,
        /// Keep printing new lines as they come.
        #[arg(long, short)]
        follow: bool,
        /// The ingress port of the running `fnmesh run`.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Run test files (*.test.yaml): events sent to flows, stand-ins for services, expectations.
    #[command(after_help = "Exit status: 0 when every case passes, 1 when one fails, 2 when a test file is invalid.
The format: docs/testing.md. Examples:
  fnmesh test                                   # every *.test.yaml under the current folder
  fnmesh test flows/saga --junit results.xml
  fnmesh test my-flow.test.yaml --update        # write what arrived as the expectation of new cases")]
    Test(TestArgs),
}

/// The flags of `fnmesh test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Test files, or folders searched for *.test.yaml (default: the current folder).
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Also write the results as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write what the stand-ins received as the expectation of each case that has none.
    #[arg(long)]
    pub update: bool,
    /// Cases run at once (default: the number of cores).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// More image-to-function mappings, as for `run`.
    #[arg(long)]
    pub images: Vec<PathBuf>,
    /// Print everything the mesh printed for each failed case.
    #[arg(long)]
    pub show_output: bool,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// When standard output is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl Color {
    /// Whether to colour, when decided (`None`: ask the terminal).
    pub fn forced(self) -> Option<bool> {
        match self {
            Self::Auto => None,
            Self::Always => Some(true),
            Self::Never => Some(false),
        }
    }
}

/// `fnmesh get -o`, as `kubectl get -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GetOutput {
    /// The table with the columns of priority 1 too (a Broker's CLASS).
    Wide,
    /// The objects as YAML (a `List` when several).
    Yaml,
    /// The objects as JSON (a `List` when several).
    Json,
    /// `kind.group/name`, one a line.
    Name,
}

/// `--body-limit`, `--backlog`: a positive number of bytes.
fn positive_bytes(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1 byte".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a number of bytes: {e}")),
    }
}
