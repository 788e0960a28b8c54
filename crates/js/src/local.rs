//! Engines on the request threads, for straight-line expressions (see `straight`): each
//! thread that evaluates one has its own engine for it, made on first use, with the same
//! lockdown and limits as an engine thread's, so an evaluation is a call on the thread
//! that decoded the event, with no hand-off to another thread and back.
//!
//! An evaluation that hits the time or memory limit spends its engine as on an engine
//! thread: the error is answered, and the next evaluation on that thread makes a fresh
//! one. An engine lives as long as its thread or its pool: a thread drops the engines
//! of pools gone when it makes a new one.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use crate::engine::{Call, Engine, Outcome, Program};
use crate::input::Input;
use crate::{JsError, Limits};

/// A compiled expression whose evaluations run on the calling thread.
#[derive(Debug)]
pub(crate) struct LocalEngines {
    program: Program,
    limits: Limits,
}

/// This thread's engine for one [`LocalEngines`].
struct Local {
    owner: Weak<LocalEngines>,
    /// `None` after a spent evaluation, until the next one makes a fresh engine.
    engine: Option<Engine>,
}

thread_local! {
    static ENGINES: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
}

impl LocalEngines {
    /// For `program` (which compiles: the caller checked), under `limits`.
    pub(crate) fn new(program: Program, limits: Limits) -> Arc<Self> {
        Arc::new(Self { program, limits })
    }

    /// Evaluates on this thread's engine, made now if there is none.
    pub(crate) fn call(self: &Arc<Self>, call: &Call, input: &Input) -> Result<Outcome, JsError> {
        ENGINES.with(|engines| {
            // Nothing here awaits nor calls back into this module: the borrow is not re-entered.
            let mut engines = engines.borrow_mut();
            let index = match engines.iter().position(|local| Weak::as_ptr(&local.owner) == Arc::as_ptr(self)) {
                Some(index) => index,
                None => {
                    engines.retain(|local| local.owner.strong_count() > 0);
                    engines.push(Local { owner: Arc::downgrade(self), engine: None });
                    engines.len() - 1
                }
            };
            let local = &mut engines[index];
            let engine = match &mut local.engine {
                Some(engine) => engine,
                empty => empty.insert(Engine::straight(&self.program, &self.limits)?),
            };
            let result = engine.call(call, input);
            if matches!(&result, Err(err) if Engine::is_spent(err)) {
                if let Err(err) = &result {
                    tracing::warn!(%err, "dropping this thread's JavaScript engine; the next evaluation makes a new one");
                }
                local.engine = None;
            }
            result
        })
    }
}
