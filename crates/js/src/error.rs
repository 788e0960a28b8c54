//! What can go wrong with an expression, at start or per event.

use std::time::Duration;

/// An expression error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsError {
    /// The expression does not compile; `line` and `column` are 1-based, in the expression.
    #[error("{var}: JavaScript syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// The variable that holds the expression (`FILTER`, ...).
        var: String,
        /// Line in the expression.
        line: u32,
        /// Column in the expression.
        column: u32,
        /// QuickJS's message.
        message: String,
    },
    /// The expression threw while evaluating this event.
    #[error("{var} threw: {message}")]
    Thrown {
        /// The variable that holds the expression.
        var: String,
        /// The exception's message (`TypeError: ...`).
        message: String,
    },
    /// The value cannot be turned into JSON (a function, a cycle, a BigInt).
    #[error("{var}: the value is not JSON: {message}")]
    NotJson {
        /// The variable that holds the expression.
        var: String,
        /// Why.
        message: String,
    },
    /// The evaluation ran longer than the limit and was interrupted.
    #[error("{var}: evaluation interrupted after {limit:?} (FNMESH_EVAL_TIMEOUT)")]
    Timeout {
        /// The variable that holds the expression.
        var: String,
        /// The limit.
        limit: Duration,
    },
    /// The engine ran out of its memory limit.
    #[error("{var}: evaluation exceeded the memory limit of {limit} bytes (FNMESH_EVAL_MEMORY)")]
    OutOfMemory {
        /// The variable that holds the expression.
        var: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The evaluation ran past the time limit without being interrupted (QuickJS does
    /// not check the deadline everywhere: a long string search runs to its end); the
    /// watchdog answered for it, abandoned its engine thread and, room permitting,
    /// started another.
    #[error("{var}: evaluation still running after {after:?}, past FNMESH_EVAL_TIMEOUT; its engine was abandoned")]
    Abandoned {
        /// The variable that holds the expression.
        var: String,
        /// How long it had run when the watchdog gave up on it.
        after: Duration,
    },
    /// Every engine is stuck in an evaluation past the time limit and no more threads
    /// may start to replace them.
    #[error(
        "every JavaScript engine is stuck in an evaluation past FNMESH_EVAL_TIMEOUT ({abandoned} abandoned and \
         still running, no room for more under FNMESH_EVAL_ABANDONED); retry later"
    )]
    NoEngine {
        /// Engine threads abandoned and still running.
        abandoned: usize,
    },
    /// Every engine is busy and the queue is full.
    #[error("all {workers} expression engines are busy and {queue} evaluations are waiting")]
    Busy {
        /// Engines.
        workers: usize,
        /// Queue length.
        queue: usize,
    },
    /// The engine itself failed (cannot start, or stopped).
    #[error("JavaScript engine: {0}")]
    Engine(String),
}
