//! The fault matrix: what `tf-pin` does when a registry, the network or a credential store
//! misbehaves, run against a real `docker-registry` behind the fault-injecting proxy
//! ([`FaultProxy`]). Each row asserts the outcome, the exit code (0 ok, 3 registry, network
//! or auth) and the message: one `tf-pin: error: REFERENCE: …` line that names the registry
//! and says what to do. Every failing row also asserts that the run ends well within its
//! time budget ("no hang", not a performance number).
//!
//! Retry budget (src/registry/transport.rs): HTTP 429/502/503/504 and connection errors get
//! up to 4 attempts, waiting `Retry-After` (capped at 60 s) or 250 ms·2^n in between;
//! timeouts are not retried. Faults here use `Retry-After: 1` to keep the file fast.
//!
//! Digest trust: like containerd's resolver, tf-pin takes the `Docker-Content-Digest` of a
//! `HEAD` answer as is (there is no body to check it against, and a pull of that digest
//! asks the registry for exactly those bytes), and verifies the header against the body
//! whenever it `GET`s a manifest: when `HEAD` brought no digest, and with `--platform`,
//! which reads the index. The mismatch rows therefore go through those two `GET` paths.
//!
//! The security rows: TLS is verified unless the registry is marked insecure; credentials
//! never go over plain HTTP to a remote host that was not marked insecure (checked at the
//! library level, since a test cannot run a non-loopback server); `-v` never prints a
//! password, its base64 or a token; tokens are asked for with pull scope only.

mod support;

use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use support::cli::{Run, run, run_command};
use support::*;

fn resolve(args: &[&str], creds: Option<&CredEnv>) -> Run {
    let mut all = vec!["resolve"];
    all.extend_from_slice(args);
    run(&all, None, creds)
}

fn external(args: &[&str], query: &str, creds: Option<&CredEnv>) -> Run {
    let mut all = vec!["external"];
    all.extend_from_slice(args);
    run(&all, Some(query.as_bytes()), creds)
}

/// A failed run: nothing on stdout, exit `code`, and stderr holds every needle. (The run is
/// printed too: `cargo test --test faults -- --nocapture` shows the matrix's messages.)
#[track_caller]
fn assert_fails(run: &Run, code: i32, needles: &[&str]) {
    eprintln!(
        "matrix row: exit {} after {:?}: {}",
        run.code,
        run.elapsed,
        run.stderr.trim()
    );
    run.assert_failed(code, needles);
}

/// A run that failed before `limit`: it neither hung nor waited out a long timeout.
#[track_caller]
fn assert_quick(run: &Run, limit: Duration) {
    assert!(
        run.elapsed < limit,
        "took {:?} (limit {limit:?}); stderr: {}",
        run.elapsed,
        run.stderr
    );
}

/// A plain registry holding `app:1`, and a proxy in front of it.
fn proxied() -> (Registry, FaultProxy, Pushed) {
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_oci_image("app", "1", 1);
    let proxy = FaultProxy::in_front_of(&reg);
    (reg, proxy, image)
}

/// `(method, faulted)` of each manifest request the proxy saw, in order.
fn manifest_requests(proxy: &FaultProxy) -> Vec<(String, bool)> {
    proxy
        .requests()
        .into_iter()
        .filter(|seen| seen.target.contains("/manifests/"))
        .map(|seen| (seen.method, seen.fault.is_some()))
        .collect()
}

/// The line tf-pin prints for a failure of `reference`.
fn error_line(reference: &str) -> String {
    format!("tf-pin: error: {reference}: ")
}

#[test]
fn rate_limiting_waits_for_retry_after_and_gives_up_after_the_retry_budget() {
    let (_reg, proxy, image) = proxied();
    let reference = proxy.image("app", "1");
    proxy.add(
        Rule::new(Fault::too_many_requests(1))
            .path("/manifests/")
            .times(2),
    );
    let out = resolve(&[&reference], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{reference}@{}\n", image.digest));
    assert!(
        out.elapsed >= Duration::from_secs(2),
        "waited Retry-After: 1 twice, yet took {:?}",
        out.elapsed
    );
    let head = |faulted| ("HEAD".to_owned(), faulted);
    assert_eq!(
        manifest_requests(&proxy),
        [head(true), head(true), head(false)]
    );

    proxy.clear();
    proxy.clear_requests();
    proxy.add(Rule::new(Fault::too_many_requests(1)).path("/manifests/"));
    let out = resolve(&[&reference], None);
    assert_fails(
        &out,
        3,
        &[&format!(
            "{}{} kept answering HTTP 429 after 4 attempts: the registry is overloaded or rate-limiting; try again later or lower --jobs",
            error_line(&reference),
            proxy.host()
        )],
    );
    assert_eq!(manifest_requests(&proxy).len(), 4, "the retry budget");
    assert!(out.elapsed >= Duration::from_secs(3), "{:?}", out.elapsed);
    assert_quick(&out, Duration::from_secs(3 + 5));
}

#[test]
fn gateway_errors_are_retried_and_persistent_server_errors_fail() {
    let (_reg, proxy, image) = proxied();
    let reference = proxy.image("app", "1");
    for status in [502, 503, 504] {
        proxy.add(
            Rule::new(Fault::status(status))
                .path("/manifests/")
                .times(1),
        );
    }
    let out = resolve(&[&reference], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{reference}@{}\n", image.digest));
    assert_eq!(manifest_requests(&proxy).len(), 4, "three retries");

    for (status, attempts, message) in [
        (
            503,
            4,
            format!(
                "{} kept answering HTTP 503 after 4 attempts: the registry is overloaded or rate-limiting; try again later",
                proxy.host()
            ),
        ),
        (
            500,
            1,
            format!(
                "{} answered HTTP 500 to the manifest request for tag \"1\": check the registry's health, or report the response to its operators",
                proxy.host()
            ),
        ),
    ] {
        proxy.clear();
        proxy.clear_requests();
        proxy.add(Rule::new(Fault::status(status)).path("/manifests/"));
        let out = resolve(&[&reference], None);
        assert_fails(&out, 3, &[&format!("{}{message}", error_line(&reference))]);
        assert_eq!(manifest_requests(&proxy).len(), attempts, "HTTP {status}");
        assert_quick(&out, Duration::from_secs(2 + 5));
    }
}

#[test]
fn refused_connections_and_unresolvable_hosts_fail_fast() {
    // A port nobody listens on: loopback tries HTTPS once, then plain HTTP with retries.
    let closed = free_addr();
    let reference = format!("{closed}/app:1");
    let out = resolve(&[&reference], None);
    assert_fails(
        &out,
        3,
        &[
            &format!("{}cannot reach http://{closed}/v2/", error_line(&reference)),
            "Connection refused (os error 111); check the host name and port, and that the registry is running",
        ],
    );
    assert_quick(&out, Duration::from_secs(10));

    // `.invalid` never resolves (RFC 2606), so nothing leaves the machine. A remote host is
    // only ever tried over HTTPS.
    let reference = "nonexistent.invalid:5000/app:1";
    let out = resolve(&["-v", reference], None);
    assert_fails(
        &out,
        3,
        &[
            &format!(
                "{}cannot reach https://nonexistent.invalid:5000/v2/: dns error: ",
                error_line(reference)
            ),
            "; check the host name and port, and that the registry is running",
        ],
    );
    // Only one attempt: a name that does not resolve is not retried.
    assert_eq!(
        out.stderr.matches(" -> failed").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("http://"), "{}", out.stderr);
    assert_quick(&out, Duration::from_secs(10));
}

#[test]
fn connections_reset_or_closed_mid_response_fail_without_hanging() {
    let (_reg, proxy, _image) = proxied();
    let reference = proxy.image("app", "1");
    let line = error_line(&reference);

    // Reset (RST) or closed (FIN) before any answer to the manifest request.
    for fault in [Fault::Reset, Fault::Close] {
        proxy.clear();
        proxy.add(Rule::new(fault.clone()).path("/manifests/"));
        let out = resolve(&[&reference], None);
        assert_fails(
            &out,
            3,
            &[
                &format!(
                    "{line}cannot reach http://{}/v2/app/manifests/1: ",
                    proxy.host()
                ),
                "; the connection broke off, try again",
            ],
        );
        assert_quick(&out, Duration::from_secs(10));
    }

    // Headers and half the body, then a reset: only a GET has a body to break.
    proxy.clear();
    proxy.add(Rule::new(Fault::StripDigest).method("HEAD"));
    proxy.add(
        Rule::new(Fault::CloseMidBody)
            .method("GET")
            .path("/manifests/"),
    );
    let out = resolve(&[&reference], None);
    assert_fails(
        &out,
        3,
        &[
            &format!("{line}the manifest download broke off: "),
            "; try again",
        ],
    );
    assert_quick(&out, Duration::from_secs(10));
}

#[test]
fn a_server_slower_than_the_timeout_fails_within_it() {
    let (_reg, proxy, _image) = proxied();
    let reference = proxy.image("app", "1");
    let expected = format!(
        "{}{} did not answer within 1s: check the network, or raise --timeout",
        error_line(&reference),
        proxy.host()
    );
    proxy.add(Rule::new(Fault::Delay(Duration::from_secs(30))).path("/manifests/"));
    let out = resolve(&["--timeout", "1", &reference], None);
    assert_fails(&out, 3, &[&expected]);
    assert_quick(&out, Duration::from_secs(1 + 5));

    // Slow from the very first request (the ping) on.
    proxy.set(Fault::Delay(Duration::from_secs(30)));
    let out = resolve(&["--timeout", "1", &reference], None);
    assert_fails(&out, 3, &[&expected]);
    assert_quick(&out, Duration::from_secs(2 + 5));
}

/// Without `Docker-Content-Digest` the manifest is fetched and hashed: the digest is the
/// sha256 of the exact bytes, as `docker pull` computes it.
#[test]
fn a_missing_digest_header_means_get_and_hash() {
    let (reg, proxy, image) = proxied();
    let list = reg.push_docker_manifest_list("list", "2", 3);
    proxy.set(Fault::StripDigest);
    let app = proxy.image("app", "1");
    let list_ref = proxy.image("list", "2");
    let out = resolve(&[&app, &list_ref], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("{app}@{}\n{list_ref}@{}\n", image.digest, list.digest)
    );
    let gets: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|seen| seen.method == "GET" && seen.target.contains("/manifests/"))
        .map(|seen| seen.target)
        .collect();
    assert_eq!(gets.len(), 2, "one GET each: {gets:?}");
    assert!(gets.contains(&"/v2/app/manifests/1".to_owned()), "{gets:?}");
}

/// The header is verified whenever the body is fetched (see the module comment for why a
/// `HEAD` answer is trusted): with no digest on `HEAD`, and with `--platform`.
#[test]
fn a_digest_header_that_does_not_match_the_body_fails_whenever_the_body_is_fetched() {
    let (reg, proxy, image) = proxied();
    let index = reg.push_oci_index("multi", "1", 2);
    let app = proxy.image("app", "1");
    let multi = proxy.image("multi", "1");
    let replacement =
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
    let wrong = sha256_digest(b"tf-pin fault proxy: not the digest of this body");
    let refusal =
        "the registry or a proxy is corrupting responses; refusing to pin an unverified digest";

    let cases: Vec<(&str, Vec<&str>, Vec<Rule>, String)> = vec![
        (
            "header missing on HEAD, wrong on GET",
            vec![&app],
            vec![
                Rule::new(Fault::StripDigest).method("HEAD"),
                Rule::new(Fault::WrongDigest).method("GET"),
            ],
            format!(
                "{}the manifest's sha256 is {} but the registry said {wrong}: {refusal}",
                error_line(&app),
                image.digest
            ),
        ),
        (
            "header missing on HEAD, body replaced on GET",
            vec![&app],
            vec![
                Rule::new(Fault::StripDigest).method("HEAD"),
                Rule::new(Fault::ReplaceBody(replacement.to_vec())).method("GET"),
            ],
            format!(
                "{}the manifest's sha256 is {} but the registry said {}: {refusal}",
                error_line(&app),
                sha256_digest(replacement),
                image.digest
            ),
        ),
        (
            "--platform reads the index, whose header is wrong",
            vec!["--platform", "linux/amd64", &multi],
            vec![Rule::new(Fault::WrongDigest).method("GET")],
            format!(
                "{}the manifest's sha256 is {} but the registry said {wrong}: {refusal}",
                error_line(&multi),
                index.digest
            ),
        ),
    ];
    for (case, args, rules, expected) in cases {
        proxy.clear();
        for rule in rules {
            proxy.add(rule.path("/manifests/"));
        }
        let out = resolve(&args, None);
        assert_fails(&out, 3, &[&expected]);
        assert_eq!(out.stderr.lines().count(), 1, "{case}: {}", out.stderr);
    }
}

#[test]
fn truncated_bodies_and_wrong_content_lengths_fail() {
    let (reg, proxy, image) = proxied();
    reg.push_oci_index("multi", "1", 2);
    let app = proxy.image("app", "1");
    let multi = proxy.image("multi", "1");
    let broke_off = "the manifest download broke off: ";
    let cases: Vec<(Vec<&str>, Fault, String)> = vec![
        (vec![&app], Fault::TruncateBody, broke_off.to_owned()),
        (
            vec!["--platform", "linux/amd64", &multi],
            Fault::TruncateBody,
            broke_off.to_owned(),
        ),
        (
            vec![&app],
            Fault::ContentLengthDelta(10),
            broke_off.to_owned(),
        ),
        // A Content-Length that is too short cuts the body: the digest check catches it.
        (
            vec![&app],
            Fault::ContentLengthDelta(-10),
            format!(
                "the manifest's sha256 is {} but the registry said {}",
                sha256_digest(&image.bytes[..image.bytes.len() - 10]),
                image.digest
            ),
        ),
    ];
    for (args, fault, needle) in cases {
        proxy.clear();
        proxy.add(Rule::new(Fault::StripDigest).method("HEAD"));
        proxy.add(Rule::new(fault.clone()).method("GET").path("/manifests/"));
        let out = resolve(&args, None);
        let reference = args.last().copied().unwrap_or_default();
        assert_fails(&out, 3, &[&format!("{}{needle}", error_line(reference))]);
        assert_quick(&out, Duration::from_secs(10));
    }
}

#[test]
fn manifests_over_the_4_mib_cap_are_refused_from_their_announced_length() {
    let (_reg, proxy, _image) = proxied();
    let reference = proxy.image("app", "1");
    let big = 5 << 20;
    let expected = format!(
        "{}the manifest is {big} bytes, over the 4 MiB limit containerd enforces: this is not a pullable image manifest",
        error_line(&reference)
    );
    // HEAD announces the size; GET (with --platform) would send 5 MiB, but the announced
    // length is refused before the body is read ("{big} bytes" comes from the header).
    for args in [
        vec![reference.as_str()],
        vec!["--platform", "linux/amd64", &reference],
    ] {
        proxy.set(Fault::Oversized(big));
        proxy.clear_requests();
        let out = resolve(&args, None);
        assert_fails(&out, 3, &[&expected]);
        assert_quick(&out, Duration::from_secs(10));
        assert_eq!(manifest_requests(&proxy).len(), 1, "{args:?}");
    }
}

/// A registry may redirect manifest requests (to a CDN, a storage backend). The redirect is
/// followed, but the `Authorization` header stays behind at the host it was meant for.
#[test]
fn cross_host_redirects_are_followed_without_the_authorization_header() {
    for config in [
        RegistryConfig::htpasswd("erin", "redir-pw-1"),
        RegistryConfig::token(TokenServerConfig::with_credentials("erin", "redir-pw-1")),
    ] {
        let private = Registry::start(config);
        let image = private.push_oci_image("app", "1", 4);
        // The redirect target serves the same bytes anonymously.
        let elsewhere = Registry::start(RegistryConfig::plain());
        assert_eq!(elsewhere.push_oci_image("app", "1", 4).digest, image.digest);
        let target = RedirectTarget::in_front_of(&elsewhere);
        let proxy = FaultProxy::in_front_of(&private);
        proxy.add(Rule::new(Fault::Redirect(target.addr())).path("/manifests/"));
        let mut creds = CredEnv::new();
        creds.docker_auth(&proxy.host(), "erin", "redir-pw-1");
        let reference = proxy.image("app", "1");

        for args in [
            vec![reference.as_str()],
            vec!["--platform", "linux/amd64", &reference],
        ] {
            let out = resolve(&args, Some(&creds));
            assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
            assert_eq!(out.stdout, format!("{reference}@{}\n", image.digest));
        }
        let sent: Vec<bool> = proxy
            .requests()
            .iter()
            .filter(|seen| seen.target.contains("/manifests/"))
            .map(|seen| seen.had_authorization)
            .collect();
        assert_eq!(
            sent,
            [true, true],
            "the proxy got the header: a leak was possible"
        );
        let followed: Vec<(String, bool)> = target
            .requests()
            .into_iter()
            .map(|seen| (seen.method, seen.had_authorization))
            .collect();
        assert_eq!(
            followed,
            [("HEAD".to_owned(), false), ("GET".to_owned(), false)],
            "followed, without Authorization"
        );
    }
}

#[test]
fn auth_failures_are_distinct_and_name_the_credential_source_never_its_content() {
    let reg = Registry::start(RegistryConfig::htpasswd("frank", "right-pw-42"));
    reg.push_oci_image("app", "1", 1);
    let proxy = FaultProxy::in_front_of(&reg);
    let host = proxy.host();
    let reference = proxy.image("app", "1");
    let line = error_line(&reference);

    let mut runs = Vec::new();
    let anonymous = resolve(&[&reference], None);
    assert_fails(
        &anonymous,
        3,
        &[&format!(
            "{line}{host} refused anonymous access (no credentials found in docker or podman configuration) (HTTP 401): run `docker login {host}` (or `podman login {host}`)"
        )],
    );

    let mut file = CredEnv::new();
    file.docker_auth(&host, "frank", "wrong-pw-17");
    let config = file.docker_config_path().display().to_string();
    let out = resolve(&[&reference], Some(&file));
    assert_fails(
        &out,
        3,
        &[&format!(
            "{line}{host} refused the credentials from {config} (auths entry \"{host}\") (HTTP 401): the stored credentials are wrong or expired; run `docker login {host}` again"
        )],
    );
    runs.extend([anonymous, out]);

    let mut helper = CredEnv::new();
    helper
        .helper(
            "vault",
            HelperBehavior::Serve(vec![(host.clone(), "frank".into(), "wrong-pw-17".into())]),
        )
        .docker_cred_helper(&host, "vault");
    let helper_config = helper.docker_config_path().display().to_string();
    let out = resolve(&[&reference], Some(&helper));
    assert_fails(
        &out,
        3,
        &[&format!(
            "{line}{host} refused the credentials from credential helper docker-credential-vault (credHelpers in {helper_config}) (HTTP 401)"
        )],
    );
    runs.push(out);

    let mut right = CredEnv::new();
    right.docker_auth(&host, "frank", "right-pw-42");
    proxy.add(Rule::new(Fault::status(403)).path("/manifests/"));
    let forbidden = resolve(&[&reference], Some(&right));
    let right_config = right.docker_config_path().display().to_string();
    assert_fails(
        &forbidden,
        3,
        &[&format!(
            "{line}{host} denied pull access to app for the credentials from {right_config} (auths entry \"{host}\") (HTTP 403): check that this account may pull the repository"
        )],
    );
    runs.push(forbidden);
    proxy.clear();

    for (reference, what, repository) in [
        (proxy.image("app", "nope"), "tag \"nope\"", "app"),
        (proxy.image("ghost", "1"), "tag \"1\"", "ghost"),
    ] {
        let out = resolve(&[&reference], Some(&right));
        assert_fails(
            &out,
            3,
            &[&format!(
                "{}{host} has no manifest for {what} in repository {repository} (HTTP 404): check the name and tag, or push the image first",
                error_line(&reference)
            )],
        );
        runs.push(out);
    }
    let distinct: std::collections::BTreeSet<&str> =
        runs.iter().map(|out| out.stderr.as_str()).collect();
    assert_eq!(
        distinct.len(),
        runs.len(),
        "each failure has its own message"
    );
    for out in &runs {
        assert!(!out.stderr.contains("-pw-"), "{}", out.stderr);
        assert!(
            !out.stderr.contains("ZnJhbms6"),
            "base64 of frank:…: {}",
            out.stderr
        );
    }
}

/// A bearer-token registry: 401 comes from the token server, but the message must name the
/// registry the user logs in to, not the token endpoint.
#[test]
fn a_token_server_refusing_credentials_names_the_registry_to_log_in_to() {
    let reg = Registry::start(RegistryConfig::token(TokenServerConfig::with_credentials(
        "gina",
        "token-pw-9",
    )));
    let image = reg.push_oci_image("app", "1", 1);
    let host = reg.host();
    let mut wrong = CredEnv::new();
    wrong.docker_auth(host, "gina", "wrong-pw-3");
    let config = wrong.docker_config_path().display().to_string();
    let out = resolve(&[&image.reference], Some(&wrong));
    assert_fails(
        &out,
        3,
        &[&format!(
            "{}{host} refused the credentials from {config} (auths entry \"{host}\") (HTTP 401): the stored credentials are wrong or expired; run `docker login {host}` again",
            error_line(&image.reference)
        )],
    );
    assert!(!out.stderr.contains("wrong-pw-3"), "{}", out.stderr);
}

/// Writes `bin/docker-credential-NAME` running `body`, for behaviours CredEnv has no preset
/// for.
fn custom_helper(creds: &CredEnv, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let path = creds.bin_dir().join(format!("docker-credential-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn credential_helpers_that_fail_hang_or_print_garbage_are_clear_errors() {
    let reg = Registry::start(RegistryConfig::htpasswd("hank", "helper-pw-5"));
    reg.push_oci_image("app", "1", 1);
    let host = reg.host();
    let reference = reg.image("app", "1");
    let secret = "SECRET-FROM-HELPER-77";

    let mut failing = CredEnv::new();
    custom_helper(
        &failing,
        "broken",
        &format!("echo {secret}; echo {secret} >&2; exit 2"),
    );
    failing.docker_cred_helper(host, "broken");
    let config = failing.docker_config_path().display().to_string();
    let out = resolve(&[&reference], Some(&failing));
    assert_fails(
        &out,
        3,
        &[&format!(
            "{}credential helper docker-credential-broken (credHelpers in {config}) failed (exit status: 2); its output is not shown because it may contain secrets (run `echo {host} | docker-credential-broken get` to see it)",
            error_line(&reference)
        )],
    );
    assert!(!out.stderr.contains(secret), "{}", out.stderr);

    let mut garbage = CredEnv::new();
    garbage
        .helper("junk", HelperBehavior::Garbage)
        .docker_cred_helper(host, "junk");
    let out = resolve(&[&reference], Some(&garbage));
    assert_fails(
        &out,
        3,
        &[
            "credential helper docker-credential-junk (credHelpers in",
            "printed something that is not the expected JSON {\"ServerURL\",\"Username\",\"Secret\"}; it is not shown",
        ],
    );
    assert!(!out.stderr.contains("this is not json"), "{}", out.stderr);

    let mut hanging = CredEnv::new();
    hanging
        .helper("stuck", HelperBehavior::Hang)
        .docker_cred_helper(host, "stuck");
    let mut cmd = tf_pin();
    hanging.apply(&mut cmd);
    cmd.env("TF_PIN_CREDENTIAL_HELPER_TIMEOUT", "1")
        .args(["resolve", &reference]);
    let out = run_command(&mut cmd, None);
    assert_fails(
        &out,
        3,
        &[
            "credential helper docker-credential-stuck (credHelpers in",
            "did not answer within 1s and was stopped (it may be waiting for a password prompt or a locked keychain",
        ],
    );
    assert_quick(&out, Duration::from_secs(1 + 5));
}

#[test]
fn tls_is_verified_unless_the_registry_is_marked_insecure() {
    let reg = Registry::start(RegistryConfig::htpasswd("ivy", "tls-pw-8").with_tls());
    let image = reg.push_oci_image("app", "1", 1);
    let host = reg.host();
    let mut creds = CredEnv::new();
    creds.docker_auth(host, "ivy", "tls-pw-8");

    // Loopback, yet its self-signed certificate is still checked (and no HTTP fallback).
    let out = resolve(&[&image.reference], Some(&creds));
    assert_fails(
        &out,
        3,
        &[
            &format!(
                "{}cannot reach https://{host}/v2/",
                error_line(&image.reference)
            ),
            &format!("the TLS certificate of {host} is not trusted: pass its CA with --ca-file"),
        ],
    );
    assert!(
        !out.stderr.contains("http://"),
        "no plain-HTTP fallback: {}",
        out.stderr
    );

    let ca = reg.ca_file().unwrap().display().to_string();
    // Trusting its CA, or marking it insecure (an unverified certificate, still HTTPS).
    for args in [
        vec!["-v", "--ca-file", ca.as_str(), &image.reference],
        vec!["-v", "--insecure-registry", host, &image.reference],
    ] {
        let out = resolve(&args, Some(&creds));
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout.trim(), image.pinned());
        let head = format!("HEAD https://{host}/v2/app/manifests/1 -> 200");
        assert!(out.stderr.contains(&head), "{args:?}: {}", out.stderr);
    }
}

/// A token realm on plain HTTP at a remote host: the credentials must not go there. Checked
/// on the library, since a test cannot run a server on a non-loopback address; the realm's
/// host does not even resolve, so a refusal that names it proves nothing was attempted.
#[test]
fn credentials_never_travel_over_plain_http_to_a_remote_host_not_marked_insecure() {
    use tf_pin::registry::Failure;
    use tf_pin::registry::auth::fetch_token;
    use tf_pin::registry::credentials::CredentialStore;
    use tf_pin::registry::transport::{Transport, TransportOptions};

    let mut creds = CredEnv::new();
    creds.docker_auth("registry.invalid", "jo", "remote-pw-1");
    let dir = creds.docker_config_dir();
    let store = CredentialStore::from_env(|key| {
        (key == "DOCKER_CONFIG").then(|| dir.display().to_string())
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let found = runtime
        .block_on(store.lookup("registry.invalid", "app"))
        .unwrap()
        .expect("credentials for registry.invalid");
    let scopes = ["repository:app:pull".to_owned()];
    let fetch = |insecure_hosts: Vec<String>| {
        runtime.block_on(async {
            let transport = Transport::new(TransportOptions {
                insecure_hosts,
                extra_roots: Vec::new(),
                timeout: Duration::from_secs(5),
                verbose: false,
            })
            .unwrap();
            fetch_token(
                &transport,
                "http://example.invalid/token",
                Some("registry"),
                &scopes,
                Some(&found),
            )
            .await
        })
    };

    let refused = fetch(Vec::new());
    assert_eq!(
        refused,
        Err(Failure::InsecureCredentials {
            host: "example.invalid".into()
        })
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "refusing to send credentials over plain HTTP to example.invalid: use HTTPS, or mark the registry with --insecure-registry example.invalid if you accept that"
    );
    // Marked insecure, the request is attempted (and fails to resolve).
    let attempted = fetch(vec!["example.invalid".into()]);
    assert!(
        matches!(&attempted, Err(Failure::Network { url, .. }) if url == "http://example.invalid/token"),
        "{attempted:?}"
    );
}

#[test]
fn verbose_runs_never_print_a_password_or_token() {
    let password = "Very-Secret-pw-31";
    let token_reg = Registry::start(RegistryConfig::token(TokenServerConfig::with_credentials(
        "kim", password,
    )));
    let basic_reg = Registry::start(RegistryConfig::htpasswd("kim", password));
    let images = [
        token_reg.push_oci_image("app", "1", 1),
        basic_reg.push_oci_index("app", "1", 2),
    ];
    let mut right = CredEnv::new();
    let mut wrong = CredEnv::new();
    for reg in [&token_reg, &basic_reg] {
        right.docker_auth(reg.host(), "kim", password);
        wrong.docker_auth(reg.host(), "kim", "Wrong-Secret-pw-13");
    }
    let encoded = |pw: &str| base64::engine::general_purpose::STANDARD.encode(format!("kim:{pw}"));
    let secrets = [
        password.to_owned(),
        encoded(password),
        "Wrong-Secret-pw-13".to_owned(),
        encoded("Wrong-Secret-pw-13"),
        "eyJ".to_owned(),
    ];
    let refs: Vec<&str> = images.iter().map(|i| i.reference.as_str()).collect();
    let query = json!({ "a": refs[0], "b": refs[1] }).to_string();

    for (creds, code) in [(&right, 0), (&wrong, 3)] {
        let runs = [
            resolve(&["-v", refs[0], refs[1]], Some(creds)),
            resolve(
                &["-v", "--platform", "linux/arm64", refs[0], refs[1]],
                Some(creds),
            ),
            external(&["-v"], &query, Some(creds)),
        ];
        for out in &runs {
            assert_eq!(out.code, code, "{}", out.stderr);
            assert!(
                out.stderr.contains(" -> "),
                "requests are logged: {}",
                out.stderr
            );
            for secret in &secrets {
                assert!(
                    !out.stdout.contains(secret.as_str()) && !out.stderr.contains(secret.as_str()),
                    "{secret} leaked:\n{}\n{}",
                    out.stdout,
                    out.stderr
                );
            }
        }
    }
}

#[test]
fn tokens_are_requested_with_pull_scope_only() {
    let reg = Registry::start(RegistryConfig::token(TokenServerConfig::with_credentials(
        "lee",
        "scope-pw-2",
    )));
    let a = reg.push_oci_index("team/a", "1", 1);
    let b = reg.push_oci_image("team/b", "1", 2);
    let mut creds = CredEnv::new();
    creds.docker_auth(reg.host(), "lee", "scope-pw-2");
    let tokens = reg.token_server().unwrap();
    tokens.clear_requests();

    let runs = [
        resolve(&[&a.reference], Some(&creds)),
        resolve(
            &["--platform", "linux/amd64", &a.reference, &b.reference],
            Some(&creds),
        ),
        external(
            &[],
            &json!({ "a": a.reference, "b": b.reference }).to_string(),
            Some(&creds),
        ),
        // Anonymous: the token server grants nothing, but is still only asked for pull.
        resolve(&[&b.reference], None),
    ];
    for (i, out) in runs.iter().enumerate() {
        assert_eq!(out.code, if i == 3 { 3 } else { 0 }, "{}", out.stderr);
    }
    let requests = tokens.requests();
    assert!(requests.len() >= 4, "{requests:?}");
    for request in &requests {
        assert!(!request.scopes.is_empty(), "{request:?}");
        for scope in &request.scopes {
            assert!(
                scope == "repository:team/a:pull" || scope == "repository:team/b:pull",
                "{scope} in {request:?}"
            );
        }
    }
}
