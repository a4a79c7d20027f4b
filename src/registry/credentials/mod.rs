//! Registry credentials from the user's docker and podman configuration: the store and its
//! lookup order.
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
//!
//! This file holds the store and the order across files; each file's own order is in
//! `docker_config.rs` and `auth_json.rs`, the JSON they share in `config_file.rs`, key
//! spelling in `keys.rs`, helper runs in `helper.rs`, and the returned types and errors in
//! `credential.rs` and `error.rs`.

mod auth_json;
mod config_file;
mod credential;
mod docker_config;
mod error;
mod helper;
mod keys;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use credential::{Credential, CredentialSource, Found};
pub use error::CredentialError;
pub use helper::{DEFAULT_HELPER_TIMEOUT, HelperRef};

use config_file::FileSlot;
use helper::HelperRunner;
use keys::{key_host, normalise_repository};

/// Docker's and podman's configured credentials, shared by all lookups of a run.
///
/// Files are read on the first lookup that needs them and cached; each helper is run at most
/// once per (helper, server URL) per store, concurrent lookups sharing the one run.
pub struct CredentialStore {
    docker_config: Option<FileSlot>,
    podman_files: Vec<FileSlot>,
    helpers: HelperRunner,
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialStore")
            .field("files", &self.searched_files())
            .field("helper_path", &self.helpers.search_path)
            .field("helper_timeout", &self.helpers.timeout)
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
            helpers: HelperRunner::new(),
        }
    }

    /// Kills a credential helper that has not finished after `timeout` (default
    /// [`DEFAULT_HELPER_TIMEOUT`]) and reports [`CredentialError::HelperTimeout`].
    pub fn with_helper_timeout(mut self, timeout: Duration) -> CredentialStore {
        self.helpers.timeout = timeout;
        self
    }

    /// Searches `docker-credential-*` helpers in this `PATH`-style list (one directory is
    /// fine) instead of the process's `PATH`, so tests never have to change the environment.
    pub fn with_helper_path(mut self, path: impl Into<OsString>) -> CredentialStore {
        self.helpers.search_path = Some(path.into());
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
                let search = docker_config::search(&config, &slot.path, &registry, &self.helpers);
                if let Some(found) = search.await? {
                    return Ok(Some(found));
                }
            }
        }
        for slot in &self.podman_files {
            if let Some(config) = slot.load()? {
                let search =
                    auth_json::search(&config, &slot.path, &registry, &repository, &self.helpers);
                if let Some(found) = search.await? {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }
}
