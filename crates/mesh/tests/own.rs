//! A user's own functions in `fnmesh run`: a crate from `fnmesh new` built and run from
//! its sources and rebuilt by `--watch`; local commands with their start-up wait, their
//! early exit reported, and their whole process group ended on restart; a `func.yaml`
//! project's env and subscriptions. Python 3 plays the users' servers (tests say they
//! skipped without it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic in a test is a failed assertion

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{EXE, Run, fnmesh, gone, python, repo, text};

/// A CloudEvents server in Python: answers every event with `{"version": <version.txt>,
/// "pid": ...}` (read at start), writes its pid and its child's pid (a `sleep` it starts,
/// which must end with it) to `pids`.
const SERVER: &str = r#"import http.server, json, os, subprocess, sys
here = os.path.dirname(os.path.abspath(__file__))
version = open(os.path.join(here, 'version.txt')).read().strip()
helper = subprocess.Popen(['sleep', '600'])
open(os.path.join(here, 'pids'), 'a').write(f"{os.getpid()} {helper.pid}\n")
print('serving version', version, os.environ.get('GREETING', ''), flush=True)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers['content-length'] or 0))
        body = json.dumps({'version': version, 'greeting': os.environ.get('GREETING', '')}, separators=(',', ':')).encode()
        self.send_response(200)
        for k, v in [('ce-specversion', '1.0'), ('ce-id', self.headers['ce-id']), ('ce-type', 'reply'),
                     ('ce-source', '/py'), ('content-type', 'application/json'), ('content-length', str(len(body)))]:
            self.send_header(k, v)
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
"#;

fn service(name: &str, source: &str, greeting: &str) -> String {
    format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: {name}\n  annotations:\n    \
         fnmesh.dev/source: {source}\n    fnmesh.dev/command: exec python3 server.py\nspec:\n  template:\n    spec:\n      \
         containers:\n        - image: dev.local/{name}\n          env: [{{name: GREETING, value: {greeting}}}]\n"
    )
}

fn pids(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("pids")).unwrap_or_default();
    text.lines().map(|l| l.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap()).collect()
}

#[test]
fn watch_restarts_only_what_changed_and_loses_no_event() {
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    for source in [&one, &two] {
        std::fs::create_dir_all(source).unwrap();
        std::fs::write(source.join("server.py"), SERVER).unwrap();
        std::fs::write(source.join("version.txt"), "1").unwrap();
    }
    let manifests = dir.path().join("config");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(manifests.join("one.yaml"), service("one", "../one", "hi")).unwrap();
    std::fs::write(manifests.join("two.yaml"), service("two", "../two", "hi")).unwrap();
    let mut run = Run::start(&[manifests.to_str().unwrap(), "--watch"], &[]);
    run.wait_for("watching the manifests", 1);
    let first = run.send("ksvc/one", "{}");
    assert!(text(&first.stdout).contains(r#"{"version":"1","greeting":"hi"}"#), "{}", text(&first.stdout));
    let (one_pids, two_pids) = (pids(&one), pids(&two));

    // Events keep flowing while `one` restarts: they wait at its gate.
    let port = run.port.clone();
    let sender = std::thread::spawn(move || {
        let mut answers = Vec::new();
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until && answers.len() < 200 {
            let out = fnmesh(&["send", "ksvc/one", "--port", &port, "--data", "{}"]);
            answers.push((out.status.success(), format!("{}{}", text(&out.stdout), text(&out.stderr))));
        }
        answers
    });
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(one.join("version.txt"), "2").unwrap();
    let output = run.wait_for("one: restarted in", 1);
    let answers = sender.join().unwrap();
    assert!(answers.iter().all(|(ok, _)| *ok), "an event was lost while one restarted:\n{answers:?}\n{output}");
    let second = run.send("ksvc/one", "{}");
    assert!(text(&second.stdout).contains(r#"{"version":"2""#), "{}", text(&second.stdout));
    // The old process and the child it started are gone; `two` was left alone.
    for (pid, child) in &one_pids {
        assert!(gone(pid) && gone(child), "one's old process {pid} or its child {child} outlived the restart");
    }
    assert_eq!(pids(&two), two_pids, "two restarted though nothing of it changed");
    assert!(!output.contains("two: sources changed"), "{output}");

    // A manifest change restarts the service it changes, with its new env.
    std::fs::write(manifests.join("two.yaml"), service("two", "../two", "hello")).unwrap();
    let output = run.wait_for("reloaded: 2 service(s)", 1);
    assert!(output.contains("two: its manifest changed"), "{output}");
    assert!(!output.contains("one: its manifest changed"), "{output}");
    let reply = run.send("ksvc/two", "{}");
    assert!(text(&reply.stdout).contains(r#""greeting":"hello""#), "{}", text(&reply.stdout));
    assert_eq!(pids(&one).len(), 2, "one restarted with two's manifest");

    // A broken manifest changes nothing; the running services keep answering.
    std::fs::write(manifests.join("two.yaml"), "apiVersion: serving.knative.dev/v1\nkind: Service\n").unwrap();
    let output = run.wait_for("still running the previous ones", 1);
    assert!(output.contains("metadata.name: required"), "{output}");
    assert!(run.send("ksvc/two", "{}").status.success());

    let all = pids(&one).into_iter().chain(pids(&two));
    run.stop();
    for (pid, child) in all {
        assert!(gone(&pid) && gone(&child), "{pid} or its child {child} outlived fnmesh run");
    }
}

#[test]
fn the_start_up_wait_is_configurable_and_an_early_exit_shows_its_last_lines() {
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let manifest = |name: &str, annotations: &str, probe: &str| {
        let path = dir.path().join(format!("{name}.yaml"));
        let text = format!(
            "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: {name}\n  annotations:\n{annotations}\
             spec:\n  template:\n    spec:\n      containers:\n        - image: dev.local/{name}{probe}\n"
        );
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    // Slow to listen (1.5 s), within its start-up time.
    let slow = manifest(
        "slow",
        "    fnmesh.dev/command: sleep 1.5; exec python3 -m http.server $PORT --bind 127.0.0.1\n    \
         fnmesh.dev/startup-timeout: 30s\n",
        "",
    );
    let mut run = Run::start(&[&slow], &[]);
    run.wait_for("ready in", 1);
    run.stop();

    let never = manifest("never", "    fnmesh.dev/command: sleep 30\n    fnmesh.dev/startup-timeout: 1s\n", "");
    let (status, output) = Run::start(&[&never], &[]).exits();
    assert_eq!(status.code(), Some(1));
    assert!(output.contains("service never: did not listen on PORT="), "{output}");
    assert!(output.contains("within 1s (fnmesh.dev/startup-timeout)"), "{output}");

    let early =
        manifest("early", "    fnmesh.dev/command: \"echo loading; echo 'no config: DB_URL' >&2; exit 3\"\n", "");
    let (status, output) = Run::start(&[&early], &[]).exits();
    assert_eq!(status.code(), Some(1));
    assert!(output.contains("service early: exited (exit status: 3) before it could listen on PORT="), "{output}");
    assert!(output.contains("its last lines:") && output.contains("  | no config: DB_URL"), "{output}");

    // The readiness probe's path, not the port, says when it is ready: never, here.
    let probed = manifest(
        "probed",
        "    fnmesh.dev/command: exec python3 -m http.server $PORT --bind 127.0.0.1\n    \
         fnmesh.dev/startup-timeout: 2s\n",
        "\n          readinessProbe: {httpGet: {path: /ready, port: 8080}}",
    );
    let (status, output) = Run::start(&[&probed], &[]).exits();
    assert_eq!(status.code(), Some(1));
    assert!(output.contains("did not answer its readiness probe http://127.0.0.1:"), "{output}");
    assert!(output.contains("/ready within 2s"), "{output}");
}

#[test]
fn a_func_project_gets_its_env_and_its_subscriptions_as_triggers() {
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("hello");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("server.py"), SERVER).unwrap();
    std::fs::write(project.join("version.txt"), "func").unwrap();
    std::fs::write(
        project.join("func.yaml"),
        "specVersion: 0.36.0\nname: hello\nruntime: python\nregistry: quay.io/me\n\
         run:\n  envs:\n  - {name: GREETING, value: '{{ env:FNMESH_TEST_GREETING }}'}\n\
         deploy:\n  annotations: {fnmesh.dev/command: exec python3 server.py}\n  \
         subscriptions:\n  - source: default\n    filters: {type: greeting.requested}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broker.yaml"),
        "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default}\n",
    )
    .unwrap();
    let mut run = Run::start(&[dir.path().to_str().unwrap()], &[("FNMESH_TEST_GREETING", "howdy")]);
    run.wait_for("ready in", 1);
    assert!(run.output().contains("hello | serving version func howdy"), "{}", run.output());
    let get = fnmesh(&["get", "triggers", "--port", &run.port]);
    assert!(text(&get.stdout).contains("hello-function-trigger-0"), "{}", text(&get.stdout));
    let matching =
        fnmesh(&["send", "broker/default", "--type", "greeting.requested", "--port", &run.port, "--data", "{}"]);
    assert!(matching.status.success(), "{}", text(&matching.stderr));
    let output = run.wait_for("trigger/hello-function-trigger-0 -> hello: 200", 1);
    let other = fnmesh(&["send", "broker/default", "--type", "something.else", "--port", &run.port, "--data", "{}"]);
    assert!(other.status.success());
    std::thread::sleep(Duration::from_millis(300));
    let output = run.stop().replacen(&output, "", 1);
    assert!(!output.contains("-> hello"), "an event of another type reached hello:\n{output}");
}

#[test]
fn a_new_function_builds_runs_and_rebuilds_from_its_sources() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = repo().join("crates/runtime");
    let new = Command::new(EXE)
        .args(["new", "hello", "--runtime-path", runtime.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(new.status.success(), "{}", text(&new.stderr));
    assert!(text(&new.stdout).starts_with("wrote hello (cloudevents) in hello\n"), "{}", text(&new.stdout));
    let crate_dir = dir.path().join("hello");
    // Its own target folder, shared by runs of this test, as trybuild does: the first run
    // builds the runtime's dependencies once. Offline: the workspace's own lock file
    // pins the versions already in the cargo cache.
    let target = repo().join("target/own-functions");
    let target = target.to_str().unwrap();
    let test = Command::new("cargo")
        .args(["test", "--offline", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    assert!(test.status.success(), "the new crate's test failed:\n{}{}", text(&test.stdout), text(&test.stderr));
    assert!(text(&test.stdout).contains("2 passed"), "{}", text(&test.stdout));

    let config = crate_dir.join("config");
    let mut run = Run::start(&[config.to_str().unwrap(), "--watch"], &[("CARGO_TARGET_DIR", target)]);
    run.wait_for("watching the manifests", 1);
    let reply = run.send("ksvc/hello", r#"{"name": "Ada"}"#);
    assert!(text(&reply.stdout).contains(r#"{"message":"Hello, Ada"}"#), "{}", text(&reply.stdout));
    assert!(text(&reply.stdout).contains("reply: hello.greeting"), "{}", text(&reply.stdout));

    let lib = crate_dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    let edited = source.replace(
        r#"format!("{}, {}", config.greeting, person.name)"#,
        r#"format!("{}, {}!", config.greeting, person.name)"#,
    );
    assert_ne!(source, edited, "the template changed: update this test");
    std::fs::write(&lib, edited).unwrap();
    let output = run.wait_for("hello: restarted in", 1);
    let reply = run.send("ksvc/hello", r#"{"name": "Ada"}"#);
    assert!(text(&reply.stdout).contains(r#"{"message":"Hello, Ada!"}"#), "{}\n{output}", text(&reply.stdout));

    // A change that does not build keeps the running one.
    std::fs::write(&lib, "this is not rust").unwrap();
    let output = run.wait_for("still running the previous build", 1);
    assert!(output.contains("cargo build failed"), "{output}");
    assert!(run.send("ksvc/hello", r#"{"name": "Ada"}"#).status.success());
    run.stop();
}
