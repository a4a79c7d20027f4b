//! Where digests come from: the real [`Resolver`], or an in-memory table for tests,
//! fuzzing and offline experiments.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use super::plan::LookupError;
use crate::reference::{Digest, Reference};
use crate::resolver::{Resolution, Resolver};

/// The two registry questions the rewrite layer asks, in batches.
pub trait DigestSource {
    /// Resolves each reference's tag (a digest in the input is ignored). One result per
    /// input, in input order.
    fn resolve_many(&self, references: &[Reference]) -> Vec<Result<Resolution, LookupError>>;

    /// Whether each repository has a manifest with the digest. One result per input.
    fn manifest_exists(&self, items: &[(Reference, Digest)]) -> Vec<Result<bool, LookupError>>;
}

impl DigestSource for Resolver {
    fn resolve_many(&self, references: &[Reference]) -> Vec<Result<Resolution, LookupError>> {
        Resolver::resolve_many(self, references)
            .into_iter()
            .map(|result| result.map_err(registry_error))
            .collect()
    }

    fn manifest_exists(&self, items: &[(Reference, Digest)]) -> Vec<Result<bool, LookupError>> {
        Resolver::manifest_exists(self, items)
            .into_iter()
            .map(|result| result.map_err(registry_error))
            .collect()
    }
}

/// The report line already starts with the reference, so only the failure is kept.
fn registry_error(error: crate::registry::RegistryError) -> LookupError {
    LookupError {
        message: error.failure.to_string(),
        exit_code: error.exit_code(),
    }
}

/// An in-memory registry. Keys are normalised (`nginx` = `docker.io/library/nginx:latest`).
///
/// With [`MemorySource::derived`], every tag without an explicit entry resolves to
/// `sha256(<registry>/<repository>:<tag>)`, a fixed fake digest table that needs no setup.
/// A manifest exists when it is the current digest of some tag of that repository, or was
/// added with [`MemorySource::with_manifest`] (e.g. the old digest of a moved tag).
#[derive(Debug, Default)]
pub struct MemorySource {
    derive: bool,
    tags: HashMap<String, Digest>,
    manifests: HashSet<String>,
    failures: HashMap<String, String>,
    calls: RefCell<Vec<Vec<String>>>,
}

fn tag_key(reference: &Reference) -> String {
    format!(
        "{}:{}",
        reference.canonical_name(),
        reference.tag_or_default()
    )
}

/// The fake digest [`MemorySource::derived`] gives a reference's tag.
pub fn derived_digest(reference: &Reference) -> Digest {
    Digest::sha256_of(tag_key(reference).as_bytes())
}

impl MemorySource {
    /// An empty registry: every lookup fails with "not found".
    pub fn new() -> MemorySource {
        MemorySource::default()
    }

    /// A registry where every tag resolves to its [`derived_digest`].
    pub fn derived() -> MemorySource {
        MemorySource {
            derive: true,
            ..MemorySource::default()
        }
    }

    /// `reference`'s tag resolves to `digest`.
    ///
    /// # Panics
    /// On a malformed reference or digest: this is a test helper fed by the test's own
    /// literals, never by scanned input.
    pub fn with_tag(mut self, reference: &str, digest: &str) -> MemorySource {
        let reference = Reference::parse(reference).expect("valid reference");
        let digest = Digest::parse(digest).expect("valid digest");
        self.manifests
            .insert(format!("{}@{}", reference.canonical_name(), digest));
        self.tags.insert(tag_key(&reference), digest);
        self
    }

    /// The repository of `reference` also holds `digest` (e.g. a tag's previous digest).
    ///
    /// # Panics
    /// On a malformed reference or digest (test helper).
    pub fn with_manifest(mut self, reference: &str, digest: &str) -> MemorySource {
        let reference = Reference::parse(reference).expect("valid reference");
        let digest = Digest::parse(digest).expect("valid digest");
        self.manifests
            .insert(format!("{}@{}", reference.canonical_name(), digest));
        self
    }

    /// Lookups of `reference`'s tag (and its repository's manifests) fail with `message`.
    ///
    /// # Panics
    /// On a malformed reference (test helper).
    pub fn with_failure(mut self, reference: &str, message: &str) -> MemorySource {
        let reference = Reference::parse(reference).expect("valid reference");
        self.failures
            .insert(tag_key(&reference), message.to_owned());
        self
    }

    /// Each batch asked so far, as `name:tag` or `name@digest` strings.
    pub fn calls(&self) -> Vec<Vec<String>> {
        self.calls.borrow().clone()
    }

    fn current(&self, reference: &Reference) -> Result<Digest, LookupError> {
        let key = tag_key(reference);
        if let Some(message) = self.failures.get(&key) {
            return Err(LookupError {
                message: message.clone(),
                exit_code: crate::exit::REGISTRY,
            });
        }
        match self.tags.get(&key) {
            Some(digest) => Ok(digest.clone()),
            None if self.derive => Ok(derived_digest(reference)),
            None => Err(LookupError {
                message: format!("manifest unknown: {key} not found in the in-memory registry"),
                exit_code: crate::exit::REGISTRY,
            }),
        }
    }
}

impl DigestSource for MemorySource {
    fn resolve_many(&self, references: &[Reference]) -> Vec<Result<Resolution, LookupError>> {
        self.calls
            .borrow_mut()
            .push(references.iter().map(tag_key).collect());
        references
            .iter()
            .map(|reference| {
                self.current(reference).map(|digest| Resolution {
                    digest,
                    media_type: "application/vnd.oci.image.index.v1+json".to_owned(),
                    platform: None,
                })
            })
            .collect()
    }

    fn manifest_exists(&self, items: &[(Reference, Digest)]) -> Vec<Result<bool, LookupError>> {
        self.calls.borrow_mut().push(
            items
                .iter()
                .map(|(r, d)| format!("{}@{d}", r.canonical_name()))
                .collect(),
        );
        items
            .iter()
            .map(|(reference, digest)| {
                if let Some(message) = self.failures.get(&tag_key(reference)) {
                    return Err(LookupError {
                        message: message.clone(),
                        exit_code: crate::exit::REGISTRY,
                    });
                }
                let explicit = self
                    .manifests
                    .contains(&format!("{}@{digest}", reference.canonical_name()));
                let derived = self.derive && derived_digest(reference) == *digest;
                Ok(explicit || derived)
            })
            .collect()
    }
}
