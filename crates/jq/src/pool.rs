//! A pool of worker processes that run one jq program, each bounded in time (killed
//! and replaced when an evaluation runs too long) and in memory (`RLIMIT_AS`). Workers
//! are started by [`crate::spawner`]'s thread and die with this process (see
//! [`crate::worker`]), even when it is killed with `SIGKILL` and cannot stop them itself.

use std::sync::Mutex;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::Semaphore;

use crate::protocol::{Config, ErrorKind, MAX_MESSAGE_BYTES, Message, PROTOCOL};
use crate::{JqError, Limits, WorkerCommand, compile, spawner};

/// A compiled jq program and the worker processes that run it.
#[derive(Debug)]
pub struct JqPool {
    config: Config,
    limits: Limits,
    command: WorkerCommand,
    idle: Mutex<Vec<Worker>>,
    permits: Semaphore,
}

#[derive(Debug)]
struct Worker {
    // Killed when dropped (`kill_on_drop`).
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
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
            parent_pid: std::process::id(),
        };
        probe(&command, &config)?;
        Ok(Self { config, limits, command, idle: Mutex::new(Vec::new()), permits: Semaphore::new(limits.workers) })
    }

    /// [`Self::new`], then starts every worker now rather than on demand.
    pub async fn start(program: &str, limits: Limits, command: WorkerCommand) -> Result<Self, JqError> {
        let program = program.to_owned();
        let pool = tokio::task::spawn_blocking(move || Self::new(&program, limits, command))
            .await
            .map_err(|e| JqError::Worker(e.to_string()))??;
        let mut workers = Vec::with_capacity(limits.workers);
        for _ in 0..limits.workers {
            workers.push(pool.spawn().await?);
        }
        *pool.idle.lock().unwrap_or_else(|e| e.into_inner()) = workers;
        Ok(pool)
    }

    /// Every output of the program for `input` (one JSON value, as text).
    pub async fn run(&self, input: &str) -> Result<Vec<serde_json::Value>, JqError> {
        let _permit = self.permits.acquire().await.map_err(|_| JqError::Worker("the pool is closed".into()))?;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut worker = match idle {
            Some(worker) => worker,
            None => self.spawn().await?,
        };
        // One line in: JSON text never holds a raw newline outside strings, and
        // `serde_json` output has none; a pretty-printed input is made compact first.
        let line = if input.contains('\n') {
            serde_json::from_str::<serde_json::Value>(input)
                .map_err(|e| JqError::Runtime(format!("the input is not JSON: {e}")))?
                .to_string()
        } else {
            input.to_owned()
        };
        let exchange = async {
            worker.stdin.write_all(line.as_bytes()).await?;
            worker.stdin.write_all(b"\n").await?;
            worker.stdin.flush().await?;
            read_line(&mut worker.stdout, self.limits.max_output_bytes + MAX_MESSAGE_BYTES + 64).await
        };
        let reply = match tokio::time::timeout(self.limits.timeout, exchange).await {
            // The worker is dropped, hence killed; the next call starts another.
            Err(_) => return Err(JqError::Timeout(self.limits.timeout)),
            Ok(Err(_)) | Ok(Ok(None)) => {
                return Err(JqError::ResourceExhausted(
                    "the worker died (memory limit or stack exhausted) and is replaced".into(),
                ));
            }
            Ok(Ok(Some(reply))) => reply,
        };
        let message: Message =
            serde_json::from_slice(&reply).map_err(|e| JqError::Worker(format!("unreadable reply: {e}")))?;
        let result = match message {
            Message::Ok(outputs) => Ok(outputs),
            Message::Error { kind: ErrorKind::Runtime, message } => Err(JqError::Runtime(message)),
            Message::Error { kind: ErrorKind::Limit, message } => Err(JqError::ResourceExhausted(message)),
            other => Err(JqError::Worker(format!("unexpected reply {other:?}"))),
        };
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(worker);
        result
    }

    async fn spawn(&self) -> Result<Worker, JqError> {
        let program = self.command.program().display().to_string();
        let mut command = self.command.command();
        let runtime = tokio::runtime::Handle::current();
        let (send, receive) = tokio::sync::oneshot::channel();
        spawner::submit(move || {
            // The child's pipes and its reaping belong to the caller's runtime.
            let _context = runtime.enter();
            let _ = send.send(command.spawn());
        })?;
        let mut child = receive
            .await
            .map_err(|_| JqError::Worker(format!("cannot start {program}: the spawner dropped the request")))?
            .map_err(|e| JqError::Worker(format!("cannot start {program}: {e}")))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(JqError::Worker("the worker has no pipes".into()));
        };
        let mut stdout = BufReader::new(stdout);
        let mut config = serde_json::to_vec(&self.config).map_err(|e| JqError::Worker(e.to_string()))?;
        config.push(b'\n');
        let hello = async {
            stdin.write_all(&config).await?;
            stdin.flush().await?;
            read_line(&mut stdout, MAX_MESSAGE_BYTES + 64).await
        };
        let reply = match tokio::time::timeout(std::time::Duration::from_secs(10), hello).await {
            Ok(Ok(Some(reply))) => reply,
            Ok(Ok(None)) | Ok(Err(_)) => {
                return Err(JqError::Worker(format!("{program} exited before it was ready (is it a jq worker?)")));
            }
            Err(_) => return Err(JqError::Worker(format!("{program} did not get ready within 10s"))),
        };
        match serde_json::from_slice(&reply) {
            Ok(Message::Ready) => Ok(Worker { _child: child, stdin, stdout }),
            Ok(Message::Error { message, .. }) => Err(JqError::Worker(message)),
            _ => Err(JqError::Worker(format!("{program} did not answer as a jq worker"))),
        }
    }
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

/// One line, without its newline; `None` at the end of the stream. A longer line than
/// `limit` is an error.
async fn read_line(reader: &mut BufReader<ChildStdout>, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let read = reader.take(limit as u64 + 1).read_until(b'\n', &mut line).await?;
    if read == 0 {
        return Ok(None);
    }
    if line.pop() != Some(b'\n') {
        return Err(std::io::Error::other("the reply is too long or cut short"));
    }
    Ok(Some(line))
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
