//! The rewrite driver on real files: atomic writes, no writes on failure, file
//! discovery, leftovers, and the exit codes of every mode.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tf_pin::reference::Reference;
use tf_pin::rewrite::{
    self, DigestSource, Format, MemorySource, Mode, Options, Output, derived_digest,
};

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(options: &Options, source: Option<&dyn DigestSource>) -> Ran {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let code = rewrite::run(options, source, &mut stdout, &mut stderr);
    Ran {
        code,
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

fn options(paths: &[&Path], mode: Mode, output: Output) -> Options {
    Options {
        paths: paths.iter().map(|p| p.to_path_buf()).collect(),
        mode,
        output,
        ..Options::default()
    }
}

fn pin(paths: &[&Path]) -> Options {
    options(paths, Mode::Pin, Output::Write)
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, content).unwrap();
    path
}

fn digest_of(reference: &str) -> String {
    derived_digest(&Reference::parse(reference).unwrap()).to_string()
}

fn container(image: &str) -> String {
    format!("resource \"docker_container\" \"c\" {{\n  image = \"{image}\"\n}}\n")
}

fn old_mtime(path: &Path) -> SystemTime {
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
    old
}

fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tf-pin-"))
        .collect()
}

#[test]
fn pin_rewrites_changed_files_in_place_keeping_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "main.tf", &container("nginx:1.25"));
    fs::set_permissions(&main, fs::Permissions::from_mode(0o640)).unwrap();
    let other = write(dir.path(), "other.tf", "locals {\n  a = 1\n}\n");
    let other_mtime = old_mtime(&other);

    let ran = run(&pin(&[dir.path()]), Some(&MemorySource::derived()));

    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let pinned = format!("nginx:1.25@{}", digest_of("nginx:1.25"));
    assert_eq!(fs::read_to_string(&main).unwrap(), container(&pinned));
    assert_eq!(
        fs::metadata(&main).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert_eq!(
        mtime(&other),
        other_mtime,
        "unchanged files are not touched"
    );
    assert!(temp_files(dir.path()).is_empty());
    assert_eq!(
        ran.stdout,
        format!("{}:2:11: pinned nginx:1.25 -> {pinned}\n", main.display())
    );
    assert!(
        ran.stderr
            .ends_with("pinned 1 in 2 files (1 file rewritten)\n"),
        "{}",
        ran.stderr
    );
}

#[test]
fn crlf_bom_and_tabs_survive_a_write_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let original = "\u{feff}# ü\r\nresource \"docker_container\" \"c\" {\r\n\timage\t=\t\"redis:7\"\t# x \r\n}\r\n";
    let path = write(dir.path(), "w.tf", original);
    let ran = run(&pin(&[&path]), Some(&MemorySource::derived()));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let expected = original.replace("redis:7", &format!("redis:7@{}", digest_of("redis:7")));
    assert_eq!(fs::read(&path).unwrap(), expected.as_bytes());
}

#[test]
fn a_second_run_changes_nothing_and_touches_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "main.tf", &container("nginx"));
    let registry = MemorySource::derived();
    assert_eq!(run(&pin(&[dir.path()]), Some(&registry)).code, 0);
    let after_first = fs::read(&path).unwrap();
    let when = old_mtime(&path);

    let ran = run(&pin(&[dir.path()]), Some(&registry));

    assert_eq!(ran.code, 0);
    assert_eq!(ran.stdout, "");
    assert!(
        ran.stderr.contains("unchanged 1 in 1 file"),
        "{}",
        ran.stderr
    );
    assert_eq!(fs::read(&path).unwrap(), after_first);
    assert_eq!(mtime(&path), when);
}

#[test]
fn every_distinct_reference_is_resolved_once_in_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.tf", &container("nginx"));
    write(
        dir.path(),
        "b.tf",
        "locals {\n  x = [{ image = \"nginx:latest\" }, { image = \"docker.io/library/nginx:latest\" }, { image = \"redis:7\" }]\n}\n",
    );
    let registry = MemorySource::derived();
    let ran = run(&pin(&[dir.path()]), Some(&registry));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        registry.calls(),
        vec![vec![
            "docker.io/library/nginx:latest".to_owned(),
            "docker.io/library/redis:7".to_owned()
        ]]
    );
}

#[test]
fn a_failed_lookup_writes_nothing_and_lists_every_failure() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "a.tf", &container("nginx:1"));
    let bad = write(
        dir.path(),
        "b.tf",
        "locals {\n  x = { image = \"ghcr.io/acme/private:1\" }\n  y = { image = \"ghcr.io/acme/gone:2\" }\n}\n",
    );
    let before = (fs::read(&good).unwrap(), fs::read(&bad).unwrap());
    let registry = MemorySource::derived()
        .with_failure(
            "ghcr.io/acme/private:1",
            "unauthorized: authentication required",
        )
        .with_failure("ghcr.io/acme/gone:2", "manifest unknown");

    let ran = run(&pin(&[dir.path()]), Some(&registry));

    assert_eq!(ran.code, 3, "registry errors exit 3");
    assert_eq!(
        (fs::read(&good).unwrap(), fs::read(&bad).unwrap()),
        before,
        "nothing written"
    );
    assert_eq!(ran.stdout, "");
    let b = bad.display();
    assert!(ran.stderr.contains(&format!(
        "error: {b}:2:17: ghcr.io/acme/private:1: unauthorized: authentication required"
    )));
    assert!(ran.stderr.contains(&format!(
        "error: {b}:3:17: ghcr.io/acme/gone:2: manifest unknown"
    )));
    assert!(ran.stderr.contains("nothing was written"), "{}", ran.stderr);
    assert!(ran.stderr.contains("--keep-going"));
    assert!(temp_files(dir.path()).is_empty());

    // With keep-going, what resolved is written and the exit code stays 3.
    let keep_going = Options {
        keep_going: true,
        ..pin(&[dir.path()])
    };
    let ran = run(&keep_going, Some(&registry));
    assert_eq!(ran.code, 3);
    assert_ne!(fs::read(&good).unwrap(), before.0);
    assert_eq!(fs::read(&bad).unwrap(), before.1);
    assert!(ran.stderr.contains("failed 2"), "{}", ran.stderr);
}

#[test]
fn a_read_only_file_is_reported_and_left_intact() {
    let dir = tempfile::tempdir().unwrap();
    let locked = write(dir.path(), "locked.tf", &container("nginx:1"));
    let open = write(dir.path(), "open.tf", &container("redis:7"));
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o444)).unwrap();

    let ran = run(&pin(&[dir.path()]), Some(&MemorySource::derived()));

    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains(&format!(
            "error: {}: the file is read-only",
            locked.display()
        )),
        "{}",
        ran.stderr
    );
    assert_eq!(fs::read_to_string(&locked).unwrap(), container("nginx:1"));
    assert!(fs::read_to_string(&open).unwrap().contains("@sha256:"));
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn a_read_only_directory_is_reported_and_left_intact() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("ro");
    let file = write(&sub, "main.tf", &container("nginx:1"));
    fs::set_permissions(&sub, fs::Permissions::from_mode(0o555)).unwrap();

    let ran = run(&pin(&[dir.path()]), Some(&MemorySource::derived()));

    fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains(&format!(
            "error: {}: its directory is read-only",
            file.display()
        )),
        "{}",
        ran.stderr
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), container("nginx:1"));
    assert!(temp_files(&sub).is_empty());
}

#[test]
fn leftover_temp_files_are_removed_by_the_next_writing_run_only() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "main.tf", &container("nginx:1"));
    let leftover = write(dir.path(), ".tf-pin-Ab3dE6gH.tmp", "half-written");
    let lookalike = write(dir.path(), ".tf-pin-notes.txt", "mine");

    let dry = run(
        &options(&[dir.path()], Mode::Pin, Output::DryRun),
        Some(&MemorySource::derived()),
    );
    assert!(leftover.exists(), "dry runs never delete");
    assert!(dry.stderr.contains(&format!(
        "note: {}: temporary file left by an interrupted tf-pin run",
        leftover.display()
    )));

    let ran = run(&pin(&[dir.path()]), Some(&MemorySource::derived()));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(!leftover.exists());
    assert!(
        lookalike.exists(),
        "only the exact temp-file pattern is removed"
    );
    assert!(ran.stderr.contains(&format!(
        "note: {}: removed a temporary file left by an interrupted tf-pin run",
        leftover.display()
    )));
}

#[test]
fn a_missing_path_is_an_input_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "main.tf", &container("nginx:1"));
    let missing = dir.path().join("does-not-exist");
    let ran = run(&pin(&[&good, &missing]), Some(&MemorySource::derived()));
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains(&format!(
        "error: {}: no such file or directory",
        missing.display()
    )));
    assert_eq!(fs::read_to_string(&good).unwrap(), container("nginx:1"));
}

#[test]
fn an_empty_directory_is_fine_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ran = run(&pin(&[dir.path()]), None);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        ran.stderr,
        "no image references in 0 files (no .tf or .tfvars files found)\n"
    );
}

#[test]
fn discovery_skips_hidden_directories_and_files_terraform_ignores() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in [
        ".terraform/modules/m/main.tf",
        ".git/x.tf",
        ".hidden/x.tf",
        "sub/.x.tf",
        "sub/x.tf~",
        "sub/#x.tf#",
        "sub/notes.txt",
        "sub/vars.tfvars.json",
        "sub/main.tf.json",
    ] {
        write(root, name, &container("nginx:1"));
    }
    write(root, "z.tf", &container("redis:7"));
    write(root, "sub/b.tfvars", "image = \"busybox:1\"\n");
    write(root, "sub/a.tf", &container("alpine:3"));

    let json = Options {
        format: Format::Json,
        ..options(&[root], Mode::Check { offline: true }, Output::Write)
    };
    let ran = run(&json, None);
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let files: Vec<String> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["file"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = ["sub/a.tf", "sub/b.tfvars", "z.tf"]
        .iter()
        .map(|name| root.join(name).display().to_string())
        .collect();
    assert_eq!(
        files, expected,
        "sorted, hidden and non-Terraform files skipped"
    );
    assert_eq!(report["files_scanned"], 3);
    assert_eq!(report["exit_code"], 1);
}

#[test]
fn symlinks_inside_the_tree_are_edited_through_their_target_and_outside_ones_skipped() {
    let outside = tempfile::tempdir().unwrap();
    let external = write(outside.path(), "shared.tf", &container("nginx:1"));
    let dir = tempfile::tempdir().unwrap();
    let real = write(dir.path(), "real/main.tf", &container("redis:7"));
    symlink(&real, dir.path().join("link.tf")).unwrap();
    symlink(dir.path().join("real"), dir.path().join("linked_dir")).unwrap();
    symlink(&external, dir.path().join("external.tf")).unwrap();

    let ran = run(&pin(&[dir.path()]), Some(&MemorySource::derived()));

    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(fs::read_to_string(&real).unwrap().contains("@sha256:"));
    assert!(
        fs::symlink_metadata(dir.path().join("link.tf"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is still a link"
    );
    assert_eq!(fs::read_to_string(&external).unwrap(), container("nginx:1"));
    assert!(
        ran.stderr.contains("outside the scanned tree"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("linked_dir: symlink to the directory"));
    assert_eq!(
        ran.stdout.lines().count(),
        1,
        "the real file is edited once"
    );
}

#[test]
fn an_explicit_non_terraform_file_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let json = write(dir.path(), "main.tf.json", "{}");
    let ran = run(&pin(&[&json]), None);
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("not a .tf or .tfvars file"));
}

#[test]
fn a_parse_error_does_not_stop_the_other_files_but_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write(
        dir.path(),
        "broken.tf",
        "resource \"x\" \"y\" {\n  image = \n",
    );
    let good = write(dir.path(), "good.tf", &container("nginx:1"));
    let ran = run(&pin(&[dir.path()]), Some(&MemorySource::derived()));
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains(&format!("error: {}:", broken.display()))
    );
    assert!(ran.stderr.contains("HCL parse error"));
    assert!(fs::read_to_string(&good).unwrap().contains("@sha256:"));
    assert_eq!(
        fs::read_to_string(&broken).unwrap(),
        "resource \"x\" \"y\" {\n  image = \n"
    );
}

#[test]
fn check_exit_codes() {
    let fresh = format!("nginx:1@{}", digest_of("nginx:1"));
    let old = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let gone = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let registry = MemorySource::derived()
        .with_manifest("nginx", old)
        .with_failure("ghcr.io/acme/private:1", "unauthorized");
    let table: &[(&str, String, bool, i32, &str)] = &[
        ("pinned and fresh", fresh.clone(), false, 0, ""),
        (
            "unpinned",
            "nginx:1".to_owned(),
            false,
            1,
            "not pinned to a digest",
        ),
        (
            "stale",
            format!("nginx:1@{old}"),
            false,
            1,
            "stale: tag 1 now points to",
        ),
        (
            "missing",
            format!("nginx:1@{gone}"),
            false,
            1,
            "the registry has no manifest",
        ),
        (
            "registry error",
            format!("ghcr.io/acme/private:1@{old}"),
            false,
            3,
            "unauthorized",
        ),
        ("offline, pinned", format!("nginx:1@{gone}"), true, 0, ""),
        (
            "offline, unpinned",
            "nginx:1".to_owned(),
            true,
            1,
            "not pinned",
        ),
    ];
    for (name, image, offline, code, message) in table {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "main.tf", &container(image));
        let check = options(
            &[dir.path()],
            Mode::Check { offline: *offline },
            Output::Write,
        );
        let source: Option<&dyn DigestSource> = if *offline { None } else { Some(&registry) };
        let ran = run(&check, source);
        assert_eq!(ran.code, *code, "{name}: {}{}", ran.stdout, ran.stderr);
        assert!(
            ran.stdout.contains(message) || ran.stderr.contains(message),
            "{name}: {}{}",
            ran.stdout,
            ran.stderr
        );
        if *code == 1 {
            assert!(
                ran.stdout
                    .starts_with(&format!("{}:2:11: {image}: ", path.display())),
                "{name}: {}",
                ran.stdout
            );
        }
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            container(image),
            "{name}: check never writes"
        );
    }
}

#[test]
fn modes_that_need_a_registry_fail_without_one_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let pinned = format!("nginx:1@{}", digest_of("nginx:1"));
    let path = write(dir.path(), "main.tf", &container(&pinned));
    let ran = run(&pin(&[dir.path()]), None);
    assert_eq!(ran.code, 0, "nothing to resolve: {}", ran.stderr);
    let update = run(&options(&[dir.path()], Mode::Update, Output::Write), None);
    assert_eq!(update.code, 2);
    assert!(update.stderr.contains("no registry client was configured"));

    let unpin = run(&options(&[dir.path()], Mode::Unpin, Output::Write), None);
    assert_eq!(unpin.code, 0, "{}", unpin.stderr);
    assert_eq!(fs::read_to_string(&path).unwrap(), container("nginx:1"));
}

#[test]
fn unpin_leaves_digest_only_references_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let digest_only = format!("alpine@{}", digest_of("alpine"));
    let path = write(dir.path(), "main.tf", &container(&digest_only));
    let verbose = Options {
        verbose: true,
        ..options(&[dir.path()], Mode::Unpin, Output::Write)
    };
    let ran = run(&verbose, None);
    assert_eq!(ran.code, 0);
    assert_eq!(fs::read_to_string(&path).unwrap(), container(&digest_only));
    assert!(
        ran.stderr.contains("no tag to fall back to"),
        "{}",
        ran.stderr
    );
}

#[test]
fn diff_and_dry_run_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "main.tf", &container("nginx:1"));
    let registry = MemorySource::derived();

    let diff = run(&options(&[&path], Mode::Pin, Output::Diff), Some(&registry));
    assert_eq!(diff.code, 0);
    let name = path.display().to_string();
    let name = name.trim_start_matches('/');
    let pinned = format!("nginx:1@{}", digest_of("nginx:1"));
    assert_eq!(
        diff.stdout,
        format!(
            "--- a/{name}\n+++ b/{name}\n@@ -1,3 +1,3 @@\n resource \"docker_container\" \"c\" {{\n-  image = \"nginx:1\"\n+  image = \"{pinned}\"\n }}\n"
        )
    );

    let dry = run(
        &options(&[&path], Mode::Pin, Output::DryRun),
        Some(&registry),
    );
    assert_eq!(dry.code, 0);
    assert!(dry.stdout.contains("pinned nginx:1 -> "));
    assert!(
        dry.stderr
            .contains("dry run: 1 file would change, nothing written")
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), container("nginx:1"));
}

#[test]
fn json_reports_every_slot_with_its_action() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.tf",
        "resource \"docker_container\" \"c\" {\n  image = \"nginx:1\"\n}\nresource \"docker_container\" \"d\" {\n  image = var.image\n}\n",
    );
    let json = Options {
        format: Format::Json,
        ..options(&[dir.path()], Mode::Pin, Output::DryRun)
    };
    let ran = run(&json, Some(&MemorySource::derived()));
    assert_eq!(ran.code, 0);
    assert_eq!(ran.stderr, "");
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["action"], "pinned");
    assert_eq!(targets[0]["line"], 2);
    assert_eq!(targets[0]["column"], 11);
    assert_eq!(targets[0]["context"], "docker_container.c");
    assert_eq!(targets[0]["path"], "image");
    assert_eq!(targets[0]["before"], "nginx:1");
    assert_eq!(targets[1]["action"], "skipped");
    assert!(
        targets[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("uses var.image instead of a literal")
    );
    assert_eq!(report["counts"]["pinned"], 1);
    assert_eq!(
        report["summary"],
        "pinned 1, skipped 1 in 1 file (dry run: 1 file would change, nothing written)"
    );
}

#[test]
fn lifecycle_ignore_changes_warns_when_the_value_changes() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.tf",
        "resource \"docker_container\" \"c\" {\n  image = \"nginx:1\"\n  lifecycle {\n    ignore_changes = [image]\n  }\n}\n",
    );
    let ran = run(&pin(&[dir.path()]), Some(&MemorySource::derived()));
    assert_eq!(ran.code, 0);
    assert!(
        ran.stderr.contains("warning: ")
            && ran
                .stderr
                .contains("`image` is in lifecycle.ignore_changes")
            && ran.stderr.contains("will not roll out the new value"),
        "{}",
        ran.stderr
    );
}

#[test]
fn quiet_prints_only_errors_and_primary_output() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "main.tf", &container("nginx:1"));
    let quiet = Options {
        quiet: true,
        ..pin(&[dir.path()])
    };
    let ran = run(&quiet, Some(&MemorySource::derived()));
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (0, "", "")
    );
    let check = Options {
        quiet: true,
        ..options(&[dir.path()], Mode::Check { offline: true }, Output::Write)
    };
    let ran = run(&check, None);
    assert_eq!(ran.code, 0);
    assert_eq!(ran.stdout, "", "everything is pinned now");
}

#[test]
fn strip_tag_and_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "main.tf", &container("nginx:1"));
    let strip = Options {
        strip_tag: true,
        ..pin(&[dir.path()])
    };
    run(&strip, Some(&MemorySource::derived()));
    let first = digest_of("nginx:1");
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        container(&format!("nginx@{first}"))
    );

    // A tagged pin whose tag moved is updated; the tag is kept.
    write(
        dir.path(),
        "main.tf",
        &container(&format!("nginx:1@{first}")),
    );
    let moved = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
    let registry = MemorySource::new().with_tag("nginx:1", moved);
    let ran = run(
        &options(&[dir.path()], Mode::Update, Output::Write),
        Some(&registry),
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        container(&format!("nginx:1@{moved}"))
    );
    assert!(
        ran.stdout.contains(": updated nginx:1@sha256:"),
        "{}",
        ran.stdout
    );
}
