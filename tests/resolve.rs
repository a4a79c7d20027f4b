//! User story: "I run `tf-pin resolve REF…` and get the digest `docker pull` would get",
//! against real `docker-registry` servers (plain, htpasswd, bearer token, TLS), with
//! credentials from docker config.json, a credential helper and podman's auth.json.

mod support;

use support::cli::{Run, run};
use support::*;

fn resolve(args: &[&str], creds: Option<&CredEnv>) -> Run {
    let mut all = vec!["resolve"];
    all.extend_from_slice(args);
    run(&all, None, creds)
}

/// The run succeeded and printed exactly the image's pinned reference.
#[track_caller]
fn assert_pins(out: &Run, image: &Pushed) {
    assert_eq!(
        (out.code, out.stdout.trim()),
        (0, image.pinned().as_str()),
        "{}",
        out.stderr
    );
}

#[test]
fn resolves_every_manifest_kind_to_the_digest_of_the_exact_pushed_bytes() {
    let reg = Registry::start(RegistryConfig::plain());
    let pushed = [
        reg.push_oci_image("app", "oci", 1),
        reg.push_docker_image("team/app", "docker", 1),
        reg.push_oci_index("app", "index", 1),
        reg.push_docker_manifest_list("app", "list", 1),
    ];
    let refs: Vec<&str> = pushed.iter().map(|p| p.reference.as_str()).collect();
    let out = resolve(&refs, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected: Vec<String> = pushed.iter().map(Pushed::pinned).collect();
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), expected);
    assert_eq!(out.stderr, "");
}

#[test]
fn json_output_carries_every_field() {
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_docker_manifest_list("team/app", "1.0", 3);
    let out = resolve(&["--format", "json", &image.reference], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "input": image.reference,
            "pinned": image.pinned(),
            "registry": reg.host(),
            "repository": "team/app",
            "tag": "1.0",
            "digest": image.digest,
            "media_type": image.media_type,
        }])
    );
}

#[test]
fn a_moved_tag_resolves_to_its_new_digest_even_when_the_input_is_pinned() {
    let reg = Registry::start(RegistryConfig::plain());
    let first = reg.push_oci_image("app", "latest", 1);
    let second = reg.push_oci_image("app", "latest", 2);
    assert_ne!(first.digest, second.digest);
    let untagged = format!("{}/app", reg.host());
    let out = resolve(&[&first.pinned(), &untagged, "--strip-tag"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected = format!("{untagged}@{}", second.digest);
    assert_eq!(out.stdout, format!("{expected}\n{expected}\n"));
}

#[test]
fn platform_selects_the_child_manifest_and_skips_attestations() {
    let reg = Registry::start(RegistryConfig::plain());
    let index = reg.push_oci_index("app", "multi", 5);
    let list = reg.push_docker_manifest_list("app", "list", 5);
    for (platform, child) in [
        ("linux/arm64", "linux/arm64/v8"),
        ("linux/amd64", "linux/amd64"),
    ] {
        let out = resolve(
            &["--platform", platform, &index.reference, &list.reference],
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let expected = format!(
            "{}@{}\n{}@{}\n",
            index.reference,
            index.child(child).digest,
            list.reference,
            list.child(child).digest
        );
        assert_eq!(out.stdout, expected, "{platform}");
    }
    let out = resolve(
        &[
            "--platform",
            "linux/arm64",
            "--format",
            "json",
            &index.reference,
        ],
        None,
    );
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json[0]["platform"], "linux/arm64/v8");

    let out = resolve(&["--platform", "linux/s390x", &index.reference], None);
    assert_eq!(out.code, 3);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("no linux/s390x image; available platforms: linux/amd64, linux/arm64/v8"),
        "{}",
        out.stderr
    );
}

#[test]
fn every_failure_is_listed_with_input_errors_winning_the_exit_code() {
    let reg = Registry::start(RegistryConfig::plain());
    let good = reg.push_oci_image("app", "1", 1);
    let missing = format!("{}/app:nope", reg.host());
    let out = resolve(
        &[&good.reference, "Bad/Name", &missing, "app@sha256:short"],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout, "", "all or nothing");
    for needle in [
        // Like Docker, an uppercase first component is taken for a registry host.
        "\"Bad/Name\": repository name \"Name\" must be lowercase",
        "\"app@sha256:short\": digest \"sha256:short\" must be sha256: followed by exactly 64",
        &format!(
            "{missing}: {} has no manifest for tag \"nope\" in repository app (HTTP 404)",
            reg.host()
        ),
    ] {
        assert!(
            out.stderr.contains(needle),
            "missing {needle:?} in\n{}",
            out.stderr
        );
    }
    let out = resolve(&[&missing], None);
    assert_eq!(out.code, 3);
}

#[test]
fn basic_auth_registry_with_docker_config_and_podman_auth_file() {
    let reg = Registry::start(RegistryConfig::htpasswd("alice", "s3cret-pw"));
    let image = reg.push_oci_image("private/app", "1", 1);

    let anonymous = resolve(&[&image.reference], None);
    anonymous.assert_failed(3, &["refused anonymous access"]);
    assert!(
        anonymous
            .stderr
            .contains(&format!("docker login {}", reg.host())),
        "{}",
        anonymous.stderr
    );

    let mut docker = CredEnv::new();
    docker.docker_auth(reg.host(), "alice", "s3cret-pw");
    assert_pins(&resolve(&[&image.reference], Some(&docker)), &image);

    let mut podman = CredEnv::new();
    podman.podman_auth(reg.host(), "alice", "s3cret-pw");
    assert_pins(&resolve(&[&image.reference], Some(&podman)), &image);

    let mut wrong = CredEnv::new();
    wrong.docker_auth(reg.host(), "alice", "wrong-pw");
    let out = resolve(&[&image.reference], Some(&wrong));
    assert_eq!(out.code, 3);
    let config = wrong.docker_config_path();
    assert!(out.stderr.contains("(HTTP 401)"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&*config.to_string_lossy()),
        "names the source: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrong-pw"));
}

#[test]
fn bearer_token_registry_with_a_credential_helper_costs_one_token_for_many_repositories() {
    let reg = Registry::start(RegistryConfig::token(TokenServerConfig::with_credentials(
        "bob", "t0ken-pw",
    )));
    let images: Vec<Pushed> = (0..5)
        .map(|i| reg.push_oci_image(&format!("team/app{i}"), "1", i))
        .collect();
    let mut creds = CredEnv::new();
    creds
        .helper(
            "test",
            HelperBehavior::Serve(vec![(
                reg.host().to_owned(),
                "bob".into(),
                "t0ken-pw".into(),
            )]),
        )
        .docker_cred_helper(reg.host(), "test");
    let tokens = reg.token_server().unwrap();
    tokens.clear_requests();

    let refs: Vec<&str> = images.iter().map(|p| p.reference.as_str()).collect();
    let out = resolve(&refs, Some(&creds));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected: Vec<String> = images.iter().map(Pushed::pinned).collect();
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), expected);

    let requests = tokens.requests();
    assert_eq!(
        requests.len(),
        1,
        "one token request for five repositories: {requests:?}"
    );
    assert_eq!(requests[0].user.as_deref(), Some("bob"));
    let mut scopes = requests[0].scopes.clone();
    scopes.sort();
    let wanted: Vec<String> = (0..5)
        .map(|i| format!("repository:team/app{i}:pull"))
        .collect();
    assert_eq!(scopes, wanted, "pull scope only");
    assert_eq!(
        creds.helper_calls("test").len(),
        1,
        "the helper runs once per registry"
    );
}

#[test]
fn bearer_token_registry_rejects_anonymous_and_wrong_credentials_distinctly() {
    let reg = Registry::start(RegistryConfig::token(TokenServerConfig::with_credentials(
        "bob", "t0ken-pw",
    )));
    let image = reg.push_oci_image("team/app", "1", 1);
    let anonymous = resolve(&[&image.reference], None);
    anonymous.assert_failed(3, &["refused anonymous access"]);

    let mut wrong = CredEnv::new();
    wrong.docker_auth(reg.host(), "bob", "not-the-pw");
    let out = resolve(&[&image.reference], Some(&wrong));
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("refused the credentials from"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("docker login"), "{}", out.stderr);
    assert!(!out.stderr.contains("not-the-pw"));
}

#[test]
fn tls_registry_needs_its_ca() {
    let reg = Registry::start(RegistryConfig::plain().with_tls());
    let image = reg.push_oci_index("app", "1", 1);
    let ca = reg.ca_file().unwrap().to_str().unwrap().to_owned();
    assert_pins(
        &resolve(&["--ca-file", &ca, &image.reference], None),
        &image,
    );

    let out = resolve(&[&image.reference], None);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(out.stderr.contains("--ca-file"), "{}", out.stderr);

    let out = resolve(
        &["--ca-file", "/nonexistent/ca.pem", &image.reference],
        None,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("cannot use --ca-file /nonexistent/ca.pem"),
        "{}",
        out.stderr
    );
}

#[test]
fn verbose_logs_requests_but_never_a_password_or_token() {
    let reg = Registry::start(RegistryConfig::token(TokenServerConfig::with_credentials(
        "carol",
        "Pa55-w0rd-xyz",
    )));
    let image = reg.push_oci_image("app", "1", 1);
    let mut creds = CredEnv::new();
    creds.docker_auth(reg.host(), "carol", "Pa55-w0rd-xyz");
    let out = resolve(&["-v", &image.reference], Some(&creds));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "HEAD http://{}/v2/app/manifests/1 -> 200",
            reg.host()
        )),
        "{}",
        out.stderr
    );
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode("carol:Pa55-w0rd-xyz")
    };
    for secret in ["Pa55-w0rd-xyz", encoded.as_str(), "eyJ"] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{secret} leaked:\n{}",
            out.stderr
        );
    }
}

#[test]
fn agrees_with_skopeo() {
    if !skopeo_available() {
        return;
    }
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_docker_manifest_list("app", "1", 9);
    let raw = skopeo_inspect_raw(&image.reference, &[]).unwrap();
    let out = resolve(&["--strip-tag", &image.reference], None);
    assert_eq!(
        out.stdout.trim(),
        format!("{}/app@{}", reg.host(), sha256_digest(&raw))
    );
}
