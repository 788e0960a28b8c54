//! The mesh's one error type: what stops a command, each variant saying where the
//! problem is (the manifests' file, document and field path; another file's path; the
//! command-line value; the service or port that did not start).

use std::path::PathBuf;

use crate::manifests::Problems;

/// Why an `fnmesh` command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Problems in the manifests, each with its file, document and field path.
    #[error("{0}")]
    Manifests(#[from] Problems),
    /// A file that is not a manifest (`--images`): its path and what is wrong.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A value given on the command line.
    #[error("{0}")]
    Usage(String),
    /// The mesh could not start: a port, a service.
    #[error("{0}")]
    Start(String),
    /// A running mesh could not be reached, or answered with a failure (`fnmesh send`,
    /// `fnmesh get`); the text is what the command prints.
    #[error("{0}")]
    Remote(String),
    /// Something could not be drawn or written (`fnmesh graph`, `fnmesh kn`).
    #[error("{0}")]
    Output(String),
}

/// A result with the mesh's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
