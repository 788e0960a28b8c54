//! `fnmesh test`: flows tested as data. Test files (`*.test.yaml`, see
//! `docs/testing.md`) name manifests, replace services by scripted stand-ins, send
//! events or fire PingSources, and say what must arrive where; each case runs against its
//! own in-process mesh on free ports, cases in parallel.
//!
//! * [`format`]: the file format, read with field paths; [`checks`]: what it must be
//!   beyond its types;
//! * [`stand_ins`]: the scripted servers; [`case`]: running one case;
//! * [`matcher`]: expectations against what arrived, and the diffs;
//! * [`report`]: the text output; [`junit`]: `--junit`; [`update`]: `--update`.

pub mod case;
pub mod checks;
pub mod format;
pub mod junit;
pub mod matcher;
pub mod report;
pub mod stand_ins;
pub mod update;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use case::{CaseResult, Loaded};

use crate::manifests::load::is_test_file;
use crate::manifests::problems::{Place, Problems};

/// How to run test files.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Cases run at once (0: the available parallelism).
    pub jobs: usize,
    /// Write the expectations of cases that have none (`--update`).
    pub update: bool,
    /// More image mappings (`--images`), as for `fnmesh run`.
    pub images: Vec<PathBuf>,
    /// The executable that runs jq workers; `None`: this one (the `fnmesh` binary).
    pub jq_worker: Option<PathBuf>,
}

/// What a run of test files gave.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The problems of invalid test files; nothing ran when there is one.
    pub invalid: Problems,
    /// Every case's result, in file and case order.
    pub results: Vec<CaseResult>,
    /// The files `--update` wrote.
    pub updated: Vec<String>,
}

impl Outcome {
    /// What `fnmesh test` exits with: 2 for an invalid test file, 1 for a failed case, 0.
    pub fn exit_code(&self) -> u8 {
        if !self.invalid.is_empty() {
            2
        } else if self.results.iter().any(|r| !r.passed()) {
            1
        } else {
            0
        }
    }
}

/// The test files under `paths`: files as given, folders searched for `*.test.yaml`
/// (recursively, sorted; `target` and hidden folders skipped).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Problems> {
    let mut problems = Problems::default();
    let mut files = Vec::new();
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
        } else if path.is_dir() {
            if let Err(e) = walk(path, &mut files) {
                problems.add(&Place::new(path, 0), "", format!("cannot read: {e}"));
            }
        } else {
            problems.add(&Place::new(path, 0), "", "no such file or folder");
        }
    }
    if files.is_empty() && problems.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        problems.add(&Place::new(Path::new(&shown.join(" ")), 0), "", "no *.test.yaml file there");
    }
    problems.into_result(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if entry.is_dir() {
            if !name.starts_with('.') && name != "target" {
                walk(&entry, files)?;
            }
        } else if is_test_file(&entry) {
            files.push(entry);
        }
    }
    Ok(())
}

/// Reads and checks every file; the loaded files, or every problem found.
pub fn load(files: &[PathBuf]) -> Result<Vec<Loaded>, Problems> {
    let mut problems = Problems::default();
    let mut loaded = Vec::new();
    for path in files {
        match format::read(path) {
            Ok((file, value)) => {
                let one = Loaded { path: path.clone(), file, value };
                problems.append(checks::check(&one));
                loaded.push(one);
            }
            Err(found) => problems.append(found),
        }
    }
    problems.into_result(loaded)
}

/// Runs every case of the test files under `paths` (what `fnmesh test` does, without
/// printing).
pub async fn run_paths(paths: &[PathBuf], settings: &Settings) -> Outcome {
    let loaded = match discover(paths).and_then(|files| load(&files)) {
        Ok(loaded) => loaded,
        Err(invalid) => return Outcome { invalid, ..Outcome::default() },
    };
    run_loaded(loaded, settings).await
}

/// Runs every case of `loaded`, at most `settings.jobs` at once.
pub async fn run_loaded(loaded: Vec<Loaded>, settings: &Settings) -> Outcome {
    let jobs = match settings.jobs {
        0 => std::thread::available_parallelism().map(usize::from).unwrap_or(2),
        n => n,
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(jobs));
    let loaded: Vec<Arc<Loaded>> = loaded.into_iter().map(Arc::new).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (f, file) in loaded.iter().enumerate() {
        for index in 0..file.file.cases.len() {
            let (file, permits, settings) = (file.clone(), permits.clone(), settings.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (f, case::run_case(&file, index, &settings).await)
            });
        }
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(e) => results.push((
                usize::MAX,
                CaseResult {
                    file: PathBuf::from("?"),
                    index: 0,
                    name: "a case's task".into(),
                    duration: std::time::Duration::ZERO,
                    failures: vec![format!("it stopped: {e}")],
                    has_expectations: true,
                    received: Default::default(),
                    statuses: Vec::new(),
                    output: String::new(),
                },
            )),
        }
    }
    results.sort_by_key(|(f, r)| (*f, r.index));
    let mut outcome = Outcome { results: results.into_iter().map(|(_, r)| r).collect(), ..Outcome::default() };
    if settings.update {
        for file in &loaded {
            let of_file: Vec<&CaseResult> = outcome.results.iter().filter(|r| r.file == file.path).collect();
            match update::write(file, &of_file) {
                Ok(true) => outcome.updated.push(file.path.display().to_string()),
                Ok(false) => {}
                Err(e) => outcome.invalid.add(&Place::new(&file.path, 0), "", format!("cannot update: {e}")),
            }
        }
    }
    outcome
}
