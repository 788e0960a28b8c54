//! `fnmesh run --watch`: the files that matter, watched (inotify through `notify`), and
//! each batch of changes turned into what to do: reload the manifests
//! ([`Running::reload`]), or rebuild and restart the services whose sources changed
//! ([`Running::restart`]). Build output, editors' swap files and dot-files are not
//! changes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use super::run::Running;
use crate::error::{Error, Result};

/// How long a batch of changes is gathered after its first one (an editor's save, a
/// `git checkout`, are several events).
const SETTLE: Duration = Duration::from_millis(50);

/// What a batch of changes asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// A manifest changed: reload them all.
    pub manifests: bool,
    /// The hosts of the services whose sources changed.
    pub services: BTreeSet<String>,
}

/// The watched files of a running mesh.
pub struct Watcher {
    _watcher: notify::RecommendedWatcher,
    changed: mpsc::UnboundedReceiver<PathBuf>,
    manifests: Vec<PathBuf>,
    sources: Vec<(String, PathBuf)>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").field("manifests", &self.manifests).field("sources", &self.sources).finish()
    }
}

impl Watcher {
    /// Watches the manifests and the sources of `running`.
    pub fn new(running: &Running) -> Result<Self> {
        let (manifests, sources) = running.watched();
        let absolute = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let manifests: Vec<PathBuf> = manifests.iter().map(|p| absolute(p)).collect();
        let sources: Vec<(String, PathBuf)> = sources.into_iter().map(|(host, dir)| (host, absolute(&dir))).collect();
        let (send, changed) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if matches!(event.kind, EventKind::Access(_)) {
                return;
            }
            for path in event.paths {
                let _ = send.send(path);
            }
        })
        .map_err(|e| Error::Start(format!("--watch: {e}")))?;
        let mut watch = |path: &Path, mode| {
            watcher.watch(path, mode).map_err(|e| Error::Start(format!("--watch {}: {e}", path.display())))
        };
        for path in &manifests {
            // A file's folder, not the file: an editor that saves by renaming replaces it.
            match path.is_dir() {
                true => watch(path, RecursiveMode::Recursive)?,
                false => watch(path.parent().unwrap_or(Path::new("/")), RecursiveMode::NonRecursive)?,
            }
        }
        for (_, dir) in &sources {
            watch(dir, RecursiveMode::Recursive)?;
        }
        Ok(Self { _watcher: watcher, changed, manifests, sources })
    }

    /// The next batch of changes that ask for something.
    pub async fn next(&mut self) -> Changes {
        loop {
            let Some(first) = self.changed.recv().await else { return std::future::pending().await };
            let mut paths = vec![first];
            let settled = tokio::time::sleep(SETTLE);
            tokio::pin!(settled);
            loop {
                tokio::select! {
                    () = &mut settled => break,
                    more = self.changed.recv() => match more {
                        Some(path) => paths.push(path),
                        None => break,
                    },
                }
            }
            let changes = self.classify(&paths);
            if changes != Changes::default() {
                return changes;
            }
        }
    }

    /// What `paths` ask for.
    pub fn classify(&self, paths: &[PathBuf]) -> Changes {
        let mut changes = Changes::default();
        for path in paths.iter().filter(|p| !incidental(p)) {
            // Among the manifests, only YAML and JSON are (a sed or an editor's temporary
            // file is not), and nothing there is a service's source.
            if self.manifests.iter().any(|m| path == m || (m.is_dir() && path.starts_with(m))) {
                changes.manifests |= path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
                continue;
            }
            for (host, dir) in &self.sources {
                if path.starts_with(dir) {
                    changes.services.insert(host.clone());
                }
            }
        }
        changes
    }
}

/// Files that change without the user changing anything: build output, version control,
/// dependencies, editors' swap and backup files.
fn incidental(path: &Path) -> bool {
    let skipped = ["target", ".git", "node_modules", "__pycache__"];
    if path.components().any(|c| skipped.iter().any(|s| c.as_os_str() == *s)) {
        return true;
    }
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    name.starts_with('.') || name.ends_with('~') || name.ends_with(".swp") || name.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_and_editor_files_are_not_changes() {
        for path in ["/p/target/debug/x", "/p/.git/index", "/p/src/.lib.rs.swp", "/p/src/lib.rs~", "/p/4913"] {
            assert!(incidental(Path::new(path)), "{path}");
        }
        assert!(!incidental(Path::new("/p/src/lib.rs")));
    }
}
