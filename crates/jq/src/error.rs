//! What can go wrong with a jq program, at start or per evaluation.

use std::time::Duration;

/// A jq error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JqError {
    /// The program does not parse or compile: the message says what and where
    /// (`line L, column C`, 1-based, in the program).
    #[error("invalid jq program: {0}")]
    Compile(String),
    /// The program raised an error for this input (`error("x")`, `1 + "a"`, `halt(1)`).
    #[error("jq program failed: {0}")]
    Runtime(String),
    /// The evaluation ran longer than the limit; its worker was killed and replaced.
    #[error("jq program ran longer than {0:?} and was stopped")]
    Timeout(Duration),
    /// The evaluation exhausted a resource: the memory limit or the stack (its worker died
    /// and was replaced), or the cap on the number, size or nesting of its outputs.
    #[error("jq program exhausted its resources: {0}")]
    ResourceExhausted(String),
    /// The limits given to [`crate::JqPool::start`] cannot work.
    #[error("invalid jq limits: {0}")]
    Config(String),
    /// A worker process cannot be started, or broke the protocol.
    #[error("jq worker: {0}")]
    Worker(String),
}
