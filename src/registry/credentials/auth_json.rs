//! podman/skopeo's lookup order inside `auth.json`: `credHelpers`, then namespaced keys
//! (most specific first), then registry keys.

use std::path::Path;

use super::config_file::ConfigFile;
use super::helper::HelperRunner;
use super::keys::{podman_key_host, ranked_keys};
use super::{CredentialError, Found};

/// containers/image's order: `credHelpers`, then namespaced keys (most specific first),
/// then registry keys. `credsStore` is a Docker-only field and is ignored here.
/// `registry` and `repository` are already normalised (`docker.io`, `library/nginx`).
pub(super) async fn search(
    config: &ConfigFile,
    path: &Path,
    registry: &str,
    repository: &str,
    helpers: &HelperRunner,
) -> Result<Option<Found>, CredentialError> {
    if let Some(name) = config.cred_helper(registry) {
        return helpers
            .ask(name, "credHelpers", path, registry.to_owned())
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
    config.first_filled_entry(path, keys)
}
