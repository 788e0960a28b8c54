//! `fnmesh get` against a running `fnmesh run`, as `kubectl get` against a cluster:
//! `get KIND [NAME]`, `-o json`, each kind's printer columns (a Trigger's BROKER and
//! SUBSCRIBER_URI, from knative/eventing `config/core/resources/trigger.yaml`), READY
//! from whether the service answers now; and `--color` refuses what it does not know.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic in a test is a failed assertion; a skip is said on stderr

use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod support;

const EXE: &str = env!("CARGO_BIN_EXE_fnmesh");

fn fnmesh(args: &[&str]) -> Output {
    Command::new(EXE).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `fnmesh get ARGS` until `done` says its output is what was awaited (the mesh starting,
/// a service stopping), within 20 s.
fn get_until(port: &str, args: &[&str], done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut all = vec!["get"];
        all.extend(args);
        all.extend(["--port", port]);
        let out = fnmesh(&all);
        let stdout = text(&out.stdout);
        if out.status.success() && done(&stdout) {
            return stdout;
        }
        assert!(Instant::now() < deadline, "fnmesh get {args:?}: {stdout}{}", text(&out.stderr));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn get_shows_kinds_names_columns_and_the_real_readiness() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = [
        "import http.server, os, sys",
        "if os.path.exists(os.environ['PIDFILE'] + '.down'): sys.exit(3)",
        "open(os.environ['PIDFILE'], 'w').write(str(os.getpid()))",
        "class H(http.server.BaseHTTPRequestHandler):",
        "    def do_GET(self):",
        "        self.send_response(204); self.end_headers()",
        "    def log_message(self, *args): pass",
        "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()",
    ]
    .join("\n");
    std::fs::write(dir.path().join("server.py"), server).unwrap();
    let pidfile = dir.path().join("server.pid");
    let manifests = format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: local\n  annotations:\n    \
         fnmesh.dev/command: python3 {}/server.py\nspec:\n  template:\n    spec:\n      containers:\n      - image: \
         example.com/anything\n        env: [{{name: PIDFILE, value: {}}}]\n---\n\
         apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {{name: appender}}\nspec:\n  template:\n    spec:\n      \
         containers: [{{image: ghcr.io/fnmesh/appender}}]\n---\n\
         apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {{name: b}}\n---\n\
         apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {{name: t}}\nspec:\n  broker: b\n  \
         subscriber: {{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: appender}}}}\n",
        dir.path().display(),
        pidfile.display()
    );
    std::fs::write(dir.path().join("app.yaml"), manifests).unwrap();
    let (mut run, port) = support::quiet_run(dir.path());

    // Both services answer: READY True (the command service once it listens).
    let services = get_until(&port, &["ksvc"], |out| out.lines().skip(1).all(|l| l.contains(" True ")));
    let header = services.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"]
    );

    // A Trigger: BROKER and SUBSCRIBER_URI, AGE, READY, REASON (trigger.yaml's printer columns).
    let triggers = get_until(&port, &["triggers"], |_| true);
    let lines: Vec<Vec<&str>> = triggers.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["NAME", "BROKER", "SUBSCRIBER_URI", "AGE", "READY", "REASON"]);
    assert_eq!(lines[1][..3], ["t", "b", "http://appender.default.svc.cluster.local"]);
    assert_eq!(lines[1][4], "True");

    // One object, as JSON: the manifest with the status a cluster would report.
    let json = get_until(&port, &["trigger", "t", "-o", "json"], |_| true);
    let object: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(object["apiVersion"], "eventing.knative.dev/v1");
    assert_eq!(object["metadata"]["namespace"], "default");
    assert_eq!(object["status"]["subscriberUri"], "http://appender.default.svc.cluster.local");
    let broker = get_until(&port, &["broker", "b", "-o", "wide"], |_| true);
    assert!(broker.lines().next().unwrap().ends_with("   CLASS"), "{broker}");
    assert!(broker.lines().nth(1).unwrap().ends_with("   MTChannelBasedBroker"), "{broker}");

    // kubectl's NotFound.
    let missing = fnmesh(&["get", "ksvc", "nosuch", "--port", &port]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr)
            .contains("Error from server (NotFound): services.serving.knative.dev \"nosuch\" not found"),
        "{}",
        text(&missing.stderr)
    );

    // The command's process ends, and its restarts fail while `.down` exists: READY
    // False, with why.
    let down = dir.path().join("server.pid.down");
    std::fs::write(&down, "").unwrap();
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    Command::new("kill").args(["-TERM", pid.trim()]).status().unwrap();
    let after = get_until(&port, &["ksvc", "local"], |out| out.contains(" False "));
    let row: Vec<&str> = after.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[0], "local");
    assert_eq!(row[row.len() - 2..], ["False", "NotResponding"], "{after}");
    let appender = get_until(&port, &["ksvc", "appender"], |_| true);
    assert!(appender.contains(" True "), "the other service is still ready: {appender}");
    // Once it can start, a restart brings it back, as the kubelet's would.
    std::fs::remove_file(&down).unwrap();
    get_until(&port, &["ksvc", "local"], |out| out.contains(" True "));

    Command::new("kill").args(["-TERM", &run.id().to_string()]).status().unwrap();
    run.wait().unwrap();
}

#[test]
fn color_refuses_values_it_does_not_know() {
    let out = fnmesh(&["run", "flows/sequence", "--color", "sometimes"]);
    assert_eq!(out.status.code(), Some(2), "a usage error, as clap reports them");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("invalid value 'sometimes' for '--color <COLOR>'"), "{stderr}");
    assert!(stderr.contains("[possible values: auto, always, never]"), "{stderr}");
}

/// Each kind's columns are its CRD's `additionalPrinterColumns` (name, path, type `date`,
/// priority), read in place from `../shared/knative/crds/`.
#[test]
fn the_columns_are_the_crds_printer_columns() {
    let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/knative/crds");
    if !crds.is_dir() {
        eprintln!("skipped: ../shared/knative/crds is not here (development machine only)");
        return;
    }
    let mut definitions = std::collections::HashMap::new();
    for entry in std::fs::read_dir(&crds).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let crd: serde_json::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let key = (
            crd["spec"]["group"].as_str().unwrap().to_owned(),
            crd["spec"]["names"]["plural"].as_str().unwrap().to_owned(),
        );
        let storage =
            crd["spec"]["versions"].as_array().unwrap().iter().find(|v| v["storage"] == true).unwrap().clone();
        definitions.insert(key, storage["additionalPrinterColumns"].clone());
    }
    let mut compared = 0;
    for resource in fnmesh_mesh::cli::get::RESOURCES {
        let Some(columns) = definitions.get(&(resource.group.to_owned(), resource.plural.to_owned())) else {
            eprintln!("{}: no CRD in ../shared/knative/crds", resource.name);
            continue;
        };
        let upstream: Vec<(String, String, bool, u64)> = columns
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["jsonPath"].as_str().unwrap().to_owned(),
                    c["type"] == "date",
                    c["priority"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let ours: Vec<(String, String, bool, u64)> = resource
            .columns
            .iter()
            .map(|c| (c.name.to_owned(), c.json_path.to_owned(), c.date, u64::from(c.priority)))
            .collect();
        assert_eq!(ours, upstream, "{}", resource.name);
        compared += 1;
    }
    assert_eq!(compared, 9, "every kind with a CRD in ../shared/knative/crds");
}
