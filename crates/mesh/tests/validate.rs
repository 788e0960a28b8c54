//! `fnmesh validate`: every flow and docs sample is valid; each rule catches what it
//! should, with the file, document and field path; and the typed model accepts and
//! rejects what the upstream CRD schemas (read in place from `../shared/knative/crds/`)
//! and eventing's webhook accept and reject.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::{Path, PathBuf};

use fnmesh_mesh::cli::validate::validate;
use fnmesh_mesh::manifests::Kind;
use fnmesh_mesh::manifests::schemas::Schemas;
use fnmesh_mesh::manifests::spec::fits_model;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared(path: &str) -> Option<PathBuf> {
    let dir = repo().join("../shared").join(path);
    dir.is_dir().then_some(dir)
}

/// The seed's PingSource (flows/sequence, flows/parallel) is `sources.knative.dev/v1beta1`,
/// removed in Knative 0.23 (knative/eventing 0bfa8de2d, "remove sources v1beta1 APIs"):
/// valid for `fnmesh run` with a warning, and refused against the upstream CRD
/// (`config/core/resources/pingsource.yaml` serves v1 and v1beta2 only) with that one
/// problem; every other document of every flow fits the CRDs.
#[test]
fn every_flow_validates() {
    const UNSERVED: &str = "(PingSource ping-source): apiVersion: sources.knative.dev/v1beta1 PingSource is not served";
    let crds = shared("knative/crds");
    for flow in std::fs::read_dir(repo().join("flows")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        let checked = validate(std::slice::from_ref(&flow), "default", None)
            .unwrap_or_else(|e| panic!("{}: {e}", flow.display()));
        assert!(checked.documents >= 3, "{}", flow.display());
        let v1beta1 = checked.warnings.iter().any(|w| w.contains(UNSERVED));
        let seed = flow.ends_with("sequence") || flow.ends_with("parallel");
        assert_eq!(v1beta1, seed, "{}: {:?}", flow.display(), checked.warnings);
        let Some(crds) = &crds else { continue };
        match validate(std::slice::from_ref(&flow), "default", Some(crds)) {
            Ok(checked) => {
                assert!(!seed, "{}", flow.display());
                assert!(checked.against_schemas >= 3, "{}: {checked:?}", flow.display());
            }
            Err(e) => {
                let e = e.to_string();
                assert!(seed && e.starts_with("1 problem in the manifests:"), "{}: {e}", flow.display());
                assert!(
                    e.contains(&format!(
                        "{UNSERVED} by the CustomResourceDefinition pingsources.sources.knative.dev (it serves v1, v1beta2)"
                    )),
                    "{e}"
                );
            }
        }
    }
}

#[test]
fn the_function_manifests_in_config_validate() {
    let config: Vec<PathBuf> = std::fs::read_dir(repo().join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('1'))
        .collect();
    assert_eq!(config.len(), 6, "one Knative Service per function");
    let checked = validate(&config, "default", shared("knative/crds").as_deref()).unwrap();
    assert_eq!(checked.documents, 6);
}

#[test]
fn the_docs_samples_validate_against_the_upstream_schemas() {
    let (Some(samples), Some(crds)) = (shared("knative/samples"), shared("knative/crds")) else {
        eprintln!("skipped: ../shared/knative/{{samples,crds}} are not here (development machine only)");
        return;
    };
    for example in [
        "sequence-terminal-",
        "sequence-reply-to-event-display-",
        "sequence-reply-to-sequence-",
        "sequence-with-broker-trigger-",
        "parallel-multiple-branches-",
        "parallel-mutual-exclusivity-",
    ] {
        let files: Vec<PathBuf> = std::fs::read_dir(&samples)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(example))
            .collect();
        let checked = validate(&files, "default", Some(&crds)).unwrap_or_else(|e| panic!("{example}: {e}"));
        assert_eq!(checked.against_schemas, checked.documents, "{example}: every document has a schema");
    }
}

/// One broken manifest per rule, and what the report must say about it.
const BROKEN: &[(&str, &str, &str)] = &[
    (
        "unknown field",
        "apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: s}\nspec:\n  steps: [{uri: 'http://x', subscirber: y}]\n",
        ":doc 1 (Sequence s): spec.steps[0].subscirber: unknown field (not in the Knative API)",
    ),
    (
        "Sequence.spec.steps",
        "apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: s}\nspec: {}\n",
        ":doc 1 (Sequence s): spec: missing field `steps`",
    ),
    (
        "Trigger.spec.broker",
        "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  subscriber: {uri: 'http://x'}\n",
        ":doc 1 (Trigger t): spec: missing field `broker`",
    ),
    (
        "data xor dataBase64",
        "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {name: p}\nspec:\n  schedule: '* * * * *'\n  data: a\n  dataBase64: YQ==\n  sink: {uri: 'http://x'}\n",
        ":doc 1 (PingSource p): spec.dataBase64: set data or dataBase64, not both",
    ),
    (
        "cron",
        "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {name: p}\nspec:\n  schedule: '61 * * * *'\n  sink: {uri: 'http://x'}\n",
        ":doc 1 (PingSource p): spec.schedule: \"61 * * * *\" is not a cron schedule",
    ),
    (
        "ref or uri",
        "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {name: p}\nspec:\n  schedule: '* * * * *'\n  sink: {}\n",
        ":doc 1 (PingSource p): spec.sink: set ref or uri",
    ),
    (
        "resolvable ref",
        "apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: s}\nspec:\n  steps: [{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: gone}}]\n",
        ":doc 1 (Sequence s): spec.steps[0].ref: no Service gone in namespace default",
    ),
    (
        "wrong type",
        "apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: s}\nspec:\n  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: c}\n  delivery: {retry: many}\n",
        ":doc 1 (Subscription s): spec.delivery.retry: invalid type: string \"many\", expected i32",
    ),
    (
        "duplicate name",
        "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\n---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\n",
        ":doc 2 (Broker b): metadata.name: Broker b is defined twice",
    ),
    ("malformed YAML", "apiVersion: v1\nkind: [\n", ":doc 1: not valid YAML"),
    (
        // pkg/apis/sources/v1/ping_validation.go: `validateDescriptor`.
        "@every",
        "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {name: p}\nspec:\n  schedule: '@every 1m'\n  sink: {uri: 'http://x'}\n",
        ":doc 1 (PingSource p): spec.schedule: \"@every 1m\" is not a cron schedule: unsupported descriptor @every",
    ),
    (
        // ping_validation.go: `validateJSON` when contentType is application/json.
        "JSON data",
        "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {name: p}\nspec:\n  contentType: application/json\n  data: '[1]'\n  sink: {uri: 'http://x'}\n",
        ":doc 1 (PingSource p): spec.data: contentType application/json: must be a JSON object",
    ),
    (
        // kubelet: a secretKeyRef to a missing Secret stops the pod (unless optional).
        "missing Secret",
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - image: ghcr.io/fnmesh/appender\n        env:\n        - {name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: token}}}\n",
        ":doc 1 (Service web): spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name: no Secret creds in namespace default",
    ),
    (
        "missing ConfigMap key",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: hi}\n---\napiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - image: ghcr.io/fnmesh/appender\n        env:\n        - {name: MESSAGE, valueFrom: {configMapKeyRef: {name: settings, key: message}}}\n",
        ":doc 2 (Service web): spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef.key: ConfigMap settings has no key message",
    ),
    (
        "Secret data",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ndata: {token: 'not base64!'}\n---\napiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - image: ghcr.io/fnmesh/appender\n        envFrom: [{secretRef: {name: creds}}]\n",
        ":doc 1 (Secret creds): data.token: not base64",
    ),
    (
        // knative.dev/pkg tracker/interface.go `Reference.Validate`: name xor selector.
        "SinkBinding subject",
        "apiVersion: sources.knative.dev/v1\nkind: SinkBinding\nmetadata: {name: b}\nspec:\n  subject: {apiVersion: apps/v1, kind: Deployment, name: d, selector: {matchLabels: {app: d}}}\n  sink: {uri: 'http://x'}\n",
        ":doc 1 (SinkBinding b): spec.subject: expected exactly one, got both: name, selector",
    ),
    (
        // pkg/apis/sources/v1/sinkbinding_validation.go: the subject's namespace is the binding's.
        "SinkBinding namespace",
        "apiVersion: sources.knative.dev/v1\nkind: SinkBinding\nmetadata: {name: b}\nspec:\n  subject: {apiVersion: apps/v1, kind: Deployment, name: d, namespace: other}\n  sink: {uri: 'http://x'}\n",
        ":doc 1 (SinkBinding b): spec.subject.namespace: invalid value: other",
    ),
    (
        "SinkBinding subject in the set",
        "apiVersion: sources.knative.dev/v1\nkind: SinkBinding\nmetadata: {name: b}\nspec:\n  subject: {apiVersion: apps/v1, kind: Deployment, name: gone}\n  sink: {uri: 'http://x'}\n",
        ":doc 1 (SinkBinding b): spec.subject.name: no Deployment gone in namespace default (apps/v1)",
    ),
    (
        "ContainerSource sink",
        "apiVersion: sources.knative.dev/v1\nkind: ContainerSource\nmetadata: {name: c}\nspec:\n  template: {spec: {containers: [{image: x}]}}\n  sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: gone}}\n",
        ":doc 1 (ContainerSource c): spec.sink.ref: no Service gone in namespace default",
    ),
];

/// Kinds fnmesh does not emulate are real cluster kinds (a Job runs on a cluster, where
/// `kubectl apply` takes it): they do not stop `validate`, and `run` lists them.
#[test]
fn kinds_fnmesh_does_not_emulate_are_ignored_not_refused() {
    let yaml = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: unused}\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cluster.yaml"), yaml).unwrap();
    let checked = validate(&[dir.path().to_owned()], "default", None).unwrap();
    assert_eq!(checked.documents, 4);
    let (documents, problems) = fnmesh_mesh::manifests::load(&[dir.path().to_owned()], "default");
    let plan = fnmesh_mesh::plan::plan(&documents, None, problems).unwrap();
    assert_eq!(
        plan.ignored_line().unwrap(),
        "ignored (kinds fnmesh run does not emulate): batch/v1 Job j, v1 ServiceAccount sa, \
         rbac.authorization.k8s.io/v1 Role r, v1 Secret unused"
    );
}

#[test]
fn each_rule_reports_file_document_and_path() {
    for (rule, yaml, expected) in BROKEN {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("broken.yaml"), yaml).unwrap();
        let err = validate(&[dir.path().to_owned()], "default", None).unwrap_err().to_string();
        assert!(err.contains(&format!("broken.yaml{expected}")), "{rule}: expected {expected:?} in\n{err}");
    }
}

/// What each CRD's `spec` may look like, and mutants that a cluster would refuse (or
/// keep, where the schema preserves unknown fields).
fn specs(kind: &str) -> Vec<Value> {
    let destination = json!({"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "s"}});
    match kind {
        "Sequence" => vec![
            json!({"steps": [destination, {"uri": "http://x", "delivery": {"retry": 2, "backoffPolicy": "linear", "backoffDelay": "PT1S"}}], "reply": destination}),
            json!({"channelTemplate": {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel", "spec": {"anything": 1}}, "steps": [destination]}),
        ],
        "Parallel" => vec![
            json!({"branches": [{"filter": destination, "subscriber": {"uri": "http://x", "CACerts": "pem", "audience": "a"}, "reply": destination}], "reply": destination}),
        ],
        "PingSource" => vec![
            json!({"schedule": "* * * * *", "timezone": "Europe/Paris", "contentType": "text/plain", "data": "x", "sink": destination, "ceOverrides": {"extensions": {"a": "b"}}}),
            json!({"schedule": "* * * * *", "dataBase64": "YQ==", "sink": destination}),
        ],
        "Broker" => vec![
            json!({}),
            json!({"config": {"apiVersion": "v1", "kind": "ConfigMap", "name": "c"}, "delivery": {"retry": 1, "deadLetterSink": destination}}),
        ],
        "Trigger" => vec![
            json!({"broker": "b", "subscriber": destination, "filter": {"attributes": {"type": "t"}}}),
            json!({"broker": "b", "subscriber": destination, "filters": [{"exact": {"type": "t"}}, {"not": {"cesql": "x = 1"}}, {"any": [{"prefix": {"a": "b"}}]}], "delivery": {"format": "json"}}),
        ],
        "Subscription" => vec![
            json!({"channel": {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel", "name": "c"}, "subscriber": destination, "reply": {"uri": "http://x"}, "delivery": {"retry": 3}}),
            // knative.dev/pkg apis/duck/v1/knative_reference.go: a KReference has `address`.
            json!({"channel": {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel", "name": "c", "address": "a"}, "subscriber": {"ref": {"apiVersion": "v1", "kind": "Service", "name": "s", "address": "b"}}}),
        ],
        "InMemoryChannel" | "Channel" => vec![json!({}), json!({"delivery": {"retry": 1}})],
        "ContainerSource" => vec![
            json!({"template": {"metadata": {"labels": {"app": "beats"}}, "spec": {"containers": [{"name": "beats", "image": "x", "args": ["--period=1"], "env": [{"name": "A", "value": "1"}]}]}}, "sink": destination, "ceOverrides": {"extensions": {"a": "b"}}}),
        ],
        "SinkBinding" => vec![
            json!({"subject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "namespace": "default"}, "sink": destination, "ceOverrides": {"extensions": {"a": "b"}}}),
            json!({"subject": {"apiVersion": "apps/v1", "kind": "Deployment", "selector": {"matchLabels": {"app": "d"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}}, "sink": {"uri": "http://x", "CACerts": "pem", "audience": "a"}}),
        ],
        _ => vec![],
    }
}

/// Each mutant, with the path of the object it changed (a field added to it, or its
/// value replaced by one of another type).
fn mutants(spec: &Value) -> Vec<(String, Value, String)> {
    let mut out = Vec::new();
    let mut unknown = spec.clone();
    unknown["bogus"] = json!(1);
    out.push(("an unknown field in spec".to_owned(), unknown, "spec".to_owned()));
    for (key, value) in spec.as_object().into_iter().flatten() {
        let mut wrong = spec.clone();
        wrong[key] = if value.is_string() { json!(5) } else { json!("text") };
        out.push((format!("{key} of the wrong type"), wrong, format!("spec.{key}")));
        if let Some(inner) = value.as_object()
            && !inner.is_empty()
        {
            let mut nested = spec.clone();
            nested[key]["bogus"] = json!(true);
            out.push((format!("an unknown field in {key}"), nested, format!("spec.{key}")));
        }
    }
    out
}

/// Mutants deeper than [`mutants`] goes, where a typo hides best: (what, spec, the path
/// of the object changed).
fn deep_mutants(kind: &str) -> Vec<(&'static str, Value, &'static str)> {
    let destination = json!({"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "s"}});
    match kind {
        // `ref` one level too far left under `deadLetterSink:`: the sink is null (pruned by
        // the API server) and `ref` lands in `delivery`, which the CRD preserves and whose Go
        // type (pkg/apis/duck/v1/delivery_types.go) has no `ref`.
        "Trigger" => vec![
            (
                "a mis-indented dead letter ref",
                json!({"broker": "b", "subscriber": destination, "delivery": {"deadLetterSink": null, "ref": destination["ref"]}}),
                "spec.delivery",
            ),
            (
                "an unknown field in filters[0].not",
                json!({"broker": "b", "subscriber": destination, "filters": [{"not": {"exact": {"type": "t"}, "bogus": 1}}]}),
                "spec.filters[0].not",
            ),
        ],
        "Sequence" => vec![
            (
                "an unknown field in a step's delivery",
                json!({"steps": [{"uri": "http://x", "delivery": {"retry": 1, "bogus": 1}}]}),
                "spec.steps[0].delivery",
            ),
            (
                "a step's dead letter sink with an unknown field",
                json!({"steps": [{"uri": "http://x", "delivery": {"deadLetterSink": {"uri": "http://d", "bogus": 1}}}]}),
                "spec.steps[0].delivery.deadLetterSink",
            ),
            (
                "anything in a channel template's spec",
                json!({"channelTemplate": {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel", "spec": {"delivery": {"retry": 1}, "bogus": 1}}, "steps": [destination]}),
                "spec.channelTemplate.spec",
            ),
        ],
        "Parallel" => vec![
            (
                "an unknown field in a branch",
                json!({"branches": [{"subscriber": destination, "bogus": 1}]}),
                "spec.branches[0]",
            ),
            (
                "an unknown field in a branch's delivery",
                json!({"branches": [{"subscriber": destination, "delivery": {"retry": 1, "bogus": 1}}]}),
                "spec.branches[0].delivery",
            ),
        ],
        "Subscription" => vec![(
            "an unknown field in subscriber.ref",
            json!({"channel": {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel", "name": "c"}, "subscriber": {"ref": {"apiVersion": "v1", "kind": "Service", "name": "s", "bogus": 1}}}),
            "spec.subscriber.ref",
        )],
        "Channel" => vec![(
            "an unknown field in a subscriber's delivery",
            json!({"subscribers": [{"subscriberUri": "http://x", "delivery": {"retry": 1, "bogus": 1}}]}),
            "spec.subscribers[0].delivery",
        )],
        _ => vec![],
    }
}

/// Whether eventing's webhook refuses a change at `path` that the CRD `schema` keeps. The
/// webhook decodes every object into its Go types with unknown fields disallowed
/// (knative/eventing `cmd/webhook/main.go`: "Whether to disallow unknown fields. true";
/// knative.dev/pkg `webhook/json/decode.go`), so under a node the CRD marks
/// `x-kubernetes-preserve-unknown-fields` a field the Go type lacks, or a value of
/// another type, is still refused; except where the Go type takes anything: a channel
/// template's `spec` (`runtime.RawExtension`, messaging/v1 `channel_template_types.go`).
/// fnmesh does not check the pod template of a ContainerSource (modelled in part, as a
/// Knative Service's).
fn refused_by_webhook(schema: &Value, path: &str) -> bool {
    if path.starts_with("spec.channelTemplate.spec")
        || (path.starts_with("spec.template") && schema_is_container_source(schema))
    {
        return false;
    }
    let mut node = schema;
    let mut preserved = false;
    for segment in path.split('.') {
        let (name, indexed) = match segment.split_once('[') {
            Some((name, _)) => (name, true),
            None => (segment, false),
        };
        let Some(next) = node.get("properties").and_then(|p| p.get(name)) else { break };
        node = next;
        if indexed {
            let Some(items) = node.get("items") else { break };
            node = items;
        }
        preserved |= node.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
    }
    preserved
}

fn schema_is_container_source(schema: &Value) -> bool {
    schema.pointer("/properties/spec/properties/template").is_some()
        && schema.pointer("/properties/spec/properties/subject").is_none()
        && schema.pointer("/properties/spec/properties/schedule").is_none()
}

/// The CRDs of ContainerSource and SinkBinding: from `../shared/knative/crds` when they
/// are there, else read in place from a knative/eventing checkout beside the repository
/// (`../.mirror/knative+eventing/repo`, `config/core/resources/`) into a temporary folder.
fn source_crds() -> Option<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir().unwrap();
    let files = ["containersource.yaml", "sinkbindings.yaml"];
    let in_shared = shared("knative/crds").filter(|crds| files.iter().all(|f| crds.join(f).is_file()));
    let eventing = repo().join("../.mirror/knative+eventing/repo");
    for file in files {
        let text = match &in_shared {
            Some(crds) => std::fs::read_to_string(crds.join(file)).ok()?,
            None => {
                let out = std::process::Command::new("git")
                    .arg("-C")
                    .arg(&eventing)
                    .args(["show", &format!("HEAD:config/core/resources/{file}")])
                    .output()
                    .ok()?;
                if !out.status.success() {
                    return None;
                }
                String::from_utf8(out.stdout).ok()?
            }
        };
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let path = dir.path().to_owned();
    Some((dir, path))
}

#[test]
fn the_typed_model_agrees_with_the_upstream_crd_schemas() {
    let Some(crds) = shared("knative/crds") else {
        eprintln!("skipped: ../shared/knative/crds is not here (development machine only)");
        return;
    };
    let schemas = Schemas::load(&crds).unwrap();
    let sources = source_crds();
    if sources.is_none() {
        eprintln!("ContainerSource and SinkBinding skipped: their CRDs are not here (development machine only)");
    }
    let source_schemas = sources.as_ref().map(|(_, dir)| Schemas::load(dir).unwrap());
    let mut kinds = vec![
        ("flows.knative.dev", "Sequence", "v1"),
        ("flows.knative.dev", "Parallel", "v1"),
        ("sources.knative.dev", "PingSource", "v1"),
        ("sources.knative.dev", "PingSource", "v1beta2"),
        ("eventing.knative.dev", "Broker", "v1"),
        ("eventing.knative.dev", "Trigger", "v1"),
        ("messaging.knative.dev", "Subscription", "v1"),
        ("messaging.knative.dev", "InMemoryChannel", "v1"),
        ("messaging.knative.dev", "Channel", "v1"),
    ];
    if source_schemas.is_some() {
        kinds.extend([("sources.knative.dev", "ContainerSource", "v1"), ("sources.knative.dev", "SinkBinding", "v1")]);
    }
    let (mut compared, mut disagreements) = (0, Vec::new());
    for (group, kind, version) in kinds {
        let schemas = match (kind, &source_schemas) {
            ("ContainerSource" | "SinkBinding", Some(sources)) => sources,
            _ => &schemas,
        };
        let schema = schemas.schema(group, kind, version).unwrap();
        let deep = deep_mutants(kind).into_iter().map(|(what, spec, path)| (what.to_owned(), spec, path.to_owned()));
        let mut cases: Vec<(String, Value, String)> = Vec::new();
        for spec in specs(kind) {
            cases.push(("as written".to_owned(), spec.clone(), String::new()));
            cases.extend(mutants(&spec));
        }
        cases.extend(deep);
        for (what, case, path) in cases {
            let yaml: serde_yaml_ng::Value = serde_json::from_value(case.clone()).unwrap();
            let ours = fits_model(Kind::of(group, kind), &yaml).unwrap();
            let upstream = schemas.spec_is_valid(group, kind, version, &case).unwrap()
                && (path.is_empty() || !refused_by_webhook(schema, &path));
            compared += 1;
            if ours.is_ok() != upstream {
                disagreements.push(format!("{kind} {version}, {what}: upstream {upstream}, model {ours:?}\n  {case}"));
            }
        }
    }
    assert!(compared > 60, "{compared} cases");
    assert!(
        disagreements.is_empty(),
        "{} of {compared} cases disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn aliases_cannot_blow_a_small_manifest_up() {
    // 64 KiB anchored once and repeated by 2 000 aliases: 125 MiB once expanded, from
    // 90 KB of text (the review's 1 MB file with 2 000 aliases took 1.96 GB).
    let big = "x".repeat(64 * 1024);
    let aliases: String = (0..2000).map(|i| format!("    a{i}: *big\n")).collect();
    let yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n  annotations:\n    anchor: &big {big}\ndata:\n  nested:\n{aliases}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bomb.yaml"), &yaml).unwrap();
    let err = validate(&[dir.path().to_owned()], "default", None).unwrap_err().to_string();
    assert!(
        err.contains("bomb.yaml:doc 1: not valid YAML: data.nested.a1020: the file expands to more than 64 MiB"),
        "{err}"
    );
}
