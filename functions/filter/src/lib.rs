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
//! JavaScript and JSONPath run off the request threads, so `/healthz` answers while they
//! evaluate.

mod dialect;

use std::sync::Arc;

use fnmesh_runtime::server::{any_path, ce_post};
use fnmesh_runtime::{ConfigError, Console, Env, Error, FunctionSpec, IncomingEvent, Reply, Router, ServeConfig};

pub use dialect::Filter;

/// The filter, for [`fnmesh_runtime::run_function`] and `fnmesh run`.
pub const SPEC: FunctionSpec = FunctionSpec { name: "filter", launch };

fn launch(env: &Env, _serve: &ServeConfig, _console: Console) -> Result<Router, ConfigError> {
    Ok(app(Filter::from_env(env)?))
}

/// The routes: `POST` an event to any path.
pub fn app(filter: Filter) -> Router {
    let filter = Arc::new(filter);
    any_path(ce_post(move |incoming: IncomingEvent| {
        let filter = filter.clone();
        async move { handle(&filter, incoming).await }
    }))
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
