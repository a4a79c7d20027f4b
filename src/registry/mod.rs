//! Distribution API client: resolve a tag to the manifest digest `docker pull` would see.
//!
//! Split the way go-containerregistry's `remote` package is: [`transport`] (HTTP, retries,
//! size caps, redirects), [`auth`] (the `WWW-Authenticate` challenge dance and token cache),
//! [`credentials`] (docker/podman credential stores and helpers), [`manifest`] (media types
//! and platform selection) and [`client`] (the resolution itself).

pub mod auth;
pub mod client;
pub mod credentials;
pub mod manifest;
pub mod mirror;
pub mod platform;
pub mod transport;

pub use client::Client;
pub use platform::Platform;

/// A failed registry operation for one reference: `"{reference}: {failure}"`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reference}: {failure}")]
pub struct RegistryError {
    /// The reference as the user wrote it.
    pub reference: String,
    /// What went wrong, with the fix.
    pub failure: Failure,
}

impl RegistryError {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> i32 {
        crate::exit::REGISTRY
    }
}

/// What went wrong talking to a registry. Messages never contain credentials: they name
/// where credentials came from, never what they are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    /// 404 for the manifest (unknown repository or tag).
    #[error(
        "{registry} has no manifest for {what} in repository {repository} (HTTP 404): check the name and tag, or push the image first"
    )]
    NotFound {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// `tag "x"` or `digest sha256:…`.
        what: String,
    },
    /// 401 after authenticating (or without credentials).
    #[error("{registry} refused {} (HTTP 401): {}", credential_phrase(.credentials), login_fix(.registry, .credentials))]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// Where the credentials came from; `None` when anonymous.
        credentials: Option<String>,
    },
    /// 403: authenticated but not allowed.
    #[error(
        "{registry} denied pull access to {repository} for {} (HTTP 403): check that this account may pull the repository",
        credential_phrase(.credentials)
    )]
    Forbidden {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// Where the credentials came from; `None` when anonymous.
        credentials: Option<String>,
    },
    /// Retryable status that persisted through every retry.
    #[error(
        "{host} kept answering HTTP {status} after {attempts} attempts: the registry is overloaded or rate-limiting; try again later or lower --jobs"
    )]
    Unavailable {
        /// Host that answered.
        host: String,
        /// Last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// Any other unexpected status.
    #[error("{host} answered HTTP {status} to {what}: {hint}")]
    UnexpectedStatus {
        /// Host that answered.
        host: String,
        /// Status code.
        status: u16,
        /// What was asked.
        what: String,
        /// What to do.
        hint: String,
    },
    /// Connection-level failure.
    #[error("cannot reach {url}: {detail}")]
    Network {
        /// URL without query.
        url: String,
        /// Error chain.
        detail: String,
    },
    /// No complete answer within `--timeout`.
    #[error("{host} did not answer within {seconds}s: check the network, or raise --timeout")]
    Timeout {
        /// Host asked.
        host: String,
        /// The timeout in force.
        seconds: f64,
    },
    /// The body's hash differs from the digest the registry announced.
    #[error(
        "the manifest's sha256 is {actual} but the registry said {claimed}: the registry or a proxy is corrupting responses; refusing to pin an unverified digest"
    )]
    DigestMismatch {
        /// Digest the registry announced (or that was asked for).
        claimed: String,
        /// Digest of the bytes received.
        actual: String,
    },
    /// Manifest bigger than the 4 MiB limit.
    #[error("the manifest is {} over the 4 MiB limit containerd enforces: this is not a pullable image manifest", size_phrase(.size))]
    ManifestTooLarge {
        /// Announced size, if any.
        size: Option<u64>,
    },
    /// The body ended early or could not be read.
    #[error("the manifest download broke off: {detail}; try again")]
    BrokenBody {
        /// What happened.
        detail: String,
    },
    /// The manifest could not be understood.
    #[error("the registry sent a manifest tf-pin cannot read: {detail}")]
    InvalidManifest {
        /// What is wrong.
        detail: String,
    },
    /// `--platform` not in the index.
    #[error("the image index has no {wanted} image; available platforms: {available}")]
    PlatformNotFound {
        /// Requested platform.
        wanted: String,
        /// Platforms the index lists (attestations excluded).
        available: String,
    },
    /// Reading credentials failed.
    #[error("{detail}")]
    Credentials {
        /// Secret-free description from the credential store.
        detail: String,
    },
    /// Credentials would travel over plain HTTP to a remote host.
    #[error(
        "refusing to send credentials over plain HTTP to {host}: use HTTPS, or mark the registry with --insecure-registry {host} if you accept that"
    )]
    InsecureCredentials {
        /// Host the credentials would go to.
        host: String,
    },
    /// The token endpoint answered but gave no usable token.
    #[error("the token server {realm} {detail}")]
    TokenResponse {
        /// Token realm (URL without query).
        realm: String,
        /// What was wrong.
        detail: String,
    },
}

fn credential_phrase(credentials: &Option<String>) -> String {
    match credentials {
        Some(source) => format!("the credentials from {source}"),
        None => {
            "anonymous access (no credentials found in docker or podman configuration)".to_owned()
        }
    }
}

fn login_fix(registry: &str, credentials: &Option<String>) -> String {
    match credentials {
        Some(_) => format!(
            "the stored credentials are wrong or expired; run `docker login {registry}` again"
        ),
        None => format!(
            "run `docker login {registry}` (or `podman login {registry}`) with an account that may pull it"
        ),
    }
}

fn size_phrase(size: &Option<u64>) -> String {
    match size {
        Some(bytes) => format!("{bytes} bytes,"),
        None => "larger than 4 MiB,".to_owned(),
    }
}

impl Failure {
    /// Attaches the reference the failure belongs to.
    pub fn for_reference(self, reference: impl Into<String>) -> RegistryError {
        RegistryError {
            reference: reference.into(),
            failure: self,
        }
    }
}
