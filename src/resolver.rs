//! Batch resolution: every distinct reference resolved once, with bounded concurrency,
//! behind a synchronous API so the front ends (`resolve`, `external`, `rewrite`) stay simple.

use std::path::PathBuf;
use std::time::Duration;

use crate::reference::{Digest, Reference};
use crate::registry::{Platform, RegistryError};

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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            platform: None,
            insecure_registries: Vec::new(),
            ca_files: Vec::new(),
            timeout: Duration::from_secs(30),
            jobs: 16,
        }
    }
}

/// What a tag resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Digest of the manifest (or index) that `docker pull` would fetch.
    pub digest: Digest,
    /// Media type of that manifest.
    pub media_type: String,
    /// `os/arch[/variant]` when a platform was selected from an index.
    pub platform: Option<String>,
}

/// Resolves references against registries; owns its async runtime.
pub struct Resolver {
    _private: (),
}

impl Resolver {
    /// Builds a resolver; fails only on unusable settings (e.g. an unreadable CA file).
    pub fn new(settings: Settings) -> Result<Resolver, RegistryError> {
        let _ = settings;
        todo!()
    }

    /// Resolves the tag of each reference (a digest in the input is ignored: the tag is
    /// re-resolved). Results come back in input order; duplicates cost one lookup.
    pub fn resolve_many(&self, references: &[Reference]) -> Vec<Result<Resolution, RegistryError>> {
        let _ = references;
        todo!()
    }

    /// Whether the registry has a manifest with this digest in the reference's repository.
    pub fn manifest_exists(
        &self,
        items: &[(Reference, Digest)],
    ) -> Vec<Result<bool, RegistryError>> {
        let _ = items;
        todo!()
    }
}
