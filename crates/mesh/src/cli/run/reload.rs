//! What `fnmesh run --watch` changes in a running mesh: a service rebuilt and restarted on
//! its port behind its gate, and the manifests loaded again (only the services whose plan
//! changed restart; the data plane is swapped under the same ingress).

use std::path::PathBuf;
use std::time::Instant;

use super::{Pings, Running, Service, data_plane, plan, prepared, start_service, topology};
use crate::dataplane::ingress::{Ingress, router};
use crate::dataplane::services::Started;
use crate::plan::{ServicePlan, Workload};
use std::sync::Arc;

impl Running {
    /// The folders whose files `--watch` watches: the manifests' paths, and the source
    /// folder of every service built from its sources.
    pub fn watched(&self) -> (Vec<PathBuf>, Vec<(String, PathBuf)>) {
        let sources = self
            .services
            .iter()
            .filter_map(|s| match &s.plan.run {
                Workload::Local(local) => local.dir.clone().map(|dir| (s.plan.host.clone(), dir)),
                Workload::Function(_) | Workload::Container { .. } => None,
            })
            .collect();
        (self.options.paths.clone(), sources)
    }

    /// Rebuilds and restarts the service at `host` on its port, keeping the rest up; a
    /// failed build keeps the running one. Requests to it wait while it restarts.
    pub async fn restart(&mut self, host: &str) {
        let Some(index) = self.services.iter().position(|s| s.plan.host == host) else { return };
        let name = self.services[index].plan.name.clone();
        let replacement = self.services[index].plan.clone();
        self.replace(index, replacement, &format!("{name}: sources changed")).await;
    }

    /// Stops the service at `index` and starts `plan` in its place, on the same port. A
    /// local build runs first, while the old process still answers.
    async fn replace(&mut self, index: usize, plan: ServicePlan, why: &str) {
        let out = self.out.clone();
        let name = plan.name.clone();
        out.say(&format!("{why}: rebuilding and restarting"));
        let began = Instant::now();
        // Build first: a failed build leaves the running service as it is.
        let mut built = None;
        if let Workload::Local(local) = &plan.run {
            match crate::dataplane::launch::build(&name, local, &out).await {
                Ok(program) => built = Some(program),
                Err(e) => {
                    out.say(&format!("{name}: {e}; still running the previous build"));
                    return;
                }
            }
        }
        let built_in = began.elapsed();
        let gate = self.services[index].gate.clone();
        gate.set_ready(false);
        // What got in is answered by the old process before it stops.
        gate.drained(self.grace).await;
        let port = self.services[index].started.addr.port();
        let old = std::mem::replace(&mut self.services[index].started, Started::placeholder(port));
        old.stop(self.grace).await;
        match start_service(plan.clone(), self.ingress, &out, port, built).await {
            Ok(started) => {
                let service = &mut self.services[index];
                (service.started, service.id, service.restarts) = (started.started, started.id, 0);
                service.plan = plan;
                super::crashes::watch(service, self.notices.as_ref(), &out);
                out.say(&format!(
                    "{name}: restarted in {} ms (build {} ms, stop and start {} ms)",
                    began.elapsed().as_millis(),
                    built_in.as_millis(),
                    (began.elapsed() - built_in).as_millis()
                ));
            }
            Err(e) => out.say(&format!("{e}; it stays stopped until its next change")),
        }
        gate.set_ready(true);
    }

    /// Loads the manifests again: services whose plan changed restart on their port, new
    /// ones start, removed ones stop, the rest keep running; channels, brokers, triggers
    /// and ping sources take the new manifests at once, while what they were delivering
    /// finishes. Invalid manifests are reported and change nothing.
    pub async fn reload(&mut self) {
        let out = self.out.clone();
        let mut plan = match plan(&self.options, &out) {
            Ok(plan) => plan,
            Err(e) => {
                out.say(&format!("the manifests have problems; still running the previous ones:\n{e}"));
                return;
            }
        };
        let wanted: Vec<ServicePlan> =
            std::mem::take(&mut plan.services).into_iter().map(|s| prepared(&self.options, s)).collect();
        let mut kept = Vec::new();
        let mut old: Vec<Option<Service>> = std::mem::take(&mut self.services).into_iter().map(Some).collect();
        for service in wanted {
            let found = old.iter().position(|o| o.as_ref().is_some_and(|o| o.plan.host == service.host));
            match found.and_then(|i| old[i].take()) {
                Some(running) if format!("{:?}", running.plan) == format!("{service:?}") => kept.push(running),
                Some(running) => {
                    kept.push(running);
                    self.services = kept;
                    let index = self.services.len() - 1;
                    self.replace(index, service, &format!("{}: its manifest changed", self.services[index].plan.name))
                        .await;
                    kept = std::mem::take(&mut self.services);
                }
                None => match start_service(service, self.ingress, &out, 0, None).await {
                    Ok(started) => {
                        out.say(&format!("{}: started", started.plan.name));
                        super::crashes::watch(&started, self.notices.as_ref(), &out);
                        kept.push(started);
                    }
                    Err(e) => out.say(&e.to_string()),
                },
            }
        }
        for gone in old.into_iter().flatten() {
            out.say(&format!("{}: removed from the manifests, stopping", gone.plan.name));
            gone.started.stop(self.grace).await;
        }
        self.services = kept;
        let (channels, brokers) = (plan.channels, plan.brokers);
        self.journal.set_topology(topology(&self.services, &channels, &brokers, &plan.pings));
        let mesh = data_plane(
            &self.options,
            &out,
            self.ingress,
            &self.services,
            &self.token,
            channels,
            brokers,
            Some(&self.mesh),
            &self.journal,
        );
        let ingress =
            Arc::new(Ingress { mesh: mesh.clone(), objects: plan.objects, body_limit: self.options.body_limit });
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = router(ingress);
        self.mesh = mesh;
        let pings = if self.options.schedules { plan.pings } else { Vec::new() };
        let previous = std::mem::replace(&mut self.pings, Pings::start(pings, &self.mesh, false));
        previous.stop().await;
        out.say(&format!("reloaded: {} service(s)", self.services.len()));
    }
}
