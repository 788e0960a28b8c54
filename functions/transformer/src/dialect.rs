//! The three transformer dialects, chosen and compiled once at start.

use fnmesh_expr::jsonpath::Template;
use fnmesh_expr::{EvalConfig, event_view, js_error, one_of};
use fnmesh_js::JsPool;
use fnmesh_runtime::{ConfigError, Env, Error, IncomingEvent};
use serde_json::Value;

/// The variables that choose a dialect; exactly one must be set.
pub const VARS: [&str; 3] = ["TRANSFORMER", "TRANSFORMER_JQ", "TRANSFORMER_JSONPATH"];

/// A compiled transformation.
#[derive(Debug)]
pub enum Transform {
    /// `TRANSFORMER`: JavaScript.
    Js(JsPool),
    /// `TRANSFORMER_JSONPATH`: a JSON template with JSONPath queries.
    JsonPath(Template),
}

impl Transform {
    /// The dialect `env` chooses, compiled; errors name the variable and the position.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limits = EvalConfig::from_env(env)?;
        match one_of(env, &VARS)? {
            ("TRANSFORMER", source) => {
                let bindings =
                    Value::Object(env.iter().map(|(k, v)| (k.to_owned(), Value::String(v.to_owned()))).collect());
                JsPool::start("TRANSFORMER", source, &bindings, &serde_json::json!([]), limits.js_limits())
                    .map(Self::Js)
                    .map_err(|e| {
                        let message = e.to_string();
                        ConfigError::invalid("TRANSFORMER", message.strip_prefix("TRANSFORMER: ").unwrap_or(&message))
                    })
            }
            ("TRANSFORMER_JQ", _) => Err(ConfigError::invalid("TRANSFORMER_JQ", "jq is not available yet")),
            (_, source) => {
                Template::parse(source).map(Self::JsonPath).map_err(|e| ConfigError::invalid("TRANSFORMER_JSONPATH", e))
            }
        }
    }

    /// The new data for `incoming`; `None` removes the data.
    pub async fn apply(&self, incoming: &IncomingEvent) -> Result<Option<Value>, Error> {
        match self {
            Self::Js(pool) => pool.value(event_view(incoming).to_string()).await.map_err(js_error),
            Self::JsonPath(template) => Ok(Some(template.render(&event_view(incoming)))),
        }
    }
}
