//! jq programs (run by `jaq`) over JSON values, sandboxed in worker processes.
//!
//! A [`JqPool`] compiles the program once at start (errors say line and column), then
//! runs it in a few worker processes: each evaluation is bounded in time (the worker is
//! killed and replaced when it runs over), in memory (`RLIMIT_AS` on the worker), and in
//! the number and size of its outputs. Evaluations that queue while a worker is busy go
//! to it together, in one write, and come back in one (`driver.rs`); inputs may be
//! JSON text or an [`ObjectInput`] built member by member, outputs come back as JSON
//! text ([`Outputs`]). The program sees only its input: no environment
//! (`env` and `$ENV` are `{}`), no files, no modules, no `input`. Workers die with the
//! process that started them, even one killed with `SIGKILL` (`PR_SET_PDEATHSIG`).
//!
//! The worker is any executable that calls [`worker_main`] when its first argument is
//! [`WORKER_ARG`]: functions re-execute themselves (the transformer's `main` calls it on
//! that argument, and its pool runs `WorkerCommand::new(current_exe).arg(WORKER_ARG)`); the
//! `fnmesh-jq-worker` binary of this crate does only that.

mod command;
mod compile;
mod driver;
mod error;
mod input;
mod json;
mod limits;
mod object;
mod outputs;
mod pool;
mod protocol;
mod read;
mod spawner;
mod worker;

pub use command::WorkerCommand;
pub use error::JqError;
pub use input::ObjectInput;
pub use limits::Limits;
pub use outputs::Outputs;
pub use pool::JqPool;
pub use worker::worker_main;

/// The first argument that makes a program a jq worker.
pub const WORKER_ARG: &str = "--fnmesh-jq-worker";

/// Checks that `program` compiles, without starting any worker: the error gives the
/// line and column.
pub fn check_program(program: &str) -> Result<(), JqError> {
    compile::compile(program).map(drop)
}
