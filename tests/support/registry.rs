//! A real registry: Debian's `docker-registry` (CNCF distribution 2.8.2) as a child process.
//!
//! Each [`Registry`] gets its own temp dir (config.yml, storage, htpasswd, certs, log) and
//! its own 127.0.0.1 port; dropping it kills and reaps the process (and stops its token
//! server). If the test thread is panicking, the registry log is printed to stderr.
//!
//! What distribution 2.8.2 does as a pull-through mirror (`proxy.remoteurl`), as verified
//! by `tests/harness.rs` (`mirror_*` tests):
//! * A tag GET/HEAD asks the upstream first and falls back to the local cache on *any*
//!   upstream error (`proxyTagService.Get`). So while the upstream answers, a moved tag is
//!   seen at once; but when the upstream is unreachable (reset/refused), answers 5xx, or no
//!   longer has the tag (404, e.g. deleted), the mirror answers 200 with the digest and bytes
//!   it cached last — a stale or even deleted tag.
//! * With the upstream cut off, content it never fetched fails: a tag → 404
//!   `MANIFEST_UNKNOWN`, a manifest by digest → 500. Manifests by digest are served from the
//!   cache first.
//! * At start-up the mirror GETs `<remoteurl>/v2/` and *panics* if that fails, so start the
//!   upstream (or the FaultProxy in front of it) first, and cut it off only afterwards.
//! * `proxy.username/password` are only used for bearer-token upstreams (they are keyed by
//!   the token realm discovered at start-up); a Basic (htpasswd) upstream gets no
//!   credentials, and the mirror answers 404.
//! * Pushes to a mirror are refused.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::certs::{TlsFiles, write_tls_files};
use super::token::{TokenServer, TokenServerConfig};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How clients authenticate to the registry.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// `auth.htpasswd` with one bcrypt user.
    Htpasswd { user: String, password: String },
    /// `auth.token` backed by a [`TokenServer`] the registry owns.
    Token(TokenServerConfig),
}

/// `proxy:` section: make the registry a pull-through cache of `remote_url`.
#[derive(Debug, Clone)]
pub struct ProxyUpstream {
    /// e.g. `http://127.0.0.1:41234`
    pub remote_url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// CA bundle the mirror's Go client should trust (SSL_CERT_FILE), for an https upstream.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    pub auth: Auth,
    pub tls: bool,
    pub proxy: Option<ProxyUpstream>,
}

impl RegistryConfig {
    pub fn plain() -> Self {
        Self::default()
    }
    pub fn htpasswd(user: &str, password: &str) -> Self {
        RegistryConfig {
            auth: Auth::Htpasswd {
                user: user.into(),
                password: password.into(),
            },
            ..Self::default()
        }
    }
    pub fn token(config: TokenServerConfig) -> Self {
        RegistryConfig {
            auth: Auth::Token(config),
            ..Self::default()
        }
    }
    /// Pull-through mirror of `upstream` ("127.0.0.1:PORT" or a full http(s) URL).
    pub fn mirror_of(upstream: &str) -> Self {
        let remote_url = if upstream.contains("://") {
            upstream.to_string()
        } else {
            format!("http://{upstream}")
        };
        RegistryConfig {
            proxy: Some(ProxyUpstream {
                remote_url,
                username: None,
                password: None,
                ca_file: None,
            }),
            ..Self::default()
        }
    }
    /// Serve HTTPS with a fresh CA (see [`Registry::ca_file`]).
    pub fn with_tls(mut self) -> Self {
        self.tls = true;
        self
    }
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
    /// Credentials the mirror uses against its upstream.
    pub fn upstream_credentials(mut self, user: &str, password: &str) -> Self {
        let p = self
            .proxy
            .as_mut()
            .expect("upstream_credentials needs mirror_of");
        p.username = Some(user.into());
        p.password = Some(password.into());
        self
    }
    pub fn upstream_ca(mut self, ca_file: &Path) -> Self {
        self.proxy
            .as_mut()
            .expect("upstream_ca needs mirror_of")
            .ca_file = Some(ca_file.to_path_buf());
        self
    }
}

pub struct Registry {
    child: Child,
    addr: String,
    config: RegistryConfig,
    tls: Option<TlsFiles>,
    token: Option<TokenServer>,
    client: reqwest::blocking::Client,
    log_path: PathBuf,
    dir: TempDir,
}

impl Registry {
    /// Starts the registry and waits (≤ 10 s) until `GET /v2/` answers 200 or 401.
    pub fn start(config: RegistryConfig) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("tfpin-registry-")
            .tempdir()
            .expect("temp dir");
        let tls = config.tls.then(|| write_tls_files(dir.path()));
        let token = match &config.auth {
            Auth::Token(tc) => Some(TokenServer::start(tc.clone())),
            _ => None,
        };
        if let Auth::Htpasswd { user, password } = &config.auth {
            let hash = bcrypt::hash(password, 4).expect("bcrypt");
            std::fs::write(dir.path().join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
        }
        let mut builder = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .user_agent("tf-pin-test-harness");
        if let Some(t) = &tls {
            let pem = std::fs::read(&t.ca_cert).unwrap();
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        let client = builder.build().expect("reqwest client");
        let log_path = dir.path().join("registry.log");
        let scheme = if config.tls { "https" } else { "http" };

        // A port picked by binding :0 can be taken by a parallel test before the registry
        // binds it; retry with a new port when that happens.
        let mut attempt = 0;
        let (child, addr) = loop {
            attempt += 1;
            let addr = super::free_addr();
            let yaml = config_yaml(&config, dir.path(), &addr, &tls, &token);
            std::fs::write(dir.path().join("config.yml"), yaml).unwrap();
            let mut child = spawn(&config, dir.path(), &log_path);
            match wait_ready(&mut child, &client, &format!("{scheme}://{addr}/v2/")) {
                Ok(()) => break (child, addr),
                Err(msg) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    if attempt < 5 && log.contains("address already in use") {
                        continue;
                    }
                    panic!("registry did not start: {msg}\n--- registry log ---\n{log}");
                }
            }
        };
        Registry {
            child,
            addr,
            config,
            tls,
            token,
            client,
            log_path,
            dir,
        }
    }

    /// "127.0.0.1:PORT"
    pub fn addr(&self) -> &str {
        &self.addr
    }
    /// The registry host as written in image references (same as [`Registry::addr`]).
    pub fn host(&self) -> &str {
        &self.addr
    }
    pub fn scheme(&self) -> &'static str {
        if self.config.tls { "https" } else { "http" }
    }
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.addr)
    }
    /// `127.0.0.1:PORT/repo:tag`
    pub fn image(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.addr)
    }
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }
    /// The CA PEM clients must trust (TLS registries only).
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_cert.as_path())
    }
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }
    /// The user/password the registry (htpasswd) or its token server accepts.
    pub fn credentials(&self) -> Option<(String, String)> {
        match &self.config.auth {
            Auth::None => None,
            Auth::Htpasswd { user, password } => Some((user.clone(), password.clone())),
            Auth::Token(tc) => tc.credentials.clone(),
        }
    }
    pub fn is_mirror(&self) -> bool {
        self.config.proxy.is_some()
    }
    /// A blocking client that trusts the registry's CA and follows no redirects.
    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }
    /// The per-registry temp dir (config.yml, data/, registry.log, certs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    /// Everything the registry wrote to stdout/stderr (warn-level log plus access log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
    /// Requests seen so far, as `"METHOD /path?query"`, parsed from the access log
    /// (includes the harness's own readiness probes and pushes).
    pub fn requests(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| {
                let start = l.find("\"GET ").or_else(|| {
                    ["\"HEAD ", "\"PUT ", "\"POST ", "\"PATCH ", "\"DELETE "]
                        .iter()
                        .find_map(|m| l.find(m))
                })?;
                let rest = &l[start + 1..];
                let end = rest.find(" HTTP/")?;
                Some(rest[..end].to_string())
            })
            .collect()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- registry {} log ({}) ---\n{}",
                self.addr,
                self.log_path.display(),
                self.log()
            );
        }
    }
}

fn spawn(config: &RegistryConfig, dir: &Path, log_path: &Path) -> Child {
    let log = File::create(log_path).unwrap();
    let mut cmd = Command::new(REGISTRY_BIN);
    cmd.arg("serve")
        .arg(dir.join("config.yml"))
        .current_dir(dir)
        // No REGISTRY_* overrides (or proxies) from the test's environment.
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    if let Some(ca) = config.proxy.as_ref().and_then(|p| p.ca_file.as_ref()) {
        cmd.env("SSL_CERT_FILE", ca);
    }
    cmd.spawn()
        .unwrap_or_else(|e| panic!("cannot run {REGISTRY_BIN}: {e}"))
}

fn wait_ready(
    child: &mut Child,
    client: &reqwest::blocking::Client,
    url: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("docker-registry exited early with {status}"));
        }
        let status = client
            .get(url)
            .timeout(Duration::from_secs(1))
            .send()
            .map(|r| r.status().as_u16());
        if matches!(status, Ok(200 | 401)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "GET {url} did not answer 200/401 within 10 s (last: {status:?})"
            ));
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

fn q(p: &Path) -> String {
    serde_json::to_string(&p.to_string_lossy()).unwrap()
}

fn s(v: &str) -> String {
    serde_json::to_string(v).unwrap()
}

fn config_yaml(
    c: &RegistryConfig,
    dir: &Path,
    addr: &str,
    tls: &Option<TlsFiles>,
    token: &Option<TokenServer>,
) -> String {
    let mut y = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  formatter: text\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {addr}\n  secret: tf-pin-test-http-secret\n",
        q(&dir.join("data"))
    );
    if let Some(t) = tls {
        y += &format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            q(&t.server_cert),
            q(&t.server_key)
        );
    }
    match &c.auth {
        Auth::None => {}
        Auth::Htpasswd { .. } => {
            y += &format!(
                "auth:\n  htpasswd:\n    realm: tf-pin-test\n    path: {}\n",
                q(&dir.join("htpasswd"))
            )
        }
        Auth::Token(_) => {
            let t = token.as_ref().expect("token server");
            y += &format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                s(&t.realm()),
                s(&t.config().service),
                s(&t.config().issuer),
                q(t.root_cert_path())
            );
        }
    }
    if let Some(p) = &c.proxy {
        y += &format!("proxy:\n  remoteurl: {}\n", s(&p.remote_url));
        if let (Some(u), Some(pw)) = (&p.username, &p.password) {
            y += &format!("  username: {}\n  password: {}\n", s(u), s(pw));
        }
    }
    y
}
