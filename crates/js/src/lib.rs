//! Sandboxed JavaScript expressions, as the Node.js functions of the Knative docs run them.
//!
//! `villardl/filter-nodejs`, `transformer-nodejs` and `switcher-nodejs` evaluate one
//! JavaScript expression per event with two bindings: `event` (attributes and extensions
//! as strings, plus `data`) and `env`; the engine thread builds `event` from an
//! [`EventInput`] with QuickJS values (only the data is parsed there), with only the
//! members the expression can reach ([`Reads`]: `event.time` needs no parsed data).
//! [`JsPool`] does the same on QuickJS (through `rquickjs`), compiled once at start on
//! each of a pool of engine threads, so that evaluation scales across cores with no lock
//! around an interpreter.
//!
//! The sandbox: no module loader and no I/O objects exist (only the ECMAScript built-ins:
//! `Math`, `Date`, `JSON`, `RegExp`, ...); each evaluation is bounded in time (an
//! interrupt handler checks a deadline) and each engine in memory and stack depth. A
//! runaway expression fails that one evaluation with [`JsError::Timeout`] or
//! [`JsError::OutOfMemory`]; its engine is rebuilt and the pool keeps serving. Where
//! QuickJS does not poll the interrupt (a long string search), a watchdog answers
//! [`JsError::Abandoned`] past the deadline and replaces the engine thread (see `pool`).
//!
//! Evaluations share nothing: each engine's context is locked down once (`lockdown.js`:
//! built-ins, the global object, `env` and `CASES` deeply frozen, no code from strings)
//! and the promise jobs an evaluation queues run before the next one starts.

mod engine;
mod error;
mod input;
mod limits;
mod pool;
mod queue;
mod reads;

pub use error::JsError;
pub use input::{EventData, EventInput, Input};
pub use limits::Limits;
pub use pool::JsPool;
pub use reads::Reads;
