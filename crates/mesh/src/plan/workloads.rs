//! Workloads: a Knative Service, or a `v1` Service in front of the `apps/v1` Deployment
//! whose pods it selects; each runs an fnmesh function (by its image), a local process
//! (built from its sources or a command: [`super::local`]), or an image no function
//! maps in a local container engine, with the environment
//! the kubelet would give its container ([`super::env`]). The pods of sources
//! ([`super::sources`]) are workloads too.

use super::{Images, Local, Planner, ServicePlan, Workload, key};
use crate::manifests::serving::{CoreServiceSpec, KServiceSpec, Metadata, PodTemplate};
use crate::manifests::{Document, Kind, Spec};

impl Planner<'_> {
    pub(super) fn kservice(&mut self, doc: &Document, spec: &KServiceSpec, images: Option<&Images>) {
        self.workload(doc, &doc.metadata, &spec.template, images, &doc.name, false);
    }

    pub(super) fn core_service(&mut self, doc: &Document, spec: &CoreServiceSpec, images: Option<&Images>) {
        if spec.selector.is_empty() {
            self.problems.add(
                &doc.place,
                "spec.selector",
                "required: fnmesh runs the Deployment whose pods it selects",
            );
            return;
        }
        let selected = self.all(Kind::Deployment).filter(|d| d.namespace == doc.namespace).find_map(|deployment| {
            let Some(Spec::Deployment(spec_d)) = &deployment.spec else { return None };
            let labels = &spec_d.template.metadata.labels;
            spec.selector.iter().all(|(k, v)| labels.get(k) == Some(v)).then_some((deployment, spec_d))
        });
        if let Some((deployment, spec_d)) = selected {
            self.workload(deployment, &deployment.metadata, &spec_d.template, images, &doc.name, false);
            return;
        }
        let wanted: Vec<String> = spec.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.problems.add(
            &doc.place,
            "spec.selector",
            format!("no apps/v1 Deployment in namespace {} has pods labelled {}", doc.namespace, wanted.join(",")),
        );
    }

    /// The service `name` running `template` of `doc` (a `source`'s pod: see
    /// [`ServicePlan::source`]); its index in `plan.services` once planned (with `images`).
    pub(super) fn workload(
        &mut self,
        doc: &Document,
        metadata: &Metadata,
        template: &PodTemplate,
        images: Option<&Images>,
        name: &str,
        source: bool,
    ) -> Option<usize> {
        let Some(container) = template.spec.containers.first() else {
            self.problems.add(&doc.place, "spec.template.spec.containers", "at least one container is required");
            return None;
        };
        let env = self.environment(doc, container, "spec.template.spec.containers[0]");
        let local = match Local::of(metadata, template, container, &doc.place.file) {
            Ok(local) => local,
            Err((field, message)) => {
                self.problems.add(&doc.place, &field, message);
                return None;
            }
        };
        let images = images?;
        let run = match local {
            Some(local) => Workload::Local(local),
            None => match images.resolve(&container.image) {
                Ok(spec) => Workload::Function(spec),
                Err(message) => match images.engine() {
                    Some(engine) => Workload::Container { image: container.image.clone(), engine: engine.to_owned() },
                    None => {
                        self.problems.add(&doc.place, "spec.template.spec.containers[0].image", message);
                        return None;
                    }
                },
            },
        };
        let index = self.plan.services.len();
        self.origins.push((key(doc.group(), &doc.kind_name, &doc.namespace, &doc.name), index));
        let dir = doc.place.file.parent().unwrap_or(std::path::Path::new("."));
        let manifest_dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        self.plan.services.push(ServicePlan {
            manifest_dir,
            name: name.to_owned(),
            namespace: doc.namespace.clone(),
            host: format!("{name}.{}.svc.cluster.local", doc.namespace),
            run,
            env,
            concurrency: template.spec.container_concurrency.filter(|c| *c > 0).map(|c| c as usize),
            source,
        });
        Some(index)
    }
}
