//! The one thread that starts every worker process, so that workers die with the process
//! that owns them and never before.
//!
//! A worker asks the kernel to kill it when its parent dies (`PR_SET_PDEATHSIG`, see
//! [`crate::worker`]). For the kernel, the parent is the *thread* that forked the worker,
//! not its process: a worker started from a thread that ends while the process lives on
//! (tokio lets idle blocking threads go after 10 s; a caller may run a short-lived
//! runtime on a thread of its own) would be killed in the middle of its work. This thread
//! is started once and never returns, so it ends only with the process.

use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

use crate::JqError;

type Job = Box<dyn FnOnce() + Send>;

static SPAWNER: OnceLock<Result<Sender<Job>, String>> = OnceLock::new();

/// Runs `job` (which starts a process and hands it back through a channel of its own) on
/// the spawner thread, starting that thread on first use.
pub(crate) fn submit(job: impl FnOnce() + Send + 'static) -> Result<(), JqError> {
    let spawner = SPAWNER.get_or_init(|| {
        let (send, receive) = channel::<Job>();
        std::thread::Builder::new()
            .name("fnmesh-jq-spawner".into())
            .spawn(move || {
                // The statics keep a sender, so this loop runs as long as the process.
                while let Ok(job) = receive.recv() {
                    // A job that panics fails its own caller (its channel closes), not
                    // the callers after it.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .map(|_| send)
            .map_err(|e| format!("cannot start the thread that starts workers: {e}"))
    });
    let spawner = spawner.as_ref().map_err(|e| JqError::Worker(e.clone()))?;
    spawner.send(Box::new(job)).map_err(|_| JqError::Worker("the thread that starts workers stopped".into()))
}
