//! Docker's lookup order inside `config.json`: `credHelpers`, then a filled `auths` entry,
//! then `credsStore`.

use std::path::Path;

use crate::reference::{DOCKER_HUB, DOCKER_HUB_CREDENTIAL_KEY};

use super::config_file::ConfigFile;
use super::keys::{key_host, ranked_keys};
use super::{CredentialError, CredentialSource, CredentialStore, Found};

impl CredentialStore {
    /// Docker's order: `credHelpers`, then a non-empty `auths` entry, then `credsStore`.
    pub(super) async fn search_docker_config(
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
}
