//! Registry key spelling: which `auths`/`credHelpers` keys name a registry, as Docker's
//! `ConvertToHostname` and containers/image read them, with Docker Hub's spellings folded.

use std::collections::BTreeMap;

use crate::reference::{DOCKER_HUB, DOCKER_HUB_CREDENTIAL_KEY};

/// The keys of `map` that `host_of` maps to `registry`, best first: the spellings Docker
/// writes (`https://index.docker.io/v1/` for Docker Hub, the bare host otherwise), then the
/// other usual spellings, then any remaining match in key order.
pub(super) fn ranked_keys<'a, V>(
    map: &'a BTreeMap<String, V>,
    registry: &str,
    host_of: impl Fn(&str) -> Option<String>,
) -> Vec<&'a str> {
    let preferred: Vec<String> = if registry == DOCKER_HUB {
        [
            DOCKER_HUB_CREDENTIAL_KEY,
            "index.docker.io",
            "docker.io",
            "registry-1.docker.io",
        ]
        .map(str::to_owned)
        .to_vec()
    } else {
        vec![
            registry.to_owned(),
            format!("https://{registry}"),
            format!("https://{registry}/"),
            format!("https://{registry}/v1/"),
            format!("http://{registry}"),
            format!("http://{registry}/"),
            format!("http://{registry}/v1/"),
        ]
    };
    let mut keys: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|key| host_of(key).as_deref() == Some(registry))
        .collect();
    keys.sort_by_key(|key| {
        preferred
            .iter()
            .position(|p| p == key)
            .unwrap_or(usize::MAX)
    });
    keys
}

/// A key's registry the way Docker's `ConvertToHostname` reads it (scheme and path dropped),
/// lower-cased, with Docker Hub's host names folded into `docker.io`.
pub(super) fn key_host(key: &str) -> String {
    let rest = key.find("://").map_or(key, |i| &key[i + 3..]);
    canonical_host(rest.split('/').next().unwrap_or_default())
}

/// An auth.json key's registry the way containers/image reads it: a URL's path is dropped,
/// but a key like `quay.io/org` is a namespace and only ever matches exactly.
pub(super) fn podman_key_host(key: &str) -> Option<String> {
    if key.contains("://") {
        Some(key_host(key))
    } else if key.contains('/') {
        None
    } else {
        Some(canonical_host(key))
    }
}

pub(super) fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        _ => host,
    }
}

/// `nginx` on Docker Hub is `library/nginx`, as podman keys it.
pub(super) fn normalise_repository(registry: &str, repository: &str) -> String {
    let repository = repository.trim_matches('/');
    if registry == DOCKER_HUB && !repository.is_empty() && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository.to_owned()
    }
}
