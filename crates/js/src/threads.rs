//! Engine threads, each with its own QuickJS runtime and compiled expression, and a
//! watchdog that gives up on an engine stuck in one evaluation: where the expressions
//! that are not straight-line (see `straight`) are evaluated.
//!
//! The interrupt handler stops most runaway expressions at `FNMESH_EVAL_TIMEOUT`, but
//! QuickJS does not poll it everywhere: a string search (`includes`, `indexOf`, `split`,
//! `replaceAll` of a long needle in a long string) runs for minutes without a check.
//! So the deadline also holds on the Rust side: the watchdog answers an evaluation still
//! running past [`abandon_after`] with [`JsError::Abandoned`] itself, marks its thread
//! abandoned (its eventual result is discarded, then the thread ends) and starts a fresh
//! engine thread in its place, as long as no more than `workers + abandoned` (see
//! [`Limits`]) engine threads exist; past that a stuck engine is not replaced, and when no
//! engine is left the pool answers [`JsError::NoEngine`] at once (queued evaluations too).
//! [`EngineThreads::health`] reports abandoned threads until they end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::engine::{Call, Engine, Outcome, Program};
use crate::input::Input;
use crate::queue::{Queue, Refused};
use crate::{JsError, Limits};

type Reply = oneshot::Sender<Result<Outcome, JsError>>;

struct Job {
    call: Call,
    input: Input,
    reply: Reply,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("call", &self.call).finish_non_exhaustive()
    }
}

/// How long an evaluation may run before the watchdog gives up on its engine: the time
/// limit plus as much again (at least 20 ms, at most 1 s) for the interrupt to work.
pub fn abandon_after(timeout: Duration) -> Duration {
    timeout + timeout.clamp(Duration::from_millis(20), Duration::from_secs(1))
}

/// A compiled expression on `limits.workers` engine threads.
#[derive(Debug, Clone)]
pub(crate) struct EngineThreads {
    shared: Arc<Shared>,
    /// Closes the queue when the last clone of the pool is dropped, so that the engine
    /// threads end.
    _open: Arc<Open>,
}

/// The pool's hold on its queue.
#[derive(Debug)]
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.queue.close();
    }
}

/// What the engine threads, the watchdog and the pool share.
struct Shared {
    program: Program,
    limits: Limits,
    queue: Queue<Job>,
    threads: Mutex<Threads>,
    /// Mirrors of `threads`' counts, read without the lock.
    live: AtomicUsize,
    abandoned: AtomicUsize,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("var", &self.program.var)
            .field("live", &self.live)
            .field("abandoned", &self.abandoned)
            .finish_non_exhaustive()
    }
}

/// The engine threads that serve, and how many were given up on.
#[derive(Default)]
struct Threads {
    live: Vec<Arc<Slot>>,
    abandoned: usize,
    started: usize,
}

/// One engine thread's evaluation in progress. Its reply goes to whoever takes it
/// first: the thread when the evaluation ends, or the watchdog past the deadline.
#[derive(Default)]
struct Slot {
    running: Mutex<Option<Running>>,
}

struct Running {
    since: Instant,
    reply: Reply,
}

impl Slot {
    fn start(&self, reply: Reply) {
        *lock(&self.running) = Some(Running { since: Instant::now(), reply });
    }

    /// The reply, unless the watchdog took it.
    fn finish(&self) -> Option<Reply> {
        lock(&self.running).take().map(|running| running.reply)
    }

    /// The reply of an evaluation running for longer than `limit`.
    fn take_overdue(&self, now: Instant, limit: Duration) -> Option<Reply> {
        let mut running = lock(&self.running);
        if running.as_ref().is_some_and(|r| now.duration_since(r.since) > limit) {
            return running.take().map(|r| r.reply);
        }
        None
    }
}

/// A lock whose holder never panics while holding it: poisoning carries no meaning here.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EngineThreads {
    /// Starts `limits.workers` engine threads for `program` (which compiles: the caller
    /// checked) and their watchdog.
    pub(crate) fn start(program: Program, limits: Limits) -> Result<Self, JsError> {
        let shared = Arc::new(Shared {
            program,
            limits,
            queue: Queue::new(limits.queue),
            threads: Mutex::new(Threads::default()),
            live: AtomicUsize::new(0),
            abandoned: AtomicUsize::new(0),
        });
        {
            let mut threads = lock(&shared.threads);
            for _ in 0..limits.workers.max(1) {
                shared.spawn_worker(&mut threads)?;
            }
        }
        let watched = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("js-watchdog".into())
            .spawn(move || watch(&watched))
            .map_err(|e| JsError::Engine(format!("cannot start the engine watchdog: {e}")))?;
        Ok(Self { _open: Arc::new(Open(shared.clone())), shared })
    }

    /// `Err` with the reason while engine threads are abandoned in an evaluation (they
    /// still use a core each) or fewer engines serve than `limits.workers`; for `/healthz`.
    pub(crate) fn health(&self) -> Result<(), String> {
        let shared = &self.shared;
        let (live, abandoned) = (shared.live.load(Ordering::Acquire), shared.abandoned.load(Ordering::Acquire));
        let workers = shared.limits.workers.max(1);
        if abandoned == 0 && live >= workers {
            return Ok(());
        }
        let (var, limit) = (&shared.program.var, shared.limits.timeout);
        if abandoned == 0 {
            return Err(format!(
                "{var}: {live} of {workers} JavaScript engines serving; one could not start (see the log)"
            ));
        }
        Err(format!(
            "{var}: {abandoned} JavaScript engine(s) stuck in an evaluation past FNMESH_EVAL_TIMEOUT ({limit:?}), \
             abandoned and still running; {live} of {workers} engines serving"
        ))
    }

    /// Evaluates on the first free engine thread.
    pub(crate) async fn submit(&self, call: Call, input: Input) -> Result<Outcome, JsError> {
        if self.shared.live.load(Ordering::Acquire) == 0 {
            return Err(self.shared.no_engine());
        }
        let (reply, answer) = oneshot::channel();
        match self.shared.queue.push(Job { call, input, reply }) {
            Ok(()) => {}
            Err(Refused::Full(_)) => {
                let limits = &self.shared.limits;
                return Err(JsError::Busy { workers: limits.workers, queue: limits.queue });
            }
            Err(Refused::Closed(_)) => return Err(JsError::Engine("every engine thread stopped".into())),
        }
        answer.await.map_err(|_| JsError::Engine("the engine thread stopped".into()))?
    }
}

impl Shared {
    fn no_engine(&self) -> JsError {
        JsError::NoEngine { abandoned: self.abandoned.load(Ordering::Acquire) }
    }

    /// Starts one engine thread and counts it as serving.
    fn spawn_worker(self: &Arc<Self>, threads: &mut Threads) -> Result<(), JsError> {
        let slot = Arc::new(Slot::default());
        let (shared, mine) = (self.clone(), slot.clone());
        threads.started += 1;
        std::thread::Builder::new()
            .name(format!("js-{}", threads.started - 1))
            .stack_size(self.limits.stack_bytes * 4 + 2 * 1024 * 1024)
            .spawn(move || work(&shared, &mine))
            .map_err(|e| JsError::Engine(format!("cannot start an engine thread: {e}")))?;
        threads.live.push(slot);
        self.live.store(threads.live.len(), Ordering::Release);
        Ok(())
    }

    /// Starts engine threads until `workers` serve, within the bound on threads that
    /// abandoned ones leave.
    fn top_up(self: &Arc<Self>, threads: &mut Threads) {
        let (workers, most) = (self.limits.workers.max(1), self.limits.workers.max(1) + self.limits.abandoned);
        while threads.live.len() < workers && threads.live.len() + threads.abandoned < most {
            if let Err(err) = self.spawn_worker(threads) {
                tracing::error!(%err, "cannot replace a JavaScript engine");
                return;
            }
        }
    }

    /// Removes `slot` from the serving threads.
    fn retire(&self, threads: &mut Threads, slot: &Arc<Slot>) {
        threads.live.retain(|s| !Arc::ptr_eq(s, slot));
        self.live.store(threads.live.len(), Ordering::Release);
    }

    /// One watchdog round: answers and abandons overdue evaluations, replaces their
    /// engines, and answers what waits when no engine is left.
    fn check(self: &Arc<Self>) {
        let limit = abandon_after(self.limits.timeout);
        let now = Instant::now();
        let mut threads = lock(&self.threads);
        let overdue: Vec<(Arc<Slot>, Reply)> =
            threads.live.iter().filter_map(|slot| Some((slot.clone(), slot.take_overdue(now, limit)?))).collect();
        for (slot, reply) in overdue {
            let _ = reply.send(Err(JsError::Abandoned { var: self.program.var.clone(), after: limit }));
            self.retire(&mut threads, &slot);
            threads.abandoned += 1;
            self.abandoned.store(threads.abandoned, Ordering::Release);
            tracing::error!(
                var = %self.program.var, after = ?limit, abandoned = threads.abandoned,
                "a JavaScript evaluation ignored its interrupt; its engine thread is abandoned"
            );
        }
        self.top_up(&mut threads);
        if threads.live.is_empty() {
            drop(threads);
            self.refuse_waiting();
        }
    }

    /// Answers every queued evaluation with [`JsError::NoEngine`] (no engine would take them).
    fn refuse_waiting(&self) {
        while let Some(job) = self.queue.try_pop() {
            drop(job.reply.send(Err(self.no_engine())));
        }
    }

    /// An abandoned thread finished its evaluation: one fewer, and room for a new engine.
    fn abandoned_finished(self: &Arc<Self>) {
        let mut threads = lock(&self.threads);
        threads.abandoned = threads.abandoned.saturating_sub(1);
        self.abandoned.store(threads.abandoned, Ordering::Release);
        self.top_up(&mut threads);
    }
}

/// The watchdog: a round every quarter of the time limit (5 ms to 250 ms) until the
/// pool and its threads are gone.
fn watch(shared: &Weak<Shared>) {
    let Some(timeout) = shared.upgrade().map(|s| s.limits.timeout) else { return };
    let tick = (timeout / 4).clamp(Duration::from_millis(5), Duration::from_millis(250));
    loop {
        std::thread::sleep(tick);
        let Some(shared) = shared.upgrade() else { return };
        shared.check();
    }
}

/// An engine thread: takes jobs until the pool is dropped; rebuilds its engine after a
/// timeout or running out of memory; ends when the watchdog abandoned it.
fn work(shared: &Arc<Shared>, slot: &Arc<Slot>) {
    let mut engine = match Engine::new(&shared.program, &shared.limits) {
        Ok(engine) => engine,
        Err(err) => {
            tracing::error!(%err, "JavaScript engine thread cannot start");
            shared.retire(&mut lock(&shared.threads), slot);
            return;
        }
    };
    let me = std::thread::current();
    loop {
        let Some(job) = shared.queue.pop(&me) else { return };
        slot.start(job.reply);
        let result = engine.call(&job.call, &job.input);
        let Some(reply) = slot.finish() else {
            tracing::warn!(var = %shared.program.var, "an abandoned JavaScript engine finished; its result is discarded");
            drop(engine);
            shared.abandoned_finished();
            return;
        };
        let spent = matches!(&result, Err(err) if Engine::is_spent(err));
        if let Err(err) = &result
            && spent
        {
            tracing::warn!(%err, "rebuilding the JavaScript engine");
        }
        let _ = reply.send(result);
        if spent {
            match Engine::new(&shared.program, &shared.limits) {
                Ok(fresh) => engine = fresh,
                Err(err) => {
                    tracing::error!(%err, "cannot rebuild the JavaScript engine");
                    shared.retire(&mut lock(&shared.threads), slot);
                    return;
                }
            }
        }
    }
}
