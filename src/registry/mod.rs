//! Distribution API client: resolve a tag to the manifest digest `docker pull` would see.
//!
//! Split the way go-containerregistry's `remote` package is: [`transport`] (HTTP, retries,
//! size caps, redirects), [`auth`] (the `WWW-Authenticate` challenge dance and token cache),
//! [`credentials`] (docker/podman credential stores and helpers), [`manifest`] (media types
//! and platform selection) and [`client`] (the resolution itself).

pub mod credentials;
pub mod platform;

pub use platform::Platform;

/// Errors from talking to a registry; each names the reference or registry and a fix.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Placeholder until the client lands.
    #[error("{0}")]
    Other(String),
}

impl RegistryError {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> i32 {
        crate::exit::REGISTRY
    }
}
