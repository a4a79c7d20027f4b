//! Docker's lookup order inside `config.json`: `credHelpers`, then a filled `auths` entry,
//! then `credsStore`.

use std::path::Path;

use crate::reference::{DOCKER_HUB, DOCKER_HUB_CREDENTIAL_KEY};

use super::config_file::ConfigFile;
use super::helper::HelperRunner;
use super::keys::{key_host, ranked_keys};
use super::{CredentialError, Found};

/// Docker's order: `credHelpers`, then a non-empty `auths` entry, then `credsStore`.
/// `registry` is already normalised (`docker.io` for Docker Hub).
pub(super) async fn search(
    config: &ConfigFile,
    path: &Path,
    registry: &str,
    helpers: &HelperRunner,
) -> Result<Option<Found>, CredentialError> {
    let host_url = if registry == DOCKER_HUB {
        DOCKER_HUB_CREDENTIAL_KEY
    } else {
        registry
    };
    if let Some(name) = config.cred_helper(registry) {
        return helpers
            .ask(name, "credHelpers", path, host_url.to_owned())
            .await;
    }

    let keys = ranked_keys(config.auths(), registry, |key| Some(key_host(key)));
    if let Some(found) = config.first_filled_entry(path, keys.iter().copied())? {
        return Ok(Some(found));
    }

    match config.creds_store.as_deref().filter(|s| !s.is_empty()) {
        Some(store) => {
            let server_url = keys.first().map_or(host_url, |k| *k).to_owned();
            helpers.ask(store, "credsStore", path, server_url).await
        }
        None => Ok(None),
    }
}
