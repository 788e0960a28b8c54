//! `fnmesh kn`: what it prints for every flow is what a current cluster accepts (every
//! document checked against the upstream CRD schemas, read in place from
//! `../shared/knative/crds/`), and it deploys what the manifests say: a Knative Service
//! with every field, a Broker `default` that `fnmesh run` made implicitly, a service run
//! locally by a command with its image.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::{Path, PathBuf};
use std::process::Command;

use fnmesh_mesh::cli::validate::validate;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kn(args: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_fnmesh")).arg("kn").args(args).current_dir(repo()).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The YAML of every `kubectl apply ... <<'YAML'` of `script`, as documents.
fn applied(script: &str) -> Vec<String> {
    let mut documents = Vec::new();
    let mut lines = script.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("kubectl apply ") || !line.ends_with("<<'YAML'") {
            continue;
        }
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "YAML").collect();
        documents.extend(body.join("\n").split("\n---\n").map(str::to_owned));
    }
    documents
}

fn yaml(text: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(text).unwrap()
}

#[test]
fn what_kn_prints_for_every_flow_fits_the_upstream_crds() {
    let Some(crds) = Some(repo().join("../shared/knative/crds")).filter(|d| d.is_dir()) else {
        eprintln!("skipped: ../shared/knative/crds is not here (development machine only)");
        return;
    };
    let flows: Vec<PathBuf> =
        std::fs::read_dir(repo().join("flows")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    assert!(flows.len() >= 5);
    for flow in flows {
        for images in [&[][..], &["--fnmesh-images", "--registry", "registry.local:5000/me"][..]] {
            let mut args = vec![flow.to_str().unwrap()];
            args.extend(images);
            let script = kn(&args).unwrap_or_else(|e| panic!("{}: {e}", flow.display()));
            let documents = applied(&script);
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("applied.yaml"), documents.join("\n---\n")).unwrap();
            let checked = validate(&[dir.path().to_owned()], "default", Some(&crds))
                .unwrap_or_else(|e| panic!("{} {images:?}: {e}\n{script}", flow.display()));
            assert_eq!(checked.documents, documents.len());
            // Every document of a kind a CRD defines was checked: all but v1 Service and Deployment.
            let built_in =
                documents.iter().filter(|d| matches!(yaml(d)["apiVersion"].as_str(), Some("v1" | "apps/v1"))).count();
            assert_eq!(checked.against_schemas, documents.len() - built_in, "{}", flow.display());
            let unserved: Vec<&String> = checked.warnings.iter().filter(|w| w.contains(": apiVersion: ")).collect();
            assert!(unserved.is_empty(), "{}: {unserved:?}", flow.display());
        }
    }
}

#[test]
fn the_seeds_ping_source_is_deployed_as_v1_and_the_script_says_so() {
    let script = kn(&["flows/sequence"]).unwrap();
    // knative/eventing pkg/apis/sources/v1beta1/ping_conversion.go (before 0bfa8de2d):
    // jsonData -> data (a JSON object re-encoded by json.Marshal), contentType application/json.
    assert!(
        script.contains(
            "\n# PingSource ping-source: sources.knative.dev/v1beta1 is not served since Knative 0.23; applied as \
         sources.knative.dev/v1 (jsonData -> data, contentType: application/json), as Knative 0.22 converted it\n"
        ),
        "{script}"
    );
    assert!(
        script.contains(
            "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata:\n  name: ping-source\nspec:\n  \
         schedule: '* * * * *'\n  contentType: application/json\n  data: '{\"message\":\"hello, world!\"}'\n"
        ),
        "{script}"
    );
    assert!(!script.contains("v1beta1\nkind"), "{script}");
}

#[test]
fn a_knative_service_is_applied_with_every_field() {
    // config/100-appender.yaml: containerConcurrency, probes, resources, securityContext, labels.
    let file = "config/100-appender.yaml";
    let script = kn(&[file, "--fnmesh-images", "--registry", "registry.local:5000/me"]).unwrap();
    let documents = applied(&script);
    assert_eq!(documents.len(), 1, "{script}");
    let mut written = yaml(&std::fs::read_to_string(repo().join(file)).unwrap());
    written["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.local:5000/me/appender:0.1.0".into();
    assert_eq!(yaml(&documents[0]), written, "only the image changes:\n{script}");
    assert!(
        script.contains("\nkubectl wait --namespace default --for=condition=Ready --timeout=300s ksvc/appender\n"),
        "{script}"
    );
}

#[test]
fn the_implicit_default_broker_and_command_services_are_deployed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: local\n  annotations:\n    \
         fnmesh.dev/command: python3 server.py\nspec:\n  template:\n    spec:\n      containerConcurrency: 2\n      \
         containers: [{image: example.com/local:1}]\n---\n\
         apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t, namespace: shop}\nspec:\n  \
         broker: default\n  subscriber: {uri: 'http://x'}\n",
    )
    .unwrap();
    let script = kn(&[dir.path().to_str().unwrap()]).unwrap();
    // The command service: deployed with its image, every field kept, and a comment.
    assert!(
        script.contains(
            "\n# Service local: fnmesh run runs \"python3 server.py\" (fnmesh.dev/command, left out here); the cluster \
         runs its image example.com/local:1\n"
        ),
        "{script}"
    );
    let documents: Vec<serde_yaml_ng::Value> = applied(&script).iter().map(|d| yaml(d)).collect();
    assert_eq!(documents[0]["spec"]["template"]["spec"]["containerConcurrency"].as_u64(), Some(2));
    assert!(documents[0]["metadata"].get("annotations").is_none(), "the local-only annotation is applied: {script}");
    // A Trigger naming Broker `default` that no manifest defines: fnmesh run makes it, a
    // default cluster does not (namespace injection is off), so the script creates it, in
    // the Trigger's namespace.
    assert!(
        script.contains(
            "\n# Broker default: named by a Trigger or a ref and defined by no manifest; fnmesh run makes it (as \
         namespace injection would), a default cluster does not: created here\nkubectl apply --namespace shop -f - \
         <<'YAML'\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: default\n---\n\
         apiVersion: eventing.knative.dev/v1\nkind: Trigger\n"
        ),
        "{script}"
    );
}

#[test]
fn an_api_version_no_cluster_serves_is_refused_but_ping_source_v1beta1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("old.yaml"),
        "apiVersion: eventing.knative.dev/v1beta1\nkind: Broker\nmetadata: {name: b}\n",
    )
    .unwrap();
    let err = kn(&[dir.path().to_str().unwrap()]).unwrap_err();
    assert!(
        err.contains(
            "old.yaml:doc 1 (Broker b): apiVersion: eventing.knative.dev/v1beta1 Broker is not served by current \
             Knative: write eventing.knative.dev/v1 (fnmesh kn converts only PingSource v1beta1)"
        ),
        "{err}"
    );
}

#[test]
fn what_kogito_generates_for_a_workflow_fits_the_upstream_crds() {
    // The newsletter's workflow service with no Trigger, K_SINK or SinkBinding written:
    // kn adds Kogito's Trigger per consumed type and its SinkBinding, on a Broker default.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("flows/newsletter/subscription-flow.sw.json"), dir.path().join("flow.sw.json")).unwrap();
    std::fs::write(
        dir.path().join("service.yaml"),
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: subscription-flow}\nspec:\n  template:\n    \
         spec:\n      containers:\n        - image: ghcr.io/fnmesh/workflow\n          env: [{name: WORKFLOW_FILE, value: \
         flow.sw.json}]\n",
    )
    .unwrap();
    let script = kn(&[dir.path().to_str().unwrap()]).unwrap();
    assert!(script.contains(
        "# What Kogito generates for workflow subscription_flow (Service subscription-flow): a Trigger for the event \
         type confirm.subscription it consumes\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: \
         confirm-subscription-trigger-subscription-flow\n"
    ));
    assert!(script.contains("kind: SinkBinding\nmetadata:\n  name: sb-subscription-flow\n"), "{script}");
    let documents = applied(&script);
    assert_eq!(documents.len(), 4, "{script}"); // the ksvc, Broker default, the Trigger, the SinkBinding
    let Some(crds) = Some(repo().join("../shared/knative/crds")).filter(|d| d.is_dir()) else { return };
    let checked_dir = tempfile::tempdir().unwrap();
    std::fs::write(checked_dir.path().join("applied.yaml"), documents.join("\n---\n")).unwrap();
    let checked = validate(&[checked_dir.path().to_owned()], "default", Some(&crds)).unwrap();
    assert_eq!((checked.documents, checked.against_schemas), (4, 3), "{script}");
}
