//! The three transformer dialects, chosen and compiled once at start.

use fnmesh_expr::jsonpath::{Bounded, Template, jsonpath_error};
use fnmesh_expr::{EvalConfig, js_error, js_event, one_of, start_js};
use fnmesh_jq::{JqError, JqPool, WORKER_ARG, WorkerCommand};
use fnmesh_js::JsPool;
use fnmesh_runtime::{ConfigError, Env, Error, IncomingEvent};
use serde_json::Value;

use crate::jq_input::jq_input;

/// The variables that choose a dialect; exactly one must be set.
pub const VARS: [&str; 3] = ["TRANSFORMER", "TRANSFORMER_JQ", "TRANSFORMER_JSONPATH"];

/// A compiled transformation.
#[derive(Debug)]
pub enum Transform {
    /// `TRANSFORMER`: JavaScript.
    Js(JsPool),
    /// `TRANSFORMER_JQ`: a jq program, run by jaq in sandboxed worker processes.
    Jq(JqPool),
    /// `TRANSFORMER_JSONPATH`: a JSON template with JSONPath queries, filled on threads of
    /// its own within the eval limits.
    JsonPath(Bounded<Template>),
}

impl Transform {
    /// The dialect `env` chooses, compiled; errors name the variable and the position.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limits = EvalConfig::from_env(env)?;
        match one_of(env, &VARS)? {
            ("TRANSFORMER", source) => {
                start_js("TRANSFORMER", source, env, &serde_json::json!([]), &limits).map(Self::Js)
            }
            ("TRANSFORMER_JQ", source) => {
                let limits = fnmesh_jq::Limits {
                    timeout: limits.timeout,
                    // The worker's address space holds its code too: give it room.
                    memory_bytes: limits.memory_bytes as u64 + JQ_CODE_ROOM,
                    workers: limits.workers,
                    ..fnmesh_jq::Limits::default()
                };
                JqPool::new(source, limits, jq_worker(env)?).map(Self::Jq).map_err(|e| match e {
                    JqError::Compile(message) => ConfigError::invalid("TRANSFORMER_JQ", message),
                    other => ConfigError::invalid("TRANSFORMER_JQ", other),
                })
            }
            (_, source) => Template::parse(source)
                .and_then(|template| Bounded::start(template, limits.jsonpath_limits()))
                .map(Self::JsonPath)
                .map_err(|e| ConfigError::invalid("TRANSFORMER_JSONPATH", e)),
        }
    }

    /// The new data for `incoming`; `None` removes the data.
    pub async fn apply(&self, incoming: &IncomingEvent) -> Result<Option<NewData>, Error> {
        match self {
            // The value as `JSON.stringify` writes it (checked to be JSON), as the original.
            Self::Js(pool) => pool
                .value_json(js_event(incoming, pool.reads()))
                .await
                .map(|text| text.map(|text| NewData::Json(text.into_bytes())))
                .map_err(js_error),
            Self::Jq(pool) => {
                let outputs = pool.run_object(jq_input(incoming)).await.map_err(jq_error)?;
                match outputs.into_single() {
                    Ok(json) => Ok(Some(NewData::Json(json))),
                    Err(n) => Err(Error::Unprocessable(format!(
                        "TRANSFORMER_JQ: the program gave {n} outputs for this event; it must give exactly one \
                         (wrap several in [...])"
                    ))),
                }
            }
            Self::JsonPath(template) => template
                .render_event(incoming)
                .await
                .map(|v| Some(NewData::Value(v)))
                .map_err(|e| jsonpath_error("TRANSFORMER_JSONPATH", e)),
        }
    }
}

/// The new data of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum NewData {
    /// A value, to be written as JSON.
    Value(Value),
    /// JSON text, as a jq worker or JavaScript's `JSON.stringify` wrote it.
    Json(Vec<u8>),
}

/// Address space a jq worker gets on top of `FNMESH_EVAL_MEMORY`, for its code and stack.
const JQ_CODE_ROOM: u64 = 64 * 1024 * 1024;

/// The program that runs jq workers: `FNMESH_JQ_WORKER` when set (tests and benches
/// point it at a built `transformer`), else this very executable.
fn jq_worker(env: &Env) -> Result<WorkerCommand, ConfigError> {
    let program = match env.get("FNMESH_JQ_WORKER").filter(|p| !p.is_empty()) {
        Some(path) => std::path::PathBuf::from(path),
        None => std::env::current_exe()
            .map_err(|e| ConfigError::invalid("TRANSFORMER_JQ", format!("cannot find this executable: {e}")))?,
    };
    Ok(WorkerCommand::new(program).arg(WORKER_ARG))
}

/// The HTTP error for a failed jq evaluation: the program failed or exhausted its
/// memory or outputs for this event (`422`: retrying cannot help), ran over time (`503`),
/// or its worker misbehaved (`500`).
fn jq_error(error: JqError) -> Error {
    let message = format!("TRANSFORMER_JQ: {error}");
    match error {
        JqError::Runtime(_) | JqError::ResourceExhausted(_) => Error::Unprocessable(message),
        JqError::Timeout(_) => Error::Unavailable(message),
        JqError::Compile(_) | JqError::Config(_) | JqError::Worker(_) => Error::Internal(message),
    }
}
