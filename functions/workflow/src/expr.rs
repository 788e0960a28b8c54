//! jq expressions (`${ ... }`) of a workflow, run by the workspace's sandboxed jaq
//! pools ([`fnmesh_jq::JqPool`]).
//!
//! Every expression is wrapped into one program that binds the spec's variables
//! (`$WORKFLOW`, `$SECRET`, `$CONST`, and each foreach `iterationParam`) from an
//! envelope and then runs on the data. A pool is compiled per distinct program the
//! first time it runs (each was compile-checked at start by validation), with one or two
//! worker processes. An argument object is turned into a single jq object constructor,
//! so an action's arguments cost one evaluation, not one per field.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fnmesh_jq::{JqError, JqPool, Limits, WORKER_ARG, WorkerCommand};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// The expression inside `${ ... }`, if `text` is one.
pub fn unwrap(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    trimmed.strip_prefix("${").and_then(|rest| rest.strip_suffix('}')).map(str::trim)
}

/// The jq program of a field that is always an expression (conditions, filters,
/// `inputCollection`): `${ .x }` or the bare `.x`.
pub fn program_of(text: &str) -> &str {
    unwrap(text).unwrap_or_else(|| text.trim())
}

/// Whether a string value of `arguments` or event `data` is an expression: `${ ... }`,
/// or, as Kogito reads them, a bare `$WORKFLOW.x`, `$SECRET.x` or `$CONST.x`.
pub fn value_expression(text: &str) -> Option<&str> {
    if let Some(inner) = unwrap(text) {
        return Some(inner);
    }
    let trimmed = text.trim();
    ["$WORKFLOW", "$SECRET", "$CONST"].iter().any(|v| trimmed.starts_with(v)).then_some(trimmed)
}

/// The jq program that builds `template` (a JSON value whose strings may be
/// expressions); `None` when it holds no expression (it is then its own value).
pub fn template_program(template: &Value) -> Option<String> {
    fn has_expression(value: &Value) -> bool {
        match value {
            Value::String(s) => value_expression(s).is_some(),
            Value::Array(items) => items.iter().any(has_expression),
            Value::Object(map) => map.values().any(has_expression),
            _ => false,
        }
    }
    fn build(value: &Value, out: &mut String) {
        match value {
            Value::String(s) => match value_expression(s) {
                // `first(...)`: a field gets one value (jq would multiply the object).
                Some(expr) => {
                    out.push_str("(first(");
                    out.push_str(expr);
                    out.push_str(") // null)");
                }
                None => out.push_str(&value.to_string()),
            },
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    build(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push_str(": ");
                    build(item, out);
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    if !has_expression(template) {
        return None;
    }
    let mut out = String::new();
    build(template, &mut out);
    Some(out)
}

/// Runs the expressions of one workflow.
#[derive(Debug)]
pub struct Expressions {
    /// The prefix that binds the variables.
    prelude: String,
    limits: Limits,
    worker: WorkerCommand,
    pools: Mutex<HashMap<String, Arc<OnceCell<Arc<JqPool>>>>>,
}

/// The variables an expression sees besides its input.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `$WORKFLOW`: `{instanceId, id, ...}`.
    pub workflow: Value,
    /// `$SECRET`.
    pub secrets: Value,
    /// `$CONST`.
    pub constants: Value,
    /// The foreach item, by its parameter's name.
    pub params: serde_json::Map<String, Value>,
}

/// Why an expression failed, for error handling (its code is `expression`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("expression {program:?}: {message}")]
pub struct ExprError {
    /// The expression.
    pub program: String,
    /// What went wrong.
    pub message: String,
}

impl Expressions {
    /// Expressions run by `worker` with `timeout` per evaluation; `params` are the names
    /// of every foreach `iterationParam` (bound in every program, `null` outside).
    pub fn new(worker: WorkerCommand, timeout: Duration, params: &BTreeSet<String>) -> Self {
        let mut prelude = String::from(
            ".w as $WORKFLOW | .s as $SECRET | .c as $CONST | .v as $__value | (.p // {}) as $__params | ",
        );
        for param in params {
            prelude.push_str(&format!("$__params.{param} as ${param} | "));
        }
        prelude.push_str(".d | ");
        let limits = Limits { timeout, workers: 2, ..Limits::default() };
        Self { prelude, limits, worker, pools: Mutex::new(HashMap::new()) }
    }

    /// The worker command: `FNMESH_JQ_WORKER` (tests point it at the built binary) or
    /// this executable, which becomes a worker on [`WORKER_ARG`].
    pub fn worker_command(configured: Option<&str>) -> Result<WorkerCommand, String> {
        let program = match configured.filter(|p| !p.is_empty()) {
            Some(path) => std::path::PathBuf::from(path),
            None => std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?,
        };
        Ok(WorkerCommand::new(program).arg(WORKER_ARG))
    }

    /// The whole program for `expression`.
    fn wrap(&self, expression: &str) -> String {
        format!("{}({expression})", self.prelude)
    }

    /// Checks that `expression` compiles (with the variables bound), without a worker.
    pub fn check(&self, expression: &str) -> Result<(), String> {
        fnmesh_jq::check_program(&self.wrap(expression)).map_err(|e| match e {
            JqError::Compile(message) => message,
            other => other.to_string(),
        })
    }

    /// The outputs of `expression` over `data`.
    pub async fn run(
        &self,
        expression: &str,
        data: &Value,
        scope: &Scope,
        value: &Value,
    ) -> Result<Vec<Value>, ExprError> {
        let fail = |message: String| ExprError { program: expression.to_owned(), message };
        let program = self.wrap(expression);
        let cell = {
            let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            pools.entry(program.clone()).or_default().clone()
        };
        let pool = cell
            .get_or_try_init(|| async {
                let (limits, worker) = (self.limits, self.worker.clone());
                tokio::task::spawn_blocking(move || JqPool::new(&program, limits, worker))
                    .await
                    .map_err(|e| e.to_string())?
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(fail)?
            .clone();
        let envelope = json!({
            "d": data, "w": scope.workflow, "s": scope.secrets, "c": scope.constants,
            "v": value, "p": Value::Object(scope.params.clone()),
        });
        pool.run(&envelope.to_string()).await.map_err(|e| fail(e.to_string()))
    }

    /// The first output of `expression` (`null` when it gives none).
    pub async fn value(&self, expression: &str, data: &Value, scope: &Scope) -> Result<Value, ExprError> {
        Ok(self.run(expression, data, scope, &Value::Null).await?.into_iter().next().unwrap_or(Value::Null))
    }

    /// Whether `expression` is true (its first output is neither `false` nor `null`).
    pub async fn condition(&self, expression: &str, data: &Value, scope: &Scope) -> Result<bool, ExprError> {
        Ok(!matches!(self.value(expression, data, scope).await?, Value::Null | Value::Bool(false)))
    }

    /// `template` with its expressions evaluated over `data`.
    pub async fn template(&self, template: &Value, data: &Value, scope: &Scope) -> Result<Value, ExprError> {
        match template_program(template) {
            Some(program) => self.value(&program, data, scope).await,
            None => Ok(template.clone()),
        }
    }

    /// `data` with `value` put where `path_expression` (`.a.b`, `${ .a }`) points.
    pub async fn set(
        &self,
        path_expression: &str,
        data: &Value,
        value: &Value,
        scope: &Scope,
    ) -> Result<Value, ExprError> {
        let program = set_program(path_expression);
        let data = if data.is_null() { Value::Object(Default::default()) } else { data.clone() };
        Ok(self.run(&program, &data, scope, value).await?.into_iter().next().unwrap_or(Value::Null))
    }
}

/// The program that puts `$__value` at the path of `path_expression`.
pub fn set_program(path_expression: &str) -> String {
    format!("setpath(path({}); $__value)", program_of(path_expression))
}
