//! Pushing test images over the Distribution API (no docker daemon), and reading them back.
//!
//! Manifests are serialised deliberately non-canonically (three-space indentation, sorted
//! keys, trailing newline), so a client that re-serialises JSON before hashing gets a
//! different digest than the registry. Every builder returns the exact bytes pushed.

use base64::Engine as _;
use reqwest::blocking::RequestBuilder;
use serde::Serialize;
use serde_json::{Value, json};

use super::registry::{Auth, Registry};
use super::sha256_digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const IN_TOTO_LAYER: &str = "application/vnd.in-toto+json";

/// Every manifest type, for `Accept` headers.
pub const ALL_MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// The platforms of the index/list builders, in order. The last one is the BuildKit-style
/// attestation manifest (platform unknown/unknown, annotated `vnd.docker.reference.type:
/// attestation-manifest` and `vnd.docker.reference.digest` = the linux/amd64 image).
pub const INDEX_PLATFORMS: [&str; 3] = ["linux/amd64", "linux/arm64/v8", "unknown/unknown"];

/// A manifest that was pushed (the index/list itself, or a single image).
#[derive(Debug, Clone)]
pub struct Pushed {
    pub repo: String,
    pub tag: String,
    /// `127.0.0.1:PORT/repo:tag`
    pub reference: String,
    /// `sha256:…` of exactly [`Pushed::bytes`]; equals the registry's Docker-Content-Digest.
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
    /// For an index/list: one entry per [`INDEX_PLATFORMS`]. Empty for a single image.
    pub children: Vec<PushedChild>,
}

#[derive(Debug, Clone)]
pub struct PushedChild {
    /// `os/arch[/variant]`, e.g. `linux/arm64/v8`, or `unknown/unknown`.
    pub platform: String,
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl Pushed {
    /// The child manifest for `platform` (`linux/amd64`, `linux/arm64/v8`, `unknown/unknown`).
    pub fn child(&self, platform: &str) -> &PushedChild {
        self.children
            .iter()
            .find(|c| c.platform == platform)
            .unwrap_or_else(|| panic!("no child {platform} in {}", self.reference))
    }
    /// `127.0.0.1:PORT/repo:tag@sha256:…`
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.reference, self.digest)
    }
}

/// Serialises with three-space indentation and a trailing newline: valid JSON, but not
/// what serde_json (compact or two-space pretty) would produce.
pub fn non_canonical_json(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser).expect("serialise json");
    out.push(b'\n');
    out
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha256_digest(bytes), "size": bytes.len()})
}

/// `(os, architecture, variant)` from `os/arch[/variant]`.
fn split_platform(p: &str) -> (&str, &str, Option<&str>) {
    let mut it = p.split('/');
    let os = it.next().unwrap_or("linux");
    let arch = it.next().unwrap_or("amd64");
    (os, arch, it.next())
}

impl Registry {
    /// The Authorization header value the harness uses for `repo` (push+pull), if any.
    pub fn auth_header(&self, repo: &str) -> Option<String> {
        match &self.config().auth {
            Auth::None => None,
            Auth::Htpasswd { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            Auth::Token(_) => {
                let ts = self.token_server().expect("token server");
                Some(format!(
                    "Bearer {}",
                    ts.mint(&[&format!("repository:{repo}:pull,push,delete")])
                ))
            }
        }
    }

    fn authed(&self, rb: RequestBuilder, repo: &str) -> RequestBuilder {
        match self.auth_header(repo) {
            Some(h) => rb.header("Authorization", h),
            None => rb,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Uploads a blob (POST uploads/ then PUT Location?digest=…) and returns its digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        assert!(!self.is_mirror(), "cannot push to a pull-through mirror");
        let digest = sha256_digest(bytes);
        let start = self.authed(
            self.client()
                .post(self.url(&format!("/v2/{repo}/blobs/uploads/"))),
            repo,
        );
        let resp = start
            .header("Content-Length", "0")
            .send()
            .expect("start upload");
        assert_eq!(
            resp.status().as_u16(),
            202,
            "start upload: {:?}",
            resp.text()
        );
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("Location")
            .to_string();
        let mut url = if location.starts_with("http://") || location.starts_with("https://") {
            location
        } else {
            self.url(&location)
        };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("digest={}", digest.replace(':', "%3A")));
        let resp = self
            .authed(self.client().put(url), repo)
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .expect("finish upload");
        assert_eq!(
            resp.status().as_u16(),
            201,
            "finish upload: {:?}",
            resp.text()
        );
        digest
    }

    /// PUTs a manifest under `reference` (tag or digest); returns the registry's digest,
    /// asserting it equals sha256(bytes).
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        assert!(!self.is_mirror(), "cannot push to a pull-through mirror");
        let resp = self
            .authed(
                self.client()
                    .put(self.url(&format!("/v2/{repo}/manifests/{reference}"))),
                repo,
            )
            .header("Content-Type", media_type)
            .body(bytes.to_vec())
            .send()
            .expect("put manifest");
        let status = resp.status().as_u16();
        let header = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        assert_eq!(
            status,
            201,
            "put manifest {repo}:{reference}: {:?}",
            resp.text()
        );
        let digest = sha256_digest(bytes);
        assert_eq!(
            header.as_deref(),
            Some(digest.as_str()),
            "registry digest differs from sha256(bytes)"
        );
        digest
    }

    /// GET (or HEAD) a manifest with the harness's credentials and an Accept of every type.
    pub fn fetch_manifest(
        &self,
        method: &str,
        repo: &str,
        reference: &str,
    ) -> reqwest::blocking::Response {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        self.authed(
            self.client()
                .request(m, self.url(&format!("/v2/{repo}/manifests/{reference}"))),
            repo,
        )
        .header("Accept", ALL_MANIFEST_TYPES)
        .send()
        .expect("fetch manifest")
    }

    /// Deletes a manifest by digest (storage.delete is enabled).
    pub fn delete_manifest(&self, repo: &str, digest: &str) {
        let resp = self
            .authed(
                self.client()
                    .delete(self.url(&format!("/v2/{repo}/manifests/{digest}"))),
                repo,
            )
            .send()
            .expect("delete manifest");
        assert_eq!(
            resp.status().as_u16(),
            202,
            "delete {repo}@{digest}: {:?}",
            resp.text()
        );
    }

    /// Pushes config + layer blobs and an image manifest; returns (digest, bytes).
    fn push_image_manifest(
        &self,
        repo: &str,
        reference: Option<&str>,
        docker: bool,
        platform: &str,
        seed: u64,
    ) -> (String, Vec<u8>) {
        let (os, arch, variant) = split_platform(platform);
        let attestation = platform == "unknown/unknown";
        let layer = format!("tf-pin test layer: seed={seed} platform={platform}\n")
            .repeat(8)
            .into_bytes();
        let layer_type = match (attestation, docker) {
            (true, _) => IN_TOTO_LAYER,
            (false, true) => DOCKER_LAYER,
            (false, false) => OCI_LAYER,
        };
        let mut config = json!({
            "architecture": arch,
            "os": os,
            "config": {"Labels": {"dev.tf-pin.test.seed": seed.to_string()}},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(&layer)]},
        });
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        let config = non_canonical_json(&config);
        self.push_blob(repo, &config);
        self.push_blob(repo, &layer);
        let (mt, config_mt) = if docker {
            (DOCKER_MANIFEST, DOCKER_CONFIG)
        } else {
            (OCI_MANIFEST, OCI_CONFIG)
        };
        let mut layer_desc = descriptor(layer_type, &layer);
        if attestation {
            layer_desc["annotations"] =
                json!({"in-toto.io/predicate-type": "https://spdx.dev/Document"});
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": mt,
            "config": descriptor(config_mt, &config),
            "layers": [layer_desc],
        });
        let bytes = non_canonical_json(&manifest);
        let digest = sha256_digest(&bytes);
        self.push_manifest(repo, reference.unwrap_or(&digest), mt, &bytes);
        (digest, bytes)
    }

    fn push_single(&self, repo: &str, tag: &str, seed: u64, docker: bool) -> Pushed {
        let (digest, bytes) =
            self.push_image_manifest(repo, Some(tag), docker, "linux/amd64", seed);
        Pushed {
            repo: repo.into(),
            tag: tag.into(),
            reference: self.image(repo, tag),
            digest,
            media_type: if docker {
                DOCKER_MANIFEST
            } else {
                OCI_MANIFEST
            }
            .into(),
            bytes,
            children: Vec::new(),
        }
    }

    /// A single-platform (linux/amd64) OCI image manifest.
    pub fn push_oci_image(&self, repo: &str, tag: &str, seed: u64) -> Pushed {
        self.push_single(repo, tag, seed, false)
    }

    /// A single-platform (linux/amd64) Docker schema2 manifest.
    pub fn push_docker_image(&self, repo: &str, tag: &str, seed: u64) -> Pushed {
        self.push_single(repo, tag, seed, true)
    }

    /// An OCI index: linux/amd64, linux/arm64/v8 and an unknown/unknown attestation.
    pub fn push_oci_index(&self, repo: &str, tag: &str, seed: u64) -> Pushed {
        self.push_multi(repo, tag, seed, false)
    }

    /// A Docker manifest list with the same three entries as [`Registry::push_oci_index`].
    pub fn push_docker_manifest_list(&self, repo: &str, tag: &str, seed: u64) -> Pushed {
        self.push_multi(repo, tag, seed, true)
    }

    fn push_multi(&self, repo: &str, tag: &str, seed: u64, docker: bool) -> Pushed {
        let child_mt = if docker {
            DOCKER_MANIFEST
        } else {
            OCI_MANIFEST
        };
        let mut children = Vec::new();
        let mut entries = Vec::new();
        for platform in INDEX_PLATFORMS {
            let (digest, bytes) = self.push_image_manifest(repo, None, docker, platform, seed);
            let (os, arch, variant) = split_platform(platform);
            let mut entry = descriptor(child_mt, &bytes);
            entry["platform"] = json!({"architecture": arch, "os": os});
            if let Some(v) = variant {
                entry["platform"]["variant"] = json!(v);
            }
            if platform == "unknown/unknown" {
                entry["annotations"] = json!({
                    "vnd.docker.reference.digest": children.first().map(|c: &PushedChild| c.digest.clone()),
                    "vnd.docker.reference.type": "attestation-manifest",
                });
            }
            entries.push(entry);
            children.push(PushedChild {
                platform: platform.into(),
                digest,
                media_type: child_mt.into(),
                bytes,
            });
        }
        let mt = if docker { DOCKER_LIST } else { OCI_INDEX };
        let bytes =
            non_canonical_json(&json!({"schemaVersion": 2, "mediaType": mt, "manifests": entries}));
        let digest = self.push_manifest(repo, tag, mt, &bytes);
        Pushed {
            repo: repo.into(),
            tag: tag.into(),
            reference: self.image(repo, tag),
            digest,
            media_type: mt.into(),
            bytes,
            children,
        }
    }
}
