//! Destinations (`ref`, `uri`, or a `ref` with a relative `uri`) resolved to URLs within
//! the set of manifests, and `delivery:` blocks with their dead letter sinks; a problem
//! names the field that holds the destination.

use super::delivery::{self, Delivery, Target};
use super::{DEFAULT_BROKER, Planner, address, key};
use crate::manifests::model::{DeliverySpec, Destination};
use crate::manifests::{Document, FieldProblem, Kind};

impl Planner<'_> {
    /// Resolves a destination found at `path` of `doc`; `None` (and a problem) when it
    /// cannot be.
    pub(super) fn destination(&mut self, doc: &Document, path: &str, destination: &Destination) -> Option<Target> {
        let resolved = match cross_namespace(doc, path, destination) {
            Some(problem) => Err(problem),
            None => self.resolve(doc, destination),
        };
        match resolved {
            Ok(target) => Some(target),
            Err(FieldProblem { path: sub, message }) => {
                let path = if sub.is_empty() { path.to_owned() } else { format!("{path}.{sub}") };
                // A channel's delivery is read once per subscription on it: say it once.
                let problem = crate::manifests::Problem { place: doc.place.clone(), path, message };
                if !self.problems.0.contains(&problem) {
                    self.problems.0.push(problem);
                }
                None
            }
        }
    }

    /// The URL of `destination` (of `doc`), or why there is none; no problem is recorded.
    pub(super) fn resolve(&mut self, doc: &Document, destination: &Destination) -> Result<Target, FieldProblem> {
        let base = match &destination.reference {
            Some(r) => {
                let group = crate::manifests::group_of(&r.api_version);
                let kind = Kind::of(group, &r.kind);
                let namespace = r.namespace.clone().unwrap_or_else(|| doc.namespace.clone());
                let exists = self.index.contains_key(&key(group, &r.kind, &namespace, &r.name));
                let implicit = kind == Kind::Broker && r.name == DEFAULT_BROKER;
                if !exists && !implicit {
                    return Err(FieldProblem::new(
                        "ref",
                        format!("no {} {} in namespace {namespace} ({})", r.kind, r.name, r.api_version),
                    ));
                }
                if !exists {
                    self.implicit_brokers.insert(namespace.clone());
                }
                let url = address::address(kind, &namespace, &r.name).ok_or_else(|| {
                    FieldProblem::new(
                        "ref",
                        format!("a {} ({}) has no address to send events to", r.kind, r.api_version),
                    )
                })?;
                Some((url, r.name.clone()))
            }
            None => None,
        };
        match (base, destination.uri.as_deref()) {
            (Some((url, name)), None) => Ok(Target { url, name }),
            // knative.dev/pkg apis/duck/v1/destination.go: "Absolute URI is not allowed
            // when Ref or [apiVersion, kind, name] is present".
            (Some(_), Some(uri)) if url::Url::parse(uri).is_ok() => Err(FieldProblem::new(
                "uri",
                format!("{uri:?}: an absolute uri is not allowed with a ref (write a path)"),
            )),
            (Some((base, name)), Some(uri)) => match base.join(uri) {
                Ok(url) => Ok(Target { name: format!("{name}{}", url.path()), url }),
                Err(e) => Err(FieldProblem::new("uri", format!("cannot resolve {uri:?} against {base}: {e}"))),
            },
            (None, Some(uri)) => match url::Url::parse(uri) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(Target { name: uri.to_owned(), url }),
                Ok(_) => Err(FieldProblem::new("uri", format!("{uri:?} is not an http(s) URL"))),
                Err(e) => Err(FieldProblem::new(
                    "uri",
                    format!("{uri:?} is not an absolute URL ({e}); a relative uri needs a ref"),
                )),
            },
            (None, None) => Err(FieldProblem::new("", "set ref or uri")),
        }
    }

    /// The delivery of a subscription: its `own` delivery, else the `fallback` one (the
    /// channel template's, the channel's, the broker's), each as (document, path, spec).
    /// The dead letter sink falls back on its own: an own delivery without
    /// `deadLetterSink` still uses the fallback's sink, as the Subscription reconciler
    /// fills it from the channel (`pkg/reconciler/subscription/subscription.go`) and the
    /// broker's filter from the broker.
    pub(super) fn delivery_or(
        &mut self,
        own: Option<(&Document, &str, &DeliverySpec)>,
        fallback: Option<(&Document, &str, &DeliverySpec)>,
    ) -> Delivery {
        let Some((doc, path, spec)) = own else {
            return match fallback {
                Some((doc, path, spec)) => self.delivery(doc, path, Some(spec)),
                None => Delivery::default(),
            };
        };
        let mut delivery = self.delivery(doc, path, Some(spec));
        if spec.dead_letter_sink.is_none()
            && let Some((doc, path, fallback)) = fallback
            && let Some(sink) = &fallback.dead_letter_sink
        {
            delivery.dead_letter = self.destination(doc, &format!("{path}.deadLetterSink"), sink);
        }
        delivery
    }

    /// The delivery of `spec` found at `path` of `doc` (none: one attempt, no sink).
    pub(super) fn delivery(&mut self, doc: &Document, path: &str, spec: Option<&DeliverySpec>) -> Delivery {
        let Some(spec) = spec else { return Delivery::default() };
        let dead_letter =
            spec.dead_letter_sink.as_ref().and_then(|d| self.destination(doc, &format!("{path}.deadLetterSink"), d));
        match delivery::delivery(spec, path, dead_letter) {
            Ok(delivery) => delivery,
            Err(problems) => {
                self.problems.extend(&doc.place, problems);
                Delivery::default()
            }
        }
    }
}

/// What a default cluster's webhook says of a ref's `namespace` in `destination` (at
/// `path` of `doc`). Only a Channel validates its spec within its own namespace
/// (`pkg/apis/messaging/v1/channel_validation.go`: `apis.WithinParent`), so only its
/// `delivery.deadLetterSink.ref` is refused for another namespace ("mismatched
/// namespaces", knative.dev/pkg `apis/duck/v1/knative_reference.go`). Sequence,
/// Parallel, PingSource, Trigger and Subscription validate without a parent, and a
/// Broker allows other namespaces unless `config-br-defaults` disallows them
/// (`broker_validation.go`), so their refs may name another namespace, as here.
fn cross_namespace(doc: &Document, path: &str, destination: &Destination) -> Option<FieldProblem> {
    let namespace = destination.reference.as_ref()?.namespace.as_deref()?;
    if doc.kind != Kind::Channel || !path.starts_with("spec.delivery.") || namespace == doc.namespace {
        return None;
    }
    Some(FieldProblem::new(
        "ref.namespace",
        format!("mismatched namespaces: parent namespace: {:?} does not match ref: {namespace:?}", doc.namespace),
    ))
}
