//! A service run as a local command (annotation `fnmesh.dev/command`): started in a
//! process group of its own, so that stopping it ends everything it started (`sh -c`
//! and its children, `cargo run` and the binary it runs), never leaving an orphan; and
//! telling a crash (it exits on its own) from a stop.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use rustix::process::{Pid, Signal, kill_process_group};

/// A command's process group; killed (`SIGKILL` to the group) when dropped.
#[derive(Debug)]
pub struct CommandProcess {
    /// The leader's exit status, once it has exited (a task waits for it).
    exited: watch::Receiver<Option<ExitStatus>>,
    /// Set before fnmesh stops it: its exit is then no crash.
    stopping: Arc<AtomicBool>,
    /// The group's id: the child's pid, as it leads its own group.
    group: Option<Pid>,
}

impl CommandProcess {
    /// `child`, spawned with `process_group(0)` and `kill_on_drop`.
    pub fn new(mut child: tokio::process::Child) -> Self {
        let group = child.id().and_then(|id| i32::try_from(id).ok()).and_then(Pid::from_raw);
        let (exit, exited) = watch::channel(None);
        tokio::spawn(async move {
            // An error here means the child was already reaped: report it as gone.
            let status = child.wait().await.unwrap_or_else(|_| ExitStatus::from_raw(0));
            exit.send_replace(Some(status));
        });
        Self { exited, stopping: Arc::default(), group }
    }

    /// Whether the command has exited, and how.
    pub fn try_wait(&self) -> Option<ExitStatus> {
        *self.exited.borrow()
    }

    /// Resolves when the command exits: with how if it exited on its own, `None` if
    /// fnmesh stopped it.
    pub fn crashed(&self) -> impl Future<Output = Option<ExitStatus>> + Send + 'static {
        let (mut exited, stopping) = (self.exited.clone(), self.stopping.clone());
        async move {
            let status = exited.wait_for(Option::is_some).await.ok().and_then(|status| *status);
            status.filter(|_| !stopping.load(Ordering::SeqCst))
        }
    }

    /// Ends the group as a pod is ended: `SIGTERM` to every process of it, `grace` to
    /// exit, then `SIGKILL`.
    pub async fn stop(mut self, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        self.signal(Signal::TERM);
        let mut exited = self.exited.clone();
        if tokio::time::timeout(grace, exited.wait_for(Option::is_some)).await.is_err() {
            self.signal(Signal::KILL);
            let _ = exited.wait_for(Option::is_some).await;
        }
        // The leader is gone; what it left in the group goes too.
        self.signal(Signal::KILL);
        self.group = None;
    }

    fn signal(&self, signal: Signal) {
        if let Some(group) = self.group {
            // Fails only when the group is already empty.
            let _ = kill_process_group(group, signal);
        }
    }
}

impl Drop for CommandProcess {
    fn drop(&mut self) {
        self.signal(Signal::KILL);
    }
}
