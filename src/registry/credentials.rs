//! Registry credentials from the user's docker and podman configuration.
//!
//! [`CredentialStore::lookup`] answers "which credential would `docker pull` (or, failing
//! that, `podman pull`) send to this registry?", in this order:
//!
//! 1. Docker's `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`:
//!    `credHelpers[registry]` (a `docker-credential-<name> get` helper), else an `auths`
//!    entry holding `identitytoken`, `auth` (base64 `user:password`) or `username`/`password`,
//!    else `credsStore`. Keys match the way Docker's `ConvertToHostname` reads them (`host`,
//!    `https://host`, `http://host/…`), Docker Hub's spellings (`https://index.docker.io/v1/`,
//!    `index.docker.io`, `docker.io`, `registry-1.docker.io`) all count, and an exact key
//!    beats a looser spelling of the same host.
//! 2. podman/skopeo's `auth.json` files, as containers-auth.json(5) lists them:
//!    `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`; then
//!    `$XDG_CONFIG_HOME/containers/auth.json` (`$HOME/.config/…`). Their `credHelpers` apply
//!    first, then namespaced keys (`quay.io/org/app`, `quay.io/org`) with the most specific
//!    one winning, then registry-level keys.
//!
//! Where this differs from Docker on purpose: an `auths` entry that holds credentials is used
//! even when `credsStore` is set (Docker would ask the store and ignore the entry); only the
//! matching entry is decoded, so a broken entry for another registry does not break every
//! lookup; a helper's "credentials not found" moves on to podman's files instead of ending
//! the search. Not read: `~/.dockercfg`, `/run/containers/$UID/auth.json`, `DOCKER_AUTH_CONFIG`.
//!
//! Secrets (passwords, tokens, `auth` values, helper output) never reach an error message, a
//! `Debug` rendering or a log line: [`Credential`]'s `Debug` redacts them, JSON errors carry
//! only a position (serde's own message may quote the offending value), and helper failures
//! carry only the exit status.
//!
//! Why hand-written rather than the `docker_credential` crate: it runs helpers with blocking
//! `std::process` and no timeout, puts helper stdout/stderr in its error text and derives
//! `Debug` on the password, reads only the process environment, and has no `identitytoken`
//! entries, namespaced auth.json keys or empty-entry fallthrough to `credsStore`.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::OnceCell;

use crate::reference::{DOCKER_HUB, DOCKER_HUB_CREDENTIAL_KEY};

/// How long a credential helper may take before it is killed (see
/// [`CredentialStore::with_helper_timeout`]).
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// Helpers print a few hundred bytes; anything past this is not a credential.
const HELPER_OUTPUT_LIMIT: u64 = 1 << 20;

/// The username a helper returns when its secret is an identity (OAuth2 refresh) token.
const TOKEN_USERNAME: &str = "<token>";

/// A secret-bearing credential. `Debug` shows the username but never the password or token.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// HTTP Basic credentials (also what the token endpoint receives).
    Basic {
        /// The user name; not a secret.
        username: String,
        /// The password or personal access token.
        password: String,
    },
    /// An OAuth2 refresh token: an `identitytoken` entry, or a helper's `<token>` username.
    IdentityToken(String),
}

/// Stands in for a secret in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => f
                .debug_struct("Credential::Basic")
                .field("username", username)
                .field("password", &Redacted)
                .finish(),
            Credential::IdentityToken(_) => f
                .debug_tuple("Credential::IdentityToken")
                .field(&Redacted)
                .finish(),
        }
    }
}

/// Where a credential came from, for messages; never contains a secret. For example
/// `/home/u/.docker/config.json (auths entry "ghcr.io")` or
/// `credential helper docker-credential-ecr-login (credHelpers in /home/u/.docker/config.json)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialSource(String);

impl CredentialSource {
    /// The description as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn auths_entry(path: &Path, key: &str) -> CredentialSource {
        CredentialSource(format!("{} (auths entry {key:?})", path.display()))
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A credential and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The credential to present to the registry's token endpoint.
    pub credential: Credential,
    /// Where it came from, for messages such as "401 with credentials from …".
    pub source: CredentialSource,
}

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

type HelperOutcome = Result<Option<Credential>, CredentialError>;
type Loaded = Result<Option<Arc<ConfigFile>>, CredentialError>;

/// One configuration file, read on first use and kept for the run.
struct FileSlot {
    path: PathBuf,
    loaded: OnceLock<Loaded>,
}

impl FileSlot {
    fn new(path: PathBuf) -> FileSlot {
        FileSlot {
            path,
            loaded: OnceLock::new(),
        }
    }

    /// `Ok(None)` when the file does not exist. Small files: read synchronously, once.
    fn load(&self) -> Loaded {
        self.loaded.get_or_init(|| read_config(&self.path)).clone()
    }
}

/// Docker's and podman's configured credentials, shared by all lookups of a run.
///
/// Files are read on the first lookup that needs them and cached; each helper is run at most
/// once per (helper, server URL) per store, concurrent lookups sharing the one run.
pub struct CredentialStore {
    docker_config: Option<FileSlot>,
    podman_files: Vec<FileSlot>,
    helper_path: Option<OsString>,
    helper_timeout: Duration,
    helper_runs: Mutex<HashMap<HelperRef, Arc<OnceCell<HelperOutcome>>>>,
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialStore")
            .field("files", &self.searched_files())
            .field("helper_path", &self.helper_path)
            .field("helper_timeout", &self.helper_timeout)
            .finish_non_exhaustive()
    }
}

impl CredentialStore {
    /// Locates the configuration files from an environment lookup (pass `|k| std::env::var(k).ok()`
    /// for the process): `DOCKER_CONFIG`, `HOME`, `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR` and
    /// `XDG_CONFIG_HOME`; empty values count as unset. Nothing is read until the first lookup.
    ///
    /// Helpers are searched on the process's `PATH` (not on a `PATH` from `get`) unless
    /// [`with_helper_path`](Self::with_helper_path) says otherwise.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> CredentialStore {
        let var = |name: &str| get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME");
        #[cfg(windows)]
        let home = home.or_else(|| var("USERPROFILE"));

        let docker = var("DOCKER_CONFIG")
            .map(|dir| dir.join("config.json"))
            .or_else(|| home.as_ref().map(|h| h.join(".docker").join("config.json")));

        let primary = var("REGISTRY_AUTH_FILE")
            .or_else(|| var("XDG_RUNTIME_DIR").map(|dir| dir.join("containers").join("auth.json")));
        let secondary = var("XDG_CONFIG_HOME")
            .or_else(|| home.as_ref().map(|h| h.join(".config")))
            .map(|dir| dir.join("containers").join("auth.json"));

        let mut podman: Vec<PathBuf> = Vec::new();
        for path in [primary, secondary].into_iter().flatten() {
            if docker.as_ref() != Some(&path) && !podman.contains(&path) {
                podman.push(path);
            }
        }

        CredentialStore {
            docker_config: docker.map(FileSlot::new),
            podman_files: podman.into_iter().map(FileSlot::new).collect(),
            helper_path: None,
            helper_timeout: DEFAULT_HELPER_TIMEOUT,
            helper_runs: Mutex::new(HashMap::new()),
        }
    }

    /// Kills a credential helper that has not finished after `timeout` (default
    /// [`DEFAULT_HELPER_TIMEOUT`]) and reports [`CredentialError::HelperTimeout`].
    pub fn with_helper_timeout(mut self, timeout: Duration) -> CredentialStore {
        self.helper_timeout = timeout;
        self
    }

    /// Searches `docker-credential-*` helpers in this `PATH`-style list (one directory is
    /// fine) instead of the process's `PATH`, so tests never have to change the environment.
    pub fn with_helper_path(mut self, path: impl Into<OsString>) -> CredentialStore {
        self.helper_path = Some(path.into());
        self
    }

    /// The configuration files consulted, in lookup order, whether or not they exist.
    pub fn searched_files(&self) -> Vec<&Path> {
        self.docker_config
            .iter()
            .chain(&self.podman_files)
            .map(|slot| slot.path.as_path())
            .collect()
    }

    /// Finds the credential for `registry` (`docker.io` for Docker Hub, else `host[:port]`;
    /// other spellings are normalised) and `repository` (e.g. `library/nginx`, used for
    /// podman's per-namespace keys). `Ok(None)` means pull anonymously.
    pub async fn lookup(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Option<Found>, CredentialError> {
        let registry = key_host(registry);
        let repository = normalise_repository(&registry, repository);

        if let Some(slot) = &self.docker_config {
            if let Some(config) = slot.load()? {
                if let Some(found) = self
                    .search_docker_config(&config, &slot.path, &registry)
                    .await?
                {
                    return Ok(Some(found));
                }
            }
        }
        for slot in &self.podman_files {
            if let Some(config) = slot.load()? {
                if let Some(found) = self
                    .search_auth_json(&config, &slot.path, &registry, &repository)
                    .await?
                {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }

    /// Docker's order: `credHelpers`, then a non-empty `auths` entry, then `credsStore`.
    async fn search_docker_config(
        &self,
        config: &ConfigFile,
        path: &Path,
        registry: &str,
    ) -> Result<Option<Found>, CredentialError> {
        let host_url = if registry == DOCKER_HUB {
            DOCKER_HUB_CREDENTIAL_KEY
        } else {
            registry
        };
        if let Some(name) = config.cred_helper(registry) {
            return self
                .ask_helper(name, "credHelpers", path, host_url.to_owned())
                .await;
        }

        let keys = ranked_keys(config.auths(), registry, |key| Some(key_host(key)));
        for key in &keys {
            if let Some(entry) = config.auths().get(*key).and_then(Option::as_ref) {
                if let Some(credential) = entry.credential(path, key)? {
                    return Ok(Some(Found {
                        credential,
                        source: CredentialSource::auths_entry(path, key),
                    }));
                }
            }
        }

        match config.creds_store.as_deref().filter(|s| !s.is_empty()) {
            Some(store) => {
                let server_url = keys.first().map_or(host_url, |k| *k).to_owned();
                self.ask_helper(store, "credsStore", path, server_url).await
            }
            None => Ok(None),
        }
    }

    /// containers/image's order: `credHelpers`, then namespaced keys (most specific first),
    /// then registry keys. `credsStore` is a Docker-only field and is ignored here.
    async fn search_auth_json(
        &self,
        config: &ConfigFile,
        path: &Path,
        registry: &str,
        repository: &str,
    ) -> Result<Option<Found>, CredentialError> {
        if let Some(name) = config.cred_helper(registry) {
            return self
                .ask_helper(name, "credHelpers", path, registry.to_owned())
                .await;
        }

        let auths = config.auths();
        let mut keys: Vec<&str> = Vec::new();
        let mut name = if repository.is_empty() {
            registry.to_owned()
        } else {
            format!("{registry}/{repository}")
        };
        loop {
            if let Some((key, _)) = auths.get_key_value(&name) {
                keys.push(key);
            }
            match name.rfind('/') {
                Some(slash) => name.truncate(slash),
                None => break,
            }
        }
        for key in ranked_keys(auths, registry, podman_key_host) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }

        for key in keys {
            if let Some(entry) = auths.get(key).and_then(Option::as_ref) {
                if let Some(credential) = entry.credential(path, key)? {
                    return Ok(Some(Found {
                        credential,
                        source: CredentialSource::auths_entry(path, key),
                    }));
                }
            }
        }
        Ok(None)
    }

    async fn ask_helper(
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
            let mut runs = self
                .helper_runs
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(runs.entry(helper.clone()).or_default())
        };
        let outcome = run.get_or_init(|| self.run_helper(&helper)).await.clone()?;
        Ok(outcome.map(|credential| Found {
            credential,
            source: CredentialSource(helper.to_string()),
        }))
    }

    /// Runs `<program> get` with the server URL on stdin, per docker-credential-helpers.
    async fn run_helper(&self, helper: &HelperRef) -> HelperOutcome {
        let not_found = || CredentialError::HelperNotFound {
            helper: helper.clone(),
        };
        let io_error = |e: io::Error| CredentialError::HelperIo {
            helper: helper.clone(),
            source: Arc::new(e),
        };

        let search = self
            .helper_path
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
        let finished = tokio::time::timeout(self.helper_timeout, exchange).await;
        let (status, out, err) = match finished {
            Ok(result) => result,
            Err(_) => {
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(1), child.wait()).await;
                return Err(CredentialError::HelperTimeout {
                    helper: helper.clone(),
                    timeout: self.helper_timeout,
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

/// The parts of `config.json` / `auth.json` used here. Nulls are accepted where Go's decoder
/// accepts them, and the spellings Go's case-insensitive matching would accept are aliased.
/// No `Debug`: it holds secrets.
#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default, alias = "Auths")]
    auths: Option<BTreeMap<String, Option<AuthEntry>>>,
    #[serde(
        default,
        rename = "credHelpers",
        alias = "CredHelpers",
        alias = "credhelpers"
    )]
    cred_helpers: Option<BTreeMap<String, Option<String>>>,
    #[serde(
        default,
        rename = "credsStore",
        alias = "CredsStore",
        alias = "credsstore"
    )]
    creds_store: Option<String>,
}

impl ConfigFile {
    fn auths(&self) -> &BTreeMap<String, Option<AuthEntry>> {
        static EMPTY: BTreeMap<String, Option<AuthEntry>> = BTreeMap::new();
        self.auths.as_ref().unwrap_or(&EMPTY)
    }

    /// The helper named for `registry`, preferring the exactly spelled key; empty names are
    /// ignored, as Docker ignores them.
    fn cred_helper(&self, registry: &str) -> Option<&str> {
        let helpers = self.cred_helpers.as_ref()?;
        ranked_keys(helpers, registry, |key| Some(key_host(key)))
            .into_iter()
            .find_map(|key| helpers.get(key)?.as_deref().filter(|name| !name.is_empty()))
    }
}

/// One `auths` entry. No `Debug`: it holds secrets.
#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default, alias = "Auth")]
    auth: Option<String>,
    #[serde(default, alias = "Username")]
    username: Option<String>,
    #[serde(default, alias = "Password")]
    password: Option<String>,
    #[serde(default, alias = "identityToken", alias = "IdentityToken")]
    identitytoken: Option<String>,
}

impl AuthEntry {
    /// `Ok(None)` for an entry without credentials (Docker writes `{}` when `credsStore`
    /// holds the secret). An identity token wins over `auth`, which wins over the plain fields.
    fn credential(&self, path: &Path, key: &str) -> Result<Option<Credential>, CredentialError> {
        fn nonempty(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.trim().is_empty())
        }
        if let Some(token) = nonempty(&self.identitytoken) {
            return Ok(Some(Credential::IdentityToken(token.to_owned())));
        }
        if let Some(auth) = nonempty(&self.auth) {
            return decode_auth(auth)
                .map(Some)
                .map_err(|problem| CredentialError::InvalidAuth {
                    path: path.to_owned(),
                    key: key.to_owned(),
                    problem,
                });
        }
        let username = self.username.clone().unwrap_or_default();
        let password = self.password.clone().unwrap_or_default();
        if username.is_empty() && password.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credential::Basic { username, password }))
    }
}

/// Decodes `base64(user:password)` as Docker does: split at the first ':', trailing NULs
/// trimmed from the password, padding optional. The error says what is wrong, never the value.
fn decode_auth(auth: &str) -> Result<Credential, &'static str> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(auth.trim())
        .map_err(|_| "is not valid base64")?;
    let text = String::from_utf8(bytes).map_err(|_| "does not decode to UTF-8 text")?;
    let (username, password) = text
        .split_once(':')
        .ok_or("does not decode to user:password")?;
    if username.is_empty() {
        return Err("has an empty user name");
    }
    Ok(Credential::Basic {
        username: username.to_owned(),
        password: password.trim_matches('\0').to_owned(),
    })
}

/// The keys of `map` that `host_of` maps to `registry`, best first: the spellings Docker
/// writes (`https://index.docker.io/v1/` for Docker Hub, the bare host otherwise), then the
/// other usual spellings, then any remaining match in key order.
fn ranked_keys<'a, V>(
    map: &'a BTreeMap<String, V>,
    registry: &str,
    host_of: impl Fn(&str) -> Option<String>,
) -> Vec<&'a str> {
    let preferred: Vec<String> = if registry == DOCKER_HUB {
        [
            DOCKER_HUB_CREDENTIAL_KEY,
            "index.docker.io",
            "docker.io",
            "registry-1.docker.io",
        ]
        .map(str::to_owned)
        .to_vec()
    } else {
        vec![
            registry.to_owned(),
            format!("https://{registry}"),
            format!("https://{registry}/"),
            format!("https://{registry}/v1/"),
            format!("http://{registry}"),
            format!("http://{registry}/"),
            format!("http://{registry}/v1/"),
        ]
    };
    let mut keys: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|key| host_of(key).as_deref() == Some(registry))
        .collect();
    keys.sort_by_key(|key| {
        preferred
            .iter()
            .position(|p| p == key)
            .unwrap_or(usize::MAX)
    });
    keys
}

/// A key's registry the way Docker's `ConvertToHostname` reads it (scheme and path dropped),
/// lower-cased, with Docker Hub's host names folded into `docker.io`.
fn key_host(key: &str) -> String {
    let rest = key.find("://").map_or(key, |i| &key[i + 3..]);
    canonical_host(rest.split('/').next().unwrap_or_default())
}

/// An auth.json key's registry the way containers/image reads it: a URL's path is dropped,
/// but a key like `quay.io/org` is a namespace and only ever matches exactly.
fn podman_key_host(key: &str) -> Option<String> {
    if key.contains("://") {
        Some(key_host(key))
    } else if key.contains('/') {
        None
    } else {
        Some(canonical_host(key))
    }
}

fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        _ => host,
    }
}

/// `nginx` on Docker Hub is `library/nginx`, as podman keys it.
fn normalise_repository(registry: &str, repository: &str) -> String {
    let repository = repository.trim_matches('/');
    if registry == DOCKER_HUB && !repository.is_empty() && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository.to_owned()
    }
}

fn read_config(path: &Path) -> Loaded {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(CredentialError::Read {
                path: path.to_owned(),
                source: Arc::new(e),
            });
        }
    };
    // Docker treats an empty config.json as an empty configuration.
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Arc::default()));
    }
    serde_json::from_slice::<ConfigFile>(&bytes)
        .map(|config| Some(Arc::new(config)))
        .map_err(|e| CredentialError::InvalidJson {
            path: path.to_owned(),
            problem: match e.classify() {
                serde_json::error::Category::Syntax => "syntax error",
                serde_json::error::Category::Eof => "unexpected end of file",
                serde_json::error::Category::Data => {
                    "value of the wrong type (\"auths\" must map hosts to objects, \"credHelpers\" hosts to names)"
                }
                serde_json::error::Category::Io => "read error",
            },
            line: e.line(),
            column: e.column(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    const SECRET: &str = "s3cr3t-Pa55:with-colon";

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn basic(username: &str, password: &str) -> Credential {
        Credential::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    /// A fake home with config files and helper scripts; never touches the process env.
    struct Fixture {
        dir: tempfile::TempDir,
        vars: HashMap<String, String>,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let mut vars = HashMap::new();
            vars.insert("HOME".into(), dir.path().join("home").display().to_string());
            vars.insert(
                "XDG_RUNTIME_DIR".into(),
                dir.path().join("run").display().to_string(),
            );
            Fixture { dir, vars }
        }

        fn path(&self, relative: &str) -> PathBuf {
            self.dir.path().join(relative)
        }

        fn write(&self, relative: &str, text: &str) -> PathBuf {
            let path = self.path(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }

        fn docker_config(&self, json: &str) -> PathBuf {
            self.write("home/.docker/config.json", json)
        }

        fn auth_json(&self, json: &str) -> PathBuf {
            self.write("run/containers/auth.json", json)
        }

        /// Installs `docker-credential-<name>` running `body` under /bin/sh.
        fn helper(&self, name: &str, body: &str) {
            let path = self.write(
                &format!("bin/docker-credential-{name}"),
                &format!("#!/bin/sh\n{body}\n"),
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }

        fn store(&self) -> CredentialStore {
            let vars = self.vars.clone();
            CredentialStore::from_env(move |k| vars.get(k).cloned())
                .with_helper_path(self.path("bin"))
                .with_helper_timeout(Duration::from_secs(5))
        }

        async fn lookup(
            &self,
            registry: &str,
            repository: &str,
        ) -> Result<Option<Found>, CredentialError> {
            self.store().lookup(registry, repository).await
        }

        async fn credential(&self, registry: &str, repository: &str) -> Option<Credential> {
            self.lookup(registry, repository)
                .await
                .unwrap()
                .map(|found| found.credential)
        }
    }

    /// Echoes the server URL it was given back as the username, so tests can check it.
    const ECHO_HELPER: &str = r#"[ "$1" = get ] || exit 3
read -r url || true
printf '{"ServerURL":"%s","Username":"%s","Secret":"helper-password"}' "$url" "$url""#;

    fn echoed(url: &str) -> Option<Credential> {
        Some(basic(url, "helper-password"))
    }

    #[test]
    fn docker_key_spellings_table() {
        // (auths key, registry looked up, matches)
        let table = [
            ("ghcr.io", "ghcr.io", true),
            ("https://ghcr.io", "ghcr.io", true),
            ("http://ghcr.io", "ghcr.io", true),
            ("https://ghcr.io/v1/", "ghcr.io", true),
            ("https://ghcr.io/v2/", "ghcr.io", true),
            ("GHCR.IO", "ghcr.io", true),
            ("ghcr.io/some-org", "ghcr.io", true), // Docker's ConvertToHostname drops the path
            ("https://index.docker.io/v1/", "docker.io", true),
            ("index.docker.io", "docker.io", true),
            ("docker.io", "docker.io", true),
            ("registry-1.docker.io", "docker.io", true),
            ("https://registry-1.docker.io/v2/", "docker.io", true),
            ("docker.io", "index.docker.io", true), // aliases are accepted in the query too
            ("localhost:5000", "localhost:5000", true),
            ("https://localhost:5000/v1/", "localhost:5000", true),
            ("localhost", "localhost:5000", false),
            ("localhost:5000", "localhost", false),
            ("registry.example.com:443", "registry.example.com", false),
            ("ghcr.io", "quay.io", false),
            ("ghcr.io.evil.example", "ghcr.io", false),
            ("evil.example/ghcr.io", "ghcr.io", false),
            ("https://index.docker.io/v1/", "quay.io", false),
            ("quay.io", "docker.io", false),
        ];
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for (key, registry, matches) in table {
            let fx = Fixture::new();
            fx.docker_config(&format!(
                r#"{{"auths":{{"{key}":{{"auth":"{}"}}}}}}"#,
                b64("u:p")
            ));
            let got = runtime.block_on(fx.lookup(registry, "org/app")).unwrap();
            assert_eq!(
                got.is_some(),
                matches,
                "key {key:?} for registry {registry:?}"
            );
            if let Some(found) = got {
                assert_eq!(found.credential, basic("u", "p"));
                assert!(
                    found
                        .source
                        .as_str()
                        .contains(&format!("(auths entry {key:?})"))
                );
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn exact_key_beats_other_spellings_of_the_same_host() {
        let fx = Fixture::new();
        fx.docker_config(&format!(
            r#"{{"auths":{{
                "https://ghcr.io":{{"auth":"{}"}},
                "ghcr.io":{{"auth":"{}"}},
                "docker.io":{{"auth":"{}"}},
                "https://index.docker.io/v1/":{{"auth":"{}"}}
            }}}}"#,
            b64("loose:1"),
            b64("exact:2"),
            b64("alias:3"),
            b64("hub:4")
        ));
        assert_eq!(
            fx.credential("ghcr.io", "a/b").await,
            Some(basic("exact", "2"))
        );
        assert_eq!(
            fx.credential("docker.io", "library/nginx").await,
            Some(basic("hub", "4"))
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn auth_field_decoding_table() {
        // (auths entry JSON, expected credential)
        let table = [
            (
                format!(r#"{{"auth":"{}"}}"#, b64("user:pass")),
                basic("user", "pass"),
            ),
            (
                format!(r#"{{"auth":"{}"}}"#, b64(&format!("user:{SECRET}"))),
                basic("user", SECRET),
            ),
            (
                format!(r#"{{"auth":"{}"}}"#, b64("user:a:b:c:")),
                basic("user", "a:b:c:"),
            ),
            (
                format!(r#"{{"auth":"{}"}}"#, b64("user:")),
                basic("user", ""),
            ),
            (
                format!(r#"{{"auth":"{}"}}"#, b64("user:pw\0\0")),
                basic("user", "pw"),
            ),
            (
                format!(r#"{{"auth":"{}"}}"#, b64("user:pw1").trim_end_matches('=')),
                basic("user", "pw1"),
            ),
            (
                r#"{"username":"plain","password":"pw"}"#.to_owned(),
                basic("plain", "pw"),
            ),
            (
                r#"{"identitytoken":"refresh-token","email":"a@b.c"}"#.to_owned(),
                Credential::IdentityToken("refresh-token".into()),
            ),
            (
                r#"{"identityToken":"camel-token"}"#.to_owned(),
                Credential::IdentityToken("camel-token".into()),
            ),
            (
                format!(r#"{{"auth":"{}","identitytoken":"tok"}}"#, b64("user:")),
                Credential::IdentityToken("tok".into()),
            ),
            (
                format!(
                    r#"{{"auth":"{}","username":"ignored","password":"x"}}"#,
                    b64("a:b")
                ),
                basic("a", "b"),
            ),
        ];
        for (entry, expected) in table {
            let fx = Fixture::new();
            fx.docker_config(&format!(r#"{{"auths":{{"quay.io":{entry}}}}}"#));
            assert_eq!(
                fx.credential("quay.io", "x/y").await,
                Some(expected),
                "entry {entry}"
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn invalid_auth_field_is_an_error_naming_file_and_key_but_not_the_value() {
        let table = [
            ("!!not-base64-s3cr3t!!".to_owned(), "is not valid base64"),
            (
                b64("s3cr3t-without-colon"),
                "does not decode to user:password",
            ),
            (b64(":s3cr3t-password"), "has an empty user name"),
        ];
        for (auth, problem) in table {
            let fx = Fixture::new();
            let path =
                fx.docker_config(&format!(r#"{{"auths":{{"ghcr.io":{{"auth":"{auth}"}}}}}}"#));
            let err = fx.lookup("ghcr.io", "a/b").await.unwrap_err();
            assert!(
                matches!(err, CredentialError::InvalidAuth { .. }),
                "{err:?}"
            );
            let text = format!("{err} {err:?}");
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(
                text.contains("\"ghcr.io\"") && text.contains(problem),
                "{text}"
            );
            assert!(!text.contains("s3cr3t") && !text.contains(&auth), "{text}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn broken_entry_for_another_registry_does_not_matter() {
        let fx = Fixture::new();
        fx.docker_config(&format!(
            r#"{{"auths":{{"quay.io":{{"auth":"%%%"}},"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64("u:p")
        ));
        assert_eq!(fx.credential("ghcr.io", "a").await, Some(basic("u", "p")));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn cred_helpers_win_over_auths_and_get_the_registry_host() {
        let fx = Fixture::new();
        fx.helper("echo", ECHO_HELPER);
        let path = fx.docker_config(&format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{a}"}},"https://index.docker.io/v1/":{{"auth":"{a}"}}}},
                "credHelpers":{{"ghcr.io":"echo","docker.io":"echo","localhost:5000":"echo"}},
                "credsStore":"missing-store"}}"#,
            a = b64("from:auths")
        ));
        let found = fx.lookup("ghcr.io", "a/b").await.unwrap().unwrap();
        assert_eq!(Some(found.credential), echoed("ghcr.io"));
        assert_eq!(
            found.source.to_string(),
            format!(
                "credential helper docker-credential-echo (credHelpers in {})",
                path.display()
            )
        );
        assert_eq!(
            fx.credential("docker.io", "library/x").await,
            echoed(DOCKER_HUB_CREDENTIAL_KEY)
        );
        assert_eq!(
            fx.credential("localhost:5000", "x").await,
            echoed("localhost:5000")
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn helper_token_username_means_identity_token() {
        let fx = Fixture::new();
        fx.helper(
            "tok",
            r#"cat >/dev/null; printf '{"ServerURL":"x","Username":"<token>","Secret":"refresh-123"}'"#,
        );
        fx.docker_config(r#"{"credHelpers":{"gcr.io":"tok"}}"#);
        assert_eq!(
            fx.credential("gcr.io", "p/i").await,
            Some(Credential::IdentityToken("refresh-123".into()))
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn creds_store_fallback_table() {
        // (auths JSON, registry, expected server URL passed to the store)
        let table = [
            (
                r#"{"https://index.docker.io/v1/":{}}"#,
                "docker.io",
                DOCKER_HUB_CREDENTIAL_KEY,
            ),
            (r#"{}"#, "docker.io", DOCKER_HUB_CREDENTIAL_KEY),
            (r#"{"https://quay.io":{}}"#, "quay.io", "https://quay.io"),
            (r#"{"quay.io":{"auth":""}}"#, "quay.io", "quay.io"),
            (r#"{"ghcr.io":{}}"#, "quay.io", "quay.io"),
            (r#"null"#, "localhost:5000", "localhost:5000"),
        ];
        for (auths, registry, url) in table {
            let fx = Fixture::new();
            fx.helper("store", ECHO_HELPER);
            let path = fx.docker_config(&format!(r#"{{"auths":{auths},"credsStore":"store"}}"#));
            let found = fx.lookup(registry, "a/b").await.unwrap().unwrap();
            assert_eq!(Some(found.credential), echoed(url), "{auths} {registry}");
            assert_eq!(
                found.source.to_string(),
                format!(
                    "credential helper docker-credential-store (credsStore in {})",
                    path.display()
                )
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn filled_auths_entry_is_used_before_creds_store() {
        let fx = Fixture::new();
        fx.docker_config(&format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}},"credsStore":"not-installed"}}"#,
            b64("u:p")
        ));
        assert_eq!(fx.credential("quay.io", "a").await, Some(basic("u", "p")));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn helper_saying_not_found_means_anonymous_then_podman_files() {
        let fx = Fixture::new();
        fx.helper(
            "nf",
            "echo 'credentials not found in native keychain'; exit 1",
        );
        fx.helper("nf-stderr", "echo 'Credentials not found' >&2; exit 1");
        fx.helper(
            "empty",
            r#"printf '{"ServerURL":"","Username":"","Secret":""}'"#,
        );
        fx.docker_config(
            r#"{"credHelpers":{"a.example":"nf","b.example":"nf-stderr","c.example":"empty"},
                "credsStore":"nf"}"#,
        );
        for registry in ["a.example", "b.example", "c.example", "d.example"] {
            assert_eq!(fx.lookup(registry, "x").await.unwrap(), None, "{registry}");
        }
        let auth = fx.auth_json(&format!(
            r#"{{"auths":{{"a.example":{{"auth":"{}"}}}}}}"#,
            b64("pod:man")
        ));
        let found = fx.lookup("a.example", "x").await.unwrap().unwrap();
        assert_eq!(found.credential, basic("pod", "man"));
        assert_eq!(
            found.source.to_string(),
            format!("{} (auths entry \"a.example\")", auth.display())
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn helper_failures_are_distinct_errors_without_output_or_secrets() {
        let fx = Fixture::new();
        let leak = "LEAKED-helper-s3cr3t";
        fx.helper(
            "fail",
            &format!("echo '{leak}'; echo 'boom {leak}' >&2; exit 2"),
        );
        fx.helper("hang", "exec sleep 30");
        fx.helper("garbage", &format!("echo 'not json {leak}'"));
        fx.helper(
            "partial",
            &format!(r#"printf '{{"Username":"u","Secret":"{leak}"'"#),
        );
        fx.write("bin/docker-credential-noexec", "#!/bin/sh\necho '{}'\n");
        let config = fx.docker_config(
            r#"{"credHelpers":{"missing.example":"missing","fail.example":"fail",
                "hang.example":"hang","garbage.example":"garbage","partial.example":"partial",
                "noexec.example":"noexec","slash.example":"../bin/fail"}}"#,
        );
        let store = fx.store().with_helper_timeout(Duration::from_millis(300));

        let cases: [(&str, fn(&CredentialError) -> bool, &str); 7] = [
            (
                "missing.example",
                |e| matches!(e, CredentialError::HelperNotFound { .. }),
                "not installed or not on PATH",
            ),
            (
                "noexec.example",
                |e| matches!(e, CredentialError::HelperNotFound { .. }),
                "not installed or not on PATH",
            ),
            (
                "slash.example",
                |e| matches!(e, CredentialError::HelperNotFound { .. }),
                "not installed or not on PATH",
            ),
            (
                "fail.example",
                |e| matches!(e, CredentialError::HelperFailed { status, .. } if status.contains('2')),
                "failed (exit status: 2)",
            ),
            (
                "hang.example",
                |e| matches!(e, CredentialError::HelperTimeout { .. }),
                "did not answer within 300ms",
            ),
            (
                "garbage.example",
                |e| matches!(e, CredentialError::HelperBadOutput { .. }),
                "not the expected JSON",
            ),
            (
                "partial.example",
                |e| matches!(e, CredentialError::HelperBadOutput { .. }),
                "not the expected JSON",
            ),
        ];
        for (registry, is_expected, phrase) in cases {
            let started = std::time::Instant::now();
            let err = store.lookup(registry, "x").await.unwrap_err();
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{registry} took too long"
            );
            assert!(is_expected(&err), "{registry}: {err:?}");
            let text = format!("{err} | {err:?}");
            assert!(text.contains(phrase), "{registry}: {text}");
            assert!(
                text.contains(&config.display().to_string()),
                "{registry}: {text}"
            );
            assert!(!text.contains(leak), "{registry} leaked: {text}");
        }
        let err = store.lookup("missing.example", "x").await.unwrap_err();
        assert!(
            err.to_string().contains("docker-credential-missing"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn invalid_json_names_the_file_and_position_but_not_its_content() {
        let table = [
            (
                r#"{"auths": {"ghcr.io": {"auth": "s3cr3t"}"#,
                "unexpected end of file",
            ),
            (
                "{\"auths\": {\n  \"ghcr.io\": \"s3cr3t-as-string\"}}",
                "wrong type",
            ),
            (
                "{\"auths\": {\n  \"ghcr.io\": {\"auth\": s3cr3t}}}",
                "syntax error at line 2",
            ),
            (r#"{"credHelpers": ["s3cr3t"]}"#, "wrong type"),
        ];
        for (json, phrase) in table {
            let fx = Fixture::new();
            let path = fx.docker_config(json);
            let err = fx.lookup("ghcr.io", "a").await.unwrap_err();
            assert!(
                matches!(err, CredentialError::InvalidJson { .. }),
                "{err:?}"
            );
            let text = format!("{err} | {err:?}");
            assert!(
                text.contains(&path.display().to_string()) && text.contains(phrase),
                "{text}"
            );
            assert!(!text.contains("s3cr3t"), "{text}");
        }

        // A broken auth.json only matters once the lookup gets that far.
        let fx = Fixture::new();
        fx.docker_config(&format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64("u:p")
        ));
        let auth = fx.auth_json("{not json");
        assert!(fx.lookup("ghcr.io", "a").await.unwrap().is_some());
        let err = fx.lookup("quay.io", "a").await.unwrap_err();
        assert!(
            err.to_string().contains(&auth.display().to_string()),
            "{err}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn missing_or_empty_files_mean_no_credentials() {
        let fx = Fixture::new();
        assert_eq!(fx.lookup("ghcr.io", "a").await.unwrap(), None);

        let store = CredentialStore::from_env(|_| None);
        assert!(store.searched_files().is_empty());
        assert_eq!(store.lookup("ghcr.io", "a").await.unwrap(), None);

        fx.docker_config(" \n");
        fx.auth_json(r#"{"auths":null,"credHelpers":null}"#);
        assert_eq!(fx.lookup("ghcr.io", "a").await.unwrap(), None);

        // HOME pointing at a regular file: the config "path" cannot exist.
        let mut fx = Fixture::new();
        let file = fx.write("not-a-dir", "");
        fx.vars.insert("HOME".into(), file.display().to_string());
        assert_eq!(fx.lookup("ghcr.io", "a").await.unwrap(), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unreadable_file_is_an_error_naming_it() {
        let fx = Fixture::new();
        let path = fx.path("home/.docker/config.json");
        std::fs::create_dir_all(&path).unwrap(); // a directory: reading it fails, even as root
        let err = fx.lookup("ghcr.io", "a").await.unwrap_err();
        assert!(matches!(err, CredentialError::Read { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn podman_namespace_keys_table() {
        let fx = Fixture::new();
        fx.auth_json(&format!(
            r#"{{"auths":{{
                "quay.io":{{"auth":"{}"}},
                "quay.io/org":{{"auth":"{}"}},
                "quay.io/org/app":{{"auth":"{}"}},
                "quay.io/empty":{{}},
                "docker.io/library":{{"auth":"{}"}},
                "docker.io/me/private":{{"auth":"{}"}},
                "https://registry.example:5000/v1/":{{"auth":"{}"}},
                "index.docker.io":{{"auth":"{}"}},
                "ghcr.io/only-this-org":{{"auth":"{}"}}
            }}}}"#,
            b64("base:1"),
            b64("org:2"),
            b64("app:3"),
            b64("library:4"),
            b64("private:5"),
            b64("port:6"),
            b64("hub:7"),
            b64("ghorg:8"),
        ));
        let table = [
            ("quay.io", "org/app", Some(basic("app", "3"))),
            ("quay.io", "org/app/sub", Some(basic("app", "3"))),
            ("quay.io", "org/other", Some(basic("org", "2"))),
            ("quay.io", "orgx/app", Some(basic("base", "1"))),
            ("quay.io", "empty/app", Some(basic("base", "1"))),
            ("quay.io", "", Some(basic("base", "1"))),
            ("docker.io", "library/nginx", Some(basic("library", "4"))),
            ("docker.io", "nginx", Some(basic("library", "4"))),
            ("docker.io", "me/private", Some(basic("private", "5"))),
            ("docker.io", "me/public", Some(basic("hub", "7"))),
            ("registry.example:5000", "a/b", Some(basic("port", "6"))),
            ("registry.example", "a/b", None),
            ("ghcr.io", "only-this-org/x", Some(basic("ghorg", "8"))),
            ("ghcr.io", "another-org/x", None),
        ];
        let store = fx.store();
        for (registry, repository, expected) in table {
            let got = store.lookup(registry, repository).await.unwrap();
            assert_eq!(
                got.map(|f| f.credential),
                expected,
                "{registry} {repository}"
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn podman_cred_helpers_and_file_order() {
        let fx = Fixture::new();
        fx.helper("echo", ECHO_HELPER);
        let primary = fx.auth_json(r#"{"credHelpers":{"docker.io":"echo"},"auths":{}}"#);
        let secondary = fx.write(
            "home/.config/containers/auth.json",
            &format!(
                r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
                b64("second:ary")
            ),
        );
        let found = fx.lookup("docker.io", "library/x").await.unwrap().unwrap();
        assert_eq!(Some(found.credential), echoed("docker.io"));
        assert!(
            found
                .source
                .as_str()
                .contains(&primary.display().to_string())
        );
        let found = fx.lookup("quay.io", "a").await.unwrap().unwrap();
        assert_eq!(found.credential, basic("second", "ary"));
        assert!(
            found
                .source
                .as_str()
                .contains(&secondary.display().to_string())
        );

        // Docker's file comes first when both have credentials.
        fx.docker_config(&format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
            b64("dock:er")
        ));
        assert_eq!(
            fx.credential("quay.io", "a").await,
            Some(basic("dock", "er"))
        );
    }

    #[test]
    fn file_locations_from_env_table() {
        let table: [(&[(&str, &str)], &[&str]); 6] = [
            (
                &[("HOME", "/h")],
                &["/h/.docker/config.json", "/h/.config/containers/auth.json"],
            ),
            (
                &[
                    ("HOME", "/h"),
                    ("DOCKER_CONFIG", "/d"),
                    ("XDG_RUNTIME_DIR", "/run/user/1"),
                ],
                &[
                    "/d/config.json",
                    "/run/user/1/containers/auth.json",
                    "/h/.config/containers/auth.json",
                ],
            ),
            (
                &[
                    ("HOME", "/h"),
                    ("REGISTRY_AUTH_FILE", "/a.json"),
                    ("XDG_RUNTIME_DIR", "/r"),
                ],
                &[
                    "/h/.docker/config.json",
                    "/a.json",
                    "/h/.config/containers/auth.json",
                ],
            ),
            (
                &[
                    ("HOME", "/h"),
                    ("XDG_CONFIG_HOME", "/x"),
                    ("DOCKER_CONFIG", ""),
                ],
                &["/h/.docker/config.json", "/x/containers/auth.json"],
            ),
            (
                &[
                    ("HOME", "/h"),
                    ("REGISTRY_AUTH_FILE", "/h/.docker/config.json"),
                ],
                &["/h/.docker/config.json", "/h/.config/containers/auth.json"],
            ),
            (&[("PATH", "/usr/bin")], &[]),
        ];
        for (vars, expected) in table {
            let vars: HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let store = CredentialStore::from_env(|k| vars.get(k).cloned());
            let expected: Vec<&Path> = expected.iter().map(Path::new).collect();
            assert_eq!(store.searched_files(), expected, "{vars:?}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn files_are_read_on_first_lookup_and_then_cached() {
        let fx = Fixture::new();
        let store = fx.store();
        fx.docker_config(&format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
            b64("first:1")
        ));
        let first = store.lookup("quay.io", "a").await.unwrap().unwrap();
        assert_eq!(first.credential, basic("first", "1"));
        fx.docker_config("{broken");
        let second = store.lookup("quay.io", "a").await.unwrap().unwrap();
        assert_eq!(second.credential, basic("first", "1"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn each_helper_runs_once_even_for_concurrent_lookups() {
        let fx = Fixture::new();
        let count = fx.path("count");
        fx.helper(
            "counting",
            &format!(
                "echo run >> '{}'\nsleep 0.2\nprintf '{{\"Username\":\"u\",\"Secret\":\"p\"}}'",
                count.display()
            ),
        );
        fx.docker_config(r#"{"credsStore":"counting"}"#);
        let store = fx.store();
        let lookups = (0..6).map(|_| store.lookup("ghcr.io", "a/b"));
        for result in futures_util::future::join_all(lookups).await {
            assert_eq!(result.unwrap().unwrap().credential, basic("u", "p"));
        }
        store.lookup("quay.io", "x").await.unwrap();
        let runs = std::fs::read_to_string(&count).unwrap();
        assert_eq!(
            runs.lines().count(),
            2,
            "one run for ghcr.io, one for quay.io"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn debug_and_display_never_show_secrets() {
        let credential = basic("u", SECRET);
        assert_eq!(
            format!("{credential:?}"),
            r#"Credential::Basic { username: "u", password: <redacted> }"#
        );
        let token = Credential::IdentityToken(SECRET.into());
        assert_eq!(
            format!("{token:?}"),
            "Credential::IdentityToken(<redacted>)"
        );
        assert_eq!(format!("{token:#?}").matches(SECRET).count(), 0);

        let fx = Fixture::new();
        fx.docker_config(&format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}"}},"ghcr.io":{{"identitytoken":"{SECRET}"}}}}}}"#,
            b64(&format!("u:{SECRET}"))
        ));
        let store = fx.store();
        for registry in ["quay.io", "ghcr.io"] {
            let found = store.lookup(registry, "a").await.unwrap().unwrap();
            let text = format!("{found:?} {found:#?} {} {store:?}", found.source);
            assert!(!text.contains(SECRET) && !text.contains("s3cr3t"), "{text}");
        }
    }

    #[test]
    fn store_and_lookup_future_are_thread_safe() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let store = CredentialStore::from_env(|_| None);
        send_sync(&store);
        let future = store.lookup("ghcr.io", "a");
        send(&future);
        let _: &dyn std::error::Error = &CredentialError::HelperBadOutput {
            helper: HelperRef {
                program: "p".into(),
                field: "credsStore",
                config: PathBuf::new(),
                server_url: String::new(),
            },
        };
    }
}
