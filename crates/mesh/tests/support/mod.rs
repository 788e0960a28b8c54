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

/// `fnmesh run` as a user runs it, its output gathered as it comes.
pub struct Run {
    child: Child,
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
        Self { child, output, port }
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

impl Drop for Run {
    /// A failed test still stops it as Ctrl-C does, so that it ends its services' process
    /// groups (a SIGKILL would leave them behind).
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
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
