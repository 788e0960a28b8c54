//! One worker process and the task that feeds it.
//!
//! The task takes the evaluations queued in the pool, all that wait (up to [`MAX_BATCH`]
//! of them, [`MAX_BATCH_BYTES`] of input), writes them to its worker in one write, and
//! hands each reply to its caller as it comes. Under load, evaluations queue while the
//! worker is busy, so the wake-ups and pipe writes per evaluation fall as the load grows;
//! alone, an evaluation goes out at once.
//!
//! Each evaluation is bounded by the pool's timeout, counted from when its input was
//! written or the reply before it came, whichever is later. A worker that runs over or
//! dies is killed (dropped: `kill_on_drop`) and replaced. The first unanswered input of
//! the batch is the one being evaluated only when it is the last one unanswered: a worker
//! may hold its replies for a short while to send them together (see
//! [`crate::protocol::Config::hold_micros`]), so when more than one input is unanswered,
//! they are run again one at a time on a new worker, and each gets its own answer: its
//! outputs, or the time limit or the death of its worker, that only it caused.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::outputs::Outputs;
use crate::pool::Shared;
use crate::protocol::{HEADER, MAX_MESSAGE_BYTES, Message, Tag, frame_len, push_frame};
use crate::{JqError, spawner};

/// Most evaluations written to a worker at once.
pub(crate) const MAX_BATCH: usize = 64;
/// Most bytes of input written to a worker at once (a single larger input goes alone).
pub(crate) const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Bytes asked of the pipe at once.
const READ_BYTES: usize = 64 * 1024;
/// Room for replies kept between reads (more, after a large reply, is given back).
const KEPT_BYTES: usize = 1024 * 1024;

/// An evaluation waiting for a worker.
#[derive(Debug)]
pub(crate) struct Job {
    /// The input, a frame payload (see [`crate::input`]).
    pub input: Vec<u8>,
    /// Where its result goes.
    pub reply: oneshot::Sender<Result<Outputs, JqError>>,
}

/// A running worker process.
#[derive(Debug)]
pub(crate) struct Worker {
    // Killed when dropped (`kill_on_drop`).
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    /// What was read from `stdout` and not yet taken, from `taken` on.
    read: Vec<u8>,
    taken: usize,
}

/// Keeps the pool's count of running tasks right, however the task ends.
struct Running(Arc<Shared>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.driver_stopped();
    }
}

/// The task of one worker: runs batches until the pool closes.
pub(crate) async fn drive(shared: Arc<Shared>, mut worker: Option<Worker>) {
    let _running = Running(shared.clone());
    let mut batch = VecDeque::new();
    let mut frames = Vec::new();
    while shared.take(&mut batch).await {
        serve(&shared, &mut worker, &mut batch, &mut frames).await;
    }
}

/// Why a worker was given up.
enum Failure {
    Timeout,
    Died,
    Protocol(String),
}

impl Failure {
    fn error(&self, shared: &Shared) -> JqError {
        match self {
            Self::Timeout => JqError::Timeout(shared.limits.timeout),
            Self::Died => {
                JqError::ResourceExhausted("the worker died (memory limit or stack exhausted) and is replaced".into())
            }
            Self::Protocol(why) => JqError::Worker(why.clone()),
        }
    }
}

/// Answers every job of `batch`.
async fn serve(shared: &Shared, slot: &mut Option<Worker>, batch: &mut VecDeque<Job>, frames: &mut Vec<u8>) {
    let mut alone = false;
    while !batch.is_empty() {
        if slot.is_none() {
            match spawn(shared).await {
                Ok(worker) => *slot = Some(worker),
                Err(e) => {
                    for job in batch.drain(..) {
                        let _ = job.reply.send(Err(e.clone()));
                    }
                    return;
                }
            }
        }
        let Some(worker) = slot.as_mut() else { return };
        let count = if alone { 1 } else { batch.len() };
        frames.clear();
        for job in batch.iter().take(count) {
            push_frame(frames, &job.input);
        }
        let (answered, failure) = exchange(shared, worker, frames, count, batch).await;
        if let Some(failure) = failure {
            *slot = None;
            if count - answered == 1 {
                if let Some(job) = batch.pop_front() {
                    let _ = job.reply.send(Err(failure.error(shared)));
                }
            } else {
                alone = true;
            }
        }
    }
}

/// Writes `frames` (`count` inputs) and answers the jobs at the front of `batch` as their
/// replies come; returns how many were answered, and why the rest were not.
async fn exchange(
    shared: &Shared,
    worker: &mut Worker,
    frames: &[u8],
    count: usize,
    batch: &mut VecDeque<Job>,
) -> (usize, Option<Failure>) {
    let Worker { stdin, stdout, read, taken, .. } = worker;
    let limit = shared.limits.max_output_bytes + MAX_MESSAGE_BYTES + 64;
    let mut write = std::pin::pin!(stdin.write_all(frames));
    let mut written = false;
    let mut deadline = Instant::now() + shared.limits.timeout;
    let mut answered = 0;
    while answered < count {
        // Replies are read while the inputs are written: neither side waits on a full pipe.
        let reply = tokio::select! {
            biased;
            done = &mut write, if !written => {
                if done.is_err() {
                    return (answered, Some(Failure::Died));
                }
                written = true;
                continue;
            }
            reply = tokio::time::timeout_at(deadline, read_frame(stdout, read, taken, limit)) => reply,
        };
        let result = match reply {
            Err(_) => return (answered, Some(Failure::Timeout)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                return (answered, Some(Failure::Protocol(e.to_string())));
            }
            Ok(Err(_)) => return (answered, Some(Failure::Died)),
            Ok(Ok((tag, body))) => decode(tag, body),
        };
        if let Some(job) = batch.pop_front() {
            let _ = job.reply.send(result);
        }
        answered += 1;
        deadline = Instant::now() + shared.limits.timeout;
    }
    (answered, None)
}

fn decode(tag: Tag, body: Vec<u8>) -> Result<Outputs, JqError> {
    match tag {
        Tag::Ok => Ok(Outputs::from_text(body)),
        Tag::Runtime => Err(JqError::Runtime(String::from_utf8_lossy(&body).into_owned())),
        Tag::Limit => Err(JqError::ResourceExhausted(String::from_utf8_lossy(&body).into_owned())),
    }
}

/// The next reply frame: its tag and body. Cancel-safe: what was read stays in `read`.
async fn read_frame(
    stdout: &mut ChildStdout,
    read: &mut Vec<u8>,
    taken: &mut usize,
    limit: usize,
) -> std::io::Result<(Tag, Vec<u8>)> {
    loop {
        let rest = &read[*taken..];
        if let Some(len) = frame_len(rest) {
            if len == 0 || len > limit {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "a reply of a bad length"));
            }
            if rest.len() >= HEADER + len {
                let tag = Tag::from_byte(rest[HEADER])
                    .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "a reply of no known kind"))?;
                let body = rest[HEADER + 1..HEADER + len].to_vec();
                *taken += HEADER + len;
                return Ok((tag, body));
            }
        }
        fill(stdout, read, taken).await?;
    }
}

/// Reads what the pipe has into `read`, after dropping what was taken.
async fn fill(stdout: &mut ChildStdout, read: &mut Vec<u8>, taken: &mut usize) -> std::io::Result<()> {
    if *taken > 0 {
        read.drain(..*taken);
        *taken = 0;
    }
    if read.is_empty() && read.capacity() > KEPT_BYTES {
        // A large reply passed: its room is not kept for the next ones.
        *read = Vec::new();
    }
    read.reserve(READ_BYTES);
    match stdout.read_buf(read).await? {
        0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
        _ => Ok(()),
    }
}

/// Starts a worker and waits (10 s at most) for it to be ready.
pub(crate) async fn spawn(shared: &Shared) -> Result<Worker, JqError> {
    let program = shared.command.program().display().to_string();
    let mut command = shared.command.command();
    let runtime = tokio::runtime::Handle::current();
    let (send, receive) = oneshot::channel();
    spawner::submit(move || {
        // The child's pipes and its reaping belong to the caller's runtime.
        let _context = runtime.enter();
        let _ = send.send(command.spawn());
    })?;
    let mut child = receive
        .await
        .map_err(|_| JqError::Worker(format!("cannot start {program}: the spawner dropped the request")))?
        .map_err(|e| JqError::Worker(format!("cannot start {program}: {e}")))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(JqError::Worker("the worker has no pipes".into()));
    };
    let mut worker = Worker { _child: child, stdin, stdout, read: Vec::new(), taken: 0 };
    let mut config = serde_json::to_vec(&shared.config).map_err(|e| JqError::Worker(e.to_string()))?;
    config.push(b'\n');
    let hello = async {
        worker.stdin.write_all(&config).await?;
        read_line(&mut worker).await
    };
    let line = match tokio::time::timeout(std::time::Duration::from_secs(10), hello).await {
        Ok(Ok(line)) => line,
        Ok(Err(_)) => {
            return Err(JqError::Worker(format!("{program} exited before it was ready (is it a jq worker?)")));
        }
        Err(_) => return Err(JqError::Worker(format!("{program} did not get ready within 10s"))),
    };
    match serde_json::from_slice(&line) {
        Ok(Message::Ready) => Ok(worker),
        Ok(Message::Error { message, .. }) => Err(JqError::Worker(message)),
        _ => Err(JqError::Worker(format!("{program} did not answer as a jq worker"))),
    }
}

/// The worker's start-up line, without its newline.
async fn read_line(worker: &mut Worker) -> std::io::Result<Vec<u8>> {
    loop {
        if let Some(end) = worker.read[worker.taken..].iter().position(|&b| b == b'\n') {
            let line = worker.read[worker.taken..worker.taken + end].to_vec();
            worker.taken += end + 1;
            return Ok(line);
        }
        if worker.read.len() > MAX_MESSAGE_BYTES + 64 {
            return Err(std::io::Error::other("the start-up line is too long"));
        }
        fill(&mut worker.stdout, &mut worker.read, &mut worker.taken).await?;
    }
}
