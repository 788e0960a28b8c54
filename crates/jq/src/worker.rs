//! The worker process: reads its [`Config`], limits its own address space, compiles the
//! program, then evaluates one input per frame until its standard input ends (see
//! [`crate::protocol`]).
//!
//! Whatever a program does, the worst outcome is this process dying (out of memory:
//! the allocator aborts under `RLIMIT_AS`; stack overflow) or being killed by the pool
//! (time limit): the function that owns the pool carries on with a new worker.
//!
//! A worker never outlives the pool's process. Its first act is to ask the kernel for
//! `SIGKILL` when its parent dies (`PR_SET_PDEATHSIG`, through `rustix`): a function
//! killed with `SIGKILL` cannot stop its workers, and one in the middle of a runaway
//! program would otherwise spin on, orphaned. The parent could die before that request,
//! so the worker then checks that its parent is still the pool's process (its pid comes
//! in the [`Config`]) and exits if not. Without work, a worker also exits when its
//! standard input ends, which the parent's death does too.

use std::io::{BufRead, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;

use jaq_core::{Ctx, Vars};
use jaq_json::Val;

use crate::compile::{Data, Filter, compile, global_values};
use crate::json::{self, WriteError};
use crate::protocol::{Config, ErrorKind, HEADER, Message, PROTOCOL, Tag, begin_frame, end_frame, frame_len, truncate};
use crate::read::read_payload;

/// The worker's `main`: call it when the process was started with [`crate::WORKER_ARG`].
pub fn worker_main() -> ExitCode {
    // First, before anything can run long: see the module documentation.
    let dies_with_parent = die_with_parent();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut output = std::io::stdout().lock();
    let mut line = Vec::new();
    if input.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
        return ExitCode::FAILURE;
    }
    let (config, filter) = match start(&line, dies_with_parent) {
        Ok(started) => started,
        Err(message) => {
            send_message(&mut output, &Message::Error { kind: ErrorKind::Start, message: truncate(message) });
            return ExitCode::FAILURE;
        }
    };
    if !send_message(&mut output, &Message::Ready) {
        return ExitCode::FAILURE;
    }
    serve(&config, &filter, &mut input, &mut output);
    ExitCode::SUCCESS
}

/// Bytes asked of the pipe at once.
const READ_BYTES: usize = 64 * 1024;
/// Room for replies kept between batches.
const KEPT_BYTES: usize = 1024 * 1024;

/// Answers frames until the input ends or the output breaks. Every complete frame that
/// one read brings is evaluated before the next read, and their replies go out in one
/// write, unless the batch takes longer than `hold_micros`: then what is held goes out
/// before the next evaluation starts, so that a reply waits behind no evaluation that
/// starts that late (the pool's deadlines count from the replies it gets).
fn serve(config: &Config, filter: &Filter, input: &mut impl Read, output: &mut impl Write) {
    let hold = Duration::from_micros(config.hold_micros);
    // The globals ($ENV), made once: each evaluation gets a reference.
    let globals = Vars::new(global_values());
    let mut chunk = vec![0; READ_BYTES];
    let mut pending: Vec<u8> = Vec::new();
    let mut replies = Vec::with_capacity(READ_BYTES);
    loop {
        let mut end = complete_frames(&pending);
        while end == 0 {
            match input.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
            }
            end = complete_frames(&pending);
        }
        let started = Instant::now();
        let batch = Bytes::from(std::mem::take(&mut pending));
        pending.extend_from_slice(&batch[end..]);
        let mut at = 0;
        while at < end {
            let len = frame_len(&batch[at..]).unwrap_or_default();
            if !replies.is_empty() && started.elapsed() >= hold && !send(output, &mut replies) {
                return;
            }
            evaluate(config, filter, &globals, &batch.slice(at + HEADER..at + HEADER + len), &mut replies);
            at += HEADER + len;
        }
        if !send(output, &mut replies) {
            return;
        }
    }
}

/// Where the complete frames at the start of `buf` end.
fn complete_frames(buf: &[u8]) -> usize {
    let mut end = 0;
    while let Some(len) = frame_len(&buf[end..]) {
        if buf.len() - end - HEADER < len {
            break;
        }
        end += HEADER + len;
    }
    end
}

fn send(output: &mut impl Write, replies: &mut Vec<u8>) -> bool {
    let sent = output.write_all(replies).and_then(|()| output.flush()).is_ok();
    replies.clear();
    // After a large reply, its room is given back (it counts against RLIMIT_AS).
    replies.shrink_to(KEPT_BYTES);
    sent
}

fn start(line: &[u8], dies_with_parent: Result<(), String>) -> Result<(Config, Filter), String> {
    let config: Config = serde_json::from_slice(line).map_err(|e| format!("bad worker config: {e}"))?;
    if config.protocol != PROTOCOL {
        return Err(format!("protocol {} is not {PROTOCOL}: the worker binary is of another version", config.protocol));
    }
    dies_with_parent?;
    let parent = std::os::unix::process::parent_id();
    if parent != config.parent_pid {
        return Err(format!(
            "this worker's parent is process {parent}, not the pool's process {}: the pool is gone, or the worker \
             was started through a program that forks (start it directly, or with exec)",
            config.parent_pid
        ));
    }
    rlimit::setrlimit(rlimit::Resource::CORE, 0, 0).map_err(|e| format!("cannot disable core dumps: {e}"))?;
    rlimit::setrlimit(rlimit::Resource::AS, config.memory_bytes, config.memory_bytes)
        .map_err(|e| format!("cannot limit memory to {} bytes: {e}", config.memory_bytes))?;
    let filter = compile(&config.program).map_err(|e| e.to_string())?;
    Ok((config, filter))
}

/// Asks the kernel to kill this process when its parent dies.
#[cfg(target_os = "linux")]
fn die_with_parent() -> Result<(), String> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| format!("cannot ask to be killed with the pool's process (PR_SET_PDEATHSIG): {e}"))
}

/// Elsewhere, a worker busy with a runaway program outlives a pool killed with `SIGKILL`.
#[cfg(not(target_os = "linux"))]
fn die_with_parent() -> Result<(), String> {
    Ok(())
}

/// Runs the filter on one input and appends the reply frame to `replies`.
fn evaluate(config: &Config, filter: &Filter, globals: &Vars<Val>, input: &Bytes, replies: &mut Vec<u8>) {
    let frame = begin_frame(replies);
    let input = match read_payload(input) {
        Ok(input) => input,
        Err(message) => return error(replies, frame, Tag::Runtime, message),
    };
    replies.push(Tag::Ok as u8);
    // The outputs' JSON and their newlines count against the budget.
    let budget = config.max_output_bytes;
    let limit = replies.len() + budget;
    let ctx = Ctx::<Data>::new(&filter.lut, globals.clone());
    for (count, output) in filter.id.run((ctx, input)).enumerate() {
        if count == config.max_outputs {
            let message = format!("the program yields more than {} outputs", config.max_outputs);
            return error(replies, frame, Tag::Limit, message);
        }
        let value: Val = match output {
            Ok(value) => value,
            Err(exn) => {
                let message = match exn.get_err() {
                    // As jq prints them: a string error as its text, other values as JSON.
                    Ok(err) => match err.into_val() {
                        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(&b).into_owned(),
                        other => format!("{other} (not a string)"),
                    },
                    Err(exn) => match exn.get_halt() {
                        Ok(code) => format!("the program called halt with exit code {code}"),
                        Err(_) => "the program failed".to_owned(),
                    },
                };
                return error(replies, frame, Tag::Runtime, message);
            }
        };
        let written = json::write(replies, limit, &value);
        if written.is_ok() && replies.len() < limit {
            replies.push(b'\n');
            continue;
        }
        let message = match written {
            Err(WriteError::TooDeep) => format!("an output nests deeper than {} levels", crate::protocol::MAX_DEPTH),
            _ => format!("the outputs take more than {budget} bytes of JSON"),
        };
        return error(replies, frame, Tag::Limit, message);
    }
    end_frame(replies, frame);
}

/// Replaces the reply frame begun at `frame` with an error.
fn error(replies: &mut Vec<u8>, frame: usize, tag: Tag, message: String) {
    replies.truncate(frame + HEADER);
    replies.push(tag as u8);
    replies.extend_from_slice(truncate(message).as_bytes());
    end_frame(replies, frame);
}

fn send_message(output: &mut impl Write, message: &Message) -> bool {
    let mut line = serde_json::to_vec(message).unwrap_or_default();
    line.push(b'\n');
    output.write_all(&line).and_then(|()| output.flush()).is_ok()
}
