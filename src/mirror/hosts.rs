//! containerd's registry host configuration: `<config_path>/<namespace>/hosts.toml`.
//!
//! Follows containerd's `remotes/docker/config/hosts.go` and `docs/hosts.md`:
//!
//! * The directory name is the registry host namespace (the host of the image reference,
//!   `docker.io` for Docker Hub). For `host:port` containerd looks in `host_port_`, then
//!   `host:port`, then `_default`; the first directory that *exists* wins, even when it
//!   has no hosts.toml (then it only holds certificates and no mirror applies).
//! * `[host."URL"]` tables are the mirrors, tried in file order; `server` is the last host
//!   tried (the namespace itself when absent). A URL without a scheme gets `https://`.
//! * The API root is the URL path plus `/v2` (unless the path already ends in `/v2`), or
//!   the URL path as written with `override_path = true`.
//! * `capabilities` lists `pull`, `resolve`, `push` (and `referrers` in containerd 2);
//!   absent or empty means all. Tags are only resolved at hosts with `resolve`.
//! * `ca` is a path or a list of paths, relative to the hosts.toml's directory;
//!   `skip_verify` turns certificate verification off for that host.
//! * `client`, `header`, `proxy` and `dial_timeout` are read by containerd but not by
//!   tf-pin: the first three produce a warning, since a mirror check may then differ from
//!   what containerd sees.

use std::path::{Path, PathBuf};

use crate::registry::mirror::MirrorEndpoint;
use crate::registry::transport::Scheme;

use super::MirrorError;

/// The catch-all namespace directory.
pub const DEFAULT_NAMESPACE: &str = "_default";
/// containerd's default `config_path` for CRI.
pub const DEFAULT_CONTAINERD_DIR: &str = "/etc/containerd/certs.d";

/// Which operations containerd performs at a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Fetch content by digest.
    pub pull: bool,
    /// Resolve a tag to a digest: only such hosts can hand out a stale tag.
    pub resolve: bool,
    /// Push.
    pub push: bool,
}

impl Capabilities {
    /// Everything: containerd's default when `capabilities` is absent or empty.
    pub const ALL: Capabilities = Capabilities {
        pull: true,
        resolve: true,
        push: true,
    };
}

/// One host entry: a `[host."URL"]` table, the `server`, or a `--mirror URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    /// The URL as written.
    pub url: String,
    /// Where to send requests.
    pub endpoint: MirrorEndpoint,
    /// What containerd does there.
    pub capabilities: Capabilities,
    /// `skip_verify`, when set.
    pub skip_verify: Option<bool>,
    /// `ca` files, made absolute against the hosts.toml's directory.
    pub ca: Vec<PathBuf>,
    /// `override_path`.
    pub override_path: bool,
}

/// One parsed hosts.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsFile {
    /// The file.
    pub path: PathBuf,
    /// `[host."URL"]` entries in file order.
    pub hosts: Vec<HostEntry>,
    /// The `server` entry, when set.
    pub server: Option<HostEntry>,
    /// Settings tf-pin does not apply, worded for the user.
    pub warnings: Vec<String>,
}

/// Keys of a host table (and of the file's root) that containerd reads but tf-pin ignores.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "client",
        "client certificates are not supported, so the mirror may refuse tf-pin",
    ),
    (
        "header",
        "extra headers are not sent, so the mirror may answer differently than it answers containerd",
    ),
    (
        "proxy",
        "tf-pin connects directly (or through HTTPS_PROXY), not through this proxy",
    ),
];

/// Parses hosts.toml text; `path` names the file in messages and anchors relative `ca` paths.
pub fn parse_hosts_toml(text: &str, path: &Path) -> Result<HostsFile, MirrorError> {
    let root: toml::Table = toml::from_str(text).map_err(|error| {
        let line = error
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        MirrorError::HostsSyntax {
            path: path.to_owned(),
            line,
            detail: error.message().trim().to_owned(),
        }
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut warnings = Vec::new();

    let mut hosts = Vec::new();
    if let Some(value) = root.get("host") {
        let Some(table) = value.as_table() else {
            return Err(field_error(
                path,
                "host",
                "must be tables written as [host.\"https://mirror.example.com\"]",
            ));
        };
        for (url, settings) in table {
            let key = format!("host.{url:?}");
            let Some(settings) = settings.as_table() else {
                return Err(field_error(
                    path,
                    &key,
                    "must be a table of settings (capabilities, ca, skip_verify, override_path)",
                ));
            };
            hosts.push(parse_entry(url, settings, &key, base, path, &mut warnings)?);
        }
    }
    let server = match root.get("server") {
        None => None,
        Some(toml::Value::String(url)) if url.is_empty() => None,
        Some(toml::Value::String(url)) => Some(parse_entry(
            url,
            &root,
            "server",
            base,
            path,
            &mut warnings,
        )?),
        Some(_) => {
            return Err(field_error(
                path,
                "server",
                "must be a string such as \"https://registry.example.com\"",
            ));
        }
    };
    Ok(HostsFile {
        path: path.to_owned(),
        hosts,
        server,
        warnings,
    })
}

/// Parses a URL the way `--mirror` and containerd's `server`/`host` keys take it (no
/// settings: all capabilities, no TLS overrides, no `override_path`).
pub fn parse_mirror_flag(url: &str) -> Result<HostEntry, MirrorError> {
    let endpoint = endpoint(url, false).map_err(|detail| MirrorError::MirrorFlag {
        url: url.to_owned(),
        detail,
    })?;
    Ok(HostEntry {
        url: url.to_owned(),
        endpoint,
        capabilities: Capabilities::ALL,
        skip_verify: None,
        ca: Vec::new(),
        override_path: false,
    })
}

fn parse_entry(
    url: &str,
    settings: &toml::Table,
    key: &str,
    base: &Path,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<HostEntry, MirrorError> {
    let sub = |name: &str| {
        if key == "server" {
            name.to_owned()
        } else {
            format!("{key}.{name}")
        }
    };
    let boolean = |name: &str| match settings.get(name) {
        None => Ok(None),
        Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
        Some(_) => Err(field_error(path, &sub(name), "must be true or false")),
    };
    let override_path = boolean("override_path")?.unwrap_or(false);
    let skip_verify = boolean("skip_verify")?;
    let capabilities = match settings.get("capabilities") {
        None => Capabilities::ALL,
        Some(value) => capabilities(value)
            .map_err(|detail| field_error(path, &sub("capabilities"), &detail))?,
    };
    let ca = match settings.get("ca") {
        None => Vec::new(),
        Some(toml::Value::String(file)) => vec![base.join(file)],
        Some(toml::Value::Array(files)) => files
            .iter()
            .map(|f| f.as_str().map(|f| base.join(f)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| field_error(path, &sub("ca"), "must be a path or a list of paths"))?,
        Some(_) => {
            return Err(field_error(
                path,
                &sub("ca"),
                "must be a path or a list of paths",
            ));
        }
    };
    for (name, consequence) in UNSUPPORTED {
        if settings.contains_key(*name) {
            warnings.push(format!(
                "{}: `{}` is ignored: {consequence}",
                path.display(),
                sub(name)
            ));
        }
    }
    let endpoint = endpoint(url, override_path).map_err(|detail| MirrorError::HostsUrl {
        path: path.to_owned(),
        key: key.to_owned(),
        url: url.to_owned(),
        detail,
    })?;
    Ok(HostEntry {
        url: url.to_owned(),
        endpoint,
        capabilities,
        skip_verify,
        ca,
        override_path,
    })
}

fn capabilities(value: &toml::Value) -> Result<Capabilities, String> {
    const EXPECTED: &str = "must be a list of \"pull\", \"resolve\", \"push\" (or \"referrers\"), e.g. [\"pull\", \"resolve\"]";
    let Some(items) = value.as_array() else {
        return Err(EXPECTED.to_owned());
    };
    if items.is_empty() {
        return Ok(Capabilities::ALL);
    }
    let mut caps = Capabilities {
        pull: false,
        resolve: false,
        push: false,
    };
    for item in items {
        match item.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("pull") => caps.pull = true,
            Some("resolve") => caps.resolve = true,
            Some("push") => caps.push = true,
            Some("referrers") => {}
            Some(other) => {
                return Err(format!(
                    "has the unknown capability {other:?} (containerd rejects the whole file for it); it {EXPECTED}"
                ));
            }
            None => return Err(EXPECTED.to_owned()),
        }
    }
    Ok(caps)
}

/// containerd's `parseHostConfig` for the URL part.
fn endpoint(url: &str, override_path: bool) -> Result<MirrorEndpoint, String> {
    // containerd prefixes `https://` unless the URL starts with "http"; a URL with another
    // scheme is rejected here rather than misread as a host named after that scheme.
    let with_scheme = if url.starts_with("http") || url.contains("://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    };
    let parsed = reqwest::Url::parse(&with_scheme)
        .map_err(|e| format!("is not a URL ({e}); write it like https://mirror.example.com"))?;
    let scheme = match parsed.scheme() {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => {
            return Err(format!(
                "uses the scheme {other:?}; only http and https registries exist"
            ));
        }
    };
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err("has no host; write it like https://mirror.example.com".to_owned());
    };
    let host = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let path = parsed.path();
    let root = if override_path {
        path.to_owned()
    } else {
        let trimmed = path.trim_end_matches('/');
        if trimmed.ends_with("/v2") {
            trimmed.to_owned()
        } else {
            format!("{trimmed}/v2")
        }
    };
    Ok(MirrorEndpoint::new(scheme, &host, &root))
}

fn field_error(path: &Path, key: &str, detail: &str) -> MirrorError {
    MirrorError::HostsField {
        path: path.to_owned(),
        key: key.to_owned(),
        detail: detail.to_owned(),
    }
}

/// A namespace directory under the containerd configuration directory.
#[derive(Debug)]
pub struct Namespace {
    /// The directory name: a host, `host_port_`, or `_default`.
    pub name: String,
    /// The directory.
    pub dir: PathBuf,
    /// Its hosts.toml: `None` when there is none (the directory only holds certificates).
    pub hosts: Option<Result<HostsFile, MirrorError>>,
}

/// A containerd `config_path` directory, read once.
#[derive(Debug)]
pub struct ContainerdDir {
    /// The directory.
    pub dir: PathBuf,
    /// Its namespace subdirectories, sorted by name.
    pub namespaces: Vec<Namespace>,
}

/// What containerd would use for one registry host.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// This namespace directory applies.
    Found(&'a Namespace),
    /// No directory applies: containerd asks the registry itself.
    NotConfigured,
}

impl ContainerdDir {
    /// Reads every `<dir>/<namespace>/hosts.toml`. Unparseable files are kept as errors
    /// and reported only when a reference needs them.
    pub fn read(dir: &Path) -> Result<ContainerdDir, MirrorError> {
        let read_error = |e: std::io::Error| MirrorError::ContainerdDir {
            dir: dir.to_owned(),
            detail: e.to_string(),
        };
        let mut namespaces = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let file = path.join("hosts.toml");
            let hosts = match std::fs::read_to_string(&file) {
                Ok(text) if text.trim().is_empty() => None,
                Ok(text) => Some(parse_hosts_toml(&text, &file)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => Some(Err(MirrorError::ReadFile {
                    path: file,
                    detail: e.to_string(),
                })),
            };
            namespaces.push(Namespace {
                name,
                dir: path,
                hosts,
            });
        }
        namespaces.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ContainerdDir {
            dir: dir.to_owned(),
            namespaces,
        })
    }

    /// containerd's `hostPaths` lookup for `registry` (`docker.io` for Docker Hub).
    pub fn lookup(&self, registry: &str) -> Lookup<'_> {
        for name in namespace_candidates(registry) {
            if let Some(ns) = self.namespaces.iter().find(|ns| ns.name == name) {
                return Lookup::Found(ns);
            }
        }
        Lookup::NotConfigured
    }

    /// The directories containerd would look in for `registry`, for messages.
    pub fn candidates_text(&self, registry: &str) -> String {
        namespace_candidates(registry)
            .iter()
            .map(|name| self.dir.join(name).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `host_port_` (when there is a port), `host`, `_default`.
pub fn namespace_candidates(registry: &str) -> Vec<String> {
    let mut names = Vec::with_capacity(3);
    if let Some(i) = registry.rfind(':').filter(|&i| i > 0) {
        names.push(format!("{}_{}_", &registry[..i], &registry[i + 1..]));
    }
    names.push(registry.to_owned());
    names.push(DEFAULT_NAMESPACE.to_owned());
    names
}

/// The registry host a namespace directory name stands for (`host_port_` → `host:port`);
/// `None` for `_default`.
pub fn namespace_registry(name: &str) -> Option<String> {
    if name == DEFAULT_NAMESPACE {
        return None;
    }
    if let Some(stripped) = name.strip_suffix('_') {
        if let Some((host, port)) = stripped.rsplit_once('_') {
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                return Some(format!("{host}:{port}"));
            }
        }
    }
    Some(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HostsFile, MirrorError> {
        parse_hosts_toml(
            text,
            Path::new("/etc/containerd/certs.d/docker.io/hosts.toml"),
        )
    }

    /// (fixture, expected `[host]` entries as (url, scheme://host, api root, resolve,
    /// skip_verify, ca), expected server as scheme://host + api root)
    #[test]
    fn parses_host_entries_in_file_order() {
        let table: &[(
            &str,
            &[(&str, &str, &str, bool, Option<bool>, &[&str])],
            Option<&str>,
        )] = &[
            (
                r#"server = "https://registry-1.docker.io"

[host."https://public-mirror.example.com"]
  capabilities = ["pull"]
[host."https://docker-mirror.internal"]
  capabilities = ["pull", "resolve"]
  ca = "docker-mirror.crt"
"#,
                &[
                    (
                        "https://public-mirror.example.com",
                        "https://public-mirror.example.com",
                        "/v2",
                        false,
                        None,
                        &[],
                    ),
                    (
                        "https://docker-mirror.internal",
                        "https://docker-mirror.internal",
                        "/v2",
                        true,
                        None,
                        &["/etc/containerd/certs.d/docker.io/docker-mirror.crt"],
                    ),
                ],
                Some("https://registry-1.docker.io/v2"),
            ),
            // Order is the file's, not alphabetical; sub-tables do not add hosts.
            (
                r#"[host."http://z.example:5000"]
  skip_verify = true
  [host."http://z.example:5000".header]
    x-custom = "1"
[host."https://a.example/us"]
  ca = ["/abs/ca.pem", "rel/ca.pem"]
[host."https://non-compliant.example/v2/upstream"]
  capabilities = ["pull", "resolve"]
  override_path = true
[host."mirror.example.com"]
  capabilities = []
"#,
                &[
                    (
                        "http://z.example:5000",
                        "http://z.example:5000",
                        "/v2",
                        true,
                        Some(true),
                        &[],
                    ),
                    (
                        "https://a.example/us",
                        "https://a.example",
                        "/us/v2",
                        true,
                        None,
                        &[
                            "/abs/ca.pem",
                            "/etc/containerd/certs.d/docker.io/rel/ca.pem",
                        ],
                    ),
                    (
                        "https://non-compliant.example/v2/upstream",
                        "https://non-compliant.example",
                        "/v2/upstream",
                        true,
                        None,
                        &[],
                    ),
                    (
                        "mirror.example.com",
                        "https://mirror.example.com",
                        "/v2",
                        true,
                        None,
                        &[],
                    ),
                ],
                None,
            ),
            // A path already ending in /v2 is kept; override_path keeps the path as is.
            (
                r#"server = "https://r.example/prefix/v2/"
[host."https://m.example:8443/"]
  override_path = true
"#,
                &[(
                    "https://m.example:8443/",
                    "https://m.example:8443",
                    "",
                    true,
                    None,
                    &[],
                )],
                Some("https://r.example/prefix/v2"),
            ),
            ("", &[], None),
        ];
        for (text, hosts, server) in table {
            let file = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let got: Vec<_> = file
                .hosts
                .iter()
                .map(|h| {
                    (
                        h.url.as_str(),
                        h.endpoint.origin(),
                        h.endpoint.api_root.as_str(),
                        h.capabilities.resolve,
                        h.skip_verify,
                        h.ca.iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            let want: Vec<_> = hosts
                .iter()
                .map(|(u, o, r, res, sv, ca)| {
                    (
                        *u,
                        o.to_string(),
                        *r,
                        *res,
                        *sv,
                        ca.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    )
                })
                .collect();
            assert_eq!(got, want, "{text}");
            let got_server = file
                .server
                .as_ref()
                .map(|s| format!("{}{}", s.endpoint.origin(), s.endpoint.api_root));
            assert_eq!(got_server.as_deref(), *server, "{text}");
        }
    }

    #[test]
    fn rejects_bad_files_naming_the_key_and_fix() {
        let table: &[(&str, &str)] = &[
            ("server = ", "hosts.toml:1: "),
            ("[host\n", "hosts.toml:1: "),
            ("server = 5", "`server` must be a string"),
            (
                "[host.\"https://m\"]\ncapabilities = [\"pull\", \"pul\"]",
                "`host.\"https://m\".capabilities` has the unknown capability \"pul\"",
            ),
            (
                "[host.\"https://m\"]\ncapabilities = \"pull\"",
                "must be a list of \"pull\"",
            ),
            (
                "[host.\"https://m\"]\nskip_verify = \"yes\"",
                "must be true or false",
            ),
            (
                "[host.\"https://m\"]\nca = 3",
                "must be a path or a list of paths",
            ),
            (
                "[host.\"https://m\"]\nca = [\"a\", 3]",
                "must be a path or a list",
            ),
            ("host = 1", "`host` must be tables"),
            ("[host.\"ftp://m.example\"]", "uses the scheme \"ftp\""),
            ("[host.\"https://\"]", "host.\"https://\""),
        ];
        for (text, expected) in table {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(
                error.contains("/etc/containerd/certs.d/docker.io/hosts.toml"),
                "{error}"
            );
        }
    }

    #[test]
    fn warns_about_settings_it_ignores() {
        let file = parse(
            "server = \"https://s.example\"\nproxy = \"http://p:8080\"\n[host.\"https://m.example\"]\nclient = \"/c.pem\"\n[host.\"https://m.example\".header]\nx = \"y\"\n",
        )
        .unwrap();
        assert_eq!(file.warnings.len(), 3, "{:?}", file.warnings);
        assert!(file.warnings[0].contains("`host.\"https://m.example\".client` is ignored"));
        assert!(file.warnings[1].contains("`host.\"https://m.example\".header` is ignored"));
        assert!(file.warnings[2].contains("`proxy` is ignored"));
    }

    #[test]
    fn namespace_lookup_order() {
        assert_eq!(
            namespace_candidates("myregistry.io:5000"),
            ["myregistry.io_5000_", "myregistry.io:5000", "_default"]
        );
        assert_eq!(namespace_candidates("docker.io"), ["docker.io", "_default"]);
        assert_eq!(
            namespace_candidates("[::1]:5000"),
            ["[::1]_5000_", "[::1]:5000", "_default"]
        );
        assert_eq!(
            namespace_registry("myregistry.io_5000_").as_deref(),
            Some("myregistry.io:5000")
        );
        assert_eq!(
            namespace_registry("docker.io").as_deref(),
            Some("docker.io")
        );
        assert_eq!(namespace_registry("my_host").as_deref(), Some("my_host"));
        assert_eq!(namespace_registry("_default"), None);
    }

    #[test]
    fn reads_a_directory_with_containerd_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let write = |ns: &str, text: Option<&str>| {
            let d = dir.path().join(ns);
            std::fs::create_dir_all(&d).unwrap();
            if let Some(text) = text {
                std::fs::write(d.join("hosts.toml"), text).unwrap();
            }
        };
        write("r.example_5000_", Some("[host.\"https://a.example\"]\n"));
        write("r.example:5000", Some("[host.\"https://b.example\"]\n"));
        write("certs.example", None);
        write("_default", Some("[host.\"https://c.example\"]\n"));
        write("broken.example", Some("[host\n"));
        std::fs::write(dir.path().join("stray-file"), "x").unwrap();
        let config = ContainerdDir::read(dir.path()).unwrap();
        let first_host = |registry: &str| match config.lookup(registry) {
            Lookup::Found(ns) => match &ns.hosts {
                Some(Ok(file)) => file.hosts.first().map(|h| h.url.clone()),
                Some(Err(e)) => Some(format!("error: {e}")),
                None => None,
            },
            Lookup::NotConfigured => Some("not configured".into()),
        };
        assert_eq!(
            first_host("r.example:5000").as_deref(),
            Some("https://a.example")
        );
        assert_eq!(first_host("certs.example"), None);
        assert_eq!(first_host("ghcr.io").as_deref(), Some("https://c.example"));
        assert!(first_host("broken.example").unwrap().starts_with("error: "));
        assert_eq!(config.namespaces.len(), 5);
        let missing = ContainerdDir::read(&dir.path().join("nope")).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
    }
}
