//! Batch resolution: every distinct reference resolved once, with bounded concurrency,
//! behind a synchronous API so the front ends (`resolve`, `external`, `rewrite`) stay simple.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use crate::reference::{Digest, Reference};
use crate::registry::credentials::CredentialStore;
use crate::registry::transport::{Transport, TransportOptions};
use crate::registry::{Client, Failure, Platform, RegistryError};

pub use crate::registry::client::Resolution;

/// Options shared by every subcommand that talks to a registry.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Pick this platform's manifest out of an index instead of pinning the index.
    pub platform: Option<Platform>,
    /// Hosts (`host[:port]`) reached over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Extra PEM CA certificates to trust.
    pub ca_files: Vec<PathBuf>,
    /// Per-request timeout (connect + whole response).
    pub timeout: Duration,
    /// Maximum requests in flight.
    pub jobs: usize,
    /// Log each request (method, URL without query, status, time) as a `tracing` event
    /// (target `tf_pin::http`; the CLI prints them on stderr with `-v`).
    pub verbose: bool,
    /// `(mirror, upstream)` registry pairs: references naming the mirror are resolved at
    /// the upstream, because a stale mirror would otherwise hand out its stale digest.
    pub registry_map: Vec<(String, String)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            platform: None,
            insecure_registries: Vec::new(),
            ca_files: Vec::new(),
            timeout: Duration::from_secs(30),
            jobs: 16,
            verbose: false,
            registry_map: Vec::new(),
        }
    }
}

/// Settings that cannot work; found before any request is sent.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A `--ca-file` could not be read or holds no certificate.
    #[error(
        "cannot use --ca-file {path}: {detail}; pass a PEM file with one or more CA certificates"
    )]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// [`HELPER_TIMEOUT_VAR`] is set to something that is not a usable number of seconds.
    #[error(
        "{HELPER_TIMEOUT_VAR}={value:?} is not a number of seconds between 0 and 3600: set it to e.g. 30, or unset it to wait the default 10 seconds"
    )]
    HelperTimeout {
        /// The variable's value.
        value: String,
    },
    /// The async runtime or HTTP client could not start.
    #[error("cannot start the HTTP client: {0}")]
    Startup(String),
}

/// Watches batches of registry lookups (the CLI draws a progress bar with it).
pub trait Progress: Send + Sync {
    /// A batch of `total` lookups starts; `what` names them (`resolving tags`).
    fn start(&self, what: &str, total: usize);
    /// One lookup of the batch finished.
    fn advance(&self);
    /// The batch finished.
    fn finish(&self);
}

/// Resolves references against registries; owns its async runtime.
pub struct Resolver {
    runtime: tokio::runtime::Runtime,
    client: Client,
    settings: Settings,
    progress: Option<Arc<dyn Progress>>,
}

/// Environment variable: how many seconds a credential helper may run before it is stopped
/// (default 10, [`DEFAULT_HELPER_TIMEOUT`]). Raise it for helpers that wait for a person (a
/// hardware key, a password prompt); tests lower it. Read by [`Resolver::new`].
///
/// [`DEFAULT_HELPER_TIMEOUT`]: crate::registry::credentials::DEFAULT_HELPER_TIMEOUT
pub const HELPER_TIMEOUT_VAR: &str = "TF_PIN_CREDENTIAL_HELPER_TIMEOUT";

impl Resolver {
    /// Builds a resolver with credentials from the process environment (including
    /// [`HELPER_TIMEOUT_VAR`]).
    pub fn new(settings: Settings) -> Result<Resolver, SettingsError> {
        let mut credentials = CredentialStore::from_env(|key| std::env::var(key).ok());
        let timeout =
            std::env::var_os(HELPER_TIMEOUT_VAR).map(|v| v.to_string_lossy().into_owned());
        if let Some(timeout) = helper_timeout(timeout)? {
            credentials = credentials.with_helper_timeout(timeout);
        }
        Resolver::with_credentials(settings, credentials)
    }

    /// Builds a resolver with an explicit credential store.
    pub fn with_credentials(
        settings: Settings,
        credentials: CredentialStore,
    ) -> Result<Resolver, SettingsError> {
        let mut extra_roots = Vec::new();
        for path in &settings.ca_files {
            let pem = std::fs::read(path).map_err(|e| SettingsError::CaFile {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            let certificates =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| SettingsError::CaFile {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
            if certificates.is_empty() {
                return Err(SettingsError::CaFile {
                    path: path.clone(),
                    detail: "it contains no PEM certificate".to_owned(),
                });
            }
            extra_roots.extend(certificates);
        }
        // One thread is enough: the work is waiting on sockets, and on `terraform plan`
        // start-up time matters more than parallel CPU.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SettingsError::Startup(e.to_string()))?;
        let transport = {
            let _guard = runtime.enter();
            Transport::new(TransportOptions {
                insecure_hosts: settings.insecure_registries.clone(),
                extra_roots,
                timeout: settings.timeout,
                verbose: settings.verbose,
            })
            .map_err(|e| SettingsError::Startup(e.to_string()))?
        };
        Ok(Resolver {
            runtime,
            client: Client::new(transport, credentials),
            settings,
            progress: None,
        })
    }

    /// Reports the progress of every batch ([`Resolver::resolve_many`],
    /// [`Resolver::manifest_exists`]) to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Resolver {
        self.progress = Some(progress);
        self
    }

    /// Resolves the tag of each reference (a digest in the input is ignored: the tag is
    /// re-resolved). Results come back in input order; duplicates cost one lookup.
    pub fn resolve_many(&self, references: &[Reference]) -> Vec<Result<Resolution, RegistryError>> {
        let upstream: Vec<Reference> = references.iter().map(|r| self.upstream_of(r)).collect();
        let mut unique: Vec<&Reference> = Vec::new();
        let mut slot_of: HashMap<(&str, &str, &str), usize> = HashMap::new();
        let slots: Vec<usize> = upstream
            .iter()
            .map(|r| {
                *slot_of
                    .entry((r.api_host(), r.repository(), r.tag_or_default()))
                    .or_insert_with(|| {
                        unique.push(r);
                        unique.len() - 1
                    })
            })
            .collect();
        let platform = self.settings.platform.as_ref();
        let progress = self.progress.as_deref();
        if let Some(progress) = progress {
            progress.start("resolving tags", unique.len());
        }
        let results: Vec<Result<Resolution, Failure>> = self.runtime.block_on(async {
            self.prefetch_tokens(&unique).await;
            let mut done: Vec<(usize, Result<Resolution, Failure>)> =
                stream::iter(unique.iter().enumerate())
                    .map(|(i, r)| async move {
                        let result = self.client.resolve(r, platform).await;
                        if let Some(progress) = progress {
                            progress.advance();
                        }
                        (i, result)
                    })
                    .buffer_unordered(self.settings.jobs.max(1))
                    .collect()
                    .await;
            if let Some(progress) = progress {
                progress.finish();
            }
            done.sort_by_key(|(i, _)| *i);
            done.into_iter().map(|(_, result)| result).collect()
        });
        references
            .iter()
            .zip(slots)
            .map(|(reference, slot)| {
                results[slot]
                    .clone()
                    .map_err(|f| f.for_reference(reference.to_string()))
            })
            .collect()
    }

    /// Whether each repository has a manifest with the given digest, in input order.
    pub fn manifest_exists(
        &self,
        items: &[(Reference, Digest)],
    ) -> Vec<Result<bool, RegistryError>> {
        let upstream: Vec<Reference> = items.iter().map(|(r, _)| self.upstream_of(r)).collect();
        let references: Vec<&Reference> = upstream.iter().collect();
        let progress = self.progress.as_deref();
        if let Some(progress) = progress {
            progress.start("checking digests", items.len());
        }
        let results = self.runtime.block_on(async {
            self.prefetch_tokens(&references).await;
            stream::iter(items.iter().zip(&upstream))
                .map(|((reference, digest), target)| async move {
                    let result = self
                        .client
                        .manifest_exists(target, digest)
                        .await
                        .map_err(|f| f.for_reference(reference.to_string()));
                    if let Some(progress) = progress {
                        progress.advance();
                    }
                    result
                })
                .buffered(self.settings.jobs.max(1))
                .collect()
                .await
        });
        if let Some(progress) = progress {
            progress.finish();
        }
        results
    }

    /// The settings this resolver was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The registry client, for checks beyond tag resolution (e.g. `mirror-check`); run its
    /// futures with [`Resolver::block_on`].
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `future` to completion on this resolver's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The reference to ask the registry about: the upstream one under `--registry-map`.
    fn upstream_of(&self, reference: &Reference) -> Reference {
        self.settings
            .registry_map
            .iter()
            .find(|(mirror, _)| mirror.eq_ignore_ascii_case(reference.registry()))
            .and_then(|(_, upstream)| reference.with_registry(upstream).ok())
            .unwrap_or_else(|| reference.clone())
    }

    async fn prefetch_tokens(&self, references: &[&Reference]) {
        let mut by_host: HashMap<&str, Vec<&Reference>> = HashMap::new();
        for reference in references {
            by_host
                .entry(reference.api_host())
                .or_default()
                .push(reference);
        }
        stream::iter(by_host.into_values())
            .for_each_concurrent(None, |group| async move {
                self.client.prefetch_tokens(&group).await
            })
            .await;
    }
}

/// Parses [`HELPER_TIMEOUT_VAR`]: unset or empty means the default.
fn helper_timeout(value: Option<String>) -> Result<Option<Duration>, SettingsError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match value.trim().parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 3600.0 => Ok(Some(Duration::from_secs_f64(secs))),
        _ => Err(SettingsError::HelperTimeout { value }),
    }
}
