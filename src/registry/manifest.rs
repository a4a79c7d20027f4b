//! Manifest media types and picking a platform out of an image index.

use serde::Deserialize;

use super::{Failure, Platform};
use crate::reference::Digest;

/// OCI image index (multi-platform).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list (multi-platform).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The `Accept` header `docker pull` sends. Without it registries answer 404 for OCI
/// images and convert Docker images to schema 1, whose digest differs.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Whether a media type names a multi-platform index.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// The media type of a manifest body: the `Content-Type` when it is a manifest type,
/// else the body's own `mediaType` field (some registries answer `application/json`).
pub fn media_type_of(content_type: Option<&str>, body: Option<&[u8]>) -> String {
    let header = content_type
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .filter(|v| !v.is_empty() && v != "application/json" && v != "application/octet-stream");
    if let Some(header) = header {
        return header;
    }
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde::de::IgnoredAny>,
    }
    match body.and_then(|b| serde_json::from_slice::<Probe>(b).ok()) {
        Some(Probe {
            media_type: Some(t),
            ..
        }) => t,
        Some(Probe {
            manifests: Some(_), ..
        }) => OCI_INDEX.to_owned(),
        _ => OCI_MANIFEST.to_owned(),
    }
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    platform: Option<DescriptorPlatform>,
}

#[derive(Deserialize)]
struct DescriptorPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// The manifest an index lists for `wanted`, as (digest, media type).
pub fn select_platform(index_body: &[u8], wanted: &Platform) -> Result<(Digest, String), Failure> {
    let index: Index =
        serde_json::from_slice(index_body).map_err(|e| Failure::InvalidManifest {
            detail: format!("the image index is not valid JSON ({e})"),
        })?;
    let mut available = Vec::new();
    for entry in index.manifests {
        let Some(p) = entry.platform else { continue };
        let platform = Platform::normalised(&p.os, &p.architecture, p.variant.as_deref());
        if platform.is_attestation() {
            continue;
        }
        let matches = platform.os == wanted.os
            && platform.architecture == wanted.architecture
            && (wanted.variant.is_none() || platform.variant == wanted.variant);
        if matches {
            let digest =
                Digest::parse(&entry.digest).map_err(|reason| Failure::InvalidManifest {
                    detail: format!(
                        "the index lists {wanted} with digest {:?}, which {reason}",
                        entry.digest
                    ),
                })?;
            let media_type = if entry.media_type.is_empty() {
                OCI_MANIFEST.to_owned()
            } else {
                entry.media_type
            };
            return Ok((digest, media_type));
        }
        available.push(platform.to_string());
    }
    available.dedup();
    Err(Failure::PlatformNotFound {
        wanted: wanted.to_string(),
        available: if available.is_empty() {
            "none".to_owned()
        } else {
            available.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{
      "schemaVersion": 2,
      "mediaType": "application/vnd.oci.image.index.v1+json",
      "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111", "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": "sha256:3333333333333333333333333333333333333333333333333333333333333333", "platform": {"os": "unknown", "architecture": "unknown"}}
      ]
    }"#;

    #[test]
    fn selects_platforms_with_normalisation() {
        let table = [
            ("linux/amd64", Ok('1')),
            ("linux/arm64", Ok('2')),
            ("linux/arm64/v8", Ok('2')),
            ("linux/arm/v7", Err("linux/amd64, linux/arm64/v8")),
            ("unknown/unknown", Err("linux/amd64, linux/arm64/v8")),
        ];
        for (wanted, expected) in table {
            let result = select_platform(INDEX.as_bytes(), &Platform::parse(wanted).unwrap());
            match (result, expected) {
                (Ok((digest, _)), Ok(c)) => assert!(digest.as_str().ends_with(c), "{wanted}"),
                (Err(Failure::PlatformNotFound { available, .. }), Err(list)) => {
                    assert_eq!(available, list)
                }
                (other, _) => panic!("{wanted}: {other:?}"),
            }
        }
    }

    #[test]
    fn media_type_prefers_manifest_content_types() {
        assert_eq!(media_type_of(Some(DOCKER_LIST), None), DOCKER_LIST);
        assert_eq!(
            media_type_of(Some("application/json"), Some(INDEX.as_bytes())),
            OCI_INDEX
        );
        assert_eq!(
            media_type_of(None, Some(br#"{"manifests": []}"#)),
            OCI_INDEX
        );
        assert_eq!(media_type_of(None, Some(b"{}")), OCI_MANIFEST);
    }
}
