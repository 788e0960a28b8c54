//! `switcher`: a drop-in for `villardl/switcher-nodejs`, the Parallel branch filter.
//!
//! `EXPRESSION` is a JavaScript expression (bindings `event` and `env`, as the filter);
//! `CASES` is a JSON array. `POST /<n>` evaluates the expression and, when its value is
//! `=== CASES[n]`, answers `200` with the event unchanged; otherwise `200` with an empty
//! body. A Parallel gives branch `n` the filter `uri: http://<switcher>/<n>`.
//!
//! Differences from the original: the original replied with the whole event envelope as
//! the new data; fnmesh passes the event through unchanged. `n` outside `CASES` answers
//! `404` (the original compared with `undefined`). A throwing expression answers `422`.
//!
//! JavaScript settings (besides `FNMESH_EVAL_TIMEOUT`, `FNMESH_EVAL_MEMORY` and
//! `FNMESH_EVAL_WORKERS`, see `fnmesh_expr::EvalConfig`):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `FNMESH_JS_ENV` | empty | comma-separated names of the variables `env` holds (under the same names); no other variable is visible to the expression |
//! | `FNMESH_EVAL_ABANDONED` | `FNMESH_EVAL_WORKERS` | engine threads that may run beyond `FNMESH_EVAL_WORKERS` to replace ones stuck past the time limit |
//!
//! JavaScript differs from switcher-nodejs's as the filter's does (see the filter): `env`
//! holds only what `FNMESH_JS_ENV` names, not `process.env`; evaluations share nothing
//! (built-ins, the global object, `env` and `CASES` are frozen); `eval` and
//! `Function(...)` throw; an evaluation that ignores its interrupt is answered `503` at
//! twice `FNMESH_EVAL_TIMEOUT` and `GET /healthz` answers `503` until its abandoned
//! engine thread ends.

use std::sync::Arc;

use axum::extract::Path;
use fnmesh_expr::{EvalConfig, js_error, js_event};
use fnmesh_js::JsPool;
use fnmesh_runtime::server::{ce_post, health};
use fnmesh_runtime::{ConfigError, Console, Env, Error, FunctionSpec, IncomingEvent, Reply, Router, ServeConfig};

/// The switcher, for [`fnmesh_runtime::run_function`] and `fnmesh run`.
pub const SPEC: FunctionSpec = FunctionSpec { name: "switcher", launch };

/// A compiled switch.
#[derive(Debug)]
pub struct Switch {
    pool: JsPool,
    cases: usize,
}

impl Switch {
    /// `EXPRESSION` and `CASES` from `env`, compiled.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limits = EvalConfig::from_env(env)?;
        let expression = env
            .get("EXPRESSION")
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| ConfigError::Missing { var: "EXPRESSION".into() })?;
        let cases_text = env.get("CASES").ok_or_else(|| ConfigError::Missing { var: "CASES".into() })?;
        let cases: serde_json::Value = serde_json::from_str(cases_text)
            .map_err(|e| ConfigError::invalid("CASES", format!("not JSON ({e}); write e.g. [0, 1]")))?;
        let count =
            cases.as_array().map(Vec::len).ok_or_else(|| ConfigError::invalid("CASES", "must be a JSON array"))?;
        let pool = fnmesh_expr::start_js("EXPRESSION", expression, env, &cases, &limits)?;
        Ok(Self { pool, cases: count })
    }

    async fn route(&self, branch: &str, incoming: IncomingEvent) -> Result<Reply, Error> {
        let n: usize = branch.parse().ok().filter(|n| *n < self.cases).ok_or_else(|| {
            Error::NotFound(format!(
                "/{branch} (CASES has {} entries: use /0 to /{})",
                self.cases,
                self.cases.saturating_sub(1)
            ))
        })?;
        if self.pool.equals(js_event(&incoming, self.pool.reads()), n).await.map_err(js_error)? {
            Ok(Reply::event(incoming.event, incoming.encoding))
        } else {
            Ok(Reply::NoEvent)
        }
    }
}

fn launch(env: &Env, _serve: &ServeConfig, _console: Console) -> Result<Router, ConfigError> {
    Ok(app(Switch::from_env(env)?))
}

/// The routes: `POST /<n>`, and `GET /healthz` reporting the engine pool.
pub fn app(switch: Switch) -> Router {
    let pool = switch.pool.clone();
    let switch = Arc::new(switch);
    Router::new()
        .route(
            "/{branch}",
            ce_post(move |Path(branch): Path<String>, incoming: IncomingEvent| {
                let switch = switch.clone();
                async move { switch.route(&branch, incoming).await }
            }),
        )
        .route("/healthz", health(move || pool.health()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fnmesh_testkit::{CeRequest, call};
    use http::StatusCode;

    fn switcher(expression: &str, cases: &str) -> Router {
        let env = Env::from_pairs([("EXPRESSION", expression), ("CASES", cases), ("FNMESH_EVAL_WORKERS", "1")]);
        SPEC.build(&env, Console::null()).unwrap().0
    }

    fn at(minute: u32, path: &str) -> CeRequest {
        CeRequest::binary().path(path).header("ce-time", &format!("2020-09-14T14:{minute:02}:00Z")).body("x")
    }

    #[tokio::test]
    async fn the_docs_sample_routes_even_and_odd_minutes() {
        let router = switcher("Math.round(Date.parse(event.time) / 60000) % 2", "[0, 1]");
        for (minute, branch, passes) in [(50, "/0", true), (50, "/1", false), (51, "/0", false), (51, "/1", true)] {
            let answer = call(&router, &at(minute, branch)).await;
            assert_eq!(answer.status, StatusCode::OK, "{minute} {branch}");
            assert_eq!(answer.body.is_empty(), !passes, "{minute} {branch}");
            if passes {
                assert_eq!((answer.header("ce-id"), answer.text()), ("1", "x"), "unchanged event");
            }
        }
    }

    #[tokio::test]
    async fn cases_compare_strictly_and_out_of_range_is_404() {
        let router = switcher("event.type", r#"["test.event", "other", 1]"#);
        assert_eq!(call(&router, &at(0, "/0")).await.text(), "x");
        assert!(call(&router, &at(0, "/1")).await.body.is_empty());
        let answer = call(&router, &at(0, "/3")).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.error(), "no route for /3 (CASES has 3 entries: use /0 to /2)");
        assert_eq!(call(&router, &at(0, "/x")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(call(&router, &at(0, "/")).await.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn env_holds_only_what_fnmesh_js_env_names_and_healthz_reports_the_pool() {
        let env = Env::from_pairs([
            ("EXPRESSION", "JSON.stringify(env)"),
            ("CASES", r#"["{\"REGION\":\"eu\"}"]"#),
            ("FNMESH_JS_ENV", "REGION"),
            ("REGION", "eu"),
            ("STATE_SECRET", "s3cr3t"),
            ("FNMESH_EVAL_WORKERS", "1"),
        ]);
        let router = SPEC.build(&env, Console::null()).unwrap().0;
        assert_eq!(call(&router, &at(0, "/0")).await.text(), "x", "env is exactly {{REGION: 'eu'}}");
        let healthz = CeRequest::raw().method(http::Method::GET).path("/healthz");
        assert_eq!(call(&router, &healthz).await.status, StatusCode::NO_CONTENT);
    }

    #[test]
    fn start_up_errors() {
        let err = |env: &[(&str, &str)]| {
            SPEC.build(&Env::from_pairs(env.iter().copied()), Console::null()).unwrap_err().to_string()
        };
        assert_eq!(err(&[("CASES", "[]")]), "EXPRESSION: required but not set");
        assert_eq!(err(&[("EXPRESSION", "1")]), "CASES: required but not set");
        assert_eq!(err(&[("EXPRESSION", "1"), ("CASES", "{}")]), "CASES: must be a JSON array");
        assert!(err(&[("EXPRESSION", "1"), ("CASES", "[0,")]).starts_with("CASES: not JSON"));
        assert!(
            err(&[("EXPRESSION", "(("), ("CASES", "[0]")]).starts_with("EXPRESSION: JavaScript syntax error at line 1")
        );
    }
}
