//! `transformer`: replaces an event's data with the value of an expression.
//!
//! A drop-in for `villardl/transformer-nodejs` (`TRANSFORMER`, a JavaScript expression
//! with the bindings `event` and `env`), plus two dialects that need no JavaScript. Set
//! exactly one:
//!
//! | variable | dialect | new data |
//! |---|---|---|
//! | `TRANSFORMER` | JavaScript (QuickJS), as transformer-nodejs | the expression's value |
//! | `TRANSFORMER_JQ` | jq (jaq) over the event as JSON | the program's single output |
//! | `TRANSFORMER_JSONPATH` | a JSON template whose `"$..."` strings are JSONPath queries | the filled template |
//!
//! `TYPE` and `SOURCE`, when set, replace the event's type and source. Every other
//! attribute and extension is kept; `datacontenttype` becomes `application/json`. A
//! JavaScript value becomes the data as `JSON.stringify` writes it (numbers as JavaScript
//! writes them: `1e+21`), as transformer-nodejs wrote it; `undefined` removes the data. Replies: `200` with the new event
//! (in the request's mode); `422` when the expression throws, yields no or several jq
//! outputs, or a value that is not JSON, or when a template's results pass
//! `FNMESH_EVAL_MEMORY`; `503` past `FNMESH_EVAL_TIMEOUT`.
//!
//! JavaScript settings (besides `FNMESH_EVAL_TIMEOUT`, `FNMESH_EVAL_MEMORY` and
//! `FNMESH_EVAL_WORKERS`, see `fnmesh_expr::EvalConfig`):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `FNMESH_JS_ENV` | empty | comma-separated names of the variables `env` holds (under the same names); no other variable is visible to the expression |
//! | `FNMESH_EVAL_ABANDONED` | `FNMESH_EVAL_WORKERS` | engine threads that may run beyond `FNMESH_EVAL_WORKERS` to replace ones stuck past the time limit |
//!
//! JavaScript differs from transformer-nodejs's as the filter's does (see the filter):
//! `env` holds only what `FNMESH_JS_ENV` names, not `process.env`; evaluations share
//! nothing (built-ins, the global object and `env` are frozen, so `x = 1` creates no
//! global); `eval` and `Function(...)` throw; an evaluation that ignores its interrupt
//! is answered `503` at twice `FNMESH_EVAL_TIMEOUT` and `GET /healthz` answers `503`
//! until its abandoned engine thread ends.

mod dialect;
mod jq_input;

use std::sync::Arc;

use fnmesh_runtime::server::health;
use fnmesh_runtime::{
    AttributesWriter, ConfigError, Console, Env, Error, FunctionSpec, IncomingEvent, Reply, Router, ServeConfig,
    handler,
};

pub use dialect::{NewData, Transform};

/// The transformer, for [`fnmesh_runtime::run_function`] and `fnmesh run`.
pub const SPEC: FunctionSpec = FunctionSpec { name: "transformer", launch };

/// A compiled transformer and its attribute overrides.
#[derive(Debug)]
pub struct Transformer {
    transform: Transform,
    ty: Option<String>,
    source: Option<String>,
}

impl Transformer {
    /// From `env`: the dialect, `TYPE` and `SOURCE`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let set = |var: &str| env.get(var).filter(|v| !v.is_empty()).map(str::to_owned);
        Ok(Self { transform: Transform::from_env(env)?, ty: set("TYPE"), source: set("SOURCE") })
    }

    async fn handle(&self, incoming: IncomingEvent) -> Result<Reply, Error> {
        let data = self.transform.apply(&incoming).await?;
        let mut event = incoming.event;
        match data {
            Some(NewData::Json(json)) => {
                event.set_data("application/json", json);
            }
            Some(NewData::Value(data)) => {
                let bytes = serde_json::to_vec(&data).map_err(|e| Error::Internal(e.to_string()))?;
                event.set_data("application/json", bytes);
            }
            None => {
                // take_data also clears dataschema; every attribute but the data's type stays.
                let (_, schema, _) = event.take_data();
                event.set_dataschema(schema);
            }
        }
        if let Some(ty) = &self.ty {
            event.set_type(ty.as_str());
        }
        if let Some(source) = &self.source {
            event.set_source(source.as_str());
        }
        Ok(Reply::event(event, incoming.encoding))
    }
}

fn launch(env: &Env, _serve: &ServeConfig, _console: Console) -> Result<Router, ConfigError> {
    Ok(app(Transformer::from_env(env)?))
}

/// The routes: `POST` an event to any path; with JavaScript, `GET /healthz` reports the
/// engine pool.
pub fn app(transformer: Transformer) -> Router {
    let pool = match &transformer.transform {
        Transform::Js(pool) => Some(pool.clone()),
        Transform::Jq(_) | Transform::JsonPath(_) => None,
    };
    let transformer = Arc::new(transformer);
    let router = handler(move |incoming: IncomingEvent| {
        let transformer = transformer.clone();
        async move { transformer.handle(incoming).await }
    });
    match pool {
        Some(pool) => router.route("/healthz", health(move || pool.health())),
        None => router,
    }
}

#[cfg(test)]
mod tests;
