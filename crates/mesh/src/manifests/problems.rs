//! Manifest problems: each names the file, the document and the field path, and all of
//! them are reported together.

use std::path::{Path, PathBuf};

/// Where a problem is (and where an object was defined): a file, a document in it
/// (1-based), and the object it defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The file.
    pub file: PathBuf,
    /// The document in it, from 1; 0 for the file as a whole.
    pub document: usize,
    /// `Sequence sequence`, when known.
    pub object: Option<String>,
}

impl Place {
    /// Document `document` of `file` (0: the file as a whole).
    pub fn new(file: &Path, document: usize) -> Self {
        Self { file: file.to_owned(), document, object: None }
    }
}

/// One thing wrong with the manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file and document.
    pub place: Place,
    /// `spec.steps[1].ref.name`; empty for the whole document.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.place.file.display())?;
        if self.place.document > 0 {
            write!(f, ":doc {}", self.place.document)?;
        }
        if let Some(object) = &self.place.object {
            write!(f, " ({object})")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A problem at a field path of one document, before its place is known: what the
/// checks of one part of a spec (a delivery, a filter, a schedule) find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// `spec.steps[1].delivery.retry`; empty for the whole document.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl FieldProblem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// Every problem found; nothing starts while there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// A problem at field `path` of the document at `place`.
    pub fn add(&mut self, place: &Place, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { place: place.clone(), path: path.into(), message: message.into() });
    }

    /// Each of `found`, at `place`.
    pub fn extend(&mut self, place: &Place, found: impl IntoIterator<Item = FieldProblem>) {
        for FieldProblem { path, message } in found {
            self.add(place, path, message);
        }
    }

    /// Every problem of `other` after these.
    pub fn append(&mut self, other: Problems) {
        self.0.extend(other.0);
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when there is no problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.0.is_empty() { Ok(value) } else { Err(self) }
    }
}

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} problem{} in the manifests:", if n == 1 { "" } else { "s" })?;
        for problem in &self.0 {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}
