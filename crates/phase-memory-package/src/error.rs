//! Errors of writing and reading packages (rendering itself cannot fail).

use std::path::PathBuf;

/// Why a package could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The file system refused an operation.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (e.g. "writing", "renaming").
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The destination exists and is not something this crate may replace.
    #[error("refusing to write package to {path}: {reason}")]
    Refused {
        /// The destination.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The package to write is malformed (a path that is not a safe relative path).
    #[error("invalid package: {0}")]
    Invalid(String),
    /// The path to verify does not exist.
    #[error("no package at {0}")]
    NotFound(PathBuf),
}

impl PackageError {
    /// Wraps an I/O error with what was being done and where.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PackageError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
