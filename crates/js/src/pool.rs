//! A pool of engine threads, each with its own QuickJS runtime and compiled expression.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::engine::{Call, Engine, Outcome, Program};
use crate::{JsError, Limits};

struct Job {
    call: Call,
    event_json: String,
    reply: oneshot::Sender<Result<Outcome, JsError>>,
}

/// A compiled expression on `limits.workers` engine threads.
#[derive(Debug, Clone)]
pub struct JsPool {
    jobs: SyncSender<Job>,
    limits: Limits,
    var: String,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("call", &self.call).finish_non_exhaustive()
    }
}

impl JsPool {
    /// Compiles `source` (the value of variable `var`) with the `env` binding (a JSON
    /// object) and, for the switcher, `cases` (a JSON array). A syntax error is returned
    /// here, with its position; then every engine thread compiles its own copy.
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
        drop(Engine::new(&program, &limits)?);
        let (jobs, queue) = sync_channel::<Job>(limits.queue.max(1));
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..limits.workers.max(1) {
            let (program, queue) = (program.clone(), queue.clone());
            std::thread::Builder::new()
                .name(format!("js-{n}"))
                .stack_size(limits.stack_bytes * 4 + 2 * 1024 * 1024)
                .spawn(move || work(&program, &limits, &queue))
                .map_err(|e| JsError::Engine(format!("cannot start an engine thread: {e}")))?;
        }
        Ok(Self { jobs, limits, var: var.to_owned() })
    }

    /// `!!(expression)` for this event.
    pub async fn truthy(&self, event_json: String) -> Result<bool, JsError> {
        match self.submit(Call::Truthy, event_json).await? {
            Outcome::Bool(b) => Ok(b),
            Outcome::Json(_) => Err(JsError::Engine("unexpected reply".into())),
        }
    }

    /// The expression's value as JSON, `None` when it is `undefined`.
    pub async fn value(&self, event_json: String) -> Result<Option<serde_json::Value>, JsError> {
        match self.submit(Call::Value, event_json).await? {
            Outcome::Json(None) => Ok(None),
            Outcome::Json(Some(text)) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| JsError::NotJson { var: self.var.clone(), message: e.to_string() }),
            Outcome::Bool(_) => Err(JsError::Engine("unexpected reply".into())),
        }
    }

    /// `(expression) === CASES[n]` for this event.
    pub async fn equals(&self, event_json: String, n: usize) -> Result<bool, JsError> {
        match self.submit(Call::Equals(n), event_json).await? {
            Outcome::Bool(b) => Ok(b),
            Outcome::Json(_) => Err(JsError::Engine("unexpected reply".into())),
        }
    }

    async fn submit(&self, call: Call, event_json: String) -> Result<Outcome, JsError> {
        let (reply, answer) = oneshot::channel();
        match self.jobs.try_send(Job { call, event_json, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(JsError::Busy { workers: self.limits.workers, queue: self.limits.queue });
            }
            Err(TrySendError::Disconnected(_)) => return Err(JsError::Engine("every engine thread stopped".into())),
        }
        answer.await.map_err(|_| JsError::Engine("the engine thread stopped".into()))?
    }
}

/// An engine thread: takes jobs until the pool is dropped; rebuilds its engine after
/// a timeout or running out of memory.
fn work(program: &Program, limits: &Limits, queue: &Mutex<Receiver<Job>>) {
    let mut engine = match Engine::new(program, limits) {
        Ok(engine) => engine,
        Err(err) => {
            tracing::error!(%err, "JavaScript engine thread cannot start");
            return;
        }
    };
    loop {
        // The lock is held only while waiting for a job, never while evaluating.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let result = engine.call(&job.call, &job.event_json);
        if let Err(err) = &result
            && Engine::is_spent(err)
        {
            tracing::warn!(%err, "rebuilding the JavaScript engine");
            match Engine::new(program, limits) {
                Ok(fresh) => engine = fresh,
                Err(err) => {
                    tracing::error!(%err, "cannot rebuild the JavaScript engine");
                    let _ = job.reply.send(result);
                    return;
                }
            }
        }
        let _ = job.reply.send(result);
    }
}
