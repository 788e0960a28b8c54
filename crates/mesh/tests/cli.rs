//! The real `fnmesh` binary: run a flow, send to it, list it, stop it; bad manifests
//! exit 1 with every problem; `--help` shows examples.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic in a test is a failed assertion; a skip is said on stderr

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::Stopped;

const EXE: &str = env!("CARGO_BIN_EXE_fnmesh");

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn fnmesh(args: &[&str]) -> Output {
    Command::new(EXE).args(args).current_dir(repo()).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    fnmesh_runtime::ports::for_process().unwrap()
}

#[test]
fn run_send_get_and_stop() {
    let port = free_port().to_string();
    let mut run = Stopped(
        Command::new(EXE)
            .args([
                "run",
                "flows/sequence/services.yaml",
                "flows/sequence/sequence.yaml",
                "--port",
                &port,
                "--color",
                "never",
            ])
            .current_dir(repo())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let listing = loop {
        let get = fnmesh(&["get", "ksvc", "--port", &port]);
        if get.status.success() {
            break text(&get.stdout);
        }
        assert!(Instant::now() < deadline, "fnmesh run did not come up: {}", text(&get.stderr));
        std::thread::sleep(Duration::from_millis(50));
    };
    // The ksvc CRD's printer columns (knative/serving config/core/300-resources/service.yaml),
    // laid out as kubectl does; READY: each service answered its probe.
    assert_eq!(
        listing,
        "NAME     URL                                       LATESTCREATED   LATESTREADY    READY   REASON\n\
         first    http://first.default.svc.cluster.local    first-00001     first-00001    True    \n\
         second   http://second.default.svc.cluster.local   second-00001    second-00001   True    \n\
         third    http://third.default.svc.cluster.local    third-00001     third-00001    True    \n"
    );
    let sent = fnmesh(&[
        "send",
        "sequence/sequence",
        "--data",
        r#"{"id": 7, "message": "hi"}"#,
        "--id",
        "cli-1",
        "--port",
        &port,
    ]);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    assert_eq!(text(&sent.stdout), "sent cli-1 to sequence/sequence: 202 Accepted\n");
    let direct = fnmesh(&["send", "ksvc/first", "--data", r#"{"id": 1, "message": "x"}"#, "--port", &port]);
    assert!(text(&direct.stdout).contains(r#"{"id":1,"message":"x - Handled by 0"}"#), "{}", text(&direct.stdout));
    let wrong = fnmesh(&["send", "sequence/nosuch", "--port", &port]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong.stderr).contains("404"), "{}", text(&wrong.stderr));

    // SIGTERM: a graceful stop, exit 0.
    Command::new("kill").args(["-TERM", &run.id().to_string()]).status().unwrap();
    let status = run.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(run.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(status.success(), "{status}: {stdout}");
    assert!(stdout.contains("Message:hi - Handled by 0 - Handled by 1 - Handled by 2}"), "{stdout}");
    assert!(stdout.contains("fnmesh | sequence/sequence step 2 -> third: 200 in "), "{stdout}");
    assert!(stdout.contains("fnmesh | stopping (signal)"), "{stdout}");
}

#[test]
fn bad_manifests_exit_1_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: s}\nspec:\n  steps:\n  - uri: /relative\n---\nkind: Parallel\n",
    )
    .unwrap();
    let out = fnmesh(&["run", dir.path().to_str().unwrap(), "--port", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("fnmesh: 3 problems in the manifests:"), "{stderr}");
    assert!(stderr.contains("bad.yaml:doc 2: apiVersion: required"), "{stderr}");
    assert!(
        stderr.contains("bad.yaml:doc 1 (Sequence s): spec.steps[0].uri: \"/relative\" is not an absolute URL"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.yaml:doc 2: metadata.name: required"), "{stderr}");
    let missing = fnmesh(&["run", "no/such/folder"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no/such/folder: cannot read"), "{}", text(&missing.stderr));
}

#[test]
fn a_local_command_can_be_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let server = [
        "import http.server, os",
        "class H(http.server.BaseHTTPRequestHandler):",
        "    def do_POST(self):",
        "        self.rfile.read(int(self.headers['content-length'] or 0))",
        "        print('got', self.headers['ce-id'], flush=True)",
        "        self.send_response(202); self.end_headers()",
        "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()",
    ]
    .join("\n");
    std::fs::write(dir.path().join("server.py"), server).unwrap();
    let manifest = format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: local\n  annotations:\n    fnmesh.dev/command: python3 {}/server.py\nspec:\n  template:\n    spec:\n      containers: [{{image: example.com/anything}}]\n",
        dir.path().display()
    );
    std::fs::write(dir.path().join("local.yaml"), manifest).unwrap();
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let port = free_port().to_string();
    let mut run = Stopped(
        Command::new(EXE)
            .args(["run", dir.path().to_str().unwrap(), "--port", &port, "--color", "never"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let sent = fnmesh(&["send", "ksvc/local", "--id", "py-1", "--port", &port]);
        if sent.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "{}", text(&sent.stderr));
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill").args(["-TERM", &run.id().to_string()]).status().unwrap();
    run.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(run.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(stdout.contains("local | got py-1"), "{stdout}");
}

#[test]
fn help_shows_examples() {
    let help = fnmesh(&["run", "--help"]);
    let help = text(&help.stdout);
    assert!(help.contains("fnmesh run flows/sequence --ping-now"), "{help}");
    assert!(help.contains("--exit-after"), "{help}");
    assert!(text(&fnmesh(&["send", "--help"]).stdout).contains("sequence/NAME, parallel/NAME, broker/NAME"));
}

#[test]
fn kn_prints_a_deploy_script_that_a_shell_accepts() {
    let out = fnmesh(&["kn", "flows/sequence", "--fnmesh-images", "--registry", "registry.local:5000/me"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    // The Knative Service as written (every field), with the image of --fnmesh-images.
    assert!(
        script.contains(
            "kubectl apply --namespace default -f - <<'YAML'\napiVersion: serving.knative.dev/v1\nkind: Service\n\
         metadata:\n  name: first\nspec:\n  template:\n    spec:\n      containers:\n      \
         - image: registry.local:5000/me/appender:0.1.0\n        env:\n        - name: MESSAGE\n          \
         value: ' - Handled by 0'\n"
        ),
        "{script}"
    );
    // The seed's v1beta1 PingSource as v1: no current cluster serves v1beta1 (Knative 0.23).
    assert!(
        script.contains(
            "kubectl apply --namespace default -f - <<'YAML'\napiVersion: sources.knative.dev/v1\nkind: PingSource"
        ),
        "{script}"
    );
    for flow in ["flows/sequence", "flows/parallel", "flows/buy-tickets", "flows/saga", "flows/provisioning"] {
        let script = text(&fnmesh(&["kn", flow]).stdout);
        let check =
            Command::new("bash").arg("-n").stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().and_then(|mut bash| {
                std::io::Write::write_all(bash.stdin.as_mut().unwrap(), script.as_bytes())?;
                bash.wait_with_output()
            });
        let check = check.unwrap();
        assert!(check.status.success(), "{flow}: {}", text(&check.stderr));
    }
}

#[test]
fn ctrl_c_under_load_answers_what_was_accepted_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let slow = "(() => { const end = Date.now() + 1000; while (Date.now() < end) {} return true; })()";
    std::fs::write(
        dir.path().join("slow.yaml"),
        format!(
            "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {{name: c}}\n---\n\
             apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {{name: s}}\nspec:\n  \
             channel: {{apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: c}}\n  \
             subscriber: {{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: slow}}}}\n---\n\
             apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {{name: slow}}\nspec:\n  template:\n    spec:\n      \
             containers:\n        - image: ghcr.io/fnmesh/filter\n          env:\n            - {{name: FILTER, value: \"{slow}\"}}\n            \
             - {{name: FNMESH_EVAL_TIMEOUT, value: 5s}}\n            - {{name: FNMESH_EVAL_WORKERS, value: \"4\"}}\n"
        ),
    )
    .unwrap();
    let (mut run, port) = support::quiet_run(dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fnmesh(&["get", "--port", &port]).status.success() {
        assert!(Instant::now() < deadline, "fnmesh run did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let senders: Vec<_> = (0..4)
        .map(|i| {
            let port = port.clone();
            std::thread::spawn(move || fnmesh(&["send", "channel/c", "--id", &format!("e{i}"), "--port", &port]))
        })
        .collect();
    // The senders are connected and their events in the 1 s filter well before this.
    std::thread::sleep(Duration::from_millis(500));
    Command::new("kill").args(["-INT", &run.id().to_string()]).status().unwrap();
    for sender in senders {
        let out = sender.join().unwrap();
        assert!(
            out.status.success() && text(&out.stdout).contains("202 Accepted"),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let status = run.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(), "the ingress is closed");
}

/// Whether process `pid` is gone (or a zombie nobody waits for), within `limit`.
fn gone(pid: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status.is_empty() || status.contains("State:\tZ") {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn command_services_keep_their_concurrency_and_end_with_fnmesh() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A threaded server that counts the requests it serves at once; started by `sh -c`
    // with a command after it, so the server is fnmesh's grandchild, not its child.
    let server = [
        "import http.server, os, threading, time",
        "open(os.environ['PIDFILE'], 'w').write(str(os.getpid()))",
        "lock = threading.Lock(); now = [0, 0]",
        "class H(http.server.BaseHTTPRequestHandler):",
        "    def do_POST(self):",
        "        self.rfile.read(int(self.headers['content-length'] or 0))",
        "        with lock: now[0] += 1; now[1] = max(now[1], now[0])",
        "        time.sleep(0.2)",
        "        with lock: now[0] -= 1",
        "        print('at most', now[1], 'at once', flush=True)",
        "        self.send_response(202); self.end_headers()",
        "    def log_message(self, *args): pass",
        "http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()",
    ]
    .join("\n");
    std::fs::write(dir.path().join("server.py"), server).unwrap();
    let pidfile = dir.path().join("server.pid");
    let manifest = format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: one\n  annotations:\n    \
         fnmesh.dev/command: python3 {}/server.py; echo server ended\nspec:\n  template:\n    spec:\n      \
         containerConcurrency: 1\n      containers:\n        - image: example.com/anything\n          \
         env: [{{name: PIDFILE, value: {}}}]\n",
        dir.path().display(),
        pidfile.display()
    );
    std::fs::write(dir.path().join("one.yaml"), manifest).unwrap();
    let port = free_port().to_string();
    let mut run = Stopped(
        Command::new(EXE)
            .args(["run", dir.path().to_str().unwrap(), "--port", &port, "--color", "never", "-q"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fnmesh(&["get", "--port", &port]).status.success() {
        assert!(Instant::now() < deadline, "fnmesh run did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let senders: Vec<_> = (0..4)
        .map(|i| {
            let port = port.clone();
            std::thread::spawn(move || fnmesh(&["send", "ksvc/one", "--id", &format!("c{i}"), "--port", &port]))
        })
        .collect();
    for sender in senders {
        let out = sender.join().unwrap();
        assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    }
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    Command::new("kill").args(["-INT", &run.id().to_string()]).status().unwrap();
    assert!(run.wait().unwrap().success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(run.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert_eq!(stdout.matches("one | at most 1 at once").count(), 4, "containerConcurrency 1:\n{stdout}");
    assert!(gone(&pid, Duration::from_secs(5)), "the command's own child {pid} outlived fnmesh run");
}
