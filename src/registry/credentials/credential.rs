//! What a lookup returns: a credential whose `Debug` hides the secret, and where it came from.

use std::fmt;
use std::path::Path;

use super::HelperRef;

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

    /// An `auths` entry: `<file> (auths entry "<key>")`.
    pub(super) fn auths_entry(path: &Path, key: &str) -> CredentialSource {
        CredentialSource(format!("{} (auths entry {key:?})", path.display()))
    }

    /// A helper: `credential helper <program> (<field> in <file>)`.
    pub(super) fn helper(helper: &HelperRef) -> CredentialSource {
        CredentialSource(helper.to_string())
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
