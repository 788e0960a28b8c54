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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(100),
            memory_bytes: 64 * 1024 * 1024,
            stack_bytes: 512 * 1024,
            workers: std::thread::available_parallelism().map(usize::from).unwrap_or(2),
            queue: 4096,
        }
    }
}
