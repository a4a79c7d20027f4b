//! User story: "my `data \"external\"` block runs `tf-pin external` on every plan and gets
//! pinned references". Each test runs the built binary exactly as the hashicorp/external
//! provider does: the query as a JSON object on stdin, the result read from stdout, the
//! exit code and stderr checked, against real `docker-registry` servers.
//!
//! No end-to-end `terraform plan` test: none of the reachable package registries (crates.io,
//! PyPI, Debian, npm) ships a current Terraform or OpenTofu binary together with the
//! `hashicorp/external` provider, and the provider cannot be downloaded here at run time.
//! The protocol is small and fully specified (stdin object of strings → stdout object of
//! strings, stderr + non-zero exit on failure), and these tests hold the binary to it.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::cli::{Run, run};
use support::*;

fn external(args: &[&str], query: &str, creds: Option<&CredEnv>) -> Run {
    let mut all = vec!["external"];
    all.extend_from_slice(args);
    run(&all, Some(query.as_bytes()), creds)
}

fn result_of(run: &Run) -> Value {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(
        run.stderr, "",
        "nothing on stderr on success (no progress, no colour)"
    );
    serde_json::from_str(&run.stdout).expect("stdout is one JSON object")
}

/// A failed run prints nothing on stdout and names `needle` on stderr.
fn assert_fails(run: &Run, code: i32, needle: &str) {
    run.assert_failed(code, &[needle]);
}

#[test]
fn maps_each_key_to_its_pinned_reference_and_resolves_duplicates_once() {
    let reg = Registry::start(RegistryConfig::plain());
    let app = reg.push_oci_image("team/app", "latest", 1);
    let worker = reg.push_docker_manifest_list("team/worker", "1.4", 2);
    let query = json!({
        "app": app.reference,
        "worker": worker.reference,
        "app_again": app.reference,
        "app_untagged": format!("{}/team/app", reg.host()),
    });
    let before = reg.requests().len();
    let result = result_of(&external(&[], &query.to_string(), None));
    assert_eq!(
        result,
        json!({
            "app": app.pinned(),
            "worker": worker.pinned(),
            "app_again": app.pinned(),
            "app_untagged": app.pinned(),
        })
    );
    let heads: Vec<String> = reg.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("HEAD"))
        .cloned()
        .collect();
    assert_eq!(heads.len(), 2, "one HEAD per distinct reference: {heads:?}");
}

#[test]
fn digest_only_strip_tag_and_platform_options() {
    let reg = Registry::start(RegistryConfig::plain());
    let index = reg.push_oci_index("app", "1", 4);
    let query = json!({ "app": index.reference }).to_string();

    let result = result_of(&external(&["--digest-only"], &query, None));
    assert_eq!(result, json!({ "app": index.digest }));

    let result = result_of(&external(&["--strip-tag"], &query, None));
    assert_eq!(
        result,
        json!({ "app": format!("{}/app@{}", reg.host(), index.digest) })
    );

    let result = result_of(&external(&["--platform", "linux/arm64"], &query, None));
    assert_eq!(
        result,
        json!({ "app": format!("{}@{}", index.reference, index.child("linux/arm64/v8").digest) })
    );
}

#[test]
fn empty_query_gives_an_empty_result() {
    let result = result_of(&external(&[], "{}", None));
    assert_eq!(result, json!({}));
}

#[test]
fn bad_queries_fail_the_data_source_naming_the_key() {
    let table: &[(&str, &str)] = &[
        ("", "got nothing"),
        ("{\"app\": ", "not valid JSON"),
        (
            "[\"nginx\"]",
            "must be a JSON object mapping names to image references, got an array",
        ),
        (
            "{\"app\": 5}",
            "query key \"app\": the value must be a string image reference, got a number",
        ),
        (
            "{\"app\": \"Nginx:1\"}",
            "query key \"app\": invalid image reference \"Nginx:1\"",
        ),
        (
            "{\"app\": \"app@sha256:abc\"}",
            "query key \"app\": invalid image reference",
        ),
    ];
    for (query, needle) in table {
        let run = external(&[], query, None);
        assert_fails(&run, 2, needle);
    }
}

#[test]
fn registry_errors_fail_the_whole_data_source() {
    let reg = Registry::start(RegistryConfig::plain());
    let app = reg.push_oci_image("app", "1", 1);
    let query = json!({ "app": app.reference, "ghost": format!("{}/ghost:1", reg.host()) });
    let run = external(&[], &query.to_string(), None);
    assert_fails(
        &run,
        3,
        &format!(
            "query key \"ghost\": {}/ghost:1: {} has no manifest",
            reg.host(),
            reg.host()
        ),
    );
    assert!(
        !run.stderr.contains("\"app\""),
        "only failing keys are reported: {}",
        run.stderr
    );
}

#[test]
fn auth_protected_registry_with_credentials_from_docker_config() {
    let reg = Registry::start(RegistryConfig::htpasswd("dave", "hunter2-long"));
    let app = reg.push_oci_image("private/app", "2", 1);
    let query = json!({ "app": app.reference }).to_string();

    let run = external(&[], &query, None);
    assert_fails(&run, 3, "query key \"app\"");
    assert!(run.stderr.contains("docker login"), "{}", run.stderr);

    let mut creds = CredEnv::new();
    creds.docker_auth(reg.host(), "dave", "hunter2-long");
    let result = result_of(&external(&[], &query, Some(&creds)));
    assert_eq!(result, json!({ "app": app.pinned() }));
}

#[test]
fn a_slow_registry_fails_within_the_timeout_instead_of_hanging_the_plan() {
    let reg = Registry::start(RegistryConfig::plain());
    reg.push_oci_image("app", "1", 1);
    let proxy = FaultProxy::in_front_of(&reg);
    proxy.add(Rule::new(Fault::Delay(Duration::from_secs(8))).path("/manifests/"));
    let query = json!({ "app": proxy.image("app", "1") }).to_string();
    let run = external(&["--timeout", "1"], &query, None);
    assert_fails(&run, 3, "did not answer within 1s");
    assert!(
        run.elapsed < Duration::from_secs(6),
        "gave up after {:?}",
        run.elapsed
    );
}
