//! The lookup order, key spellings, helper runs and secret hygiene, specified through
//! [`CredentialStore::lookup`] against fake homes and helper scripts.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;

use super::{Credential, CredentialError, CredentialStore, Found, HelperRef};
use crate::reference::DOCKER_HUB_CREDENTIAL_KEY;

const SECRET: &str = "s3cr3t-Pa55:with-colon";

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn basic(username: &str, password: &str) -> Credential {
    Credential::Basic {
        username: username.to_owned(),
        password: password.to_owned(),
    }
}

/// A fake home with config files and helper scripts; never touches the process env.
struct Fixture {
    dir: tempfile::TempDir,
    vars: HashMap<String, String>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut vars = HashMap::new();
        vars.insert("HOME".into(), dir.path().join("home").display().to_string());
        vars.insert(
            "XDG_RUNTIME_DIR".into(),
            dir.path().join("run").display().to_string(),
        );
        Fixture { dir, vars }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn docker_config(&self, json: &str) -> PathBuf {
        self.write("home/.docker/config.json", json)
    }

    fn auth_json(&self, json: &str) -> PathBuf {
        self.write("run/containers/auth.json", json)
    }

    /// Installs `docker-credential-<name>` running `body` under /bin/sh.
    fn helper(&self, name: &str, body: &str) {
        let path = self.write(
            &format!("bin/docker-credential-{name}"),
            &format!("#!/bin/sh\n{body}\n"),
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn store(&self) -> CredentialStore {
        let vars = self.vars.clone();
        CredentialStore::from_env(move |k| vars.get(k).cloned())
            .with_helper_path(self.path("bin"))
            .with_helper_timeout(Duration::from_secs(5))
    }

    async fn lookup(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Option<Found>, CredentialError> {
        self.store().lookup(registry, repository).await
    }

    async fn credential(&self, registry: &str, repository: &str) -> Option<Credential> {
        self.lookup(registry, repository)
            .await
            .unwrap()
            .map(|found| found.credential)
    }
}

/// Echoes the server URL it was given back as the username, so tests can check it.
const ECHO_HELPER: &str = r#"[ "$1" = get ] || exit 3
read -r url || true
printf '{"ServerURL":"%s","Username":"%s","Secret":"helper-password"}' "$url" "$url""#;

fn echoed(url: &str) -> Option<Credential> {
    Some(basic(url, "helper-password"))
}

#[test]
fn docker_key_spellings_table() {
    // (auths key, registry looked up, matches)
    let table = [
        ("ghcr.io", "ghcr.io", true),
        ("https://ghcr.io", "ghcr.io", true),
        ("http://ghcr.io", "ghcr.io", true),
        ("https://ghcr.io/v1/", "ghcr.io", true),
        ("https://ghcr.io/v2/", "ghcr.io", true),
        ("GHCR.IO", "ghcr.io", true),
        ("ghcr.io/some-org", "ghcr.io", true), // Docker's ConvertToHostname drops the path
        ("https://index.docker.io/v1/", "docker.io", true),
        ("index.docker.io", "docker.io", true),
        ("docker.io", "docker.io", true),
        ("registry-1.docker.io", "docker.io", true),
        ("https://registry-1.docker.io/v2/", "docker.io", true),
        ("docker.io", "index.docker.io", true), // aliases are accepted in the query too
        ("localhost:5000", "localhost:5000", true),
        ("https://localhost:5000/v1/", "localhost:5000", true),
        ("localhost", "localhost:5000", false),
        ("localhost:5000", "localhost", false),
        ("registry.example.com:443", "registry.example.com", false),
        ("ghcr.io", "quay.io", false),
        ("ghcr.io.evil.example", "ghcr.io", false),
        ("evil.example/ghcr.io", "ghcr.io", false),
        ("https://index.docker.io/v1/", "quay.io", false),
        ("quay.io", "docker.io", false),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (key, registry, matches) in table {
        let fx = Fixture::new();
        fx.docker_config(&format!(
            r#"{{"auths":{{"{key}":{{"auth":"{}"}}}}}}"#,
            b64("u:p")
        ));
        let got = runtime.block_on(fx.lookup(registry, "org/app")).unwrap();
        assert_eq!(
            got.is_some(),
            matches,
            "key {key:?} for registry {registry:?}"
        );
        if let Some(found) = got {
            assert_eq!(found.credential, basic("u", "p"));
            assert!(
                found
                    .source
                    .as_str()
                    .contains(&format!("(auths entry {key:?})"))
            );
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn exact_key_beats_other_spellings_of_the_same_host() {
    let fx = Fixture::new();
    fx.docker_config(&format!(
        r#"{{"auths":{{
            "https://ghcr.io":{{"auth":"{}"}},
            "ghcr.io":{{"auth":"{}"}},
            "docker.io":{{"auth":"{}"}},
            "https://index.docker.io/v1/":{{"auth":"{}"}}
        }}}}"#,
        b64("loose:1"),
        b64("exact:2"),
        b64("alias:3"),
        b64("hub:4")
    ));
    assert_eq!(
        fx.credential("ghcr.io", "a/b").await,
        Some(basic("exact", "2"))
    );
    assert_eq!(
        fx.credential("docker.io", "library/nginx").await,
        Some(basic("hub", "4"))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn auth_field_decoding_table() {
    // (auths entry JSON, expected credential)
    let table = [
        (
            format!(r#"{{"auth":"{}"}}"#, b64("user:pass")),
            basic("user", "pass"),
        ),
        (
            format!(r#"{{"auth":"{}"}}"#, b64(&format!("user:{SECRET}"))),
            basic("user", SECRET),
        ),
        (
            format!(r#"{{"auth":"{}"}}"#, b64("user:a:b:c:")),
            basic("user", "a:b:c:"),
        ),
        (
            format!(r#"{{"auth":"{}"}}"#, b64("user:")),
            basic("user", ""),
        ),
        (
            format!(r#"{{"auth":"{}"}}"#, b64("user:pw\0\0")),
            basic("user", "pw"),
        ),
        (
            format!(r#"{{"auth":"{}"}}"#, b64("user:pw1").trim_end_matches('=')),
            basic("user", "pw1"),
        ),
        (
            r#"{"username":"plain","password":"pw"}"#.to_owned(),
            basic("plain", "pw"),
        ),
        (
            r#"{"identitytoken":"refresh-token","email":"a@b.c"}"#.to_owned(),
            Credential::IdentityToken("refresh-token".into()),
        ),
        (
            r#"{"identityToken":"camel-token"}"#.to_owned(),
            Credential::IdentityToken("camel-token".into()),
        ),
        (
            format!(r#"{{"auth":"{}","identitytoken":"tok"}}"#, b64("user:")),
            Credential::IdentityToken("tok".into()),
        ),
        (
            format!(
                r#"{{"auth":"{}","username":"ignored","password":"x"}}"#,
                b64("a:b")
            ),
            basic("a", "b"),
        ),
    ];
    for (entry, expected) in table {
        let fx = Fixture::new();
        fx.docker_config(&format!(r#"{{"auths":{{"quay.io":{entry}}}}}"#));
        assert_eq!(
            fx.credential("quay.io", "x/y").await,
            Some(expected),
            "entry {entry}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_auth_field_is_an_error_naming_file_and_key_but_not_the_value() {
    let table = [
        ("!!not-base64-s3cr3t!!".to_owned(), "is not valid base64"),
        (
            b64("s3cr3t-without-colon"),
            "does not decode to user:password",
        ),
        (b64(":s3cr3t-password"), "has an empty user name"),
    ];
    for (auth, problem) in table {
        let fx = Fixture::new();
        let path = fx.docker_config(&format!(r#"{{"auths":{{"ghcr.io":{{"auth":"{auth}"}}}}}}"#));
        let err = fx.lookup("ghcr.io", "a/b").await.unwrap_err();
        assert!(
            matches!(err, CredentialError::InvalidAuth { .. }),
            "{err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(
            text.contains("\"ghcr.io\"") && text.contains(problem),
            "{text}"
        );
        assert!(!text.contains("s3cr3t") && !text.contains(&auth), "{text}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn broken_entry_for_another_registry_does_not_matter() {
    let fx = Fixture::new();
    fx.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"%%%"}},"ghcr.io":{{"auth":"{}"}}}}}}"#,
        b64("u:p")
    ));
    assert_eq!(fx.credential("ghcr.io", "a").await, Some(basic("u", "p")));
}

#[tokio::test(flavor = "current_thread")]
async fn cred_helpers_win_over_auths_and_get_the_registry_host() {
    let fx = Fixture::new();
    fx.helper("echo", ECHO_HELPER);
    let path = fx.docker_config(&format!(
        r#"{{"auths":{{"ghcr.io":{{"auth":"{a}"}},"https://index.docker.io/v1/":{{"auth":"{a}"}}}},
            "credHelpers":{{"ghcr.io":"echo","docker.io":"echo","localhost:5000":"echo"}},
            "credsStore":"missing-store"}}"#,
        a = b64("from:auths")
    ));
    let found = fx.lookup("ghcr.io", "a/b").await.unwrap().unwrap();
    assert_eq!(Some(found.credential), echoed("ghcr.io"));
    assert_eq!(
        found.source.to_string(),
        format!(
            "credential helper docker-credential-echo (credHelpers in {})",
            path.display()
        )
    );
    assert_eq!(
        fx.credential("docker.io", "library/x").await,
        echoed(DOCKER_HUB_CREDENTIAL_KEY)
    );
    assert_eq!(
        fx.credential("localhost:5000", "x").await,
        echoed("localhost:5000")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn helper_token_username_means_identity_token() {
    let fx = Fixture::new();
    fx.helper(
        "tok",
        r#"cat >/dev/null; printf '{"ServerURL":"x","Username":"<token>","Secret":"refresh-123"}'"#,
    );
    fx.docker_config(r#"{"credHelpers":{"gcr.io":"tok"}}"#);
    assert_eq!(
        fx.credential("gcr.io", "p/i").await,
        Some(Credential::IdentityToken("refresh-123".into()))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn creds_store_fallback_table() {
    // (auths JSON, registry, expected server URL passed to the store)
    let table = [
        (
            r#"{"https://index.docker.io/v1/":{}}"#,
            "docker.io",
            DOCKER_HUB_CREDENTIAL_KEY,
        ),
        (r#"{}"#, "docker.io", DOCKER_HUB_CREDENTIAL_KEY),
        (r#"{"https://quay.io":{}}"#, "quay.io", "https://quay.io"),
        (r#"{"quay.io":{"auth":""}}"#, "quay.io", "quay.io"),
        (r#"{"ghcr.io":{}}"#, "quay.io", "quay.io"),
        (r#"null"#, "localhost:5000", "localhost:5000"),
    ];
    for (auths, registry, url) in table {
        let fx = Fixture::new();
        fx.helper("store", ECHO_HELPER);
        let path = fx.docker_config(&format!(r#"{{"auths":{auths},"credsStore":"store"}}"#));
        let found = fx.lookup(registry, "a/b").await.unwrap().unwrap();
        assert_eq!(Some(found.credential), echoed(url), "{auths} {registry}");
        assert_eq!(
            found.source.to_string(),
            format!(
                "credential helper docker-credential-store (credsStore in {})",
                path.display()
            )
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn filled_auths_entry_is_used_before_creds_store() {
    let fx = Fixture::new();
    fx.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}},"credsStore":"not-installed"}}"#,
        b64("u:p")
    ));
    assert_eq!(fx.credential("quay.io", "a").await, Some(basic("u", "p")));
}

#[tokio::test(flavor = "current_thread")]
async fn helper_saying_not_found_means_anonymous_then_podman_files() {
    let fx = Fixture::new();
    fx.helper(
        "nf",
        "echo 'credentials not found in native keychain'; exit 1",
    );
    fx.helper("nf-stderr", "echo 'Credentials not found' >&2; exit 1");
    fx.helper(
        "empty",
        r#"printf '{"ServerURL":"","Username":"","Secret":""}'"#,
    );
    fx.docker_config(
        r#"{"credHelpers":{"a.example":"nf","b.example":"nf-stderr","c.example":"empty"},
            "credsStore":"nf"}"#,
    );
    for registry in ["a.example", "b.example", "c.example", "d.example"] {
        assert_eq!(fx.lookup(registry, "x").await.unwrap(), None, "{registry}");
    }
    let auth = fx.auth_json(&format!(
        r#"{{"auths":{{"a.example":{{"auth":"{}"}}}}}}"#,
        b64("pod:man")
    ));
    let found = fx.lookup("a.example", "x").await.unwrap().unwrap();
    assert_eq!(found.credential, basic("pod", "man"));
    assert_eq!(
        found.source.to_string(),
        format!("{} (auths entry \"a.example\")", auth.display())
    );
}

#[tokio::test(flavor = "current_thread")]
async fn helper_failures_are_distinct_errors_without_output_or_secrets() {
    let fx = Fixture::new();
    let leak = "LEAKED-helper-s3cr3t";
    fx.helper(
        "fail",
        &format!("echo '{leak}'; echo 'boom {leak}' >&2; exit 2"),
    );
    fx.helper("hang", "exec sleep 30");
    fx.helper("garbage", &format!("echo 'not json {leak}'"));
    fx.helper(
        "partial",
        &format!(r#"printf '{{"Username":"u","Secret":"{leak}"'"#),
    );
    fx.write("bin/docker-credential-noexec", "#!/bin/sh\necho '{}'\n");
    let config = fx.docker_config(
        r#"{"credHelpers":{"missing.example":"missing","fail.example":"fail",
            "hang.example":"hang","garbage.example":"garbage","partial.example":"partial",
            "noexec.example":"noexec","slash.example":"../bin/fail"}}"#,
    );
    let store = fx.store().with_helper_timeout(Duration::from_millis(300));

    let cases: [(&str, fn(&CredentialError) -> bool, &str); 7] = [
        (
            "missing.example",
            |e| matches!(e, CredentialError::HelperNotFound { .. }),
            "not installed or not on PATH",
        ),
        (
            "noexec.example",
            |e| matches!(e, CredentialError::HelperNotFound { .. }),
            "not installed or not on PATH",
        ),
        (
            "slash.example",
            |e| matches!(e, CredentialError::HelperNotFound { .. }),
            "not installed or not on PATH",
        ),
        (
            "fail.example",
            |e| matches!(e, CredentialError::HelperFailed { status, .. } if status.contains('2')),
            "failed (exit status: 2)",
        ),
        (
            "hang.example",
            |e| matches!(e, CredentialError::HelperTimeout { .. }),
            "did not answer within 300ms",
        ),
        (
            "garbage.example",
            |e| matches!(e, CredentialError::HelperBadOutput { .. }),
            "not the expected JSON",
        ),
        (
            "partial.example",
            |e| matches!(e, CredentialError::HelperBadOutput { .. }),
            "not the expected JSON",
        ),
    ];
    for (registry, is_expected, phrase) in cases {
        let started = std::time::Instant::now();
        let err = store.lookup(registry, "x").await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{registry} took too long"
        );
        assert!(is_expected(&err), "{registry}: {err:?}");
        let text = format!("{err} | {err:?}");
        assert!(text.contains(phrase), "{registry}: {text}");
        assert!(
            text.contains(&config.display().to_string()),
            "{registry}: {text}"
        );
        assert!(!text.contains(leak), "{registry} leaked: {text}");
    }
    let err = store.lookup("missing.example", "x").await.unwrap_err();
    assert!(
        err.to_string().contains("docker-credential-missing"),
        "{err}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_json_names_the_file_and_position_but_not_its_content() {
    let table = [
        (
            r#"{"auths": {"ghcr.io": {"auth": "s3cr3t"}"#,
            "unexpected end of file",
        ),
        (
            "{\"auths\": {\n  \"ghcr.io\": \"s3cr3t-as-string\"}}",
            "wrong type",
        ),
        (
            "{\"auths\": {\n  \"ghcr.io\": {\"auth\": s3cr3t}}}",
            "syntax error at line 2",
        ),
        (r#"{"credHelpers": ["s3cr3t"]}"#, "wrong type"),
    ];
    for (json, phrase) in table {
        let fx = Fixture::new();
        let path = fx.docker_config(json);
        let err = fx.lookup("ghcr.io", "a").await.unwrap_err();
        assert!(
            matches!(err, CredentialError::InvalidJson { .. }),
            "{err:?}"
        );
        let text = format!("{err} | {err:?}");
        assert!(
            text.contains(&path.display().to_string()) && text.contains(phrase),
            "{text}"
        );
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    // A broken auth.json only matters once the lookup gets that far.
    let fx = Fixture::new();
    fx.docker_config(&format!(
        r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
        b64("u:p")
    ));
    let auth = fx.auth_json("{not json");
    assert!(fx.lookup("ghcr.io", "a").await.unwrap().is_some());
    let err = fx.lookup("quay.io", "a").await.unwrap_err();
    assert!(
        err.to_string().contains(&auth.display().to_string()),
        "{err}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn missing_or_empty_files_mean_no_credentials() {
    let fx = Fixture::new();
    assert_eq!(fx.lookup("ghcr.io", "a").await.unwrap(), None);

    let store = CredentialStore::from_env(|_| None);
    assert!(store.searched_files().is_empty());
    assert_eq!(store.lookup("ghcr.io", "a").await.unwrap(), None);

    fx.docker_config(" \n");
    fx.auth_json(r#"{"auths":null,"credHelpers":null}"#);
    assert_eq!(fx.lookup("ghcr.io", "a").await.unwrap(), None);

    // HOME pointing at a regular file: the config "path" cannot exist.
    let mut fx = Fixture::new();
    let file = fx.write("not-a-dir", "");
    fx.vars.insert("HOME".into(), file.display().to_string());
    assert_eq!(fx.lookup("ghcr.io", "a").await.unwrap(), None);
}

#[tokio::test(flavor = "current_thread")]
async fn unreadable_file_is_an_error_naming_it() {
    let fx = Fixture::new();
    let path = fx.path("home/.docker/config.json");
    std::fs::create_dir_all(&path).unwrap(); // a directory: reading it fails, even as root
    let err = fx.lookup("ghcr.io", "a").await.unwrap_err();
    assert!(matches!(err, CredentialError::Read { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn podman_namespace_keys_table() {
    let fx = Fixture::new();
    fx.auth_json(&format!(
        r#"{{"auths":{{
            "quay.io":{{"auth":"{}"}},
            "quay.io/org":{{"auth":"{}"}},
            "quay.io/org/app":{{"auth":"{}"}},
            "quay.io/empty":{{}},
            "docker.io/library":{{"auth":"{}"}},
            "docker.io/me/private":{{"auth":"{}"}},
            "https://registry.example:5000/v1/":{{"auth":"{}"}},
            "index.docker.io":{{"auth":"{}"}},
            "ghcr.io/only-this-org":{{"auth":"{}"}}
        }}}}"#,
        b64("base:1"),
        b64("org:2"),
        b64("app:3"),
        b64("library:4"),
        b64("private:5"),
        b64("port:6"),
        b64("hub:7"),
        b64("ghorg:8"),
    ));
    let table = [
        ("quay.io", "org/app", Some(basic("app", "3"))),
        ("quay.io", "org/app/sub", Some(basic("app", "3"))),
        ("quay.io", "org/other", Some(basic("org", "2"))),
        ("quay.io", "orgx/app", Some(basic("base", "1"))),
        ("quay.io", "empty/app", Some(basic("base", "1"))),
        ("quay.io", "", Some(basic("base", "1"))),
        ("docker.io", "library/nginx", Some(basic("library", "4"))),
        ("docker.io", "nginx", Some(basic("library", "4"))),
        ("docker.io", "me/private", Some(basic("private", "5"))),
        ("docker.io", "me/public", Some(basic("hub", "7"))),
        ("registry.example:5000", "a/b", Some(basic("port", "6"))),
        ("registry.example", "a/b", None),
        ("ghcr.io", "only-this-org/x", Some(basic("ghorg", "8"))),
        ("ghcr.io", "another-org/x", None),
    ];
    let store = fx.store();
    for (registry, repository, expected) in table {
        let got = store.lookup(registry, repository).await.unwrap();
        assert_eq!(
            got.map(|f| f.credential),
            expected,
            "{registry} {repository}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn podman_cred_helpers_and_file_order() {
    let fx = Fixture::new();
    fx.helper("echo", ECHO_HELPER);
    let primary = fx.auth_json(r#"{"credHelpers":{"docker.io":"echo"},"auths":{}}"#);
    let secondary = fx.write(
        "home/.config/containers/auth.json",
        &format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
            b64("second:ary")
        ),
    );
    let found = fx.lookup("docker.io", "library/x").await.unwrap().unwrap();
    assert_eq!(Some(found.credential), echoed("docker.io"));
    assert!(
        found
            .source
            .as_str()
            .contains(&primary.display().to_string())
    );
    let found = fx.lookup("quay.io", "a").await.unwrap().unwrap();
    assert_eq!(found.credential, basic("second", "ary"));
    assert!(
        found
            .source
            .as_str()
            .contains(&secondary.display().to_string())
    );

    // Docker's file comes first when both have credentials.
    fx.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
        b64("dock:er")
    ));
    assert_eq!(
        fx.credential("quay.io", "a").await,
        Some(basic("dock", "er"))
    );
}

#[test]
fn file_locations_from_env_table() {
    let table: [(&[(&str, &str)], &[&str]); 6] = [
        (
            &[("HOME", "/h")],
            &["/h/.docker/config.json", "/h/.config/containers/auth.json"],
        ),
        (
            &[
                ("HOME", "/h"),
                ("DOCKER_CONFIG", "/d"),
                ("XDG_RUNTIME_DIR", "/run/user/1"),
            ],
            &[
                "/d/config.json",
                "/run/user/1/containers/auth.json",
                "/h/.config/containers/auth.json",
            ],
        ),
        (
            &[
                ("HOME", "/h"),
                ("REGISTRY_AUTH_FILE", "/a.json"),
                ("XDG_RUNTIME_DIR", "/r"),
            ],
            &[
                "/h/.docker/config.json",
                "/a.json",
                "/h/.config/containers/auth.json",
            ],
        ),
        (
            &[
                ("HOME", "/h"),
                ("XDG_CONFIG_HOME", "/x"),
                ("DOCKER_CONFIG", ""),
            ],
            &["/h/.docker/config.json", "/x/containers/auth.json"],
        ),
        (
            &[
                ("HOME", "/h"),
                ("REGISTRY_AUTH_FILE", "/h/.docker/config.json"),
            ],
            &["/h/.docker/config.json", "/h/.config/containers/auth.json"],
        ),
        (&[("PATH", "/usr/bin")], &[]),
    ];
    for (vars, expected) in table {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let store = CredentialStore::from_env(|k| vars.get(k).cloned());
        let expected: Vec<&Path> = expected.iter().map(Path::new).collect();
        assert_eq!(store.searched_files(), expected, "{vars:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn files_are_read_on_first_lookup_and_then_cached() {
    let fx = Fixture::new();
    let store = fx.store();
    fx.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
        b64("first:1")
    ));
    let first = store.lookup("quay.io", "a").await.unwrap().unwrap();
    assert_eq!(first.credential, basic("first", "1"));
    fx.docker_config("{broken");
    let second = store.lookup("quay.io", "a").await.unwrap().unwrap();
    assert_eq!(second.credential, basic("first", "1"));
}

#[tokio::test(flavor = "current_thread")]
async fn each_helper_runs_once_even_for_concurrent_lookups() {
    let fx = Fixture::new();
    let count = fx.path("count");
    fx.helper(
        "counting",
        &format!(
            "echo run >> '{}'\nsleep 0.2\nprintf '{{\"Username\":\"u\",\"Secret\":\"p\"}}'",
            count.display()
        ),
    );
    fx.docker_config(r#"{"credsStore":"counting"}"#);
    let store = fx.store();
    let lookups = (0..6).map(|_| store.lookup("ghcr.io", "a/b"));
    for result in futures_util::future::join_all(lookups).await {
        assert_eq!(result.unwrap().unwrap().credential, basic("u", "p"));
    }
    store.lookup("quay.io", "x").await.unwrap();
    let runs = std::fs::read_to_string(&count).unwrap();
    assert_eq!(
        runs.lines().count(),
        2,
        "one run for ghcr.io, one for quay.io"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn debug_and_display_never_show_secrets() {
    let credential = basic("u", SECRET);
    assert_eq!(
        format!("{credential:?}"),
        r#"Credential::Basic { username: "u", password: <redacted> }"#
    );
    let token = Credential::IdentityToken(SECRET.into());
    assert_eq!(
        format!("{token:?}"),
        "Credential::IdentityToken(<redacted>)"
    );
    assert_eq!(format!("{token:#?}").matches(SECRET).count(), 0);

    let fx = Fixture::new();
    fx.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}},"ghcr.io":{{"identitytoken":"{SECRET}"}}}}}}"#,
        b64(&format!("u:{SECRET}"))
    ));
    let store = fx.store();
    for registry in ["quay.io", "ghcr.io"] {
        let found = store.lookup(registry, "a").await.unwrap().unwrap();
        let text = format!("{found:?} {found:#?} {} {store:?}", found.source);
        assert!(!text.contains(SECRET) && !text.contains("s3cr3t"), "{text}");
    }
}

#[test]
fn store_and_lookup_future_are_thread_safe() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let store = CredentialStore::from_env(|_| None);
    send_sync(&store);
    let future = store.lookup("ghcr.io", "a");
    send(&future);
    let _: &dyn std::error::Error = &CredentialError::HelperBadOutput {
        helper: HelperRef {
            program: "p".into(),
            field: "credsStore",
            config: PathBuf::new(),
            server_url: String::new(),
        },
    };
}
