//! The threads that evaluate JSONPath, off the request threads.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use super::JsonPathError;

/// Stack of one evaluation thread: room for [`super::eval::MAX_DEPTH`] levels of
/// nesting; only the pages an evaluation touches take memory.
pub(crate) const STACK_BYTES: usize = 32 * 1024 * 1024;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed number of threads taking jobs from a bounded queue; they end when the pool
/// is dropped (after the job they are running, which its deadline bounds).
#[derive(Debug)]
pub(crate) struct Pool {
    jobs: SyncSender<Job>,
    workers: usize,
    queue: usize,
}

impl Pool {
    /// `workers` threads, and room for `queue` jobs waiting.
    pub(crate) fn start(workers: usize, queue: usize) -> Result<Self, String> {
        let (jobs, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..workers {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("fnmesh-jsonpath-{i}"))
                .stack_size(STACK_BYTES)
                .spawn(move || work(&receiver))
                .map_err(|e| format!("cannot start a JSONPath thread: {e}"))?;
        }
        Ok(Self { jobs, workers, queue })
    }

    /// Runs `job` on a pool thread and waits for its value.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JsonPathError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(job());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(JsonPathError::Busy { workers: self.workers, queue: self.queue });
            }
            Err(TrySendError::Disconnected(_)) => return Err(JsonPathError::Engine("every thread stopped".into())),
        }
        answer.await.map_err(|_| JsonPathError::Engine("the evaluation thread stopped".into()))
    }
}

fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let job = match jobs.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        // A panic (a bug of ours) fails that evaluation, not the thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}
