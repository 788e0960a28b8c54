//! What a default Knative cluster refuses, `fnmesh validate` (and so `fnmesh run`)
//! refuses, each rule pinned to the upstream file that makes it; what a cluster accepts
//! across namespaces stays accepted; what runs locally but not on a default cluster as
//! written is a warning (exit 0); and `--schemas` reports an `apiVersion` a CRD does not
//! serve.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::{Path, PathBuf};
use std::process::Command;

use fnmesh_mesh::cli::validate::{Checked, validate};
use fnmesh_mesh::manifests::Kind;
use fnmesh_mesh::manifests::schemas::{Schemas, served_by_knative};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn crds() -> Option<PathBuf> {
    let dir = repo().join("../shared/knative/crds");
    dir.is_dir().then_some(dir)
}

fn check(yaml: &str, schemas: Option<&Path>) -> Result<Checked, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), yaml).unwrap();
    validate(&[dir.path().to_owned()], "default", schemas).map_err(|e| e.to_string())
}

const SERVICE: &str = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: s}\nspec: {template: {spec: {containers: [{image: x}]}}}\n---\n";
const CHANNEL: &str = "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: c}\n---\n";

/// (rule, the upstream file that refuses it, manifests, what the report says).
const REFUSED: &[(&str, &str, &str, &str)] = &[
    (
        "a Subscription without subscriber",
        "pkg/apis/messaging/v1/subscription_validation.go: isDestinationNilOrEmpty(ss.Subscriber)",
        "apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: sub}\nspec:\n  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: c}\n",
        "(Subscription sub): spec.subscriber: required: a Subscription must reference a subscriber",
    ),
    (
        "a Subscription with an empty subscriber",
        "pkg/apis/messaging/v1/subscription_validation.go: an empty Destination counts as none",
        "apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: sub}\nspec:\n  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: c}\n  subscriber: {}\n",
        "(Subscription sub): spec.subscriber: set ref or uri",
    ),
    (
        "a Subscription's channel in a namespace",
        "pkg/apis/messaging/v1/subscribable_channelable_validation.go: any namespace, while cross-namespace-event-links is disabled",
        "apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: sub}\nspec:\n  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: c, namespace: default}\n  subscriber: {uri: 'http://x'}\n",
        "(Subscription sub): spec.channel.namespace: must not be set: only name, apiVersion and kind are supported fields when feature.CrossNamespaceEventLinks is disabled",
    ),
    (
        "a Trigger's brokerRef in a namespace",
        "pkg/apis/eventing/v1/trigger_validation.go: ErrDisallowedFields(\"namespace\")",
        "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: default\n  brokerRef: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default, namespace: other}\n  subscriber: {uri: 'http://x'}\n",
        "(Trigger t): spec.brokerRef.namespace: must not be set",
    ),
    (
        "an upper-case filter attribute",
        "pkg/apis/eventing/v1/trigger_validation.go: validAttributeName ^[a-z][a-z0-9]*$",
        "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: default\n  filter: {attributes: {Type: x, type: y}}\n  subscriber: {uri: 'http://x'}\n",
        "(Trigger t): spec.filter.attributes.Type: invalid key name \"Type\": an attribute name must start with a letter and can only contain lowercase alphanumeric",
    ),
    (
        "a filter attribute with a dash, in filters",
        "pkg/apis/eventing/v1/trigger_validation.go: ValidateSubscriptionAPIFilter checks exact, prefix and suffix names",
        "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: default\n  filters: [{any: [{prefix: {my-ext: a}}]}]\n  subscriber: {uri: 'http://x'}\n",
        "(Trigger t): spec.filters[0].any[0].prefix.my-ext: invalid key name \"my-ext\"",
    ),
    (
        "a filter attribute starting with a digit",
        "pkg/apis/eventing/v1/trigger_validation.go: validAttributeName",
        "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: default\n  filter: {attributes: {1type: x}}\n  subscriber: {uri: 'http://x'}\n",
        "(Trigger t): spec.filter.attributes.1type: invalid key name",
    ),
    (
        "a Channel's dead letter sink in another namespace",
        "pkg/apis/messaging/v1/channel_validation.go (apis.WithinParent) and knative.dev/pkg apis/duck/v1/knative_reference.go: mismatched namespaces",
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: dls, namespace: other}\nspec: {template: {spec: {containers: [{image: x}]}}}\n---\napiVersion: messaging.knative.dev/v1\nkind: Channel\nmetadata: {name: ch}\nspec:\n  delivery: {deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dls, namespace: other}}}\n---\napiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: sub}\nspec:\n  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: ch}\n  subscriber: {uri: 'http://x'}\n",
        "(Channel ch): spec.delivery.deadLetterSink.ref.namespace: mismatched namespaces: parent namespace: \"default\" does not match ref: \"other\"",
    ),
    (
        "a ref with an absolute uri",
        "knative.dev/pkg apis/duck/v1/destination.go: Absolute URI is not allowed when Ref or [apiVersion, kind, name] is present",
        "apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: q}\nspec:\n  steps: [{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: s}, uri: 'http://elsewhere/x'}]\n",
        "(Sequence q): spec.steps[0].uri: \"http://elsewhere/x\": an absolute uri is not allowed with a ref",
    ),
    (
        "a mis-indented dead letter ref",
        "pkg/apis/duck/v1/delivery_types.go has no `ref`; cmd/webhook/main.go decodes with unknown fields disallowed",
        "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: default\n  subscriber: {uri: 'http://x'}\n  delivery:\n    deadLetterSink:\n    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: s}\n",
        "(Trigger t): spec.delivery.ref: unknown field (not in the Knative API)",
    ),
];

#[test]
fn what_a_default_clusters_webhook_refuses_validate_refuses() {
    for (rule, upstream, yaml, expected) in REFUSED {
        let err = check(&format!("{SERVICE}{CHANNEL}{yaml}"), None).expect_err(rule);
        assert!(err.contains(expected), "{rule} ({upstream}): expected {expected:?} in\n{err}");
    }
}

#[test]
fn refs_across_namespaces_stay_valid_where_upstream_takes_them() {
    // Sequence, Parallel, PingSource, Trigger and Subscription validate their refs without
    // a parent namespace in the context (pkg/apis/flows/v1/sequence_validation.go has no
    // apis.WithinParent), so knative.dev/pkg's KReference.Validate does not compare
    // namespaces; an InMemoryChannel does not validate its delivery
    // (in_memory_channel_validation.go); a Broker allows other namespaces unless
    // config-br-defaults disallows them (broker_validation.go, determineNamespaceAllowance).
    let yaml = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: s, namespace: other}\nspec: {template: {spec: {containers: [{image: x}]}}}\n---\n\
                apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: q}\nspec:\n  steps: [{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: s, namespace: other}}]\n---\n\
                apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\nspec:\n  delivery: {deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: s, namespace: other}}}\n---\n\
                apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: c}\nspec:\n  delivery: {deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: s, namespace: other}}}\n";
    let checked = check(yaml, None).unwrap();
    assert_eq!(checked.documents, 4);
}

#[test]
fn what_runs_locally_but_not_on_a_default_cluster_is_a_warning() {
    let yaml = "apiVersion: sources.knative.dev/v1beta1\nkind: PingSource\nmetadata: {name: p}\nspec:\n  schedule: '* * * * *'\n  jsonData: '{\"a\": 1}'\n  sink: {uri: 'http://x'}\n---\n\
                apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\nspec:\n  delivery: {retry: 2, retryAfterMax: PT30S}\n---\n\
                apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: q}\nspec:\n  steps: [{uri: 'http://x', delivery: {retryAfterMax: PT1S}}]\n";
    let checked = check(yaml, None).unwrap();
    // PingSource v1beta1: removed in Knative 0.23 (knative/eventing 0bfa8de2d).
    assert!(
        checked.warnings[0].ends_with(
            "m.yaml:doc 1 (PingSource p): apiVersion: sources.knative.dev/v1beta1 PingSource is not served by current \
         Knative (it serves sources.knative.dev/v1, sources.knative.dev/v1beta2): removed in Knative 0.23; fnmesh run \
         runs it, and fnmesh kn deploys it as sources.knative.dev/v1 (jsonData becomes data with contentType: \
         application/json)"
        ),
        "{:?}",
        checked.warnings
    );
    // pkg/apis/duck/v1/delivery_types.go: retryAfterMax needs the feature delivery-retryafter,
    // "disabled" in config/core/configmaps/features.yaml.
    let retry_after: Vec<&String> = checked.warnings.iter().filter(|w| w.contains("retryAfterMax")).collect();
    assert_eq!(retry_after.len(), 2, "{:?}", checked.warnings);
    assert!(retry_after[0].contains("m.yaml:doc 2 (Broker b): spec.delivery.retryAfterMax: a default cluster's webhook refuses it (the alpha feature delivery-retryafter is disabled in config-features); fnmesh run honours it"), "{}", retry_after[0]);
    assert!(
        retry_after[1].contains("m.yaml:doc 3 (Sequence q): spec.steps[0].delivery.retryAfterMax: "),
        "{}",
        retry_after[1]
    );

    // The command: one warning line each on stderr, the summary on stdout, exit 0.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fnmesh")).arg("validate").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3 document(s) valid\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
    assert!(stderr.lines().all(|l| l.starts_with("warning: ")), "{stderr}");
}

#[test]
fn schemas_report_an_api_version_their_crd_does_not_serve() {
    let Some(crds) = crds() else {
        eprintln!("skipped: ../shared/knative/crds is not here (development machine only)");
        return;
    };
    let yaml = "apiVersion: flows.knative.dev/v1alpha1\nkind: Sequence\nmetadata: {name: q}\nspec:\n  steps: [{uri: 'http://x'}]\n---\n\
                apiVersion: eventing.knative.dev/v1beta1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: default\n  subscriber: {uri: 'http://x'}\n---\n\
                apiVersion: serving.knative.dev/v1alpha1\nkind: Service\nmetadata: {name: s}\nspec: {template: {spec: {containers: [{image: x}]}}}\n---\n\
                apiVersion: sources.knative.dev/v1beta1\nkind: PingSource\nmetadata: {name: p}\nspec:\n  schedule: '* * * * *'\n  sink: {uri: 'http://x'}\n";
    let err = check(yaml, Some(&crds)).unwrap_err();
    assert!(err.starts_with("4 problems in the manifests:"), "{err}");
    for expected in [
        "m.yaml:doc 1 (Sequence q): apiVersion: flows.knative.dev/v1alpha1 Sequence is not served by the CustomResourceDefinition sequences.flows.knative.dev (it serves v1)",
        "m.yaml:doc 2 (Trigger t): apiVersion: eventing.knative.dev/v1beta1 Trigger is not served by the CustomResourceDefinition triggers.eventing.knative.dev (it serves v1)",
        "m.yaml:doc 3 (Service s): apiVersion: serving.knative.dev/v1alpha1 Service is not served by the CustomResourceDefinition services.serving.knative.dev (it serves v1)",
        "m.yaml:doc 4 (PingSource p): apiVersion: sources.knative.dev/v1beta1 PingSource is not served by the CustomResourceDefinition pingsources.sources.knative.dev (it serves v1, v1beta2)",
    ] {
        assert!(err.contains(expected), "{expected}\nnot in\n{err}");
    }
    // Without CRDs: warnings, from what current Knative serves.
    let checked = check(yaml, None).unwrap();
    assert_eq!(checked.warnings.iter().filter(|w| w.contains(": apiVersion: ")).count(), 4, "{:?}", checked.warnings);
}

#[test]
fn the_versions_fnmesh_says_knative_serves_are_the_crds() {
    let Some(crds) = crds() else {
        eprintln!("skipped: ../shared/knative/crds is not here (development machine only)");
        return;
    };
    let schemas = Schemas::load(&crds).unwrap();
    let mut compared = 0;
    for (group, kind) in schemas.kinds() {
        let served: Vec<&str> = schemas.served(group, kind).unwrap().iter().map(String::as_str).collect();
        assert_eq!(served_by_knative(Kind::of(group, kind)), served.as_slice(), "{group} {kind}");
        compared += 1;
    }
    assert_eq!(compared, 9, "one CRD per kind in ../shared/knative/crds");
}
