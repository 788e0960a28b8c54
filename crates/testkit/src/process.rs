//! A function binary running on a free loopback port, for tests that talk real HTTP.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when this returns; bind it soon), from below the
/// kernel's ephemeral range, where the clients of tests running alongside do not take it
/// in the meantime ([`fnmesh_runtime::ports`]).
pub fn free_port() -> u16 {
    fnmesh_runtime::ports::for_process().expect("a free loopback port")
}

/// A running binary; killed when dropped.
#[derive(Debug)]
pub struct Process {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Process {
    /// Starts `exe` with exactly `env` plus `PORT` (a free port) and
    /// `FNMESH_LISTEN_ADDR=127.0.0.1`, and waits until `GET /healthz` answers
    /// (at most 30 s). The process environment is not inherited.
    pub fn start(exe: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut command = Command::new(exe);
        command
            .env_clear()
            .env("PORT", port.to_string())
            .env("FNMESH_LISTEN_ADDR", "127.0.0.1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            drain(child.stdout.take().unwrap(), stdout.clone()),
            drain(child.stderr.take().unwrap(), stderr.clone()),
        ];
        let process = Self { child, base: format!("http://127.0.0.1:{port}"), stdout, stderr, readers };
        process.wait_ready(port);
        process
    }

    /// Sends `request` (a whole HTTP/1.1 request, with `Connection: close`) over a
    /// plain TCP connection and returns the whole answer as text.
    pub fn raw_http(&self, request: &[u8]) -> String {
        use std::io::Write;
        let addr = self.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        // The server may answer (413) and close before reading everything we send.
        let _ = stream.write_all(request);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    fn wait_ready(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::Write;
                let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 204") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("process did not become ready on port {port}; stderr: {}", self.stderr());
    }

    /// The most memory the process has had resident so far (`VmHWM` in
    /// `/proc/<pid>/status`), in bytes; `None` where there is no `/proc`.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib * 1024)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it with SIGKILL (no chance to clean up) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything written to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits (at most 10 s) until stdout contains `needle`; returns stdout.
    pub fn wait_stdout(&self, needle: &str) -> String {
        wait_for(|| self.stdout(), needle)
    }

    /// Waits (at most 10 s) until stderr contains `needle`; returns stderr.
    pub fn wait_stderr(&self, needle: &str) -> String {
        wait_for(|| self.stderr(), needle)
    }

    /// Sends SIGTERM and waits (at most 30 s) for the exit status.
    #[cfg(unix)]
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return status;
            }
            assert!(Instant::now() < deadline, "process did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn wait_for(read: impl Fn() -> String, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = read();
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "{needle:?} never appeared in:\n{text}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn drain(mut pipe: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
