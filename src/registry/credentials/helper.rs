//! Running `docker-credential-<name> get` helpers: found on a search path, stopped at a
//! timeout, their output capped and never quoted, each run once per store.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::OnceCell;

use super::{Credential, CredentialError, CredentialSource, Found};

/// How long a credential helper may take before it is killed (see
/// [`CredentialStore::with_helper_timeout`](super::CredentialStore::with_helper_timeout)).
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// Helpers print a few hundred bytes; anything past this is not a credential.
const HELPER_OUTPUT_LIMIT: u64 = 1 << 20;

/// The username a helper returns when its secret is an identity (OAuth2 refresh) token.
const TOKEN_USERNAME: &str = "<token>";

/// A credential helper as configured, named in errors and sources.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HelperRef {
    /// The program, e.g. `docker-credential-ecr-login`.
    pub program: String,
    /// The configuration field that named it: `credHelpers` or `credsStore`.
    pub field: &'static str,
    /// The file holding that field.
    pub config: PathBuf,
    /// The server URL written to the helper's standard input.
    pub server_url: String,
}

impl fmt::Display for HelperRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "credential helper {} ({} in {})",
            self.program,
            self.field,
            self.config.display()
        )
    }
}

type HelperOutcome = Result<Option<Credential>, CredentialError>;

/// The helpers of one store: where they are searched, how long each may take, and the one
/// run per (helper, server URL) that concurrent lookups share.
pub(super) struct HelperRunner {
    /// A `PATH`-style list searched instead of the process's `PATH`.
    pub(super) search_path: Option<OsString>,
    /// How long a helper may take before it is killed.
    pub(super) timeout: Duration,
    runs: Mutex<HashMap<HelperRef, Arc<OnceCell<HelperOutcome>>>>,
}

impl HelperRunner {
    /// Searches the process's `PATH`, with [`DEFAULT_HELPER_TIMEOUT`].
    pub(super) fn new() -> HelperRunner {
        HelperRunner {
            search_path: None,
            timeout: DEFAULT_HELPER_TIMEOUT,
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// Asks `docker-credential-<name>` (named by `field` in `config`) for `server_url`'s
    /// credential, running it only if no lookup of this store has yet. `Ok(None)`: it has none.
    pub(super) async fn ask(
        &self,
        name: &str,
        field: &'static str,
        config: &Path,
        server_url: String,
    ) -> Result<Option<Found>, CredentialError> {
        let helper = HelperRef {
            program: format!("docker-credential-{name}"),
            field,
            config: config.to_owned(),
            server_url,
        };
        let run = {
            let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(runs.entry(helper.clone()).or_default())
        };
        let outcome = run.get_or_init(|| self.run(&helper)).await.clone()?;
        Ok(outcome.map(|credential| Found {
            credential,
            source: CredentialSource::helper(&helper),
        }))
    }

    /// Runs `<program> get` with the server URL on stdin, per docker-credential-helpers.
    async fn run(&self, helper: &HelperRef) -> HelperOutcome {
        let not_found = || CredentialError::HelperNotFound {
            helper: helper.clone(),
        };
        let io_error = |e: io::Error| CredentialError::HelperIo {
            helper: helper.clone(),
            source: Arc::new(e),
        };

        let search = self
            .search_path
            .clone()
            .or_else(|| std::env::var_os("PATH"));
        let program = find_program(&helper.program, search.as_deref()).ok_or_else(not_found)?;

        let mut command = tokio::process::Command::new(&program);
        command
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match spawn(&mut command).await {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
            Err(e) => return Err(io_error(e)),
        };

        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let url = helper.server_url.clone().into_bytes();
        let exchange = async {
            let feed = async move {
                if let Some(mut stdin) = stdin {
                    // A helper may exit without reading its input; that is not an error.
                    let _ = stdin.write_all(&url).await;
                }
            };
            let ((), out, err) = tokio::join!(feed, read_capped(stdout), read_capped(stderr));
            let status = child.wait().await;
            (status, out, err)
        };
        let finished = tokio::time::timeout(self.timeout, exchange).await;
        let (status, out, err) = match finished {
            Ok(result) => result,
            Err(_) => {
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(1), child.wait()).await;
                return Err(CredentialError::HelperTimeout {
                    helper: helper.clone(),
                    timeout: self.timeout,
                });
            }
        };
        let status = status.map_err(io_error)?;
        let out = out.map_err(io_error)?;
        let err = err.map_err(io_error)?;

        if !status.success() {
            if says_not_found(&out) || says_not_found(&err) {
                return Ok(None);
            }
            return Err(CredentialError::HelperFailed {
                helper: helper.clone(),
                status: status.to_string(),
            });
        }
        let bad_output = || CredentialError::HelperBadOutput {
            helper: helper.clone(),
        };
        if out.len() as u64 > HELPER_OUTPUT_LIMIT {
            return Err(bad_output());
        }
        let response: HelperResponse = serde_json::from_slice(&out).map_err(|_| bad_output())?;
        Ok(match (response.username.as_str(), response.secret) {
            (TOKEN_USERNAME, secret) if secret.is_empty() => None,
            (TOKEN_USERNAME, secret) => Some(Credential::IdentityToken(secret)),
            ("", secret) if secret.is_empty() => None,
            (_, password) => Some(Credential::Basic {
                username: response.username,
                password,
            }),
        })
    }
}

/// The JSON a helper prints for `get`; `ServerURL` is not needed.
#[derive(Deserialize)]
struct HelperResponse {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Finds `name` in a `PATH`-style list. Relative entries are skipped (as Go's `exec.LookPath`
/// refuses them), and so is a name that is really a path.
fn find_program(name: &str, search: Option<&OsStr>) -> Option<PathBuf> {
    if name.contains(['/', '\\']) || name.ends_with('-') {
        return None;
    }
    std::env::split_paths(search?)
        .filter(|dir| dir.is_absolute())
        .flat_map(|dir| {
            let plain = dir.join(name);
            #[cfg(windows)]
            let candidates = vec![dir.join(format!("{name}.exe")), plain];
            #[cfg(not(windows))]
            let candidates = vec![plain];
            candidates
        })
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Spawns, retrying briefly on ETXTBSY: another thread's fork can still hold a just-written
/// helper open for writing (a freshly installed helper, or a test's script).
async fn spawn(command: &mut tokio::process::Command) -> io::Result<tokio::process::Child> {
    let mut attempt = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
            }
            result => return result,
        }
    }
}

/// Reads at most one byte past the limit, then drops the pipe so a runaway helper gets EPIPE.
async fn read_capped(stream: Option<impl AsyncRead + Unpin>) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(stream) = stream {
        stream
            .take(HELPER_OUTPUT_LIMIT + 1)
            .read_to_end(&mut buf)
            .await?;
    }
    Ok(buf)
}

/// docker-credential-helpers print "credentials not found in native keychain"; others vary
/// the tail, so match the stem anywhere in stdout or stderr.
fn says_not_found(output: &[u8]) -> bool {
    String::from_utf8_lossy(output)
        .to_ascii_lowercase()
        .contains("credentials not found")
}
