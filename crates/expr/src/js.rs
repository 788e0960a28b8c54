//! Starting a JavaScript expression the way the Node originals ran it, with only the
//! environment the operator exposes.
//!
//! The originals bound `env` to `process.env`: the whole environment, secrets included,
//! readable by the expression and so by any producer whose event steers it
//! (`env[event.data.key]`). Here `env` holds only the variables `FNMESH_JS_ENV` names.

use fnmesh_js::JsPool;
use fnmesh_runtime::{ConfigError, Env};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::EvalConfig;

/// The JavaScript settings beyond [`EvalConfig`].
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `FNMESH_JS_ENV` | empty | comma-separated names of the variables the expression sees in `env` (under the same names); no other variable is visible |
/// | `FNMESH_EVAL_ABANDONED` | `FNMESH_EVAL_WORKERS` | engine threads that may run beyond `FNMESH_EVAL_WORKERS` to replace ones stuck past `FNMESH_EVAL_TIMEOUT` (abandoned until they end) |
#[derive(Debug, Deserialize)]
struct JsSettings {
    #[serde(rename = "fnmesh_js_env", default)]
    env: String,
    #[serde(rename = "fnmesh_eval_abandoned")]
    abandoned: Option<usize>,
}

/// Compiles `source`, the value of variable `var`, on a pool of engines with the `env`
/// binding (the variables `FNMESH_JS_ENV` names, as strings) and, for the switcher,
/// `cases`. A syntax error names `var` and the position.
pub fn start_js(var: &str, source: &str, env: &Env, cases: &Value, limits: &EvalConfig) -> Result<JsPool, ConfigError> {
    let settings: JsSettings = env.parse()?;
    let bindings = Value::Object(exposed(env, &settings.env)?);
    let limits = fnmesh_js::Limits { abandoned: settings.abandoned.unwrap_or(limits.workers), ..limits.js_limits() };
    JsPool::start(var, source, &bindings, cases, limits).map_err(|e| {
        let message = e.to_string();
        ConfigError::invalid(var, message.strip_prefix(&format!("{var}: ")).unwrap_or(&message))
    })
}

/// The `env` binding: each variable `list` names that is set, under its name.
fn exposed(env: &Env, list: &str) -> Result<Map<String, Value>, ConfigError> {
    let mut exposed = Map::new();
    for name in list.split(',').map(str::trim).filter(|name| !name.is_empty()) {
        if name.contains(|c: char| c == '=' || c.is_whitespace()) {
            return Err(ConfigError::invalid(
                "FNMESH_JS_ENV",
                format!("{name:?} is not a variable name; write names separated by commas, e.g. REGION,THRESHOLD"),
            ));
        }
        if let Some(value) = env.get(name) {
            exposed.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
    Ok(exposed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_variables_are_exposed() {
        let env = Env::from_pairs([("REGION", "eu"), ("STATE_SECRET", "s3cr3t"), ("DB_PASSWORD", "hunter2")]);
        assert_eq!(exposed(&env, "").unwrap(), Map::new());
        let listed = exposed(&env, " REGION, ,MISSING ").unwrap();
        assert_eq!(Value::Object(listed), serde_json::json!({"REGION": "eu"}));
        let err = exposed(&env, "REGION=eu").unwrap_err().to_string();
        assert!(err.starts_with("FNMESH_JS_ENV: \"REGION=eu\" is not a variable name"), "{err}");
    }
}
