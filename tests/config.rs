//! User story: "I commit a `.tf-pin.toml` next to my Terraform code, and every tf-pin run
//! in that tree (mine, CI's, pre-commit's) uses it; a flag still wins for one run, and a
//! typo in the file is an error, not a silently ignored setting."

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::cli::{Run, run_in};
use support::*;

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    path
}

fn tf_pin_in(dir: &Path, args: &[&str]) -> Run {
    run_in(Some(dir), args, None, None)
}

fn container(name: &str, attribute: &str, image: &str) -> String {
    format!("resource \"docker_container\" \"{name}\" {{\n  {attribute} = \"{image}\"\n}}\n")
}

#[test]
fn found_in_a_parent_directory_and_flags_win_over_it() {
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_oci_index("app", "1", 5);
    let arm = image.child("linux/arm64/v8").digest.clone();
    let amd = image.child("linux/amd64").digest.clone();
    let root = tempfile::tempdir().unwrap();
    write(
        root.path(),
        ".tf-pin.toml",
        "strip_tag = true\nplatform = \"linux/arm64\"\njobs = 2\ntimeout = 30\n",
    );
    let deep = root.path().join("envs/prod");
    fs::create_dir_all(&deep).unwrap();
    let name = format!("{}/app", reg.host());

    let from_file = tf_pin_in(&deep, &["resolve", &image.reference]);
    assert_eq!(from_file.code, 0, "{}", from_file.stderr);
    assert_eq!(from_file.stdout, format!("{name}@{arm}\n"));
    assert_eq!(from_file.stderr, "");

    let flags = tf_pin_in(
        &deep,
        &[
            "resolve",
            "--no-strip-tag",
            "--platform",
            "linux/amd64",
            &image.reference,
        ],
    );
    assert_eq!(flags.code, 0, "{}", flags.stderr);
    assert_eq!(flags.stdout, format!("{}@{amd}\n", image.reference));

    let without = tf_pin_in(&deep, &["--no-config", "resolve", &image.reference]);
    assert_eq!(without.code, 0, "{}", without.stderr);
    assert_eq!(without.stdout, format!("{}\n", image.pinned()));

    // --config names another file: the discovered one is not read at all.
    let other = write(root.path(), "other/ci.toml", "platform = \"linux/amd64\"\n");
    let explicit = tf_pin_in(
        &deep,
        &[
            "resolve",
            "--config",
            other.to_str().unwrap(),
            &image.reference,
        ],
    );
    assert_eq!(explicit.code, 0, "{}", explicit.stderr);
    assert_eq!(explicit.stdout, format!("{}@{amd}\n", image.reference));

    // external reads it too (same settings as resolve), flags still winning.
    let query = br#"{"app": "IMAGE"}"#;
    let query = String::from_utf8_lossy(query).replace("IMAGE", &image.reference);
    let external = run_in(Some(&deep), &["external"], Some(query.as_bytes()), None);
    assert_eq!(external.code, 0, "{}", external.stderr);
    let answer: serde_json::Value = serde_json::from_str(&external.stdout).unwrap();
    assert_eq!(answer["app"], format!("{name}@{arm}"));
}

#[test]
fn registry_map_from_the_file_and_a_flag_for_the_same_mirror_wins() {
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_oci_image("team/app", "2", 9);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".tf-pin.toml",
        &format!(
            "registry_map = [\"mirror.invalid:5000={}\"]\ninsecure_registries = [\"mirror.invalid:5000\"]\n",
            reg.host()
        ),
    );
    let mirrored = "mirror.invalid:5000/team/app:2";
    let out = tf_pin_in(dir.path(), &["resolve", mirrored]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{mirrored}@{}\n", image.digest));

    let unreachable = support::free_addr();
    let map = format!("mirror.invalid:5000={unreachable}");
    let out = tf_pin_in(
        dir.path(),
        &[
            "resolve",
            "--registry-map",
            &map,
            "--timeout",
            "5",
            mirrored,
        ],
    );
    assert_eq!(out.code, 3, "the flag's upstream is asked: {}", out.stderr);
    assert!(out.stderr.contains(&unreachable), "{}", out.stderr);
}

#[test]
fn rewrite_pins_in_the_files_pin_form_with_its_attributes() {
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_oci_image("app", "3", 2);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".tf-pin.toml",
        "strip_tag = true\nattributes = [\"container_image\"]\n",
    );
    let tf = write(
        dir.path(),
        "main.tf",
        &container("a", "container_image", &image.reference),
    );
    let out = tf_pin_in(dir.path(), &["rewrite", "-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let name = format!("{}/app", reg.host());
    assert_eq!(
        fs::read_to_string(&tf).unwrap(),
        container("a", "container_image", &format!("{name}@{}", image.digest))
    );
}

#[test]
fn ignore_patterns_skip_references_and_files_in_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".tf-pin.toml",
        "attributes = [\"container_image\"]\n\n[ignore]\nreferences = [\"registry.internal/*\", \"*:dev\"]\npaths = [\"legacy\", \"envs/*/scratch.tf\"]\n",
    );
    let main = [
        container("a", "image", "registry.internal/team/app:1.0"),
        container("b", "image", "ghcr.io/acme/tool:dev"),
        container("c", "container_image", "nginx:1.27"),
    ]
    .concat();
    write(dir.path(), "main.tf", &main);
    let unpinned = container("x", "image", "redis:7");
    write(dir.path(), "legacy/old.tf", &unpinned);
    write(dir.path(), "modules/legacy/old.tf", &unpinned);
    write(dir.path(), "envs/prod/scratch.tf", &unpinned);
    write(
        dir.path(),
        "envs/prod/main.tf",
        &container("p", "image", "redis:7"),
    );

    let out = tf_pin_in(dir.path(), &["rewrite", "--check", "--offline"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "envs/prod/main.tf:2:11: redis:7: not pinned to a digest; run `tf-pin rewrite` to pin it\n\
         main.tf:8:21: nginx:1.27: not pinned to a digest; run `tf-pin rewrite` to pin it\n"
    );

    let verbose = tf_pin_in(dir.path(), &["rewrite", "--check", "--offline", "-v"]);
    let config = dir.path().join(".tf-pin.toml");
    for expected in [
        format!(
            "main.tf:2:11: skipped registry.internal/team/app:1.0: ignored by pattern \"registry.internal/*\" in {}",
            config.display()
        ),
        format!(
            "main.tf:5:11: skipped ghcr.io/acme/tool:dev: ignored by pattern \"*:dev\" in {}",
            config.display()
        ),
        format!(
            "note: legacy/old.tf: ignored by pattern \"legacy\" in {}",
            config.display()
        ),
        "note: envs/prod/scratch.tf: ignored by pattern \"envs/*/scratch.tf\"".to_owned(),
        "note: modules/legacy/old.tf: ignored by pattern \"legacy\"".to_owned(),
    ] {
        assert!(
            verbose.stderr.contains(&expected),
            "{expected}\n{}",
            verbose.stderr
        );
    }

    // Files named on the command line (as pre-commit passes them) are ignored too.
    let named = tf_pin_in(
        dir.path(),
        &[
            "rewrite",
            "--check",
            "--offline",
            "legacy/old.tf",
            "main.tf",
        ],
    );
    assert_eq!(named.code, 1, "{}", named.stderr);
    assert!(!named.stdout.contains("legacy"), "{}", named.stdout);

    // JSON reports carry the reason.
    let json = tf_pin_in(
        dir.path(),
        &["rewrite", "--check", "--offline", "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let skipped: Vec<&serde_json::Value> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["action"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 2, "{report:#}");

    // Without the file everything is checked.
    let all = tf_pin_in(
        dir.path(),
        &["--no-config", "rewrite", "--check", "--offline"],
    );
    assert_eq!(all.code, 1);
    assert_eq!(all.stdout.lines().count(), 6, "{}", all.stdout);
}

#[test]
fn unknown_keys_are_an_error_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), ".tf-pin.toml", "jobs = 4\nstrip-tag = true\n");
    write(dir.path(), "main.tf", &container("a", "image", "nginx:1"));
    for args in [
        &["resolve", "nginx:1"][..],
        &["rewrite", "--check", "--offline"],
        &["external"],
        &["mirror-check", "--mirror", "http://127.0.0.1:1", "nginx:1"],
    ] {
        let out = tf_pin_in(dir.path(), args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert_eq!(
            out.stderr,
            format!(
                "tf-pin: error: invalid config file {}: line 2, column 1: unknown key `strip-tag`, expected one of `attributes`, `strip_tag`, `platform`, `insecure_registries`, `jobs`, `timeout`, `ca_files`, `registry_map`, `ignore`\n",
                config.display()
            ),
            "{args:?}"
        );
    }
    // Nested tables too.
    write(dir.path(), ".tf-pin.toml", "[ignore]\nreference = []\n");
    let out = tf_pin_in(dir.path(), &["rewrite", "--check", "--offline"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown key `reference`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(".tf-pin.toml: line 2"),
        "{}",
        out.stderr
    );
    // --no-config gets past a broken file.
    let out = tf_pin_in(
        dir.path(),
        &["--no-config", "rewrite", "--check", "--offline"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
}

#[test]
fn bad_values_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "main.tf", &container("a", "image", "nginx:1"));
    for (text, expected) in [
        ("platform = \"linux\"", "platform:"),
        ("jobs = 0", "jobs: 0 is not between 1 and 256"),
        ("timeout = -1", "timeout:"),
        ("strip_tag = \"yes\"", "invalid type"),
        (
            "[ignore]\nreferences = [\"a[\"]",
            "ignore.references: invalid glob \"a[\"",
        ),
        (
            "[ignore]\npaths = [\"/\"]",
            "ignore.paths: invalid glob \"/\"",
        ),
        ("registry_map = [\"x\"]", "registry_map:"),
        ("jobs = ", "line 1"),
    ] {
        let config = write(dir.path(), ".tf-pin.toml", text);
        let out = tf_pin_in(dir.path(), &["rewrite", "--check", "--offline"]);
        assert_eq!(out.code, 2, "{text}: {}", out.stderr);
        let prefix = format!("tf-pin: error: invalid config file {}: ", config.display());
        assert!(out.stderr.starts_with(&prefix), "{text}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{text}: {}", out.stderr);
    }
    let out = tf_pin_in(
        dir.path(),
        &["resolve", "--config", "missing.toml", "nginx:1"],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("tf-pin: error: cannot read the config file missing.toml: "),
        "{}",
        out.stderr
    );
}

#[test]
fn generators_never_read_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".tf-pin.toml", "this is not toml");
    for args in [&["completions", "bash"][..], &["man"]] {
        let out = tf_pin_in(dir.path(), args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn the_readme_example_is_a_valid_config_file() {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("```toml\n# .tf-pin.toml")
        .expect("README has a ```toml block starting with `# .tf-pin.toml`");
    let block = &readme[start + "```toml\n".len()..];
    let block = &block[..block.find("```").unwrap()];
    let config = tf_pin::config::Config::parse(block).unwrap();
    assert!(!config.ignore.references.is_empty());
    assert!(!config.ignore.paths.is_empty());
    // Every key the file accepts is documented in the example.
    for key in [
        "attributes",
        "strip_tag",
        "platform",
        "insecure_registries",
        "jobs",
        "timeout",
        "ca_files",
        "registry_map",
        "[ignore]",
        "references",
        "paths",
    ] {
        assert!(block.contains(key), "{key} missing from the README example");
    }
}
