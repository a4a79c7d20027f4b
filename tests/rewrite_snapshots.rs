//! Every fixture under `tests/fixtures/terraform/`, rewritten in every mode against a
//! fixed fake registry. The snapshots are the specification: review them like code.
//!
//! The fake registry resolves every tag `NAME:TAG` to `sha256(<registry>/<repo>:<tag>)`
//! ([`MemorySource::derived`]); the stale pin in `pinned.tf` points at an older digest
//! the registry still has, the broken one at a digest it does not have.

use std::path::{Path, PathBuf};

use tf_pin::rewrite::{self, MemorySource, Mode, Options, Output};

const FIXTURES: &str = "tests/fixtures/terraform";
const OLD_API_DIGEST: &str =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn registry() -> MemorySource {
    MemorySource::derived().with_manifest("ghcr.io/acme/api", OLD_API_DIGEST)
}

fn run(options: &Options) -> (i32, String, String) {
    let registry = registry();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let code = rewrite::run(options, Some(&registry), &mut stdout, &mut stderr);
    (
        code,
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn section(doc: &mut String, title: &str, options: &Options, tmp: Option<&Path>) {
    let (code, stdout, stderr) = run(options);
    let mut text =
        format!("## {title}\nexit code: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}\n");
    if let Some(tmp) = tmp {
        text = text.replace(&tmp.display().to_string(), "[tmp]");
    }
    doc.push_str(&text);
}

fn options(path: PathBuf, mode: Mode, output: Output) -> Options {
    Options {
        paths: vec![path],
        mode,
        output,
        extra_attributes: vec!["container_image".to_owned()],
        ..Options::default()
    }
}

/// pin (verbose: every skip and unchanged reference with its reason), pin --strip-tag,
/// update, check, check --offline on the fixture itself (diffs, nothing written), then
/// unpin on a pinned copy.
fn all_modes(name: &str) -> String {
    let path = Path::new(FIXTURES).join(name);
    let mut doc = String::new();
    let verbose = Options {
        verbose: true,
        ..options(path.clone(), Mode::Pin, Output::Diff)
    };
    section(&mut doc, "pin --verbose (diff)", &verbose, None);
    let strip = Options {
        strip_tag: true,
        ..options(path.clone(), Mode::Pin, Output::Diff)
    };
    section(&mut doc, "pin --strip-tag (diff)", &strip, None);
    section(
        &mut doc,
        "update (diff)",
        &options(path.clone(), Mode::Update, Output::Diff),
        None,
    );
    let check = |offline| options(path.clone(), Mode::Check { offline }, Output::Write);
    section(&mut doc, "check", &check(false), None);
    section(&mut doc, "check --offline", &check(true), None);

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(name);
    std::fs::copy(&path, &copy).unwrap();
    let quiet_pin = Options {
        quiet: true,
        ..options(copy.clone(), Mode::Pin, Output::Write)
    };
    run(&quiet_pin);
    section(
        &mut doc,
        "unpin after pin (diff)",
        &options(copy, Mode::Unpin, Output::Diff),
        Some(dir.path()),
    );
    doc
}

macro_rules! fixture_snapshots {
    ($($test:ident => $file:literal,)*) => {$(
        #[test]
        fn $test() {
            insta::assert_snapshot!(stringify!($test), all_modes($file));
        }
    )*};
}

fixture_snapshots! {
    azure => "azure.tf",
    bom => "bom.tf",
    cloud_run => "cloud_run.tf",
    comments => "comments.tf",
    crlf => "crlf.tf",
    docker => "docker.tf",
    duplicate_keys => "duplicate_keys.tf",
    ecs => "ecs.tf",
    gce => "gce.tf",
    interpolations => "interpolations.tf",
    kubernetes_cron_job => "kubernetes_cron_job.tf",
    kubernetes_deployment => "kubernetes_deployment.tf",
    kubernetes_manifest => "kubernetes_manifest.tf",
    latin1 => "latin1.tf",
    locals => "locals.tf",
    modules => "modules.tf",
    parse_error => "parse_error.tf",
    pinned => "pinned.tf",
    prod_tfvars => "prod.tfvars",
    tabs => "tabs.tf",
    variables => "variables.tf",
    yamlencode => "yamlencode.tf",
}

/// The whole corpus at once: cross-file pointers (`var.app_image` → its default) and
/// VM-fed variables only show up when the files are scanned together.
#[test]
fn whole_corpus_json_report() {
    let options = Options {
        format: rewrite::Format::Json,
        ..options(PathBuf::from(FIXTURES), Mode::Pin, Output::DryRun)
    };
    let (code, stdout, stderr) = run(&options);
    assert_eq!(code, 2, "parse errors in the corpus make the run exit 2");
    assert_eq!(stderr, "");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    insta::assert_json_snapshot!("whole_corpus_json_report", report);
}

#[test]
fn whole_corpus_text_summary() {
    let options = options(
        PathBuf::from(FIXTURES),
        Mode::Check { offline: true },
        Output::Write,
    );
    let (code, stdout, stderr) = run(&options);
    insta::assert_snapshot!(
        "whole_corpus_check_offline",
        format!("exit code: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}")
    );
}
