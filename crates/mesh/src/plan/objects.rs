//! What `fnmesh get` shows: each object as `kubectl get -o json` would on a cluster, the
//! manifest as written with its namespace, creation time and the status Knative would
//! report (addresses, `subscriberUri`, `sinkUri`, the `Ready` condition). The columns
//! of `fnmesh get` are read from it by the CRDs' printer-column paths (`cli::client`).

use serde_json::{Value, json};

use super::{ObjectRow, Planner, address};
use crate::manifests::model::Destination;
use crate::manifests::{Document, Kind, Spec};

/// The annotation of a Broker's class, which eventing's defaulting webhook sets.
const BROKER_CLASS: &str = "eventing.knative.dev/broker.class";
/// The class `config-br-defaults` gives a Broker that names none.
const DEFAULT_BROKER_CLASS: &str = "MTChannelBasedBroker";

impl Planner<'_> {
    /// The row of `kind` `name` in `namespace`: its document, or (a Broker `default`
    /// made implicitly) a minimal manifest.
    pub(super) fn object_row(&mut self, kind: Kind, namespace: &str, name: &str) -> ObjectRow {
        let url = address::address(kind, namespace, name)
            .filter(|_| !matches!(kind, Kind::Subscription | Kind::PingSource | Kind::Trigger))
            .map(|u| u.to_string().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let doc = self.find(kind, namespace, name);
        let mut object = doc
            .and_then(|d| serde_json::to_value(&d.value).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({"apiVersion": format!("{}/v1", kind.group()), "kind": kind.name()}));
        let metadata = object.as_object_mut().map(|o| o.entry("metadata").or_insert_with(|| json!({})));
        if let Some(Value::Object(metadata)) = metadata {
            metadata.insert("name".into(), name.into());
            metadata.insert("namespace".into(), namespace.into());
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            metadata.insert("creationTimestamp".into(), now.into());
            if kind == Kind::Broker {
                let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
                if let Value::Object(annotations) = annotations {
                    annotations.entry(BROKER_CLASS).or_insert_with(|| DEFAULT_BROKER_CLASS.into());
                }
            }
        }
        let status = self.status(kind, doc, &url);
        if let (Some(object), Some(status)) = (object.as_object_mut(), status) {
            object.insert("status".into(), status);
        }
        ObjectRow { kind: kind.resource().into(), namespace: namespace.into(), name: name.into(), url, object }
    }

    /// The status Knative would report. Eventing objects are served in-process and
    /// `Ready` once the mesh runs; a workload's readiness is its process's, which
    /// `fnmesh get` probes (`Unknown` until then).
    fn status(&mut self, kind: Kind, doc: Option<&Document>, url: &str) -> Option<Value> {
        let ready = json!([{"type": "Ready", "status": "True"}]);
        let address = json!({"url": url});
        let sink = doc
            .and_then(|d| d.value.get("spec"))
            .and_then(|s| s.get("sink"))
            .and_then(|sink| serde_json::to_value(sink).ok())
            .and_then(|v| serde_json::from_value::<Destination>(v).ok());
        let status = match (kind, doc.and_then(|d| d.spec.as_ref())) {
            (Kind::KService, _) => {
                let name = doc.map(|d| d.name.as_str()).unwrap_or_default();
                let revision = format!("{name}-00001");
                json!({
                    "url": url, "address": address,
                    "latestCreatedRevisionName": revision, "latestReadyRevisionName": revision,
                    "conditions": [{"type": "Ready", "status": "Unknown", "reason": "NotProbed",
                                    "message": "fnmesh get probes the service"}],
                })
            }
            (Kind::CoreService, _) => json!({
                "conditions": [{"type": "Ready", "status": "Unknown", "reason": "NotProbed",
                                "message": "fnmesh get probes the service"}],
            }),
            (Kind::Trigger, Some(Spec::Trigger(spec))) => {
                json!({"subscriberUri": self.uri(doc, &spec.subscriber), "conditions": ready})
            }
            (Kind::Subscription, Some(Spec::Subscription(spec))) => {
                let mut physical = serde_json::Map::new();
                if let Some(subscriber) = &spec.subscriber {
                    physical.insert("subscriberUri".into(), self.uri(doc, subscriber).into());
                }
                if let Some(reply) = &spec.reply {
                    physical.insert("replyUri".into(), self.uri(doc, reply).into());
                }
                json!({"physicalSubscription": physical, "conditions": ready})
            }
            // Sources (PingSource, ContainerSource, SinkBinding): where they send.
            _ if sink.is_some() => {
                let uri = sink.map(|sink| self.uri(doc, &sink)).unwrap_or_default();
                json!({"sinkUri": uri, "conditions": ready})
            }
            _ if url.is_empty() => json!({"conditions": ready}),
            _ => json!({"address": address, "conditions": ready}),
        };
        Some(status)
    }

    /// The URL of `destination`, as a status shows it (an address without a path has no
    /// `/`, as Knative's `apis.URL` prints it); empty when it does not resolve (a problem
    /// reported elsewhere).
    fn uri(&mut self, doc: Option<&Document>, destination: &Destination) -> String {
        let Some(target) = doc.and_then(|doc| self.resolve(doc, destination).ok()) else { return String::new() };
        let text = target.url.to_string();
        if target.url.path() == "/" && target.url.query().is_none() {
            text.trim_end_matches('/').to_owned()
        } else {
            text
        }
    }
}
