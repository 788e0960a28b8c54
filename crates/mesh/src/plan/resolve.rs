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
        match self.resolve(doc, destination) {
            Ok(target) => Some(target),
            Err(FieldProblem { path: sub, message }) => {
                let path = if sub.is_empty() { path.to_owned() } else { format!("{path}.{sub}") };
                self.problems.add(&doc.place, path, message);
                None
            }
        }
    }

    fn resolve(&mut self, doc: &Document, destination: &Destination) -> Result<Target, FieldProblem> {
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
