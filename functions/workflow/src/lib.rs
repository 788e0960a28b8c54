//! `workflow`: runs a CNCF Serverless Workflow 0.8 definition (the version Kogito /
//! SonataFlow implement) as a Knative function, with Kogito's REST contract and its
//! CloudEvent extensions, and instances kept in a store so that a waiting instance
//! survives a restart.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `WORKFLOW_FILE` | — (required) | the definition, `.sw.json` or `.sw.yaml`; files it names (OpenAPI documents, `dataInputSchema`, `application.properties`) are read from its folder |
//! | `WORKFLOW_STORE` | `sqlite:/tmp/workflow.db` | `memory` (lost on exit), `sqlite:PATH` (durable on one machine; one process), `postgres://user:pass@host/db` (shared by replicas; what scale-to-zero needs) |
//! | `WORKFLOW_NAMESPACE` | `default` | namespace of `knative:` services named without one |
//! | `WORKFLOW_EXPR_TIMEOUT` | `1s` | longest evaluation of one jq expression |
//! | `FNMESH_INGRESS` | unset | `fnmesh run`'s ingress: calls to `*.svc.cluster.local` go through it |
//! | `FNMESH_MANIFEST_DIR` | unset | `fnmesh run`'s folder of the manifest: a relative `WORKFLOW_FILE` is read from it (else from the working directory) |
//! | `FNMESH_JQ_WORKER` | this executable | the program that runs jq workers (tests point it at the built binary) |
//! | `K_SINK`, `K_CE_OVERRIDES` | unset | where produced events go (see `fnmesh_runtime::sink`) |
//! | `QUARKUS_REST_CLIENT_<FILE_ID>_URL` | unset | base URL of an OpenAPI file's operations, over `application.properties` |
//! | the names in `secrets` | unset | `$SECRET.<name>` |
//!
//! What of 0.8 is not supported, and refused at start with its path: sub-flows
//! (`subFlowRef`), `asyncapi`/`rpc`/`graphql`/`odata` functions, actions that wait for an
//! event (`eventRef.consumeEventRef`; use a callback state). Accepted and ignored:
//! `start.schedule`, `keepActive`, `end.terminate` (branches hold actions only in 0.8),
//! `end.continueAs`, `auth`. Waiting happens only between states (event, callback, sleep
//! and event-switch states); parallel branches and foreach iterations run to completion
//! within their state. Errors carry a code that `errors[].code` matches: the HTTP status
//! of a failed call (`"404"`), `connection`, `timeout` (every `*Timeout`), `expression`
//! (a jq error), `workflow` (a switch with no match and no default); `*` and Kogito's
//! `java.lang.Exception`/`RuntimeException`/`Throwable` codes match all.
//!
//! Routes: see [`api`]. Modules: the definition ([`definition`]), expressions
//! ([`expr`]), function calls ([`services`]), the interpreter ([`engine`]), stored
//! instances ([`instance`], [`store`]).

pub mod api;
pub mod definition;
pub mod engine;
pub mod expr;
pub mod instance;
pub mod services;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fnmesh_runtime::sink::Sink;
use fnmesh_runtime::{ConfigError, Console, Env, FunctionSpec, Router, ServeConfig};
use serde::Deserialize;
use serde_json::Value;

use definition::Definition;
use engine::{Engine, Parts};
use expr::Expressions;
use services::Resolution;
use store::Store;

/// The workflow function, for [`fnmesh_runtime::run_function`] and `fnmesh run`.
pub const SPEC: FunctionSpec = FunctionSpec { name: "workflow", launch };

/// The store when `WORKFLOW_STORE` is unset.
pub const DEFAULT_STORE: &str = "sqlite:/tmp/workflow.db";

/// The function's settings (see the crate docs for the table).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `WORKFLOW_FILE`.
    pub workflow_file: PathBuf,
    /// `WORKFLOW_STORE`.
    #[serde(default = "default_store")]
    pub workflow_store: String,
    /// `WORKFLOW_NAMESPACE`.
    #[serde(default = "default_namespace")]
    pub workflow_namespace: String,
    /// `WORKFLOW_EXPR_TIMEOUT`.
    #[serde(default = "default_expr_timeout", with = "humantime_serde_compat")]
    pub workflow_expr_timeout: Duration,
    /// `FNMESH_INGRESS`.
    #[serde(default)]
    pub fnmesh_ingress: Option<String>,
    /// `FNMESH_JQ_WORKER`.
    #[serde(default)]
    pub fnmesh_jq_worker: Option<String>,
    /// `FNMESH_MANIFEST_DIR`: `fnmesh run`'s folder of the manifest that runs this
    /// function, which a relative `WORKFLOW_FILE` is read from (on a cluster: the
    /// container's working directory, where the folder is mounted).
    #[serde(default)]
    pub fnmesh_manifest_dir: Option<PathBuf>,
}

fn default_store() -> String {
    DEFAULT_STORE.to_owned()
}
fn default_namespace() -> String {
    "default".to_owned()
}
fn default_expr_timeout() -> Duration {
    Duration::from_secs(1)
}

mod humantime_serde_compat {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(de)?;
        humantime::parse_duration(&text)
            .map_err(|e| serde::de::Error::custom(format!("WORKFLOW_EXPR_TIMEOUT: {text:?}: {e}")))
    }
}

/// Builds the engine `env` describes: reads and checks the definition, opens the store.
pub fn engine(env: &Env, console: Console) -> Result<Arc<Engine>, ConfigError> {
    let config: Config = env.parse()?;
    let worker = Expressions::worker_command(config.fnmesh_jq_worker.as_deref())
        .map_err(|e| ConfigError::invalid("FNMESH_JQ_WORKER", e))?;
    let resolution =
        Resolution { namespace: config.workflow_namespace.clone(), ingress: config.fnmesh_ingress.clone() };
    let file = &match &config.fnmesh_manifest_dir {
        Some(dir) if config.workflow_file.is_relative() => dir.join(&config.workflow_file),
        _ => config.workflow_file.clone(),
    };
    let workflow = definition::load::read_workflow(file)
        .map_err(|e| ConfigError::invalid("WORKFLOW_FILE", format!("{}: {e}", file.display())))?;
    let params = definition::validate::iteration_params(&workflow);
    let expressions = Expressions::new(worker, config.workflow_expr_timeout, &params);
    let dir = file.parent().map(std::path::Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let definition = Definition::from_workflow(workflow, &dir, env, &resolution, &expressions)
        .map_err(|e| ConfigError::invalid("WORKFLOW_FILE", format!("{}: {e}", file.display())))?;
    let store = Store::open(&config.workflow_store).map_err(|e| ConfigError::invalid("WORKFLOW_STORE", e))?;
    let sink = Sink::from_env(env)?;
    let secrets: serde_json::Map<String, Value> = definition
        .workflow
        .secrets
        .iter()
        .filter_map(|name| env.get(name).map(|v| (name.clone(), Value::String(v.to_owned()))))
        .collect();
    let engine = Engine::new(Parts {
        definition,
        expressions,
        store,
        resolution,
        sink,
        secrets: Value::Object(secrets),
        console,
    });
    Ok(Arc::new(engine))
}

fn launch(env: &Env, serve: &ServeConfig, console: Console) -> Result<Router, ConfigError> {
    let engine = engine(env, console.clone())?;
    console.log(&format!(
        "workflow {} ready on port {}: {} states, store {}",
        engine.definition.id,
        serve.port,
        engine.definition.workflow.states.len(),
        env.get("WORKFLOW_STORE").unwrap_or(DEFAULT_STORE)
    ));
    // Inside a runtime (fnmesh run) timers are re-armed now; a binary does it on the
    // first request or probe.
    if tokio::runtime::Handle::try_current().is_ok() {
        let engine = engine.clone();
        tokio::spawn(async move { engine.recover().await });
    }
    Ok(api::router(engine))
}
