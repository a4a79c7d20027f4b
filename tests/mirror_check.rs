//! `tf-pin mirror-check` against real registries: an upstream `docker-registry` and a second
//! one configured as its pull-through cache (`proxy.remoteurl`), reached through the
//! harness's fault-injecting proxy so a test can cut the mirror off from its upstream.
//! Everything listens on 127.0.0.1 and is stopped when its handle drops.

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;
use support::*;

/// What one `tf-pin` run printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the built binary as a user would, with no credentials but `creds`'.
fn tf_pin_with(creds: &CredEnv, args: &[&str]) -> Run {
    let started = Instant::now();
    let mut cmd = assert_cmd::Command::cargo_bin("tf-pin").unwrap();
    for k in CredEnv::removed_vars() {
        cmd.env_remove(k);
    }
    let output = cmd
        .envs(creds.envs())
        .arg("mirror-check")
        .args(args)
        .output()
        .unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    eprintln!(
        "$ tf-pin mirror-check {} ({:.2}s, exit {})\n{}{}",
        args.join(" "),
        started.elapsed().as_secs_f64(),
        run.code,
        run.stdout,
        run.stderr
    );
    run
}

fn tf_pin(args: &[&str]) -> Run {
    tf_pin_with(&CredEnv::new(), args)
}

/// Writes `<dir>/<namespace>/hosts.toml` the way containerd lays it out
/// (`host:port` → `host_port_`) and returns the file.
fn hosts_toml(dir: &Path, registry: &str, text: &str) -> PathBuf {
    let namespace = match registry.rsplit_once(':') {
        Some((host, port)) => format!("{host}_{port}_"),
        None => registry.to_owned(),
    };
    let ns = dir.join(namespace);
    std::fs::create_dir_all(&ns).unwrap();
    let file = ns.join("hosts.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// An upstream, the fault proxy on the mirror's path to it, and the pull-through mirror.
struct Setup {
    upstream: Registry,
    path: FaultProxy,
    mirror: Registry,
}

fn setup() -> Setup {
    let upstream = Registry::start(RegistryConfig::plain());
    let path = FaultProxy::in_front_of(&upstream);
    let mirror = Registry::start(RegistryConfig::mirror_of(&path.addr()));
    Setup {
        upstream,
        path,
        mirror,
    }
}

/// GETs the tag through the mirror, as a node's pull would, so the mirror caches it.
fn pull_through(mirror: &Registry, repo: &str, tag: &str) -> String {
    let r = mirror.fetch_manifest("GET", repo, tag);
    assert_eq!(
        r.status().as_u16(),
        200,
        "pull {repo}:{tag} through the mirror"
    );
    r.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn stale_while_the_mirror_is_cut_off_from_its_upstream_then_fresh_on_restore() {
    let s = setup();
    let build1 = s.upstream.push_oci_image("app", "latest", 1);
    assert_eq!(pull_through(&s.mirror, "app", "latest"), build1.digest);
    let build2 = s.upstream.push_oci_image("app", "latest", 2);
    s.path.cut_off();

    let certs = tempfile::tempdir().unwrap();
    hosts_toml(
        certs.path(),
        s.upstream.host(),
        &format!(
            "server = \"http://{}\"\n\n[host.\"http://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            s.upstream.host(),
            s.mirror.host()
        ),
    );
    let dir = certs.path().to_str().unwrap();
    let reference = build2.reference.clone();
    let run = tf_pin(&["--containerd-dir", dir, &reference]);
    assert_eq!(run.code, 1, "stale exits 1");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    let mirror_url = format!("http://{}", s.mirror.host());
    assert_eq!(
        lines[0],
        format!(
            "stale  {reference}  {mirror_url}  mirror {}  upstream {}",
            build1.digest, build2.digest
        )
    );
    assert!(
        run.stderr
            .contains("0 fresh, 0 missing, 0 unverified, 0 mirror-error"),
        "{}",
        run.stderr
    );
    // Asked the way containerd asks a mirror: HEAD, upstream named in ?ns=.
    let ns = s.upstream.host().replace(':', "%3A");
    let asked = format!("HEAD /v2/app/manifests/latest?ns={ns}");
    assert!(
        s.mirror.requests().contains(&asked),
        "{asked} not in {:?}",
        s.mirror.requests()
    );

    // Scripts: the same check as JSON, with a reference pinned to the upstream's digest.
    let pinned = build2.pinned();
    let run = tf_pin(&["--containerd-dir", dir, "--format", "json", &pinned]);
    assert_eq!(run.code, 1);
    let doc = json(&run);
    let check = &doc["checks"][0];
    assert_eq!(check["status"], "stale");
    assert_eq!(check["reference"], pinned.as_str());
    assert_eq!(check["mirror"], mirror_url.as_str());
    assert_eq!(check["upstream_digest"], build2.digest.as_str());
    assert_eq!(check["mirror_digest"], build1.digest.as_str());
    assert_eq!(check["pinned_digest"], build2.digest.as_str());
    assert_eq!(check["pinned_matches_upstream"], true);
    assert_eq!(
        check["request"],
        format!("{mirror_url}/v2/app/manifests/latest?ns={ns}").as_str()
    );
    assert!(
        check["mirror_origin"]
            .as_str()
            .unwrap()
            .ends_with("hosts.toml")
    );
    assert_eq!(doc["counts"]["stale"], 1);
    assert_eq!(doc["exit_code"], 1);

    // Restored: distribution 2.8.2's proxy asks its upstream first for every tag request,
    // so it serves build 2 at once (no TTL wait).
    s.path.restore();
    let run = tf_pin(&["--containerd-dir", dir, &reference]);
    assert_eq!(run.code, 0, "fresh exits 0");
    assert_eq!(
        run.stdout,
        format!("fresh  {reference}  {mirror_url}  {}\n", build2.digest)
    );
}

#[test]
fn missing_when_the_mirror_has_no_such_tag() {
    let upstream = Registry::start(RegistryConfig::plain());
    // A mirror kept in sync by hand (not a pull-through cache) that never got this image.
    let synced = Registry::start(RegistryConfig::plain());
    let image = upstream.push_oci_image("team/app", "1.0", 1);
    let run = tf_pin(&[
        "--mirror",
        &format!("http://{}", synced.host()),
        &image.reference,
    ]);
    assert_eq!(
        run.code, 0,
        "missing is not stale: containerd falls through"
    );
    assert!(
        run.stdout.starts_with(&format!(
            "missing  {}  http://{}  the mirror has no tag \"1.0\" (HTTP 404; containerd falls through to the next host)",
            image.reference,
            synced.host()
        )),
        "{}",
        run.stdout
    );

    // A pull-through cache cut off from its upstream, asked for a tag it never fetched.
    let path = FaultProxy::in_front_of(&upstream);
    let cache = Registry::start(RegistryConfig::mirror_of(&path.addr()));
    path.cut_off();
    let run = tf_pin(&[
        "--mirror",
        &format!("http://{}", cache.host()),
        "--format",
        "json",
        &image.reference,
    ]);
    let doc = json(&run);
    let status = doc["checks"][0]["status"].as_str().unwrap().to_owned();
    eprintln!(
        "distribution's proxy, cut off, for a never-fetched tag: {status} ({})",
        doc["checks"][0]["detail"]
    );
    assert_eq!(status, "missing", "{}", run.stdout);
    assert_eq!(run.code, 0);
}

#[test]
fn unverified_when_the_upstream_is_unreachable() {
    let s = setup();
    let build1 = s.upstream.push_oci_image("app", "1", 1);
    // tf-pin reaches the upstream through its own proxy, which is then cut off; the
    // mirror's path to the upstream stays up.
    let front = FaultProxy::in_front_of(&s.upstream);
    let reference = front.image("app", "1");
    front.cut_off();
    let run = tf_pin(&[
        "--mirror",
        &format!("http://{}", s.mirror.host()),
        &reference,
    ]);
    assert_eq!(run.code, 3, "cannot tell: exit 3");
    let line = run.stdout.lines().next().unwrap_or_default();
    assert!(
        line.starts_with(&format!(
            "unverified  {reference}  http://{}  mirror {}  upstream unreachable: cannot reach http",
            s.mirror.host(),
            build1.digest
        )),
        "{line}"
    );
    // The mirror was still asked with the reference's own host as ns.
    assert!(
        s.mirror
            .requests()
            .iter()
            .any(|r| r.ends_with(&format!("?ns={}", front.host().replace(':', "%3A")))),
        "{:?}",
        s.mirror.requests()
    );
}

#[test]
fn hosts_toml_with_two_hosts_and_override_path() {
    let s = setup();
    let image = s.upstream.push_docker_manifest_list("team/app", "v2", 5);
    // The second mirror: another pull-through cache, behind a recording proxy.
    let second = Registry::start(RegistryConfig::mirror_of(s.upstream.addr()));
    let recorder = FaultProxy::in_front_of(&second);
    let certs = tempfile::tempdir().unwrap();
    hosts_toml(
        certs.path(),
        s.upstream.host(),
        &format!(
            r#"server = "http://{up}"

[host."http://{first}"]
  capabilities = ["pull", "resolve"]

[host."http://{pull_only}"]
  capabilities = ["pull"]

[host."http://{second}/v2"]
  capabilities = ["pull", "resolve"]
  override_path = true
"#,
            up = s.upstream.host(),
            first = s.mirror.host(),
            pull_only = s.upstream.host().replace("127.0.0.1", "localhost"),
            second = recorder.host(),
        ),
    );
    let run = tf_pin(&[
        "--containerd-dir",
        certs.path().to_str().unwrap(),
        &image.reference,
    ]);
    assert_eq!(run.code, 0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let first_url = format!("http://{}", s.mirror.host());
    let second_url = format!("http://{}/v2", recorder.host());
    let width = second_url.len();
    assert_eq!(
        lines,
        [
            format!(
                "fresh  {}  {first_url:<width$}  {}",
                image.reference, image.digest
            ),
            format!("fresh  {}  {second_url}  {}", image.reference, image.digest),
        ],
        "hosts in file order, columns aligned"
    );
    // override_path: the URL path is the API root as is (no second /v2).
    let targets: Vec<String> = recorder
        .requests()
        .iter()
        .filter(|seen| seen.target.contains("/manifests/"))
        .map(|seen| format!("{} {}", seen.method, seen.target))
        .collect();
    let ns = s.upstream.host().replace(':', "%3A");
    assert_eq!(
        targets,
        [format!("HEAD /v2/team/app/manifests/v2?ns={ns}")],
        "override_path request"
    );
    assert!(
        run.stderr.contains("skipping mirror http://localhost:")
            && run.stderr.contains("lack \"resolve\""),
        "{}",
        run.stderr
    );

    // --platform compares that platform's manifest, picked from the index at each end.
    let run = tf_pin(&[
        "--containerd-dir",
        certs.path().to_str().unwrap(),
        "--platform",
        "linux/arm64",
        "--format",
        "json",
        &image.reference,
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let doc = json(&run);
    let arm64 = &image.child("linux/arm64/v8").digest;
    for check in doc["checks"].as_array().unwrap() {
        assert_eq!(check["status"], "fresh");
        assert_eq!(check["mirror_digest"], arm64.as_str());
        assert_eq!(check["upstream_digest"], arm64.as_str());
        assert_eq!(check["platform"], "linux/arm64/v8");
    }
}

#[test]
fn from_terraform_files_reports_locations_and_pins() {
    let s = setup();
    let build1 = s.upstream.push_oci_image("web", "stable", 1);
    pull_through(&s.mirror, "web", "stable");
    let build2 = s.upstream.push_oci_image("web", "stable", 2);
    let api = s.upstream.push_oci_image("api", "1", 3);
    s.path.cut_off();
    let tf = tempfile::tempdir().unwrap();
    std::fs::write(
        tf.path().join("main.tf"),
        format!(
            r#"resource "kubernetes_deployment" "web" {{
  spec {{
    template {{
      spec {{
        container {{
          image = "{web}"
        }}
        container {{
          image = "{pinned}"
        }}
      }}
    }}
  }}
}}

locals {{
  api_image = "{api}"
}}
"#,
            web = build2.reference,
            pinned = build1.pinned(),
            api = api.reference,
        ),
    )
    .unwrap();
    let run = tf_pin(&[
        "--mirror",
        &format!("http://{}", s.mirror.host()),
        "--from",
        tf.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1);
    let doc = json(&run);
    let checks = doc["checks"].as_array().unwrap();
    let summary: Vec<(String, String, i64)> = checks
        .iter()
        .map(|c| {
            (
                c["status"].as_str().unwrap().to_owned(),
                c["reference"].as_str().unwrap().to_owned(),
                c["locations"][0]["line"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("stale".to_owned(), build2.reference.clone(), 6),
            ("stale".to_owned(), build1.pinned(), 9),
            // Never pulled through the mirror, whose upstream is cut off.
            ("missing".to_owned(), api.reference.clone(), 17),
        ]
    );
    // The file pins the stale build: the pinned digest is the mirror's, not the upstream's.
    assert_eq!(checks[1]["pinned_matches_upstream"], false);
    assert_eq!(checks[1]["mirror_digest"], build1.digest.as_str());
    assert!(
        checks[0]["locations"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("main.tf")
    );

    let run = tf_pin(&[
        "--mirror",
        &format!("http://{}", s.mirror.host()),
        "--from",
        tf.path().to_str().unwrap(),
    ]);
    assert!(
        run.stdout
            .contains("(pinned digest is the mirror's stale one)  ["),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("main.tf:9]"), "{}", run.stdout);
}

#[test]
fn reference_naming_a_mirror_warns_and_registry_map_checks_the_upstream() {
    let s = setup();
    let image = s.upstream.push_oci_image("app", "2", 2);
    let certs = tempfile::tempdir().unwrap();
    let file = hosts_toml(
        certs.path(),
        s.upstream.host(),
        &format!("[host.\"http://{}\"]\n", s.mirror.host()),
    );
    let dir = certs.path().to_str().unwrap();
    let at_mirror = s.mirror.image("app", "2");
    let run = tf_pin(&["--containerd-dir", dir, &at_mirror]);
    assert_eq!(
        run.code, 2,
        "no mirror configured for the mirror's own namespace"
    );
    let advice = format!(
        "pass --registry-map {}={}",
        s.mirror.host(),
        s.upstream.host()
    );
    assert!(run.stderr.contains(&advice), "{}", run.stderr);
    assert!(
        run.stderr.contains(&file.display().to_string()),
        "{}",
        run.stderr
    );

    let map = format!("{}={}", s.mirror.host(), s.upstream.host());
    let run = tf_pin(&["--containerd-dir", dir, "--registry-map", &map, &at_mirror]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("--registry-map"), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "fresh  {at_mirror}  http://{}  {}\n",
            s.mirror.host(),
            image.digest
        )
    );
}

#[test]
fn mirror_and_upstream_use_their_own_credentials() {
    let upstream = Registry::start(RegistryConfig::token(TokenServerConfig::with_credentials(
        "alice",
        "up-secret",
    )));
    let mirror = Registry::start(
        RegistryConfig::mirror_of(upstream.addr())
            .upstream_credentials("alice", "up-secret")
            .with_auth(Auth::Htpasswd {
                user: "bob".into(),
                password: "mirror-secret".into(),
            }),
    );
    let image = upstream.push_oci_image("private/app", "1", 1);
    let mirror_url = format!("http://{}", mirror.host());
    let mut creds = CredEnv::new();
    creds.docker_auth(upstream.host(), "alice", "up-secret");
    let run = tf_pin_with(&creds, &["--mirror", &mirror_url, &image.reference]);
    assert_eq!(run.code, 3, "no credentials for the mirror host");
    assert!(
        run.stdout.starts_with("mirror-error")
            && run.stdout.contains(&format!("{} refused", mirror.host())),
        "{}",
        run.stdout
    );
    creds.docker_auth(mirror.host(), "bob", "mirror-secret");
    let run = tf_pin_with(&creds, &["--mirror", &mirror_url, &image.reference]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.starts_with("fresh"), "{}", run.stdout);
}

#[test]
fn tls_mirror_with_hosts_toml_ca_or_skip_verify() {
    let upstream = Registry::start(RegistryConfig::plain());
    let mirror = Registry::start(RegistryConfig::mirror_of(upstream.addr()).with_tls());
    let image = upstream.push_oci_image("app", "1", 1);
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path().to_str().unwrap();
    let ns = upstream.host();
    let mirror_url = format!("https://{}", mirror.host());
    let run_with = |settings: &str| {
        hosts_toml(
            certs.path(),
            ns,
            &format!("[host.\"{mirror_url}\"]\n{settings}"),
        );
        tf_pin(&["--containerd-dir", dir, &image.reference])
    };
    // Untrusted certificate: the mirror cannot be asked.
    let run = run_with("");
    assert_eq!(run.code, 3);
    assert!(
        run.stdout.starts_with("mirror-error")
            && run.stdout.contains(&format!(
                "the TLS certificate of {} is not trusted: give its CA with `ca",
                mirror.host()
            )),
        "{}",
        run.stdout
    );
    // `ca`, relative to the hosts.toml's directory.
    let ns_dir = certs.path().join(format!("{}_", ns.replace(':', "_")));
    std::fs::copy(mirror.ca_file().unwrap(), ns_dir.join("mirror-ca.pem")).unwrap();
    let run = run_with("  ca = \"mirror-ca.pem\"\n");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.starts_with("fresh"), "{}", run.stdout);
    // `skip_verify`.
    let run = run_with("  skip_verify = true\n");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.starts_with("fresh"), "{}", run.stdout);
}

#[test]
fn input_errors_exit_2_before_any_request() {
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path().to_str().unwrap();
    let table: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--mirror".into(),
                "http://127.0.0.1:9".into(),
                "App:1".into(),
            ],
            "must be lowercase",
        ),
        (
            vec![
                "--mirror".into(),
                "ftp://m.example".into(),
                "a.example/app:1".into(),
            ],
            "--mirror \"ftp://m.example\" uses the scheme \"ftp\"",
        ),
        (
            vec![
                "--containerd-dir".into(),
                format!("{dir}/nope"),
                "a.example/app:1".into(),
            ],
            "cannot read the containerd host configuration directory",
        ),
        (
            vec![
                "--containerd-dir".into(),
                dir.into(),
                "a.example/app:1".into(),
            ],
            "no mirror to check: no mirror is configured for a.example/app:1",
        ),
        (
            vec![
                "--hosts-toml".into(),
                format!("{dir}/missing.toml"),
                "a.example/app:1".into(),
            ],
            "missing.toml: No such file",
        ),
        (
            vec![
                "--from".into(),
                format!("{dir}/none"),
                "--mirror".into(),
                "http://m.example".into(),
            ],
            "no such file or directory",
        ),
        (vec![], "required"),
    ];
    hosts_toml(
        certs.path(),
        "b.example",
        "[host.\"https://m.example\"]\ncapabilities = [\"pull\", \"resolv\"]\n",
    );
    let mut table = table;
    table.push((
        vec![
            "--containerd-dir".into(),
            dir.into(),
            "b.example/app:1".into(),
        ],
        "has the unknown capability \"resolv\"",
    ));
    for (args, expected) in table {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = tf_pin(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
}
