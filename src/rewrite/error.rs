//! The errors of the rewrite layer. Every message names the file (and line:column where
//! there is one) and says what to do about it.

use std::io;
use std::path::PathBuf;

use crate::exit;

/// Why a single source text could not be scanned. It carries no file name: the pure
/// scanner does not know it; [`Error::Source`] adds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The bytes are not UTF-8 (Terraform requires UTF-8).
    #[error(
        "{line}:{column}: not valid UTF-8 (byte offset {offset}); Terraform reads UTF-8 only: re-encode the file. It was left alone"
    )]
    NotUtf8 {
        /// One-based line of the first invalid byte.
        line: usize,
        /// One-based column (in characters) of the first invalid byte.
        column: usize,
        /// Byte offset of the first invalid byte in the file.
        offset: usize,
    },
    /// hcl-edit rejected the file.
    #[error("{line}:{column}: HCL parse error: {message}; the file was left alone")]
    Parse {
        /// One-based line.
        line: usize,
        /// One-based column, in characters.
        column: usize,
        /// hcl-edit's message.
        message: String,
    },
    /// An object constructor repeats a key. Terraform accepts this (the last one wins);
    /// hcl-edit does not, so the file cannot be edited safely.
    #[error(
        "{line}:{column}: duplicate object key: Terraform accepts it, but hcl-edit cannot parse duplicate object keys, so the file was left alone; remove or rename the repeated key to let tf-pin edit this file"
    )]
    DuplicateKey {
        /// One-based line of the repeated key.
        line: usize,
        /// One-based column of the repeated key.
        column: usize,
    },
}

/// Errors of the rewrite driver.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path given on the command line does not exist.
    #[error(
        "{}: no such file or directory; pass existing .tf/.tfvars files or directories",
        path.display()
    )]
    PathNotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// A file given explicitly is not a `.tf` or `.tfvars` file.
    #[error(
        "{}: not a .tf or .tfvars file (JSON configuration is not supported); pass .tf/.tfvars files or directories",
        path.display()
    )]
    NotTerraform {
        /// The path as given.
        path: PathBuf,
    },
    /// Reading a file or listing a directory failed.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file could not be scanned (encoding, parse error, duplicate keys).
    #[error("{}:{source}", path.display())]
    Source {
        /// The file.
        path: PathBuf,
        /// What went wrong, with line and column.
        source: SourceError,
    },
    /// The file to be replaced is read-only.
    #[error(
        "{}: the file is read-only, so tf-pin did not replace it (it is unchanged); make it writable and run again",
        path.display()
    )]
    ReadOnlyFile {
        /// The file.
        path: PathBuf,
    },
    /// The directory holding the file is read-only, so no temporary file can be created.
    #[error(
        "{}: its directory is read-only, so tf-pin cannot write the replacement next to it (the file is unchanged); make the directory writable and run again",
        path.display()
    )]
    ReadOnlyDirectory {
        /// The file.
        path: PathBuf,
    },
    /// The file changed on disk between reading and writing.
    #[error(
        "{}: the file changed on disk while tf-pin was running, so it was not overwritten; run again",
        path.display()
    )]
    ChangedDuringRun {
        /// The file.
        path: PathBuf,
    },
    /// Writing the replacement failed; the original is intact.
    #[error("{}: cannot write: {source}; the original file is unchanged", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A reference could not be resolved (or its manifest could not be checked).
    #[error(
        "{}:{line}:{column}: {reference}: {message}",
        path.display()
    )]
    Lookup {
        /// The file.
        path: PathBuf,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// The reference as written.
        reference: String,
        /// The registry's error message.
        message: String,
        /// The exit code the registry error maps to.
        exit_code: i32,
    },
    /// The mode needs a registry but the caller passed none.
    #[error(
        "this mode needs registry access to resolve {count} reference(s), but no registry client was configured; `--unpin` and `--check --offline` work without one"
    )]
    NoRegistry {
        /// How many lookups were needed.
        count: usize,
    },
    /// An edit list was inconsistent (overlapping or out of range); a bug, never input.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Lookup { exit_code, .. } => *exit_code,
            _ => exit::INPUT,
        }
    }

    /// The file the error is about, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::PathNotFound { path }
            | Error::NotTerraform { path }
            | Error::Read { path, .. }
            | Error::Source { path, .. }
            | Error::ReadOnlyFile { path }
            | Error::ReadOnlyDirectory { path }
            | Error::ChangedDuringRun { path }
            | Error::Write { path, .. }
            | Error::Lookup { path, .. } => Some(path),
            Error::NoRegistry { .. } | Error::Internal(_) => None,
        }
    }
}
