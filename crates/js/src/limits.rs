//! How much time and memory an expression may use, and how many engines run.

use std::time::Duration;

/// Per-evaluation and per-engine limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one evaluation may take.
    pub timeout: Duration,
    /// Heap one engine may hold, in bytes.
    pub memory_bytes: usize,
    /// Native stack one engine may use, in bytes (deep recursion is a `RangeError`).
    pub stack_bytes: usize,
    /// Engine threads; evaluations beyond this many wait for a free engine.
    pub workers: usize,
    /// Evaluations that may wait; beyond that the pool answers [`crate::JsError::Busy`].
    pub queue: usize,
    /// Engine threads that may run beyond `workers`, replacing ones abandoned in an
    /// evaluation that ignored its interrupt (an abandoned thread still uses a core and up
    /// to `memory_bytes` until its evaluation ends): at most `workers + abandoned` engine
    /// threads exist at once.
    pub abandoned: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
        Self {
            timeout: Duration::from_millis(100),
            memory_bytes: 64 * 1024 * 1024,
            stack_bytes: 512 * 1024,
            workers: cores,
            queue: 4096,
            abandoned: cores,
        }
    }
}
