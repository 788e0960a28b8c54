//! `filter`: passes an event on, unchanged, when an expression holds; drops it otherwise.
//!
//! A drop-in for `villardl/filter-nodejs` (`FILTER`, a JavaScript expression with the
//! bindings `event` and `env`), plus two dialects that need no JavaScript. Set exactly one:
//!
//! | variable | dialect | passes when |
//! |---|---|---|
//! | `FILTER` | JavaScript (QuickJS), as filter-nodejs | the value is truthy |
//! | `FILTER_CESQL` | CloudEvents SQL v1 | the value is `TRUE` with no error |
//! | `FILTER_JSONPATH` | JSONPath (RFC 9535) over the event as JSON | it selects at least one node |
//!
//! Replies: pass, `200` with the event unchanged (in the request's mode); reject, `200`
//! with an empty body. A JavaScript expression that throws answers `422` (filter-nodejs
//! answered `200` with `{"error": ...}` as data); past `FNMESH_EVAL_TIMEOUT`, `503`.
//! JavaScript, and JSONPath on events with more than `FNMESH_EVAL_INLINE_BYTES` of data,
//! run off the request threads, so `/healthz` answers while they evaluate; but a
//! straight-line JavaScript expression (no function of its own, no regular expression,
//! only built-ins that run in time linear in their arguments, see `fnmesh_js`), which
//! cannot run long, is evaluated on the request's thread.
//!
//! JavaScript settings (besides `FNMESH_EVAL_TIMEOUT`, `FNMESH_EVAL_MEMORY` and
//! `FNMESH_EVAL_WORKERS`, see `fnmesh_expr::EvalConfig`):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `FNMESH_JS_ENV` | empty | comma-separated names of the variables `env` holds (under the same names); no other variable is visible to the expression |
//! | `FNMESH_EVAL_ABANDONED` | `FNMESH_EVAL_WORKERS` | engine threads that may run beyond `FNMESH_EVAL_WORKERS` to replace ones stuck past the time limit |
//!
//! Differences from filter-nodejs's JavaScript, each for isolation:
//!
//! * `env` is not `process.env`: it holds only what `FNMESH_JS_ENV` names (filter-nodejs
//!   handed every expression, and so every producer that steers it, the whole
//!   environment, secrets included). An expression reading `env.MODE` needs
//!   `FNMESH_JS_ENV=MODE`.
//! * Evaluations share nothing: the built-ins, the global object and `env` are frozen
//!   (filter-nodejs ran each event in a new `vm` context; one here would cost ten times
//!   the evaluation). So an expression cannot create globals (`x = 1` does nothing;
//!   declare with `let` or `var` inside a function instead) nor change a built-in;
//!   assigning `toString`, `constructor`, an error's `name` or `message` to an object
//!   still works. Promise callbacks run right after the expression, within its time.
//! * `eval` and `Function(...)` (code from strings) throw `EvalError`.
//! * The time limit holds whatever the expression does: an evaluation that ignores the
//!   interrupt (a long string search) is answered `503` once it has run for twice
//!   `FNMESH_EVAL_TIMEOUT` (at most one second more), its engine thread is abandoned and
//!   replaced, and `GET /healthz` answers `503` with the reason until that thread ends.

mod dialect;

use std::sync::Arc;

use fnmesh_runtime::server::health;
use fnmesh_runtime::{
    ConfigError, Console, Env, Error, FunctionSpec, IncomingEvent, Reply, Router, ServeConfig, handler,
};

pub use dialect::Filter;

/// The filter, for [`fnmesh_runtime::run_function`] and `fnmesh run`.
pub const SPEC: FunctionSpec = FunctionSpec { name: "filter", launch };

fn launch(env: &Env, _serve: &ServeConfig, _console: Console) -> Result<Router, ConfigError> {
    Ok(app(Filter::from_env(env)?))
}

/// The routes: `POST` an event to any path; with JavaScript, `GET /healthz` reports the
/// engine pool.
pub fn app(filter: Filter) -> Router {
    let pool = match &filter {
        Filter::Js(pool) => Some(pool.clone()),
        Filter::Cesql(_) | Filter::JsonPath(_) => None,
    };
    let filter = Arc::new(filter);
    let router = handler(move |incoming: IncomingEvent| {
        let filter = filter.clone();
        async move { handle(&filter, incoming).await }
    });
    match pool {
        Some(pool) => router.route("/healthz", health(move || pool.health())),
        None => router,
    }
}

async fn handle(filter: &Filter, incoming: IncomingEvent) -> Result<Reply, Error> {
    if filter.passes(&incoming).await? {
        Ok(Reply::event(incoming.event, incoming.encoding))
    } else {
        Ok(Reply::NoEvent)
    }
}

#[cfg(test)]
mod tests;
