//! Resolving a tag at a registry mirror the way containerd asks one.
//!
//! containerd (`remotes/docker/resolver.go`) sends a mirror the upstream's repository path
//! under the mirror's API root and names the upstream in an `ns` query parameter:
//! `{scheme}://{mirror host}{root}/{repository}/manifests/{tag}?ns={upstream host}`, where
//! `root` is `/v2` (or `{URL path}/v2`, or the URL path as is with `override_path = true`)
//! and `ns` is added only when the mirror is not the upstream itself (`docker.io` counts as
//! the same host as `registry-1.docker.io`). The request carries the same `Accept` header
//! as any other resolution, and credentials are those stored for the *mirror's* host.

use super::client::Resolution;
use super::transport::{HostTls, Scheme};
use super::{Client, Failure, Platform};
use crate::reference::{DOCKER_HUB, DOCKER_HUB_API_HOST, Reference, ReferenceError};

/// One mirror to ask: a containerd `[host."URL"]` entry, its `server`, or a `--mirror URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorEndpoint {
    /// How to reach it: the URL's scheme, used as is (no HTTPS-first probing).
    pub scheme: Scheme,
    /// `host[:port]` exactly as it appears in every URL sent to this mirror. A single-label
    /// host without a port (`registry-mirror`) carries the scheme's default port
    /// (`registry-mirror:80`), so that it also reads as a registry name.
    pub host: String,
    /// The API root path without a trailing `/`: `/v2`, `/prefix/v2`, or with
    /// `override_path` the URL's path as written (possibly empty).
    pub api_root: String,
}

impl MirrorEndpoint {
    /// An endpoint from its parts; `host` is normalised as described on [`MirrorEndpoint::host`].
    pub fn new(scheme: Scheme, host: &str, api_root: &str) -> MirrorEndpoint {
        let single_label = !host.contains(['.', ':', '['])
            && !host.eq_ignore_ascii_case("localhost")
            && !host.is_empty();
        let host = if single_label {
            let port = match scheme {
                Scheme::Https => 443,
                Scheme::Http => 80,
            };
            format!("{host}:{port}")
        } else {
            host.to_owned()
        };
        let api_root = clean_path(&[api_root]);
        MirrorEndpoint {
            scheme,
            host,
            api_root: if api_root == "/" {
                String::new()
            } else {
                api_root
            },
        }
    }

    /// `scheme://host`.
    pub fn origin(&self) -> String {
        format!("{}://{}", scheme_str(self.scheme), self.host)
    }

    /// Whether containerd treats this endpoint as a mirror of `registry` (and so adds
    /// `?ns=`): any other host; `registry-1.docker.io` is Docker Hub itself.
    pub fn is_mirror_of(&self, registry: &str) -> bool {
        is_proxy(registry, &self.host)
    }

    /// The URL containerd requests for `reference`'s `target` (tag or digest) at this
    /// mirror, `?ns=` included when it applies.
    pub fn manifest_url(&self, reference: &Reference, target: &str) -> String {
        let path = clean_path(&[&self.api_root, reference.repository(), "manifests", target]);
        let mut url = format!("{}{path}", self.origin());
        if self.is_mirror_of(reference.registry()) {
            url.push_str("?ns=");
            url.push_str(&query_escape(reference.registry()));
        }
        url
    }

    /// The reference as it would be written against this mirror: the name under which
    /// its credentials, tokens and error messages go.
    pub fn reference_at(&self, upstream: &Reference) -> Result<Reference, ReferenceError> {
        upstream.with_registry(&self.host)
    }
}

/// containerd's `RegistryHost.isProxy`: `host` is a mirror for references to `registry`.
pub fn is_proxy(registry: &str, host: &str) -> bool {
    let same_host = registry.eq_ignore_ascii_case(host);
    let docker_hub_itself =
        registry.eq_ignore_ascii_case(DOCKER_HUB) && host.eq_ignore_ascii_case(DOCKER_HUB_API_HOST);
    !(same_host || docker_hub_itself)
}

fn scheme_str(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Https => "https",
        Scheme::Http => "http",
    }
}

/// Go's `path.Join("/", parts...)`: one leading `/`, no empty or `.` segments, `..` applied.
fn clean_path(parts: &[&str]) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in parts.iter().flat_map(|p| p.split('/')) {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("/{}", segments.join("/"))
}

/// Go's `url.QueryEscape` for the characters a registry host can contain.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Client {
    /// Makes requests to `endpoint` use its URL's scheme and, when given, its own TLS
    /// settings (containerd's per-host `ca` and `skip_verify`).
    pub fn prepare_mirror(
        &self,
        endpoint: &MirrorEndpoint,
        tls: Option<&HostTls>,
    ) -> Result<(), reqwest::Error> {
        self.transport
            .remember_scheme(&endpoint.host, endpoint.scheme);
        if let Some(tls) = tls {
            self.transport.set_host_tls(&endpoint.host, tls)?;
        }
        Ok(())
    }

    /// Resolves `upstream`'s tag at `endpoint` as containerd would ask it (see the module
    /// docs); `at_mirror` is [`MirrorEndpoint::reference_at`], which decides credentials.
    /// Call [`Client::prepare_mirror`] first.
    ///
    /// Credentials never travel over plain HTTP to a host that is neither loopback nor
    /// `--insecure-registry`: such a mirror is asked anonymously only.
    pub async fn resolve_at_mirror(
        &self,
        endpoint: &MirrorEndpoint,
        upstream: &Reference,
        at_mirror: &Reference,
        platform: Option<&Platform>,
    ) -> Result<Resolution, Failure> {
        self.ask_mirror(endpoint, upstream, at_mirror, platform)
            .await
            .map_err(|failure| with_mirror_tls_hint(failure, &endpoint.host))
    }

    async fn ask_mirror(
        &self,
        endpoint: &MirrorEndpoint,
        upstream: &Reference,
        at_mirror: &Reference,
        platform: Option<&Platform>,
    ) -> Result<Resolution, Failure> {
        let host = self.host(&endpoint.host);
        // The ping only knows `/v2/`; other API roots learn their challenge from the 401.
        let challenge = if endpoint.api_root == "/v2" {
            self.challenge(&host, &endpoint.host).await?
        } else {
            None
        };
        if endpoint.scheme == Scheme::Http
            && !self.transport.allows_plain_http(&endpoint.host)
            && self.credential(&host, at_mirror).await?.is_some()
        {
            return Err(Failure::InsecureCredentials {
                host: endpoint.host.clone(),
            });
        }
        let tag = upstream.tag_or_default();
        let url = endpoint.manifest_url(upstream, tag);
        self.resolve_tag_at(&host, at_mirror, &challenge, &url, tag, platform)
            .await
    }
}

/// Says how to trust a mirror whose certificate was refused.
fn with_mirror_tls_hint(failure: Failure, host: &str) -> Failure {
    match failure {
        Failure::Network { url, detail }
            if detail.contains("certificate") || detail.contains("UnknownIssuer") =>
        {
            Failure::Network {
                url,
                detail: format!(
                    "{detail} (the TLS certificate of {host} is not trusted: give its CA with `ca = \"mirror-ca.pem\"` in the host's hosts.toml entry or with --ca-file, or set `skip_verify = true` there if you accept an unverified connection)"
                ),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (scheme, host, api root, reference, expected URL)
    #[test]
    fn manifest_urls_follow_containerd() {
        let table: &[(Scheme, &str, &str, &str, &str)] = &[
            (
                Scheme::Https,
                "mirror.example.com",
                "/v2",
                "nginx:1.25",
                "https://mirror.example.com/v2/library/nginx/manifests/1.25?ns=docker.io",
            ),
            (
                Scheme::Http,
                "127.0.0.1:5001",
                "/v2",
                "127.0.0.1:5000/team/app",
                "http://127.0.0.1:5001/v2/team/app/manifests/latest?ns=127.0.0.1%3A5000",
            ),
            (
                Scheme::Https,
                "registry-1.docker.io",
                "/v2",
                "docker.io/library/nginx:1",
                "https://registry-1.docker.io/v2/library/nginx/manifests/1",
            ),
            (
                Scheme::Https,
                "ghcr.io",
                "/v2",
                "ghcr.io/o/r:v1",
                "https://ghcr.io/v2/o/r/manifests/v1",
            ),
            (
                Scheme::Https,
                "nexus.example.com",
                "/repository/docker-proxy",
                "quay.io/o/r:v1",
                "https://nexus.example.com/repository/docker-proxy/o/r/manifests/v1?ns=quay.io",
            ),
            (
                Scheme::Https,
                "nexus.example.com",
                "",
                "quay.io/o/r:v1",
                "https://nexus.example.com/o/r/manifests/v1?ns=quay.io",
            ),
            (
                Scheme::Https,
                "[::1]:5000",
                "/v2/",
                "[::1]:6000/a:b",
                "https://[::1]:5000/v2/a/manifests/b?ns=%5B%3A%3A1%5D%3A6000",
            ),
        ];
        for &(scheme, host, root, reference, expected) in table {
            let endpoint = MirrorEndpoint::new(scheme, host, root);
            let reference = Reference::parse(reference).unwrap();
            assert_eq!(
                endpoint.manifest_url(&reference, reference.tag_or_default()),
                expected,
                "{host}{root}"
            );
        }
    }

    #[test]
    fn single_label_hosts_get_the_default_port() {
        let endpoint = MirrorEndpoint::new(Scheme::Http, "registry-mirror", "/v2");
        assert_eq!(endpoint.host, "registry-mirror:80");
        let at = endpoint
            .reference_at(&Reference::parse("nginx:1").unwrap())
            .unwrap();
        assert_eq!(at.registry(), "registry-mirror:80");
        assert_eq!(at.repository(), "library/nginx");
        assert_eq!(
            MirrorEndpoint::new(Scheme::Https, "localhost", "/v2").host,
            "localhost"
        );
        assert_eq!(
            MirrorEndpoint::new(Scheme::Https, "mirror", "").host,
            "mirror:443"
        );
    }

    #[test]
    fn docker_hub_is_not_its_own_mirror() {
        assert!(!is_proxy("docker.io", "registry-1.docker.io"));
        assert!(!is_proxy("docker.io", "docker.io"));
        assert!(is_proxy("docker.io", "mirror.gcr.io"));
        assert!(!is_proxy("Registry.Example.com", "registry.example.com"));
        assert!(is_proxy("registry.example.com", "registry.example.com:443"));
    }

    #[test]
    fn clean_path_matches_go_path_join() {
        assert_eq!(
            clean_path(&["/v2", "a/b", "manifests", "t"]),
            "/v2/a/b/manifests/t"
        );
        assert_eq!(clean_path(&["", "a"]), "/a");
        assert_eq!(clean_path(&["//v2/", "./a"]), "/v2/a");
        assert_eq!(clean_path(&["/x/../v2"]), "/v2");
        assert_eq!(clean_path(&[""]), "/");
    }
}
