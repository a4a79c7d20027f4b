//! The ways a credential configuration can be unusable, each message naming the file or
//! helper and the fix, none quoting a secret.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::HelperRef;

/// A credential configuration that cannot be used. Each message names the file or helper and
/// what to do, and none contains a secret or a helper's output.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialError {
    /// A configuration file exists but cannot be read.
    #[error(
        "cannot read {}: {source} (fix its permissions, or move it aside to use no stored credentials)",
        path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        source: Arc<io::Error>,
    },
    /// A configuration file is not JSON of the expected shape.
    #[error(
        "{} is not valid JSON: {problem} at line {line}, column {column} (fix the file, or move it aside to use no stored credentials)",
        path.display()
    )]
    InvalidJson {
        /// The file.
        path: PathBuf,
        /// What is wrong, without quoting the file (it may hold secrets).
        problem: &'static str,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// An `auths` entry's `auth` field is not base64 of `user:password`.
    #[error(
        "the \"auth\" field of auths entry {key:?} in {} {problem} (log in again with `docker login` or `podman login`, or remove the entry)",
        path.display()
    )]
    InvalidAuth {
        /// The file.
        path: PathBuf,
        /// The `auths` key, e.g. `ghcr.io`.
        key: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The configured helper program is not on `PATH`.
    #[error(
        "{helper} is not installed or not on PATH (install it, or remove the {} entry from {})",
        helper.field,
        helper.config.display()
    )]
    HelperNotFound {
        /// The helper.
        helper: HelperRef,
    },
    /// The helper could not be started or talked to.
    #[error("could not run {helper}: {source} (check that {} is an executable program)", helper.program)]
    HelperIo {
        /// The helper.
        helper: HelperRef,
        /// What failed.
        source: Arc<io::Error>,
    },
    /// The helper exited unsuccessfully without saying "credentials not found".
    #[error(
        "{helper} failed ({status}); its output is not shown because it may contain secrets (run `echo {} | {} get` to see it)",
        helper.server_url,
        helper.program
    )]
    HelperFailed {
        /// The helper.
        helper: HelperRef,
        /// How it exited, e.g. `exit status: 1`.
        status: String,
    },
    /// The helper did not finish in time and was killed.
    #[error(
        "{helper} did not answer within {timeout:?} and was stopped (it may be waiting for a password prompt or a locked keychain; run `echo {} | {} get` to check)",
        helper.server_url,
        helper.program
    )]
    HelperTimeout {
        /// The helper.
        helper: HelperRef,
        /// The limit it exceeded.
        timeout: Duration,
    },
    /// The helper succeeded but its output is not `{"ServerURL","Username","Secret"}` JSON.
    #[error(
        "{helper} printed something that is not the expected JSON {{\"ServerURL\",\"Username\",\"Secret\"}}; it is not shown because it may contain secrets (run `echo {} | {} get` to inspect it)",
        helper.server_url,
        helper.program
    )]
    HelperBadOutput {
        /// The helper.
        helper: HelperRef,
    },
}
