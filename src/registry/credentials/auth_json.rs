//! podman/skopeo's lookup order inside `auth.json`: `credHelpers`, then namespaced keys
//! (most specific first), then registry keys.

use std::path::Path;

use super::config_file::ConfigFile;
use super::keys::{podman_key_host, ranked_keys};
use super::{CredentialError, CredentialSource, CredentialStore, Found};

impl CredentialStore {
    /// containers/image's order: `credHelpers`, then namespaced keys (most specific first),
    /// then registry keys. `credsStore` is a Docker-only field and is ignored here.
    pub(super) async fn search_auth_json(
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
}
