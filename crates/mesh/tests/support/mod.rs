//! What the tests of a user's own services share: `fnmesh run` started as a user starts
//! it, its output gathered as it comes, and whether processes are gone.
#![allow(dead_code)] // each test binary uses a part of it

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const EXE: &str = env!("CARGO_BIN_EXE_fnmesh");
pub const WAIT: Duration = Duration::from_secs(60);

pub fn repo() -> PathBuf {
    std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap()
}

pub fn fnmesh(args: &[&str]) -> Output {
    Command::new(EXE).args(args).output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn python() -> bool {
    let found = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: python3 is not installed");
    }
    found
}

/// A child process (`fnmesh run`) stopped as Ctrl-C stops it when it is dropped, even when
/// an assertion fails first: so that it ends its services' process groups (a SIGKILL would
/// leave them behind), and no mesh outlives its test.
pub struct Stopped(pub Child);

impl std::ops::Deref for Stopped {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Stopped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill").args(["-INT", &self.0.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
        }
    }
}

/// `fnmesh run DIR -q` on a free port, its output discarded: the running mesh, and its port.
pub fn quiet_run(dir: &Path) -> (Stopped, String) {
    let port = fnmesh_runtime::ports::for_process().unwrap().to_string();
    let child = Command::new(EXE)
        .args(["run", dir.to_str().unwrap(), "--port", &port, "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Stopped(child), port)
}

/// `fnmesh run` as a user runs it, its output gathered as it comes.
pub struct Run {
    child: Stopped,
    output: Arc<Mutex<String>>,
    pub port: String,
}

impl Run {
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let port = fnmesh_runtime::ports::for_process().unwrap().to_string();
        let mut child = Command::new(EXE)
            .arg("run")
            .args(args)
            .args(["--port", &port, "--color", "never"])
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut all = output.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        Self { child: Stopped(child), output, port }
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output has `needle` `times` times; the output.
    pub fn wait_for(&mut self, needle: &str, times: usize) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let output = self.output();
            if output.matches(needle).count() >= times {
                return output;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(200));
                panic!("fnmesh run exited ({status}) before printing {needle:?}:\n{}", self.output());
            }
            assert!(Instant::now() < deadline, "no {needle:?} (x{times}) within {WAIT:?}:\n{output}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn send(&self, target: &str, data: &str) -> Output {
        fnmesh(&["send", target, "--port", &self.port, "--data", data])
    }

    /// Stops it as Ctrl-C does; its whole output.
    pub fn stop(mut self) -> String {
        Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}: {}", self.output());
        std::thread::sleep(Duration::from_millis(100));
        self.output()
    }

    /// It exits by itself; its status and output.
    pub fn exits(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.output());
            }
            assert!(Instant::now() < deadline, "fnmesh run did not exit:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{}", pid.trim())).exists()
        && !std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).is_ok_and(|s| s.contains(") Z "))
}

pub fn gone(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}
