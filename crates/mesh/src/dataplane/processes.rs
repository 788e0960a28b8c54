//! A service run as a local command (annotation `fnmesh.dev/command`): started in a
//! process group of its own, so that stopping it ends everything it started (`sh -c`
//! and its children, `cargo run` and the binary it runs), never leaving an orphan.

use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};

/// A command's process group; killed (`SIGKILL` to the group) when dropped.
#[derive(Debug)]
pub struct CommandProcess {
    child: tokio::process::Child,
    /// The group's id: the child's pid, as it leads its own group.
    group: Option<Pid>,
}

impl CommandProcess {
    /// `child`, spawned with `process_group(0)`.
    pub fn new(child: tokio::process::Child) -> Self {
        let group = child.id().and_then(|id| i32::try_from(id).ok()).and_then(Pid::from_raw);
        Self { child, group }
    }

    /// Whether the command has exited, and how.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Ends the group as a pod is ended: `SIGTERM` to every process of it, `grace` to
    /// exit, then `SIGKILL`.
    pub async fn stop(mut self, grace: Duration) {
        self.signal(Signal::TERM);
        if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
            self.signal(Signal::KILL);
            let _ = self.child.wait().await;
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
