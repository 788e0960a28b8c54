//! A pool of worker processes that run one jq program, each bounded in time (killed
//! and replaced when an evaluation runs too long) and in memory (`RLIMIT_AS`). Workers
//! are started by [`crate::spawner`]'s thread and die with this process (see
//! [`crate::worker`]), even when it is killed with `SIGKILL` and cannot stop them itself.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::driver::{self, Job, MAX_BATCH, MAX_BATCH_BYTES};
use crate::outputs::Outputs;
use crate::protocol::{Config, Message, PROTOCOL};
use crate::{JqError, Limits, ObjectInput, WorkerCommand, compile, spawner};

/// A compiled jq program and the worker processes that run it.
#[derive(Debug)]
pub struct JqPool {
    shared: Arc<Shared>,
}

/// What the pool and the tasks of its workers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) limits: Limits,
    pub(crate) command: WorkerCommand,
    /// Evaluations waiting for a worker, oldest first.
    queue: Mutex<VecDeque<Job>>,
    /// Told when evaluations are queued, and when the pool closes.
    work: Notify,
    closed: AtomicBool,
    /// Worker tasks running (each starts its process when it first has work).
    drivers: AtomicUsize,
}

impl JqPool {
    /// Compiles `program` (errors give line and column) and checks, with one worker
    /// started and stopped here, that `command` runs it under the limits. Workers are
    /// then started when evaluations need them (at most `limits.workers`). Blocking: call
    /// it at start, not from async code.
    pub fn new(program: &str, limits: Limits, command: WorkerCommand) -> Result<Self, JqError> {
        check(&limits)?;
        compile::compile(program)?;
        let config = Config {
            protocol: PROTOCOL,
            program: program.to_owned(),
            memory_bytes: limits.memory_bytes,
            max_outputs: limits.max_outputs,
            max_output_bytes: limits.max_output_bytes,
            hold_micros: hold(limits.timeout).as_micros() as u64,
            parent_pid: std::process::id(),
        };
        probe(&command, &config)?;
        let shared = Shared {
            config,
            limits,
            command,
            queue: Mutex::new(VecDeque::new()),
            work: Notify::new(),
            closed: AtomicBool::new(false),
            drivers: AtomicUsize::new(0),
        };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// [`Self::new`], then starts every worker now rather than on demand.
    pub async fn start(program: &str, limits: Limits, command: WorkerCommand) -> Result<Self, JqError> {
        let program = program.to_owned();
        let pool = tokio::task::spawn_blocking(move || Self::new(&program, limits, command))
            .await
            .map_err(|e| JqError::Worker(e.to_string()))??;
        let mut workers = Vec::with_capacity(limits.workers);
        for _ in 0..limits.workers {
            workers.push(driver::spawn(&pool.shared).await?);
        }
        for worker in workers {
            pool.shared.drivers.fetch_add(1, Ordering::AcqRel);
            tokio::spawn(driver::drive(pool.shared.clone(), Some(worker)));
        }
        Ok(pool)
    }

    /// Every output of the program for `input` (one JSON value, as text), parsed.
    pub async fn run(&self, input: &str) -> Result<Vec<serde_json::Value>, JqError> {
        let outputs = self.run_json(input.as_bytes()).await?;
        outputs.values().map_err(|e| JqError::Worker(format!("unreadable output: {e}")))
    }

    /// Every output of the program for `input` (one JSON value, as text), as JSON text.
    pub async fn run_json(&self, input: &[u8]) -> Result<Outputs, JqError> {
        self.evaluate(crate::input::json(input)).await
    }

    /// Every output of the program for the object `input`, as JSON text.
    pub async fn run_object(&self, input: ObjectInput) -> Result<Outputs, JqError> {
        self.evaluate(input.into_payload()).await
    }

    async fn evaluate(&self, input: Vec<u8>) -> Result<Outputs, JqError> {
        self.shared.start_drivers();
        let (reply, result) = oneshot::channel();
        self.shared.queue.lock().unwrap_or_else(|e| e.into_inner()).push_back(Job { input, reply });
        self.shared.work.notify_one();
        result.await.unwrap_or_else(|_| Err(JqError::Worker("the worker's task stopped (its runtime ended)".into())))
    }
}

impl Drop for JqPool {
    fn drop(&mut self) {
        // The tasks end, and with them their workers (killed on drop).
        self.shared.closed.store(true, Ordering::Release);
        self.shared.work.notify_waiters();
    }
}

impl Shared {
    /// Starts the worker tasks that are not running (none yet, or their runtime ended).
    fn start_drivers(self: &Arc<Self>) {
        let mut running = self.drivers.load(Ordering::Acquire);
        while running < self.limits.workers {
            match self.drivers.compare_exchange(running, running + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    tokio::spawn(driver::drive(self.clone(), None));
                    running += 1;
                }
                Err(now) => running = now,
            }
        }
    }

    pub(crate) fn driver_stopped(&self) {
        self.drivers.fetch_sub(1, Ordering::AcqRel);
    }

    /// Waits for evaluations and moves them to `batch` (all that wait, within the batch
    /// limits); `false` once the pool is closed.
    pub(crate) async fn take(&self, batch: &mut VecDeque<Job>) -> bool {
        let mut waited = false;
        loop {
            if waited {
                // Woken by the first evaluation queued: the request tasks that are ready
                // to run queue theirs first, and they go together.
                tokio::task::yield_now().await;
            }
            let notified = self.work.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            let more = {
                let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                let mut bytes = 0;
                while let Some(job) = queue.front() {
                    let full = batch.len() == MAX_BATCH || bytes + job.input.len() > MAX_BATCH_BYTES;
                    if full && !batch.is_empty() {
                        break;
                    }
                    let Some(job) = queue.pop_front() else { break };
                    // Its caller is gone (a request cancelled): nobody wants the answer.
                    if !job.reply.is_closed() {
                        bytes += job.input.len();
                        batch.push_back(job);
                    }
                }
                !queue.is_empty()
            };
            if !batch.is_empty() {
                if more {
                    // Another task may take the rest.
                    self.work.notify_one();
                }
                return true;
            }
            notified.await;
            waited = true;
        }
    }
}

/// How long a worker may hold replies to send them together: a small share of the
/// timeout (see [`crate::driver`]), at most 1 ms.
fn hold(timeout: Duration) -> Duration {
    (timeout / 16).min(Duration::from_millis(1))
}

/// Starts one worker with `std::process`, waits (10 s at most) for it to be ready, and
/// stops it: a wrong worker program or a sandbox that cannot be set up fails at start.
fn probe(command: &WorkerCommand, config: &Config) -> Result<(), JqError> {
    use std::io::{BufRead, Read, Write};
    let program = command.program().display().to_string();
    let mut std_command = command.std_command();
    let (send, receive) = std::sync::mpsc::channel();
    spawner::submit(move || {
        let _ = send.send(std_command.spawn());
    })?;
    let mut child = receive
        .recv()
        .map_err(|_| JqError::Worker(format!("cannot start {program}: the spawner dropped the request")))?
        .map_err(|e| JqError::Worker(format!("cannot start {program}: {e}")))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(JqError::Worker("the worker has no pipes".into()));
    };
    let mut line = serde_json::to_vec(config).map_err(|e| JqError::Worker(e.to_string()))?;
    line.push(b'\n');
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reply = Vec::new();
        let read = stdin
            .write_all(&line)
            .and_then(|()| stdin.flush())
            .and_then(|()| std::io::BufReader::new(stdout).take(64 * 1024).read_until(b'\n', &mut reply));
        let _ = send.send(read.map(|_| reply));
    });
    let reply = receive.recv_timeout(std::time::Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    match reply {
        Err(_) => Err(JqError::Worker(format!("{program} did not get ready within 10s"))),
        Ok(Err(_)) => Err(JqError::Worker(format!("{program} exited before it was ready (is it a jq worker?)"))),
        Ok(Ok(reply)) if reply.is_empty() => {
            Err(JqError::Worker(format!("{program} exited before it was ready (is it a jq worker?)")))
        }
        Ok(Ok(reply)) => match serde_json::from_slice(&reply) {
            Ok(Message::Ready) => Ok(()),
            Ok(Message::Error { message, .. }) => Err(JqError::Worker(message)),
            _ => Err(JqError::Worker(format!("{program} did not answer as a jq worker"))),
        },
    }
}

fn check(limits: &Limits) -> Result<(), JqError> {
    if limits.workers == 0 {
        return Err(JqError::Config("workers must be at least 1".into()));
    }
    if limits.timeout.is_zero() {
        return Err(JqError::Config("the timeout must be more than zero".into()));
    }
    if limits.memory_bytes < 16 * 1024 * 1024 {
        return Err(JqError::Config("the memory limit must be at least 16 MiB".into()));
    }
    if limits.max_outputs == 0 || limits.max_output_bytes == 0 {
        return Err(JqError::Config("the output limits must be more than zero".into()));
    }
    Ok(())
}
