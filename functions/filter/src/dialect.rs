//! The three filter dialects, chosen and compiled once at start.

use fnmesh_expr::jsonpath::{Bounded, Query, jsonpath_error};
use fnmesh_expr::{EvalConfig, js_error, js_event, one_of, start_js};
use fnmesh_js::JsPool;
use fnmesh_runtime::{ConfigError, Env, Error, IncomingEvent};

/// The variables that choose a dialect; exactly one must be set.
pub const VARS: [&str; 3] = ["FILTER", "FILTER_CESQL", "FILTER_JSONPATH"];

/// A compiled filter.
#[derive(Debug)]
pub enum Filter {
    /// `FILTER`: JavaScript.
    Js(JsPool),
    /// `FILTER_CESQL`: CloudEvents SQL.
    Cesql(fnmesh_cesql::Expression),
    /// `FILTER_JSONPATH`: JSONPath within the eval limits (large events on threads of its own).
    JsonPath(Bounded<Query>),
}

impl Filter {
    /// The dialect `env` chooses, compiled; errors name the variable and the position.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limits = EvalConfig::from_env(env)?;
        match one_of(env, &VARS)? {
            ("FILTER", source) => start_js("FILTER", source, env, &serde_json::json!([]), &limits).map(Self::Js),
            ("FILTER_CESQL", source) => fnmesh_cesql::Expression::parse_nested(source, cesql_depth(env)?)
                .map(Self::Cesql)
                .map_err(|e| ConfigError::invalid("FILTER_CESQL", e)),
            (_, source) => Query::parse(source)
                .and_then(|query| Bounded::start(query, limits.jsonpath_limits()))
                .map(Self::JsonPath)
                .map_err(|e| ConfigError::invalid("FILTER_JSONPATH", e)),
        }
    }

    /// Whether `incoming` passes.
    pub async fn passes(&self, incoming: &IncomingEvent) -> Result<bool, Error> {
        match self {
            Self::Js(pool) => pool.truthy(js_event(incoming, pool.reads())).await.map_err(js_error),
            Self::Cesql(expression) => {
                let evaluation = expression.evaluate(&incoming.event);
                // CESQL section 1.2: only `true` with no error passes.
                if let Some(error) = evaluation.errors.first() {
                    tracing::debug!(%error, "FILTER_CESQL evaluation error; the event is dropped");
                    return Ok(false);
                }
                Ok(evaluation.value == fnmesh_cesql::Value::Boolean(true))
            }
            Self::JsonPath(query) => {
                query.matches_event(incoming).await.map_err(|e| jsonpath_error("FILTER_JSONPATH", e))
            }
        }
    }
}

/// `FNMESH_CESQL_DEPTH`: how deep `FILTER_CESQL` may nest (default 64, at most 128).
#[derive(Debug, serde::Deserialize)]
struct CesqlDepth {
    #[serde(rename = "fnmesh_cesql_depth", default = "default_cesql_depth")]
    depth: usize,
}

fn default_cesql_depth() -> usize {
    fnmesh_cesql::DEFAULT_MAX_DEPTH
}

fn cesql_depth(env: &Env) -> Result<usize, ConfigError> {
    let CesqlDepth { depth } = env.parse()?;
    let ceiling = fnmesh_cesql::DEPTH_CEILING;
    if (1..=ceiling).contains(&depth) {
        Ok(depth)
    } else {
        Err(ConfigError::invalid("FNMESH_CESQL_DEPTH", format!("must be between 1 and {ceiling}")))
    }
}
