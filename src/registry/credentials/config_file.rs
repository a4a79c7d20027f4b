//! The JSON shape `config.json` and `auth.json` share, each file read once per store and
//! decoded without ever quoting a secret in an error.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use serde::Deserialize;

use super::keys::{key_host, ranked_keys};
use super::{Credential, CredentialError, CredentialSource, Found};

pub(super) type Loaded = Result<Option<Arc<ConfigFile>>, CredentialError>;

/// One configuration file, read on first use and kept for the run.
pub(super) struct FileSlot {
    pub(super) path: PathBuf,
    loaded: OnceLock<Loaded>,
}

impl FileSlot {
    pub(super) fn new(path: PathBuf) -> FileSlot {
        FileSlot {
            path,
            loaded: OnceLock::new(),
        }
    }

    /// `Ok(None)` when the file does not exist. Small files: read synchronously, once.
    pub(super) fn load(&self) -> Loaded {
        self.loaded.get_or_init(|| read_config(&self.path)).clone()
    }
}

/// The parts of `config.json` / `auth.json` used here. Nulls are accepted where Go's decoder
/// accepts them, and the spellings Go's case-insensitive matching would accept are aliased.
/// No `Debug`: it holds secrets.
#[derive(Deserialize, Default)]
pub(super) struct ConfigFile {
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
    pub(super) creds_store: Option<String>,
}

impl ConfigFile {
    /// The `auths` map; empty when the file has none (or `null`).
    pub(super) fn auths(&self) -> &BTreeMap<String, Option<AuthEntry>> {
        static EMPTY: BTreeMap<String, Option<AuthEntry>> = BTreeMap::new();
        self.auths.as_ref().unwrap_or(&EMPTY)
    }

    /// The helper named for `registry`, preferring the exactly spelled key; empty names are
    /// ignored, as Docker ignores them.
    pub(super) fn cred_helper(&self, registry: &str) -> Option<&str> {
        let helpers = self.cred_helpers.as_ref()?;
        ranked_keys(helpers, registry, |key| Some(key_host(key)))
            .into_iter()
            .find_map(|key| helpers.get(key)?.as_deref().filter(|name| !name.is_empty()))
    }

    /// The first of `keys`, in order, whose `auths` entry holds a credential. Only those
    /// entries are decoded, so a broken entry for another registry cannot fail the lookup.
    pub(super) fn first_filled_entry<'k>(
        &self,
        path: &Path,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<Option<Found>, CredentialError> {
        for key in keys {
            if let Some(entry) = self.auths().get(key).and_then(Option::as_ref) {
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
}

/// One `auths` entry. No `Debug`: it holds secrets.
#[derive(Deserialize, Default)]
pub(super) struct AuthEntry {
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
