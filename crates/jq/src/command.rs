//! The command that starts a worker process.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// How to start a worker: a program that calls [`crate::worker_main`] when given these
/// arguments. Workers start with an empty environment in `/`. The program must become
/// the worker itself (a script may `exec` it): a worker whose parent is not the pool's
/// process refuses to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    program: PathBuf,
    args: Vec<OsString>,
}

impl WorkerCommand {
    /// `program` with no arguments.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into(), args: Vec::new() }
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// The program.
    pub fn program(&self) -> &std::path::Path {
        &self.program
    }

    /// The command, with piped standard streams, killed when dropped.
    pub(crate) fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::from(self.std_command());
        command.kill_on_drop(true);
        command
    }

    /// The same command for `std::process` (the start-up check runs outside async code).
    pub(crate) fn std_command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            // A worker that allocates with mimalloc (one that links fnmesh-runtime) would
            // otherwise reserve a 1 GiB arena at start-up, before its RLIMIT_AS is set, and
            // then allocate inside it unchecked: every allocation goes to the OS instead.
            .env("MIMALLOC_DISALLOW_ARENA_ALLOC", "1")
            .current_dir("/")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            // `debug` and `stderr` print nothing, and nobody would drain a pipe.
            .stderr(std::process::Stdio::null());
        command
    }
}
