//! The image-reference grammar of distribution/reference (what `docker pull` accepts).
//!
//! A [`Reference`] remembers the user's own spelling of the name so a pinned reference
//! can be written back the way it was typed (`nginx:1.25@sha256:…`, never
//! `docker.io/library/nginx:1.25@sha256:…`), and separately the normalised registry and
//! repository that the Distribution API needs.

use std::fmt;

/// Registry name Docker uses for Docker Hub after normalisation.
pub const DOCKER_HUB: &str = "docker.io";
/// Host that actually serves the Docker Hub registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// Key under which Docker stores Docker Hub credentials in config.json.
pub const DOCKER_HUB_CREDENTIAL_KEY: &str = "https://index.docker.io/v1/";
/// The tag Docker assumes when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_LENGTH_MAX: usize = 255;
const TAG_LENGTH_MAX: usize = 128;

/// A parse failure; every variant names the offending part and the whole input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The input was empty or only whitespace.
    #[error("empty image reference: expected something like `registry.example.com/team/app:1.0`")]
    Empty,
    /// The input contains whitespace or control characters.
    #[error("invalid image reference {input:?}: it contains whitespace or control characters")]
    Whitespace { input: String },
    /// The registry host part is malformed.
    #[error(
        "invalid image reference {input:?}: registry host {domain:?} is not a valid host[:port] (letters, digits, '-', '.', or [IPv6], then an optional numeric port)"
    )]
    InvalidDomain { input: String, domain: String },
    /// A repository path component breaks the grammar.
    #[error(
        "invalid image reference {input:?}: repository component {component:?} must be lowercase letters and digits, joined by '.', '_', '__' or '-'"
    )]
    InvalidPathComponent { input: String, component: String },
    /// The repository contains uppercase letters.
    #[error("invalid image reference {input:?}: repository name {path:?} must be lowercase")]
    UppercaseRepository { input: String, path: String },
    /// The full name exceeds 255 characters.
    #[error(
        "invalid image reference {input:?}: the name is {length} characters long, the limit is {NAME_TOTAL_LENGTH_MAX}"
    )]
    NameTooLong { input: String, length: usize },
    /// The tag breaks `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error(
        "invalid image reference {input:?}: tag {tag:?} must start with a letter, digit or '_' and contain at most 128 letters, digits, '_', '.' or '-'"
    )]
    InvalidTag { input: String, tag: String },
    /// The digest is malformed or uses an unsupported algorithm.
    #[error("invalid image reference {input:?}: digest {digest:?} {reason}")]
    InvalidDigest {
        input: String,
        digest: String,
        reason: &'static str,
    },
}

/// A content digest such as `sha256:6c3c…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
    pub fn parse(text: &str) -> Result<Digest, &'static str> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err("must look like sha256:<64 lowercase hex characters>");
        };
        let expected_len = match algorithm {
            "sha256" => 64,
            "sha512" => 128,
            _ => return Err("uses an unsupported algorithm (sha256 and sha512 are supported)"),
        };
        if hex.len() != expected_len {
            return Err(if algorithm == "sha256" {
                "must be sha256: followed by exactly 64 lowercase hex characters"
            } else {
                "must be sha512: followed by exactly 128 lowercase hex characters"
            });
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err("must use lowercase hex characters (0-9, a-f) only");
        }
        Ok(Digest(text.to_owned()))
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(bytes);
        Digest(format!("sha256:{hash:x}"))
    }

    /// The sha512 digest of `bytes`.
    pub fn sha512_of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        let hash = sha2::Sha512::digest(bytes);
        Digest(format!("sha512:{hash:x}"))
    }

    /// Computes the digest of `bytes` with this digest's algorithm.
    pub fn same_algorithm_of(&self, bytes: &[u8]) -> Digest {
        if self.0.starts_with("sha512:") {
            Digest::sha512_of(bytes)
        } else {
            Digest::sha256_of(bytes)
        }
    }

    /// The digest as text, `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed image reference: `[host[:port]/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The name exactly as the user wrote it, without tag or digest.
    written_name: String,
    /// Normalised registry: `docker.io` for Docker Hub, otherwise the host as written.
    registry: String,
    /// Normalised repository path (`library/nginx` for `nginx`).
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference the way `docker pull` normalises it.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.trim().is_empty() {
            return Err(ReferenceError::Empty);
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ReferenceError::Whitespace {
                input: input.to_owned(),
            });
        }
        let err_input = || input.to_owned();

        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest_text)) => {
                let digest =
                    Digest::parse(digest_text).map_err(|reason| ReferenceError::InvalidDigest {
                        input: err_input(),
                        digest: digest_text.to_owned(),
                        reason,
                    })?;
                (rest, Some(digest))
            }
            None => (input, None),
        };

        // The tag separator is the last ':' after the last '/', so `host:5000/app` has no tag.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let colon = last_slash + i;
                (&rest[..colon], Some(&rest[colon + 1..]))
            }
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(ReferenceError::InvalidTag {
                    input: err_input(),
                    tag: tag.to_owned(),
                });
            }
        }

        let (registry, remainder) = split_registry(name);
        if let Some(domain) = registry {
            if !valid_domain(domain) {
                return Err(ReferenceError::InvalidDomain {
                    input: err_input(),
                    domain: domain.to_owned(),
                });
            }
        }
        if remainder.is_empty() {
            return Err(ReferenceError::InvalidPathComponent {
                input: err_input(),
                component: String::new(),
            });
        }
        if remainder.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::UppercaseRepository {
                input: err_input(),
                path: remainder.to_owned(),
            });
        }
        if let Some(bad) = remainder.split('/').find(|c| !valid_path_component(c)) {
            return Err(ReferenceError::InvalidPathComponent {
                input: err_input(),
                component: bad.to_owned(),
            });
        }
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong {
                input: err_input(),
                length: name.len(),
            });
        }

        let registry = match registry {
            None => DOCKER_HUB.to_owned(),
            Some(d) if d.eq_ignore_ascii_case("index.docker.io") => DOCKER_HUB.to_owned(),
            Some(d) => d.to_owned(),
        };
        let repository = if registry == DOCKER_HUB && !remainder.contains('/') {
            format!("library/{remainder}")
        } else {
            remainder.to_owned()
        };
        Ok(Reference {
            written_name: name.to_owned(),
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The name as the user wrote it (no tag, no digest).
    pub fn written_name(&self) -> &str {
        &self.written_name
    }

    /// Normalised registry, e.g. `docker.io`, `ghcr.io`, `localhost:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Host (and port) that serves the registry API; Docker Hub's differs from its name.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            &self.registry
        }
    }

    /// Normalised repository path, e.g. `library/nginx`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The tag that a pull would use: the written tag, or `latest`.
    pub fn tag_or_default(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// The digest as written, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Whether the reference carries a digest (is pinned).
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some()
    }

    /// Whether the reference names a digest but no tag (`app@sha256:…`).
    pub fn is_digest_only(&self) -> bool {
        self.digest.is_some() && self.tag.is_none()
    }

    /// The user's name with `tag` (default `latest`) and `digest`: `NAME:TAG@sha256:…`,
    /// or `NAME@sha256:…` when `strip_tag`.
    pub fn pinned(&self, digest: &Digest, strip_tag: bool) -> String {
        if strip_tag {
            format!("{}@{}", self.written_name, digest)
        } else {
            format!("{}:{}@{}", self.written_name, self.tag_or_default(), digest)
        }
    }

    /// The reference without its digest: `NAME:TAG` when a tag was written, else `NAME`.
    pub fn unpinned(&self) -> String {
        match &self.tag {
            Some(tag) => format!("{}:{}", self.written_name, tag),
            None => self.written_name.clone(),
        }
    }

    /// The same repository and tag at another registry (for `--registry-map`).
    pub fn with_registry(&self, registry: &str) -> Result<Reference, ReferenceError> {
        let mut text = format!("{registry}/{}", self.repository);
        if let Some(tag) = &self.tag {
            text.push(':');
            text.push_str(tag);
        }
        Reference::parse(&text)
    }

    /// Fully qualified `registry/repository` (the key for de-duplication and credentials).
    pub fn canonical_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written_name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Splits off the registry the way Docker's `splitDockerDomain` does: the first component
/// is a host only if it contains '.' or ':', is `localhost`, or has an uppercase letter.
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(after_bracket) = domain.strip_prefix('[') {
        let Some((ipv6, after)) = after_bracket.split_once(']') else {
            return false;
        };
        if ipv6.is_empty() || !ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            port => match port.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if domain.starts_with('[') {
        return true;
    }
    !host.is_empty() && host.split('.').all(valid_domain_component)
}

fn valid_domain_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep_start = i;
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < bytes.len() && bytes[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < bytes.len() && bytes[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        debug_assert!(i > sep_start);
    }
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    !bytes.is_empty()
        && bytes.len() <= TAG_LENGTH_MAX
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// (input, registry, repository, tag, has digest, api host)
    #[test]
    fn parses_valid_references() {
        let digest_ref = format!("nginx:1.25@{D}");
        let table: &[(&str, &str, &str, Option<&str>, bool, &str)] = &[
            (
                "nginx",
                "docker.io",
                "library/nginx",
                None,
                false,
                "registry-1.docker.io",
            ),
            (
                "nginx:1.25",
                "docker.io",
                "library/nginx",
                Some("1.25"),
                false,
                "registry-1.docker.io",
            ),
            (
                "user/app:latest",
                "docker.io",
                "user/app",
                Some("latest"),
                false,
                "registry-1.docker.io",
            ),
            (
                "docker.io/nginx",
                "docker.io",
                "library/nginx",
                None,
                false,
                "registry-1.docker.io",
            ),
            (
                "index.docker.io/user/app",
                "docker.io",
                "user/app",
                None,
                false,
                "registry-1.docker.io",
            ),
            (
                "localhost:5000/app",
                "localhost:5000",
                "app",
                None,
                false,
                "localhost:5000",
            ),
            (
                "localhost:5000",
                "docker.io",
                "library/localhost",
                Some("5000"),
                false,
                "registry-1.docker.io",
            ),
            (
                "localhost/app",
                "localhost",
                "app",
                None,
                false,
                "localhost",
            ),
            (
                "Registry.Example.com/app",
                "Registry.Example.com",
                "app",
                None,
                false,
                "Registry.Example.com",
            ),
            (
                "a/b/c/d:tag",
                "docker.io",
                "a/b/c/d",
                Some("tag"),
                false,
                "registry-1.docker.io",
            ),
            (
                "ghcr.io/o/r:v1.2.3",
                "ghcr.io",
                "o/r",
                Some("v1.2.3"),
                false,
                "ghcr.io",
            ),
            (
                "127.0.0.1:5000/app",
                "127.0.0.1:5000",
                "app",
                None,
                false,
                "127.0.0.1:5000",
            ),
            (
                "[::1]:5000/app:1",
                "[::1]:5000",
                "app",
                Some("1"),
                false,
                "[::1]:5000",
            ),
            ("[::1]/app", "[::1]", "app", None, false, "[::1]"),
            (
                "my-reg.io/a__b/c.d/e--f:_x",
                "my-reg.io",
                "a__b/c.d/e--f",
                Some("_x"),
                false,
                "my-reg.io",
            ),
            (
                &digest_ref,
                "docker.io",
                "library/nginx",
                Some("1.25"),
                true,
                "registry-1.docker.io",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "app",
                Some("1"),
                false,
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            ),
            (
                "europe-docker.pkg.dev/p/r/img:2",
                "europe-docker.pkg.dev",
                "p/r/img",
                Some("2"),
                false,
                "europe-docker.pkg.dev",
            ),
        ];
        for &(input, registry, repository, tag, has_digest, api_host) in table {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.registry(), registry, "{input}");
            assert_eq!(r.repository(), repository, "{input}");
            assert_eq!(r.tag(), tag, "{input}");
            assert_eq!(r.is_pinned(), has_digest, "{input}");
            assert_eq!(r.api_host(), api_host, "{input}");
            assert_eq!(r.to_string(), input, "round trip of {input}");
        }
    }

    #[test]
    fn rejects_invalid_references_naming_the_part() {
        let long_name = format!("r.io/{}", "a".repeat(251));
        let long_tag = format!("app:{}", "t".repeat(129));
        let table: &[(&str, &str)] = &[
            ("", "empty image reference"),
            ("  ", "empty image reference"),
            ("app :1", "whitespace"),
            ("app@sha256:short", "exactly 64 lowercase hex"),
            (&format!("app@sha256:{}", "A".repeat(64)), "lowercase hex"),
            (
                &format!("app@md5:{}", "a".repeat(32)),
                "unsupported algorithm",
            ),
            ("app@", "must look like sha256"),
            ("App:1", "must be lowercase"),
            ("r.io/Team/app", "must be lowercase"),
            ("app:-bad", "tag \"-bad\""),
            ("app:", "tag \"\""),
            ("app:a+b", "tag \"a+b\""),
            (&long_tag, "at most 128"),
            ("r.io//app", "repository component \"\""),
            ("r.io/app/", "repository component \"\""),
            ("r.io/-app", "repository component \"-app\""),
            ("r.io/app_", "repository component \"app_\""),
            ("r.io/a___b", "repository component \"a___b\""),
            ("r.io:port/app", "registry host \"r.io:port\""),
            ("-r.io/app", "registry host \"-r.io\""),
            ("r..io/app", "registry host \"r..io\""),
            ("[::1/app", "registry host"),
            ("[::1]:5000", "repository component"),
            ("https://r.io/app", "registry host \"https:\""),
            (&long_name, "the limit is 255"),
        ];
        for &(input, expected) in table {
            let err = Reference::parse(input).expect_err(input).to_string();
            assert!(
                err.contains(expected),
                "{input:?}: {err:?} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn pinned_form_keeps_the_users_spelling() {
        let digest = Digest::parse(D).unwrap();
        let table: &[(&str, bool, String)] = &[
            ("nginx:1.25", false, format!("nginx:1.25@{D}")),
            ("nginx", false, format!("nginx:latest@{D}")),
            ("nginx:1.25", true, format!("nginx@{D}")),
            (
                "Registry.Example.com/app:1",
                false,
                format!("Registry.Example.com/app:1@{D}"),
            ),
            (
                "localhost:5000/app@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                false,
                format!("localhost:5000/app:latest@{D}"),
            ),
        ];
        for (input, strip, expected) in table {
            let r = Reference::parse(input).unwrap();
            assert_eq!(&r.pinned(&digest, *strip), expected, "{input}");
        }
    }

    #[test]
    fn unpinned_drops_only_the_digest() {
        assert_eq!(
            Reference::parse(&format!("a.io/x:1@{D}"))
                .unwrap()
                .unpinned(),
            "a.io/x:1"
        );
        assert_eq!(
            Reference::parse(&format!("a.io/x@{D}")).unwrap().unpinned(),
            "a.io/x"
        );
    }

    #[test]
    fn sha256_digest_of_bytes() {
        assert_eq!(
            Digest::sha256_of(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
