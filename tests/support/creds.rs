//! Credential fixtures for the `tf-pin` child process: a docker `config.json` (`auths`,
//! `credHelpers`, `credsStore`), `docker-credential-NAME` helper scripts, and a podman
//! `auth.json`, all inside one temp dir. Nothing here touches the test process's own
//! environment: pass [`CredEnv::envs`] to the child (`Command::envs`).
//!
//! ```ignore
//! let mut creds = CredEnv::new();
//! creds.docker_auth(reg.host(), "alice", "s3cret");
//! let out = support::tf_pin().envs(creds.envs()).args(["resolve", &img]).output().unwrap();
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};
use tempfile::TempDir;

/// How a `docker-credential-NAME` script behaves on `get`.
#[derive(Debug, Clone)]
pub enum HelperBehavior {
    /// Answers `{"ServerURL","Username","Secret"}` for these servers (matched with or
    /// without an `http://`/`https://` prefix and trailing slash); any other server →
    /// "credentials not found in native keychain", exit 1.
    Serve(Vec<(String, String, String)>),
    /// Always "credentials not found in native keychain" on stdout, exit 1.
    NotFound,
    /// `exec sleep 30` (so killing the helper kills the sleep).
    Hang,
    /// Prints non-JSON garbage, exit 0.
    Garbage,
}

pub struct CredEnv {
    dir: TempDir,
    docker: BTreeMap<String, Value>,
    podman: BTreeMap<String, Value>,
}

impl Default for CredEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl CredEnv {
    /// An empty, isolated setup: HOME, DOCKER_CONFIG, XDG dirs and a bin dir, all empty.
    pub fn new() -> CredEnv {
        let dir = tempfile::Builder::new()
            .prefix("tfpin-creds-")
            .tempdir()
            .unwrap();
        for d in [
            "home",
            "docker",
            "bin",
            "xdg-runtime",
            "xdg-config",
            "containers",
        ] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        CredEnv {
            dir,
            docker: BTreeMap::new(),
            podman: BTreeMap::new(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    /// The DOCKER_CONFIG directory (contains `config.json` once written).
    pub fn docker_config_dir(&self) -> PathBuf {
        self.dir.path().join("docker")
    }
    pub fn docker_config_path(&self) -> PathBuf {
        self.docker_config_dir().join("config.json")
    }
    /// Prepended to PATH; helper scripts live here.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }
    /// REGISTRY_AUTH_FILE (only set once a podman auth entry was written).
    pub fn podman_auth_path(&self) -> PathBuf {
        self.dir.path().join("containers").join("auth.json")
    }

    /// Adds `auths[host] = {"auth": base64(user:password)}` to the docker config.
    pub fn docker_auth(&mut self, host: &str, user: &str, password: &str) -> &mut Self {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.docker_entry("auths", host, json!({ "auth": auth }))
    }
    /// Adds `credHelpers[host] = helper` (write the helper with [`CredEnv::helper`]).
    pub fn docker_cred_helper(&mut self, host: &str, helper: &str) -> &mut Self {
        self.docker_entry("credHelpers", host, json!(helper))
    }
    /// Sets `credsStore = helper`.
    pub fn docker_creds_store(&mut self, helper: &str) -> &mut Self {
        self.docker.insert("credsStore".into(), json!(helper));
        self.write_docker()
    }
    /// Writes `config.json` verbatim (e.g. malformed JSON), replacing anything built so far.
    pub fn docker_config_raw(&mut self, contents: &str) -> &mut Self {
        self.docker.clear();
        std::fs::write(self.docker_config_path(), contents).unwrap();
        self
    }
    /// Adds `auths[host]` to the podman auth.json (REGISTRY_AUTH_FILE).
    pub fn podman_auth(&mut self, host: &str, user: &str, password: &str) -> &mut Self {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let auths = self
            .podman
            .entry("auths".into())
            .or_insert_with(|| json!({}));
        auths[host] = json!({ "auth": auth });
        let text =
            serde_json::to_string_pretty(&Value::Object(self.podman.clone().into_iter().collect()))
                .unwrap();
        std::fs::write(self.podman_auth_path(), text).unwrap();
        self
    }

    /// Writes `bin/docker-credential-NAME`. Each `get` appends the server it was asked
    /// for to a log; see [`CredEnv::helper_calls`].
    pub fn helper(&mut self, name: &str, behavior: HelperBehavior) -> &mut Self {
        let log = self.helper_log(name);
        let body = match behavior {
            HelperBehavior::Serve(entries) => {
                let mut s = String::from("case \"$server\" in\n");
                for (server, user, secret) in entries {
                    let host = server
                        .trim_start_matches("https://")
                        .trim_start_matches("http://");
                    let host = host.trim_end_matches('/');
                    let answer = json!({"ServerURL": server, "Username": user, "Secret": secret})
                        .to_string();
                    s += &format!(
                        "  {h}|{h}/|http://{h}|http://{h}/|https://{h}|https://{h}/) printf '%s\\n' {a} ;;\n",
                        h = sh_quote(host),
                        a = sh_quote(&answer)
                    );
                }
                s + "  *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac\n"
            }
            HelperBehavior::NotFound => {
                "echo 'credentials not found in native keychain'\nexit 1\n".into()
            }
            HelperBehavior::Hang => "exec sleep 30\n".into(),
            HelperBehavior::Garbage => "echo '<<< this is not json {{{'\n".into(),
        };
        let script = format!(
            "#!/bin/sh\n\
             # test credential helper written by tests/support/creds.rs\n\
             if [ \"$1\" != get ]; then echo \"unsupported: $1\" >&2; exit 1; fi\n\
             IFS= read -r server || true\n\
             printf '%s\\n' \"$server\" >> {log}\n\
             {body}",
            log = sh_quote(&log.to_string_lossy()),
        );
        let path = self.bin_dir().join(format!("docker-credential-{name}"));
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    /// The server URLs the helper `name` was asked about, in order.
    pub fn helper_calls(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.helper_log(name))
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().to_string())
            .collect()
    }

    /// Environment for the child: HOME, DOCKER_CONFIG, PATH (bin dir first),
    /// XDG_RUNTIME_DIR, XDG_CONFIG_HOME, and REGISTRY_AUTH_FILE once podman auth exists.
    pub fn envs(&self) -> Vec<(String, OsString)> {
        let mut path = OsString::from(self.bin_dir());
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()));
        let mut v = vec![
            ("HOME".to_string(), self.home().into_os_string()),
            (
                "DOCKER_CONFIG".to_string(),
                self.docker_config_dir().into_os_string(),
            ),
            ("PATH".to_string(), path),
            (
                "XDG_RUNTIME_DIR".to_string(),
                self.dir.path().join("xdg-runtime").into_os_string(),
            ),
            (
                "XDG_CONFIG_HOME".to_string(),
                self.dir.path().join("xdg-config").into_os_string(),
            ),
        ];
        if self.podman_auth_path().exists() {
            v.push((
                "REGISTRY_AUTH_FILE".to_string(),
                self.podman_auth_path().into_os_string(),
            ));
        }
        v
    }

    /// Variables a child should *not* inherit from the test process (remove them with
    /// `Command::env_remove`) so the host's real credentials never leak into a test.
    pub fn removed_vars() -> &'static [&'static str] {
        &[
            "REGISTRY_AUTH_FILE",
            "DOCKER_AUTH_CONFIG",
            "DOCKER_HOST",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ]
    }

    /// Applies [`CredEnv::removed_vars`] then [`CredEnv::envs`] to a std Command.
    pub fn apply(&self, cmd: &mut std::process::Command) {
        for k in Self::removed_vars() {
            cmd.env_remove(k);
        }
        cmd.envs(self.envs());
    }

    fn helper_log(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("helper-{name}.log"))
    }

    fn docker_entry(&mut self, section: &str, key: &str, value: Value) -> &mut Self {
        let map = self
            .docker
            .entry(section.into())
            .or_insert_with(|| json!({}));
        map[key] = value;
        self.write_docker()
    }

    fn write_docker(&mut self) -> &mut Self {
        let text =
            serde_json::to_string_pretty(&Value::Object(self.docker.clone().into_iter().collect()))
                .unwrap();
        std::fs::write(self.docker_config_path(), text).unwrap();
        self
    }
}

/// Single-quotes for /bin/sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
