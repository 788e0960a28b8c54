//! Starting a JavaScript expression the way the Node originals ran it.

use fnmesh_js::JsPool;
use fnmesh_runtime::{ConfigError, Env};
use serde_json::Value;

use crate::EvalConfig;

/// Compiles `source`, the value of variable `var`, on a pool of engines with the
/// `env` binding (the function's environment, as strings) and, for the switcher,
/// `cases`. A syntax error names `var` and the position.
pub fn start_js(var: &str, source: &str, env: &Env, cases: &Value, limits: &EvalConfig) -> Result<JsPool, ConfigError> {
    let bindings = Value::Object(env.iter().map(|(k, v)| (k.to_owned(), Value::String(v.to_owned()))).collect());
    JsPool::start(var, source, &bindings, cases, limits.js_limits()).map_err(|e| {
        let message = e.to_string();
        ConfigError::invalid(var, message.strip_prefix(&format!("{var}: ")).unwrap_or(&message))
    })
}
