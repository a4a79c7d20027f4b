//! User story: "before `terraform apply` I run `tf-pin rewrite`; in CI `tf-pin rewrite
//! --check` stops a stale or unpinned image", end to end against real `docker-registry`
//! servers. The engine's byte-level behaviour is specified by the rewrite_* test files with
//! an in-memory digest table; these tests prove the same flows with the real client.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::cli::{Run, run};
use support::*;

/// A copy of `examples/terraform` whose registries are mapped onto `reg`.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    maps: Vec<String>,
}

impl Tree {
    fn examples(reg: &Registry) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("terraform");
        copy_dir(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/terraform")
                .as_path(),
            &root,
        );
        let maps = ["docker.io", "ghcr.io", "registry.example.com"]
            .iter()
            .flat_map(|from| {
                [
                    "--registry-map".to_owned(),
                    format!("{from}={}", reg.host()),
                ]
            })
            .collect();
        Tree {
            _dir: dir,
            root,
            maps,
        }
    }

    fn rewrite(&self, args: &[&str], creds: Option<&CredEnv>) -> Run {
        let mut all = vec!["rewrite"];
        all.extend_from_slice(args);
        all.extend(self.maps.iter().map(String::as_str));
        let root = self.root.to_str().unwrap().to_owned();
        all.push(&root);
        run(&all, None, creds)
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.root.join(file)).unwrap()
    }

    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        collect(&self.root, &mut files);
        files.sort();
        files
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            let bytes = fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
}

/// Pushes every image `examples/terraform` names; returns `acme/app:latest`.
fn push_example_images(reg: &Registry, seed: u64) -> Pushed {
    for (repo, tag) in [
        ("acme/app-migrations", "2.1"),
        ("team/report", "latest"),
        ("team/api", "2.0"),
        ("team/log-router", "latest"),
        ("team/proxy", "1.25"),
        ("acme/worker", "3.1"),
        ("team/web", "1.0.3"),
    ] {
        reg.push_oci_image(repo, tag, seed);
    }
    reg.push_docker_manifest_list("acme/app", "latest", seed)
}

#[test]
fn pin_check_repush_update_and_unpin_against_a_real_registry() {
    let reg = Registry::start(RegistryConfig::plain());
    let app = push_example_images(&reg, 1);
    let tree = Tree::examples(&reg);
    let original = tree.snapshot();

    let offline = tree.rewrite(&["--check", "--offline"], None);
    assert_eq!(offline.code, 1, "{}", offline.stderr);
    assert!(
        offline
            .stdout
            .contains("docker.io/acme/app:latest: not pinned"),
        "{}",
        offline.stdout
    );

    let pinned = tree.rewrite(&[], None);
    assert_eq!(pinned.code, 0, "{}", pinned.stderr);
    assert!(
        pinned.stderr.contains("pinned 10, skipped 5 in 7 files"),
        "{}",
        pinned.stderr
    );
    let kubernetes = tree.read("kubernetes.tf");
    assert!(
        kubernetes.contains(&format!(
            "image             = \"docker.io/acme/app:latest@{}\"",
            app.digest
        )),
        "{kubernetes}"
    );
    assert!(
        tree.read("cloud.tf")
            .contains("image = \"debian-cloud/debian-12\""),
        "VM image untouched"
    );

    let check = tree.rewrite(&["--check"], None);
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
    let again = tree.rewrite(&[], None);
    assert_eq!(again.code, 0);
    assert!(
        again.stderr.contains("unchanged 10"),
        "idempotent: {}",
        again.stderr
    );

    let moved = reg.push_docker_manifest_list("acme/app", "latest", 2);
    let stale = tree.rewrite(&["--check"], None);
    assert_eq!(stale.code, 1, "{}", stale.stderr);
    assert!(
        stale
            .stdout
            .contains(&format!("stale: tag latest now points to {}", moved.digest)),
        "{}",
        stale.stdout
    );
    assert!(
        stale.stdout.contains("kubernetes.tf:30:31"),
        "{}",
        stale.stdout
    );

    let updated = tree.rewrite(&["--update"], None);
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    assert!(tree.read("kubernetes.tf").contains(&moved.digest));
    assert_eq!(tree.rewrite(&["--check"], None).code, 0);

    let unpinned = tree.rewrite(&["--unpin"], None);
    assert_eq!(unpinned.code, 0, "{}", unpinned.stderr);
    // Byte for byte the original, except the untagged reference, which was pinned as :latest.
    let restored = tree.snapshot();
    for ((path, before), (_, after)) in original.iter().zip(&restored) {
        let before = String::from_utf8_lossy(before).replace(
            "\"registry.example.com/team/report\"",
            "\"registry.example.com/team/report:latest\"",
        );
        assert_eq!(before.as_bytes(), after.as_slice(), "{}", path.display());
    }
}

#[test]
fn a_failed_lookup_writes_nothing_unless_keep_going() {
    let reg = Registry::start(RegistryConfig::plain());
    push_example_images(&reg, 1);
    let tree = Tree::examples(&reg);
    // One image the example names is missing from the registry.
    reg.delete_manifest("team/api", &reg.push_oci_image("team/api", "2.0", 1).digest);
    let before = tree.snapshot();

    let failed = tree.rewrite(&[], None);
    assert_eq!(failed.code, 3, "{}", failed.stderr);
    assert!(
        failed.stderr.contains(&format!(
            "ecs.tf:7:19: registry.example.com/team/api:2.0: {} has no manifest for tag \"2.0\"",
            reg.host()
        )),
        "{}",
        failed.stderr
    );
    assert_eq!(tree.snapshot(), before, "no file written");

    let kept = tree.rewrite(&["--keep-going"], None);
    assert_eq!(kept.code, 3, "still non-zero: {}", kept.stderr);
    assert!(
        tree.read("ecs.tf")
            .contains("\"registry.example.com/team/api:2.0\"")
    );
    assert!(
        tree.read("kubernetes.tf")
            .contains("docker.io/acme/app:latest@sha256:")
    );
}

#[test]
fn check_reports_a_pinned_digest_the_registry_does_not_have() {
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_oci_image("app", "1", 1);
    let dir = tempfile::tempdir().unwrap();
    let bogus = format!("{}@sha256:{}", image.reference, "0".repeat(64));
    fs::write(dir.path().join("main.tf"), format!("image = \"{bogus}\"\n")).unwrap();
    let out = run(
        &["rewrite", "--check", dir.path().to_str().unwrap()],
        None,
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.contains("main.tf:1:9"), "{}", out.stdout);
    assert!(
        out.stdout.contains("has no manifest sha256:000"),
        "{}",
        out.stdout
    );
}

#[test]
fn rewrite_uses_credentials_for_a_token_registry() {
    let reg = Registry::start(RegistryConfig::token(TokenServerConfig::with_credentials(
        "erin",
        "s3cr3t-erin",
    )));
    let images: Vec<Pushed> = (0..3)
        .map(|i| reg.push_oci_image(&format!("svc{i}"), "1", i))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let body: String = images
        .iter()
        .map(|p| format!("image_{} = \"{}\"\n", p.repo, p.reference))
        .collect();
    let file = dir.path().join("images.auto.tfvars");
    fs::write(&file, &body).unwrap();

    let mut creds = CredEnv::new();
    creds.docker_auth(reg.host(), "erin", "s3cr3t-erin");
    let out = run(
        &["rewrite", "-v", dir.path().to_str().unwrap()],
        None,
        Some(&creds),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = fs::read_to_string(&file).unwrap();
    for image in &images {
        assert!(written.contains(&image.pinned()), "{written}");
    }
    assert!(!out.stderr.contains("s3cr3t-erin") && !out.stdout.contains("s3cr3t-erin"));
    assert_eq!(
        reg.token_server()
            .unwrap()
            .requests()
            .iter()
            .filter(|r| r.status == 200)
            .count(),
        1
    );
}

#[test]
fn warns_when_a_reference_names_a_known_mirror_without_a_registry_map() {
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_oci_image("app", "1", 1);
    let containerd = tempfile::tempdir().unwrap();
    let hosts = containerd.path().join("registry.example.com");
    fs::create_dir_all(&hosts).unwrap();
    fs::write(
        hosts.join("hosts.toml"),
        format!("server = \"https://registry.example.com\"\n[host.\"http://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n", reg.host()),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("main.tf"),
        format!("image = \"{}\"\n", image.reference),
    )
    .unwrap();

    let mut cmd = tf_pin();
    cmd.envs(CredEnv::new().envs())
        .env("TF_PIN_CONTAINERD_DIR", containerd.path())
        .args(["rewrite", "--dry-run", dir.path().to_str().unwrap()]);
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "pass --registry-map {}=registry.example.com",
            reg.host()
        )),
        "{stderr}"
    );
}
