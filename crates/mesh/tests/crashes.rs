//! A service's process that exits on its own while `fnmesh run` runs is started again
//! after a back-off that doubles, as the kubelet restarts a crashed container; requests
//! to it wait for the restart. Python 3 plays the user's server (skipped without it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic in a test is a failed assertion

mod support;

use support::{Run, alive, gone, python, text};

/// Answers one event with `202`, then exits with status 4. Each start appends its pid to
/// `pids`.
const FLAKY: &str = r#"import http.server, os, threading
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pids'), 'a').write(f"{os.getpid()}\n")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers['content-length'] or 0))
        self.send_response(202); self.send_header('content-length', '0'); self.end_headers()
        self.wfile.flush()
        threading.Timer(0.2, lambda: os._exit(4)).start()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
"#;

#[test]
fn a_crashed_process_restarts_after_a_growing_back_off_and_requests_wait_for_it() {
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("flaky");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("server.py"), FLAKY).unwrap();
    let manifest = dir.path().join("flaky.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: flaky\n  annotations:\n    \
             fnmesh.dev/source: {}\n    fnmesh.dev/command: exec python3 server.py\nspec:\n  template:\n    spec:\n      \
             containers:\n        - image: dev.local/flaky\n",
            source.display()
        ),
    )
    .unwrap();
    let mut run = Run::start(&[manifest.to_str().unwrap()], &[]);
    run.wait_for("ready in", 1);

    let sent = run.send("ksvc/flaky", "{}");
    assert!(sent.status.success(), "{}{}", text(&sent.stdout), text(&sent.stderr));
    run.wait_for("flaky: exited (exit status: 4) while running; restarting it in 1s (requests to it wait)", 1);
    run.wait_for("flaky: restarted (restarts: 1)", 1);

    // The second start crashes too: the wait doubles. An event sent meanwhile waits at the
    // gate and reaches the third start.
    let sent = run.send("ksvc/flaky", "{}");
    assert!(sent.status.success(), "{}{}", text(&sent.stdout), text(&sent.stderr));
    run.wait_for("flaky: exited (exit status: 4) while running; restarting it in 2s", 1);
    let sent = run.send("ksvc/flaky", "{}");
    assert!(sent.status.success(), "{}{}", text(&sent.stdout), text(&sent.stderr));
    run.wait_for("flaky: restarted (restarts: 2)", 1);
    // Only an event makes it exit: the one that waited reached the third start.
    let output = run.wait_for("restarting it in 4s", 1);

    let pids: Vec<String> = std::fs::read_to_string(source.join("pids")).unwrap().lines().map(str::to_owned).collect();
    assert!(pids.len() >= 3, "three starts, each its own process: {pids:?}\n{output}");
    assert!(!alive(&pids[0]) && !alive(&pids[1]), "the crashed processes are gone: {pids:?}");
    let output = run.stop();
    for pid in &pids {
        assert!(gone(pid), "{pid} outlived fnmesh run:\n{output}");
    }
}
