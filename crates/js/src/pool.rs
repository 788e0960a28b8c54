//! [`JsPool`]: a compiled expression and where it is evaluated: on the calling thread
//! when it is straight-line (`straight`: it cannot run long, so it needs no thread of
//! its own; `local`), on engine threads with a watchdog otherwise (`threads`).

use std::collections::HashSet;
use std::sync::Arc;

use crate::engine::{Call, Engine, Outcome, Program};
use crate::input::Input;
use crate::local::LocalEngines;
use crate::reads::Reads;
use crate::threads::EngineThreads;
use crate::{JsError, Limits, straight};

/// A compiled expression, evaluated on the calling thread or on `limits.workers` engine
/// threads (see the crate's documentation).
#[derive(Debug, Clone)]
pub struct JsPool {
    var: Arc<str>,
    reads: Arc<Reads>,
    place: Place,
}

/// Where evaluations run.
#[derive(Debug, Clone)]
enum Place {
    /// On the calling thread: a straight-line expression.
    Here(Arc<LocalEngines>),
    /// On engine threads.
    Threads(EngineThreads),
}

impl JsPool {
    /// Compiles `source` (the value of variable `var`) with the `env` binding (a JSON
    /// object) and, for the switcher, `cases` (a JSON array). A syntax error is returned
    /// here, with its position; then each engine compiles its own copy.
    pub fn start(
        var: &str,
        source: &str,
        env: &serde_json::Value,
        cases: &serde_json::Value,
        limits: Limits,
    ) -> Result<Self, JsError> {
        let program = Program {
            var: var.to_owned(),
            source: source.to_owned(),
            env_json: env.to_string(),
            cases_json: cases.to_string(),
        };
        // Compile once here so that start-up errors surface before serving.
        let (engine, callables) = Engine::with_callables(&program, &limits)?;
        drop(engine);
        let callables: HashSet<String> = callables.into_iter().collect();
        let place = match straight::check(source, &callables) {
            Ok(()) => {
                tracing::debug!(var, "a straight-line JavaScript expression: evaluated on the request threads");
                Place::Here(LocalEngines::new(program, limits))
            }
            Err(why) => {
                tracing::debug!(var, why, "JavaScript expression evaluated on engine threads");
                Place::Threads(EngineThreads::start(program, limits)?)
            }
        };
        Ok(Self { var: var.into(), reads: Arc::new(Reads::of(source)), place })
    }

    /// The members of `event` the expression can reach: an [`crate::EventInput`] needs
    /// no others.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// Whether evaluations run on the calling thread (the expression is straight-line)
    /// rather than on engine threads.
    pub fn evaluates_here(&self) -> bool {
        matches!(self.place, Place::Here(_))
    }

    /// `!!(expression)` for this event (an [`crate::EventInput`], or JSON text).
    pub async fn truthy(&self, event: impl Into<Input>) -> Result<bool, JsError> {
        match self.submit(Call::Truthy, event.into()).await? {
            Outcome::Bool(b) => Ok(b),
            Outcome::Json(_) | Outcome::Plain(_) => Err(JsError::Engine("unexpected reply".into())),
        }
    }

    /// The expression's value as JSON, `None` when it is `undefined`.
    pub async fn value(&self, event: impl Into<Input>) -> Result<Option<serde_json::Value>, JsError> {
        match self.submit(Call::Value, event.into()).await? {
            Outcome::Json(None) | Outcome::Plain(None) => Ok(None),
            Outcome::Json(Some(text)) | Outcome::Plain(Some(text)) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| JsError::NotJson { var: self.var.to_string(), message: e.to_string() }),
            Outcome::Bool(_) => Err(JsError::Engine("unexpected reply".into())),
        }
    }

    /// The expression's value as JSON text (what `JSON.stringify` writes, and that
    /// `serde_json` reads: else [`JsError::NotJson`]), `None` when it is `undefined`.
    pub async fn value_json(&self, event: impl Into<Input>) -> Result<Option<String>, JsError> {
        match self.submit(Call::Value, event.into()).await? {
            Outcome::Json(None) | Outcome::Plain(None) => Ok(None),
            Outcome::Plain(Some(text)) => Ok(Some(text)),
            Outcome::Json(Some(text)) => match crate::valid::json_error(text.as_bytes()) {
                None => Ok(Some(text)),
                Some(message) => Err(JsError::NotJson { var: self.var.to_string(), message }),
            },
            Outcome::Bool(_) => Err(JsError::Engine("unexpected reply".into())),
        }
    }

    /// `(expression) === CASES[n]` for this event.
    pub async fn equals(&self, event: impl Into<Input>, n: usize) -> Result<bool, JsError> {
        match self.submit(Call::Equals(n), event.into()).await? {
            Outcome::Bool(b) => Ok(b),
            Outcome::Json(_) | Outcome::Plain(_) => Err(JsError::Engine("unexpected reply".into())),
        }
    }

    /// `Err` with the reason while engine threads are abandoned in an evaluation (they
    /// still use a core each) or fewer engines serve than `limits.workers`; for
    /// `/healthz`. Always `Ok` for an expression evaluated on the calling thread.
    pub fn health(&self) -> Result<(), String> {
        match &self.place {
            Place::Here(_) => Ok(()),
            Place::Threads(threads) => threads.health(),
        }
    }

    async fn submit(&self, call: Call, input: Input) -> Result<Outcome, JsError> {
        match &self.place {
            Place::Here(local) => local.call(&call, &input),
            Place::Threads(threads) => threads.submit(call, input).await,
        }
    }
}
