//! Sandboxed JavaScript expressions, as the Node.js functions of the Knative docs run them.
//!
//! `villardl/filter-nodejs`, `transformer-nodejs` and `switcher-nodejs` evaluate one
//! JavaScript expression per event with two bindings: `event` (attributes and extensions
//! as strings, plus `data`) and `env`. [`JsPool`] does the same on QuickJS (through
//! `rquickjs`): the expression is compiled once at start in each engine, and each
//! evaluation builds `event` from an [`EventInput`] with QuickJS values (only the data is
//! parsed there), with only the members the expression can reach ([`Reads`]:
//! `event.time` needs no parsed data).
//!
//! Where an evaluation runs: a straight-line expression (`straight`: no function of its
//! own, hence no loop; only built-ins that run in time linear in their arguments, no
//! regular expression, no search for anything but a literal) cannot run long, and is
//! evaluated on the calling thread, in an engine of that thread's (`local`); any other
//! on a pool of engine threads (`threads`), each with its engine, so that a runaway
//! evaluation holds an engine thread and never a request thread.
//!
//! The sandbox: no module loader and no I/O objects exist (only the ECMAScript built-ins:
//! `Math`, `Date`, `JSON`, `RegExp`, ...); each evaluation is bounded in time (an
//! interrupt handler checks a deadline) and each engine in memory and stack depth. A
//! runaway expression fails that one evaluation with [`JsError::Timeout`] or
//! [`JsError::OutOfMemory`]; its engine is rebuilt and the pool keeps serving. Where
//! QuickJS does not poll the interrupt (a long string search), a watchdog answers
//! [`JsError::Abandoned`] past the deadline and replaces the engine thread (`threads`).
//!
//! Evaluations share nothing: each engine's context is locked down once (`lockdown.js`:
//! built-ins, the global object, `env` and `CASES` deeply frozen, no code from strings)
//! and the promise jobs an evaluation queues run before the next one starts.

mod engine;
mod error;
mod input;
mod json;
mod limits;
mod local;
mod pool;
mod queue;
mod reads;
mod straight;
mod threads;
mod tokens;
mod valid;

pub use error::JsError;
pub use input::{EventData, EventInput, Input};
pub use limits::Limits;
pub use pool::JsPool;
pub use reads::Reads;
pub use valid::{is_json, object_members};
