//! The worker process: reads its [`Config`], limits its own address space, compiles the
//! program, then evaluates one input per line until its standard input ends.
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

use std::io::{BufRead, Write};
use std::process::ExitCode;

use jaq_core::{Ctx, Vars};
use jaq_json::Val;

use crate::compile::{Data, Filter, compile, global_values};
use crate::json::{self, WriteError};
use crate::protocol::{Config, ErrorKind, Message, PROTOCOL, truncate};

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
    let mut reply = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return ExitCode::SUCCESS,
            Ok(_) => {}
        }
        reply.clear();
        evaluate(&config, &filter, &line, &mut reply);
        reply.push(b'\n');
        if output.write_all(&reply).and_then(|()| output.flush()).is_err() {
            return ExitCode::SUCCESS;
        }
    }
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

/// Runs the filter on one input line and writes the reply (one JSON line) to `reply`.
fn evaluate(config: &Config, filter: &Filter, line: &[u8], reply: &mut Vec<u8>) {
    let input = match crate::read::read(&bytes::Bytes::copy_from_slice(line)) {
        Ok(input) => input,
        Err(message) => return error(reply, ErrorKind::Runtime, message),
    };
    reply.extend_from_slice(br#"{"ok":["#);
    let ctx = Ctx::<Data>::new(&filter.lut, Vars::new(global_values()));
    let budget = config.max_output_bytes;
    for (count, output) in filter.id.run((ctx, input)).enumerate() {
        if count == config.max_outputs {
            let message = format!("the program yields more than {} outputs", config.max_outputs);
            return restart(reply, ErrorKind::Limit, message);
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
                return restart(reply, ErrorKind::Runtime, message);
            }
        };
        if count > 0 {
            reply.push(b',');
        }
        match json::write(reply, budget, &value) {
            Ok(()) => {}
            Err(WriteError::TooLarge) => {
                let message = format!("the outputs take more than {budget} bytes of JSON");
                return restart(reply, ErrorKind::Limit, message);
            }
            Err(WriteError::TooDeep) => {
                let message = format!("an output nests deeper than {} levels", crate::protocol::MAX_DEPTH);
                return restart(reply, ErrorKind::Limit, message);
            }
        }
    }
    reply.extend_from_slice(b"]}");
}

fn restart(reply: &mut Vec<u8>, kind: ErrorKind, message: String) {
    reply.clear();
    error(reply, kind, message);
}

fn error(reply: &mut Vec<u8>, kind: ErrorKind, message: String) {
    let message = Message::Error { kind, message: truncate(message) };
    serde_json::to_writer(reply, &message).unwrap_or_default();
}

fn send_message(output: &mut impl Write, message: &Message) -> bool {
    let mut line = serde_json::to_vec(message).unwrap_or_default();
    line.push(b'\n');
    output.write_all(&line).and_then(|()| output.flush()).is_ok()
}
