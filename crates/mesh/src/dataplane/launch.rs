//! Starting a service that runs as a process of this machine ([`crate::plan::local`]):
//! build it (`cargo build` of a user's crate, or the `fnmesh.dev/build` command), start
//! it in a process group of its own on its port ([`super::processes`]), and wait until
//! it is ready (its readiness probe, else a connection to `PORT`) within its start-up
//! time. A process that exits before it is ready is reported with its last lines. An
//! image no function maps runs the same way, as `podman run`/`docker run` with the
//! host's network ([`engine`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::processes::CommandProcess;
use crate::output::{Out, Tail, pipe_lines};
use crate::plan::local::{Build, Local};

/// The environment a local process gets beyond fnmesh's own: the manifest's `env`, then
/// Knative's (`PORT`, `K_SERVICE`, ...).
pub type Vars = Vec<(String, String)>;

/// Builds `local` (when it has a build) and returns the program to start: the shell
/// command, or the binary cargo built. Build output goes to `out` as the service's.
pub async fn build(name: &str, local: &Local, out: &Out) -> Result<String, String> {
    let dir = local.dir.as_deref().unwrap_or(Path::new("."));
    match &local.build {
        None => local.command.clone().ok_or_else(|| "nothing says how to start it".to_owned()),
        Some(Build::Shell(command)) => {
            let tail = Tail::default();
            let mut child = shell(command, dir, &[])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot run the build {command:?}: {e}"))?;
            pipe_child(&mut child, out, name, &tail);
            let status = child.wait().await.map_err(|e| format!("the build {command:?}: {e}"))?;
            if !status.success() {
                return Err(format!("the build {command:?} failed ({status}){}", tail.render()));
            }
            local.command.clone().ok_or_else(|| "nothing says how to start it".to_owned())
        }
        Some(Build::Cargo) => {
            let binary = cargo_build(name, dir, out).await?;
            Ok(match &local.command {
                Some(command) => command.clone(),
                None => format!("exec {}", shell_quote(&binary.to_string_lossy())),
            })
        }
    }
}

/// `cargo build` of the crate in `dir`; the path of its binary.
async fn cargo_build(name: &str, dir: &Path, out: &Out) -> Result<PathBuf, String> {
    let manifest = dir.join("Cargo.toml");
    let manifest = std::fs::canonicalize(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    out.line(name, &format!("cargo build --manifest-path {}", manifest.display()));
    let tail = Tail::default();
    let mut child = tokio::process::Command::new("cargo")
        .args(["build", "--bins", "--message-format=json-render-diagnostics", "--manifest-path"])
        .arg(&manifest)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if let Some(stderr) = child.stderr.take() {
        pipe_lines(out.clone(), name.to_owned(), stderr, tail.clone());
    }
    let mut binaries = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(binary) = artifact(&line, &manifest) {
                binaries.push(binary);
            }
        }
    }
    let status = child.wait().await.map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build failed ({status}){}", tail.render()));
    }
    match binaries.len() {
        1 => Ok(binaries.remove(0)),
        0 => Err(format!("cargo built no binary of {}: a function crate needs a src/main.rs", manifest.display())),
        _ => {
            let named = binaries.iter().position(|b| b.file_name().is_some_and(|f| f == name));
            named.map(|i| binaries.remove(i)).ok_or_else(|| {
                let names: Vec<String> = binaries.iter().map(|b| b.display().to_string()).collect();
                format!("{} has several binaries and none is named {name}: {}", manifest.display(), names.join(", "))
            })
        }
    }
}

/// The executable of a `compiler-artifact` message of the package at `manifest`.
fn artifact(line: &str, manifest: &Path) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let from = std::fs::canonicalize(message["manifest_path"].as_str()?).ok()?;
    let is_bin = message["target"]["kind"].as_array()?.iter().any(|k| k == "bin");
    (from == manifest && is_bin).then(|| message["executable"].as_str().map(PathBuf::from)).flatten()
}

/// Starts `program` (a shell command) in `dir` with `vars`, and waits until it is ready.
pub async fn start(
    name: &str,
    program: &str,
    local: &Local,
    vars: &Vars,
    port: u16,
    out: &Out,
    waits: bool,
) -> Result<CommandProcess, String> {
    let dir = local.dir.as_deref().unwrap_or(Path::new("."));
    let tail = Tail::default();
    let mut child = shell(program, dir, vars)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {program:?}: {e}"))?;
    pipe_child(&mut child, out, name, &tail);
    let child = CommandProcess::new(child);
    if !waits {
        return Ok(child);
    }
    ready(name, &child, local, port, out, &tail).await.map(|()| child)
}

/// Waits until `child` answers its probe on `port`, or fails with why.
async fn ready(
    name: &str,
    child: &CommandProcess,
    local: &Local,
    port: u16,
    out: &Out,
    tail: &Tail,
) -> Result<(), String> {
    let started = Instant::now();
    let mut said = Duration::ZERO;
    let probe = local.startup.http_path.as_ref().map(|path| format!("http://127.0.0.1:{port}{path}"));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap_or_default();
    let what = match &probe {
        Some(url) => format!("answer its readiness probe {url}"),
        None => format!("listen on PORT={port}"),
    };
    loop {
        if let Some(status) = child.try_wait() {
            // Let the pipes deliver the last lines.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Err(format!("exited ({status}) before it could {what}{}", tail.render()));
        }
        let answered = match &probe {
            None => tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok(),
            Some(url) => {
                client.get(url).send().await.is_ok_and(|r| r.status().is_success() || r.status().is_redirection())
            }
        };
        if answered {
            return Ok(());
        }
        let waited = started.elapsed();
        if waited >= local.startup.timeout {
            return Err(format!(
                "did not {what} within {} (fnmesh.dev/startup-timeout){}",
                humantime::format_duration(local.startup.timeout),
                tail.render()
            ));
        }
        if waited >= said + Duration::from_secs(15) {
            said = waited;
            out.line(name, &format!("(fnmesh: waiting {}s for it to {what})", waited.as_secs()));
        }
        // Often at first (a restart listens within milliseconds), then less.
        let pause = if waited < Duration::from_secs(1) { 5 } else { 25 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

fn shell(command: &str, dir: &Path, vars: &[(String, String)]) -> tokio::process::Command {
    let mut shell = tokio::process::Command::new("sh");
    shell
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    shell
}

fn pipe_child(child: &mut tokio::process::Child, out: &Out, name: &str, tail: &Tail) {
    if let Some(stdout) = child.stdout.take() {
        pipe_lines(out.clone(), name.to_owned(), stdout, tail.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        pipe_lines(out.clone(), name.to_owned(), stderr, tail.clone());
    }
}

/// `text` as one word for `sh`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A local container engine for the images no function maps.
pub mod engine {
    use super::{BTreeMap, shell_quote};

    /// The first of `podman` and `docker` whose `info` answers (its daemon, for docker,
    /// runs); else why neither can.
    pub fn detect() -> Result<String, String> {
        let mut why = Vec::new();
        for engine in ["podman", "docker"] {
            match std::process::Command::new(engine)
                .args(["info", "--format", "{{.Host.Arch}}{{.Architecture}}"])
                .stdin(std::process::Stdio::null())
                .output()
            {
                Ok(output) if output.status.success() => return Ok(engine.to_owned()),
                Ok(output) => {
                    let stderr = String::from_utf8_lossy(&output.stderr);
                    let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim();
                    why.push(format!("`{engine} info`: {first}"));
                }
                Err(_) => why.push(format!("{engine} is not installed")),
            }
        }
        Err(why.join("; "))
    }

    /// The command that runs `image` as service `name` on the host's network, with
    /// `vars`; `container` names the container, so that it can be removed.
    pub fn run_command(engine: &str, image: &str, container: &str, vars: &[(String, String)]) -> String {
        // Later values win, as the kubelet's env does: one -e per name.
        let env: BTreeMap<&str, &str> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut words = vec![
            "exec".to_owned(),
            engine.to_owned(),
            "run".to_owned(),
            "--rm".to_owned(),
            "--name".to_owned(),
            shell_quote(container),
            "--network".to_owned(),
            "host".to_owned(),
        ];
        for (key, value) in env {
            words.push("-e".to_owned());
            words.push(shell_quote(&format!("{key}={value}")));
        }
        words.push(shell_quote(image));
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic in a test is a failed assertion

    use super::*;

    #[test]
    fn an_image_runs_on_the_hosts_network_with_the_services_env() {
        let vars = vec![("PORT".into(), "4001".into()), ("MESSAGE".into(), "it's".into())];
        let command = engine::run_command("podman", "ghcr.io/me/greeter:1", "fnmesh-default-greeter", &vars);
        assert_eq!(
            command,
            "exec podman run --rm --name 'fnmesh-default-greeter' --network host -e 'MESSAGE=it'\\''s' \
             -e 'PORT=4001' 'ghcr.io/me/greeter:1'"
        );
    }

    #[test]
    fn cargo_artifacts_of_the_crate_give_its_binary() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "").unwrap();
        let manifest = std::fs::canonicalize(manifest).unwrap();
        let line = |kind: &str, path: &Path| {
            serde_json::json!({"reason": "compiler-artifact", "manifest_path": path, "target": {"kind": [kind]},
                "executable": if kind == "bin" { Some("/t/debug/greeter") } else { None }})
            .to_string()
        };
        assert_eq!(artifact(&line("bin", &manifest), &manifest), Some(PathBuf::from("/t/debug/greeter")));
        assert_eq!(artifact(&line("lib", &manifest), &manifest), None);
        assert_eq!(artifact(&line("bin", Path::new("/elsewhere/Cargo.toml")), &manifest), None);
        assert_eq!(artifact("{\"reason\": \"build-finished\"}", &manifest), None);
    }
}
