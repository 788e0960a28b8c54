//! The PingSource adapter: fires each planned source on its schedule (and once at start
//! with `--ping-now`), sending under the adapter's own delivery policy. As upstream's
//! (`pkg/adapter/mtping/runner.go`), each tick waits a random 0-499 ms before it sends,
//! and the event's `time` is when it is sent.

use std::sync::Arc;

use fnmesh_runtime::AttributesReader;
use tokio::sync::watch;

use super::Mesh;
use super::courier::{Hop, Role};
use super::services::wait_for;
use crate::plan::{PingPlan, pings};

/// Fires `ping` on its schedule (and once at once with `now`) until `stopped`.
pub async fn ping_loop(ping: PingPlan, mesh: Arc<Mesh>, now: bool, stopped: watch::Receiver<bool>) {
    let label = format!("pingsource/{}", ping.name);
    let policy = pings::policy();
    let fire = || {
        let (mesh, ping, policy, label) = (mesh.clone(), ping.clone(), policy.clone(), label.clone());
        // A send in flight is accepted work: a stop waits for it.
        let ticket = mesh.work.enter();
        tokio::spawn(async move {
            let _ticket = ticket;
            tokio::time::sleep(pings::tick_delay()).await;
            let event = Arc::new(ping.event(chrono::Utc::now()));
            let hop = Hop { label: &label, target: &ping.sink, role: Role::Source, namespace: &ping.namespace };
            let mut headers = http::HeaderMap::new();
            super::headers::ensure_trace(&mut headers);
            let key = super::journal::trace_key(&headers, &event);
            mesh.courier.journal.received(&key, &event, &label);
            let sent = mesh.courier.send(hop, &event, &headers, &policy).await;
            if let Err(failure) = sent {
                mesh.courier.out.log(&format!("{label}: event {} lost: {}", event.id(), failure.reason));
            }
        });
    };
    if now {
        fire();
    }
    let stop = wait_for(stopped);
    tokio::pin!(stop);
    loop {
        let Some(next) = ping.next_after(chrono::Utc::now()) else { return };
        let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(wait) => fire(),
        }
    }
}
