//! The kinds `fnmesh get` knows and their columns: each CRD's `additionalPrinterColumns`
//! (held against `../shared/knative/crds/` by `crates/mesh/tests/get.rs`), as tables.

use crate::error::{Error, Result};

/// A kind `fnmesh get` knows: its name in rows ([`crate::manifests::Kind::resource`]),
/// its plural and group (for `kubectl`'s messages and `get` of every kind), and its
/// columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// As in [`crate::plan::ObjectRow::kind`].
    pub name: &'static str,
    /// The plural, as in `kubectl get sequences`.
    pub plural: &'static str,
    /// The API group; empty for the core group.
    pub group: &'static str,
    /// Other names it goes by.
    pub aliases: &'static [&'static str],
    /// The columns after NAME.
    pub columns: &'static [Column],
}

/// A column of `kubectl get`: a CRD's `additionalPrinterColumns` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The name, as the CRD spells it (shown upper-case).
    pub name: &'static str,
    /// Where its value is: a JSONPath into the object; empty for the row's URL.
    pub json_path: &'static str,
    /// A `date` column, shown as an age.
    pub date: bool,
    /// 0: always shown; more: with `-o wide` only.
    pub priority: u8,
}

const fn column(name: &'static str, json_path: &'static str) -> Column {
    Column { name, json_path, date: false, priority: 0 }
}

const AGE: Column = Column { name: "Age", json_path: ".metadata.creationTimestamp", date: true, priority: 0 };
const READY: Column = column("Ready", ".status.conditions[?(@.type==\"Ready\")].status");
const REASON: Column = column("Reason", ".status.conditions[?(@.type==\"Ready\")].reason");
const READY_1: Column = column("Ready", ".status.conditions[?(@.type=='Ready')].status");
const REASON_1: Column = column("Reason", ".status.conditions[?(@.type=='Ready')].reason");
const ADDRESSABLE: &[Column] = &[column("URL", ".status.address.url"), AGE, READY, REASON];

/// Every kind, in the order `fnmesh get` lists them; the columns of each are its CRD's
/// `additionalPrinterColumns` (a test holds them against `../shared/knative/crds/`), but
/// for the `v1` Service, which has no CRD: URL, READY and AGE, where `kubectl` shows
/// cluster IPs fnmesh does not have.
pub const RESOURCES: &[Resource] = &[
    Resource {
        name: "ksvc",
        plural: "services",
        group: "serving.knative.dev",
        aliases: &["ksvc", "kservice", "kservices", "services.serving.knative.dev"],
        columns: &[
            column("URL", ".status.url"),
            column("LatestCreated", ".status.latestCreatedRevisionName"),
            column("LatestReady", ".status.latestReadyRevisionName"),
            READY_1,
            REASON_1,
        ],
    },
    Resource {
        name: "service",
        plural: "services",
        group: "",
        aliases: &["service", "services", "svc"],
        columns: &[column("URL", ""), READY, REASON, AGE],
    },
    Resource {
        name: "sequence",
        plural: "sequences",
        group: "flows.knative.dev",
        aliases: &["sequence", "sequences"],
        columns: ADDRESSABLE,
    },
    Resource {
        name: "parallel",
        plural: "parallels",
        group: "flows.knative.dev",
        aliases: &["parallel", "parallels"],
        columns: ADDRESSABLE,
    },
    Resource {
        name: "broker",
        plural: "brokers",
        group: "eventing.knative.dev",
        aliases: &["broker", "brokers"],
        columns: &[
            column("URL", ".status.address.url"),
            AGE,
            READY,
            REASON,
            Column {
                name: "Class",
                json_path: ".metadata.annotations.eventing\\.knative\\.dev/broker\\.class",
                date: false,
                priority: 1,
            },
        ],
    },
    Resource {
        name: "trigger",
        plural: "triggers",
        group: "eventing.knative.dev",
        aliases: &["trigger", "triggers"],
        columns: &[
            column("Broker", ".spec.broker"),
            column("Subscriber_URI", ".status.subscriberUri"),
            AGE,
            READY,
            REASON,
        ],
    },
    Resource {
        name: "pingsource",
        plural: "pingsources",
        group: "sources.knative.dev",
        aliases: &["pingsource", "pingsources"],
        columns: &[column("Sink", ".status.sinkUri"), column("Schedule", ".spec.schedule"), AGE, READY_1, REASON_1],
    },
    Resource {
        name: "containersource",
        plural: "containersources",
        group: "sources.knative.dev",
        aliases: &["containersource", "containersources"],
        columns: &[column("Sink", ".status.sinkUri"), AGE, READY, REASON_1],
    },
    Resource {
        name: "sinkbinding",
        plural: "sinkbindings",
        group: "sources.knative.dev",
        aliases: &["sinkbinding", "sinkbindings"],
        columns: &[column("Sink", ".status.sinkUri"), AGE, READY_1, REASON_1],
    },
    Resource {
        name: "inmemorychannel",
        plural: "inmemorychannels",
        group: "messaging.knative.dev",
        aliases: &["inmemorychannel", "inmemorychannels", "imc"],
        columns: ADDRESSABLE,
    },
    Resource {
        name: "channel",
        plural: "channels",
        group: "messaging.knative.dev",
        aliases: &["channel", "channels", "ch"],
        columns: ADDRESSABLE,
    },
    Resource {
        name: "subscription",
        plural: "subscriptions",
        group: "messaging.knative.dev",
        aliases: &["subscription", "subscriptions", "sub"],
        columns: &[AGE, READY, REASON],
    },
];

impl Resource {
    /// The kind `text` names (`ksvc`, `Sequences`, `imc`, `triggers.eventing.knative.dev`, ...).
    pub fn named(text: &str) -> Result<&'static Resource> {
        let text = text.to_ascii_lowercase();
        RESOURCES
            .iter()
            .find(|r| r.aliases.contains(&text.as_str()) || text == format!("{}.{}", r.plural, r.group))
            .ok_or_else(|| {
                let known: Vec<&str> = RESOURCES.iter().map(|r| r.name).collect();
                Error::Usage(format!("{text:?} is not a kind fnmesh runs ({})", known.join(", ")))
            })
    }

    /// `service.serving.knative.dev`: how `kubectl get all` names the kind.
    pub(super) fn qualified(&self) -> String {
        let singular = self.plural.trim_end_matches('s');
        if self.group.is_empty() { singular.to_owned() } else { format!("{singular}.{}", self.group) }
    }
}
