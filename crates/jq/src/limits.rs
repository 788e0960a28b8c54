//! How long and how much memory an evaluation may use, and how many workers run.

use std::time::Duration;

/// Per-evaluation and per-worker limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one evaluation may take, from writing its input (or reading the
    /// reply to the input before it, when several went to the worker together) to
    /// reading its outputs; waiting for a worker is not counted. When a worker runs over
    /// with several inputs unanswered, they are run again one at a time, so an answer
    /// (a runaway's error too) may take up to twice this long. Default 100 ms.
    pub timeout: Duration,
    /// Address space of one worker process (`RLIMIT_AS`), in bytes: its code and libraries
    /// count too, so the heap gets a little less. Default 256 MiB.
    pub memory_bytes: u64,
    /// Worker processes, each evaluating one input at a time. Default: the available cores.
    pub workers: usize,
    /// Outputs one evaluation may yield; more is [`crate::JqError::ResourceExhausted`].
    /// Default 10 000.
    pub max_outputs: usize,
    /// Bytes of JSON that the outputs of one evaluation may take together; more is
    /// [`crate::JqError::ResourceExhausted`]. Default 16 MiB.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(100),
            memory_bytes: 256 * 1024 * 1024,
            workers: std::thread::available_parallelism().map(usize::from).unwrap_or(2),
            max_outputs: 10_000,
            max_output_bytes: 16 * 1024 * 1024,
        }
    }
}
