//! A service's process that exits on its own is started again, as the kubelet restarts a
//! crashed container: after a back-off that doubles from 1 s up to 60 s (the values of
//! Kubernetes' `ReduceDefaultCrashLoopBackOffDecay`), counted from the start once it has
//! run for 10 minutes. Meanwhile requests to it wait at its gate, as they wait for a pod
//! that is not ready. (`fnmesh test` runs no loop: there a crash is only reported.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{Running, Service, start_service};
use crate::dataplane::services::Started;
use crate::output::Out;

/// The first wait before a crashed process starts again.
const FIRST: Duration = Duration::from_secs(1);
/// The longest wait.
const LONGEST: Duration = Duration::from_secs(60);
/// How long a process runs before its back-off starts over.
const RESET: Duration = Duration::from_secs(600);

/// A crashed service due for a restart.
#[derive(Debug)]
pub struct Crash {
    host: String,
    /// Which start of it crashed: a restart by `--watch` since makes the notice stale.
    id: u64,
    /// How many restarts since it last ran for [`RESET`].
    restarts: u32,
}

/// Where crash notices go: the run loop's [`Running::next_crash`].
pub type Notices = mpsc::UnboundedSender<Crash>;

/// A new id for each start of a service.
pub fn next_id() -> u64 {
    static IDS: AtomicU64 = AtomicU64::new(1);
    IDS.fetch_add(1, Ordering::Relaxed)
}

/// How long to wait before restart number `restarts + 1`.
pub fn back_off(restarts: u32) -> Duration {
    FIRST.saturating_mul(1 << restarts.min(6)).min(LONGEST)
}

/// Watches `service`'s process, if it has one, for an exit on its own: then its gate
/// closes and, after its back-off, a notice to restart it goes to `notices`; with no
/// `notices` (`fnmesh test`), the crash is only reported.
pub fn watch(service: &Service, notices: Option<&Notices>, out: &Out) {
    let Some(crashed) = service.started.crashed() else { return };
    let (host, name, id, gate) =
        (service.plan.host.clone(), service.plan.name.clone(), service.id, service.gate.clone());
    let (notices, out, restarts, since) = (notices.cloned(), out.clone(), service.restarts, Instant::now());
    tokio::spawn(async move {
        let Some(status) = crashed.await else { return };
        let Some(notices) = notices else {
            out.say(&format!("{name}: exited ({status}) while running; requests to it fail from now on"));
            return;
        };
        gate.set_ready(false);
        let restarts = if since.elapsed() >= RESET { 0 } else { restarts };
        let wait = back_off(restarts);
        out.say(&format!(
            "{name}: exited ({status}) while running; restarting it in {} (requests to it wait), as the kubelet \
             restarts a crashed container",
            humantime::format_duration(wait)
        ));
        tokio::time::sleep(wait).await;
        let _ = notices.send(Crash { host, id, restarts });
    });
}

impl Running {
    /// The next crashed service due for a restart.
    pub async fn next_crash(&mut self) -> Crash {
        match self.crashes.recv().await {
            Some(crash) => crash,
            // `self` holds a sender, or restarts nothing: never.
            None => std::future::pending().await,
        }
    }

    /// Starts the crashed service of `crash` again on its port; if it fails to start, tries
    /// again after a longer back-off.
    pub async fn restart_crashed(&mut self, crash: Crash) {
        let Some(index) = self.services.iter().position(|s| s.plan.host == crash.host && s.id == crash.id) else {
            return;
        };
        let out = self.out.clone();
        let name = self.services[index].plan.name.clone();
        let port = self.services[index].started.addr.port();
        let old = std::mem::replace(&mut self.services[index].started, Started::placeholder(port));
        // What its process left in its group goes.
        old.stop(self.grace).await;
        let restarts = crash.restarts + 1;
        match start_service(self.services[index].plan.clone(), self.ingress, &out, port, None).await {
            Ok(started) => {
                let service = &mut self.services[index];
                (service.started, service.id, service.restarts) = (started.started, started.id, restarts);
                out.say(&format!("{name}: restarted (restarts: {restarts})"));
                watch(service, self.notices.as_ref(), &out);
                service.gate.set_ready(true);
            }
            Err(e) => {
                let wait = back_off(restarts);
                out.say(&format!("{e}; trying again in {}", humantime::format_duration(wait)));
                let (notices, host, id) = (self.notices.clone(), crash.host, crash.id);
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    if let Some(notices) = notices {
                        let _ = notices.send(Crash { host, id, restarts });
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_doubles_from_one_second_to_a_minute() {
        let waits: Vec<u64> = (0..9).map(|n| back_off(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(back_off(u32::MAX), LONGEST);
    }
}
