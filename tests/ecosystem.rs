//! User story: "tf-pin fits the tools around it": shell completions and a man page that
//! match the flags, pre-commit hooks and CI recipes that run the right command, a progress
//! bar only where a person watches, and the packaging files a release needs.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::cli::{Run, run, run_command, run_in};
use support::*;

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn yaml(name: &str) -> serde_norway::Value {
    let text = fs::read_to_string(repo_file(name)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

fn available(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("note: {program} not found; skipping that check");
    }
    found
}

// ---------------------------------------------------------------------------------------
// Completions

#[test]
fn completions_generate_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell], None, None);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{shell}");
        for word in [
            "rewrite",
            "mirror-check",
            "offline",
            "strip-tag",
            "no-config",
        ] {
            assert!(out.stdout.contains(word), "{shell} script lacks {word}");
        }
    }
    let out = run(&["completions", "tcsh"], None, None);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("invalid value 'tcsh'"),
        "{}",
        out.stderr
    );
}

/// Runs bash's completion function for `words` (the last one being completed).
fn bash_complete(script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\n_tf__pin tf-pin '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words[cword],
        words[cword - 1],
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completion_completes_commands_flags_and_values() {
    if !available("bash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tf-pin.bash");
    let out = run(&["completions", "bash"], None, None);
    fs::write(&script, &out.stdout).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );

    assert_eq!(bash_complete(&script, &["tf-pin", "rew"]), ["rewrite"]);
    // Subcommand options (broken upstream for hyphenated binaries, clap-rs/clap#6421).
    assert_eq!(
        bash_complete(&script, &["tf-pin", "rewrite", "--che"]),
        ["--check"]
    );
    assert_eq!(
        bash_complete(&script, &["tf-pin", "mirror-check", "--hosts"]),
        ["--hosts-toml"]
    );
    assert_eq!(
        bash_complete(&script, &["tf-pin", "resolve", "--color", ""]),
        ["auto", "always", "never"]
    );
    let shells = bash_complete(&script, &["tf-pin", "completions", ""]);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(shells.iter().any(|s| s == shell), "{shells:?}");
    }
}

#[test]
fn zsh_and_fish_scripts_parse() {
    for (shell, check) in [("zsh", &["-n"][..]), ("fish", &["--no-execute"][..])] {
        if !available(shell) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join(format!("tf-pin.{shell}"));
        fs::write(&script, run(&["completions", shell], None, None).stdout).unwrap();
        let out = Command::new(shell)
            .args(check)
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if available("fish") {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("tf-pin.fish");
        fs::write(&script, run(&["completions", "fish"], None, None).stdout).unwrap();
        let out = Command::new("fish")
            .arg("-c")
            .arg(format!(
                "source '{}'; complete -C 'tf-pin rewrite --upd'",
                script.display()
            ))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("--update\t"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// Man page

#[test]
fn man_page_has_every_section_and_every_flag() {
    let out = run(&["man"], None, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let roff = out.stdout;
    assert!(
        roff.lines().any(|l| l.starts_with(".TH tf-pin 1 ")),
        "no .TH line"
    );
    assert!(roff.contains(&format!("tf-pin {}", env!("CARGO_PKG_VERSION"))));
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH DESCRIPTION",
        ".SH OPTIONS",
        ".SH COMMANDS",
        ".SH \"TF-PIN RESOLVE\"",
        ".SH \"TF-PIN EXTERNAL\"",
        ".SH \"TF-PIN REWRITE\"",
        ".SH \"TF-PIN MIRROR-CHECK\"",
        ".SH \"TF-PIN COMPLETIONS\"",
        ".SH CONFIGURATION",
        ".SH ENVIRONMENT",
        ".SH \"EXIT STATUS\"",
        ".SH EXAMPLES",
        ".SH \"SEE ALSO\"",
        ".SS OPTIONS",
    ] {
        assert!(roff.contains(section), "missing {section}");
    }
    for flag in [
        "\\-\\-offline",
        "\\-\\-digest\\-only",
        "\\-\\-hosts\\-toml",
        "\\-\\-registry\\-map",
        "\\-\\-no\\-strip\\-tag",
        "\\-\\-no\\-config",
    ] {
        assert!(roff.contains(flag), "missing {flag}");
    }
    assert!(
        !roff.contains("tf-pin-help"),
        "no page for the help command"
    );
}

#[test]
fn man_page_renders_without_warnings() {
    if !Path::new("/usr/bin/man").exists() {
        eprintln!("note: man not found; skipping the rendering check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("tf-pin.1");
    fs::write(&page, run(&["man"], None, None).stdout).unwrap();
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&page)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let warnings = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && text.is_empty() {
        // A man stub (some minimal images) renders nothing: the roff checks above suffice.
        eprintln!("note: man could not render ({warnings}); skipping");
        return;
    }
    assert_eq!(warnings, "", "groff warnings");
    for expected in [
        "TF-PIN REWRITE",
        "--check",
        "Write nothing; list unpinned and stale references",
        "CONFIGURATION",
        "[ignore]",
        "EXIT STATUS",
    ] {
        assert!(
            text.contains(expected),
            "rendered page lacks {expected}:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Version and packaging

#[test]
fn version_is_the_crate_version() {
    let expected = format!("tf-pin {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(run(&["--version"], None, None).stdout, expected);
    let sub = run(&["rewrite", "--version"], None, None);
    assert_eq!(
        sub.stdout,
        format!("tf-pin-rewrite {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn packaging_files_are_in_place() {
    let manifest: toml::Table =
        toml::from_str(&fs::read_to_string(repo_file("Cargo.toml")).unwrap()).unwrap();
    let package = manifest["package"].as_table().unwrap();
    assert_eq!(package["license"].as_str(), Some("MIT OR Apache-2.0"));
    for key in [
        "description",
        "readme",
        "keywords",
        "categories",
        "rust-version",
    ] {
        assert!(package.contains_key(key), "Cargo.toml lacks package.{key}");
    }
    let release = manifest["profile"]["release"].as_table().unwrap();
    assert_eq!(release["lto"].as_bool(), Some(true));
    assert_eq!(release["codegen-units"].as_integer(), Some(1));
    assert_eq!(release["strip"].as_bool(), Some(true));

    let mit = fs::read_to_string(repo_file("LICENSE-MIT")).unwrap();
    assert!(mit.contains("Permission is hereby granted, free of charge"));
    let apache = fs::read_to_string(repo_file("LICENSE-APACHE")).unwrap();
    assert!(apache.contains("Apache License") && apache.contains("Version 2.0, January 2004"));
    let changelog = fs::read_to_string(repo_file("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains(&format!("## [{}]", env!("CARGO_PKG_VERSION"))),
        "CHANGELOG.md has no entry for this version"
    );
    // Every file the package includes exists (a typo there fails only at publish time).
    for included in package["include"].as_array().unwrap() {
        let pattern = included.as_str().unwrap();
        let plain = pattern.trim_end_matches("/**").trim_start_matches('/');
        assert!(repo_file(plain).exists(), "package.include names {pattern}");
    }
}

// ---------------------------------------------------------------------------------------
// pre-commit hooks and CI recipes

fn hook<'a>(hooks: &'a serde_norway::Value, id: &str) -> &'a serde_norway::Value {
    hooks
        .as_sequence()
        .unwrap()
        .iter()
        .find(|h| h["id"] == id)
        .unwrap_or_else(|| panic!("no hook {id}"))
}

/// Runs a hook's `entry` (plus `args`) the way pre-commit does with pass_filenames: false:
/// from the repository root, the binary on PATH.
fn run_hook(hook: &serde_norway::Value, root: &Path) -> Run {
    let entry: Vec<&str> = hook["entry"].as_str().unwrap().split_whitespace().collect();
    assert_eq!(entry[0], "tf-pin");
    let mut args: Vec<String> = entry[1..].iter().map(|s| (*s).to_owned()).collect();
    if let Some(extra) = hook.get("args").and_then(|a| a.as_sequence()) {
        args.extend(extra.iter().map(|a| a.as_str().unwrap().to_owned()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_in(Some(root), &args, None, None)
}

#[test]
fn pre_commit_hooks_are_valid_and_run_the_right_command() {
    let hooks = yaml(".pre-commit-hooks.yaml");
    let ids: Vec<&str> = hooks
        .as_sequence()
        .expect("a list of hooks")
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["tf-pin-check", "tf-pin-pin"]);
    for id in ids {
        let hook = hook(&hooks, id);
        for key in ["name", "description", "entry", "language", "files"] {
            assert!(
                hook[key].as_str().is_some_and(|v| !v.is_empty()),
                "{id}.{key}"
            );
        }
        assert_eq!(
            hook["language"], "rust",
            "{id}: pre-commit builds it with cargo"
        );
        assert_eq!(hook["pass_filenames"], false, "{id}");
        assert_eq!(
            hook["files"].as_str(),
            Some(r"(\.(tf|tfvars)|(^|/)\.tf-pin\.toml)$"),
            "{id}"
        );
    }
    assert_eq!(
        hook(&hooks, "tf-pin-check")["entry"],
        "tf-pin rewrite --check --offline"
    );
    assert_eq!(hook(&hooks, "tf-pin-pin")["entry"], "tf-pin rewrite");
}

#[test]
fn pre_commit_hooks_pass_pinned_trees_and_pin_unpinned_ones() {
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_oci_image("app", "1", 4);
    let hooks = yaml(".pre-commit-hooks.yaml");
    let root = tempfile::tempdir().unwrap();
    let tf = root.path().join("main.tf");
    let body = |image: &str| {
        format!("resource \"docker_container\" \"a\" {{\n  image = \"{image}\"\n}}\n")
    };
    fs::write(&tf, body(&image.reference)).unwrap();

    let check = run_hook(hook(&hooks, "tf-pin-check"), root.path());
    assert_eq!(check.code, 1, "unpinned fails the check: {}", check.stderr);
    assert!(check.stdout.contains("main.tf:2:11"), "{}", check.stdout);

    let pin = run_hook(hook(&hooks, "tf-pin-pin"), root.path());
    assert_eq!(pin.code, 0, "{}", pin.stderr);
    assert_eq!(fs::read_to_string(&tf).unwrap(), body(&image.pinned()));

    let check = run_hook(hook(&hooks, "tf-pin-check"), root.path());
    assert_eq!(check.code, 0, "pinned passes: {}", check.stdout);
    let pin = run_hook(hook(&hooks, "tf-pin-pin"), root.path());
    assert_eq!(pin.code, 0, "{}", pin.stderr);
    assert_eq!(fs::read_to_string(&tf).unwrap(), body(&image.pinned()));
}

fn commands(step_scripts: &[&serde_norway::Value]) -> String {
    step_scripts
        .iter()
        .flat_map(|v| match v {
            serde_norway::Value::Sequence(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect::<Vec<_>>(),
            other => other.as_str().map(str::to_owned).into_iter().collect(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ci_recipes_install_tf_pin_and_run_the_check() {
    let github = yaml("examples/ci/github-actions.yml");
    let steps = github["jobs"]["check-pins"]["steps"]
        .as_sequence()
        .expect("jobs.check-pins.steps");
    let runs: Vec<&serde_norway::Value> = steps.iter().map(|s| &s["run"]).collect();
    let script = commands(&runs);
    assert!(script.contains("cargo install --locked --git"), "{script}");
    assert!(script.contains("tf-pin rewrite --check"), "{script}");
    assert!(steps.iter().any(|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/checkout@"))
    }));

    let gitlab = yaml("examples/ci/gitlab-ci.yml");
    let job = &gitlab["tf-pin:check"];
    let script = commands(&[&job["before_script"], &job["script"]]);
    assert!(script.contains("cargo install --locked --git"), "{script}");
    assert!(
        job["script"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|line| line == "tf-pin rewrite --check")
    );

    let readme = fs::read_to_string(repo_file("examples/ci/README.md")).unwrap();
    assert!(
        readme.contains("(../Makefile)"),
        "examples/ci links the Makefile"
    );
    let makefile = fs::read_to_string(repo_file("examples/Makefile")).unwrap();
    assert!(makefile.contains("apply: check-pins"));
}

// ---------------------------------------------------------------------------------------
// Progress bar

fn has_progress_output(text: &str) -> bool {
    text.contains("resolving tags") || text.contains('\r') || text.contains("\x1b[")
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let reg = Registry::start(RegistryConfig::plain());
    let images: Vec<Pushed> = (0..6)
        .map(|i| reg.push_oci_image("app", &format!("v{i}"), i))
        .collect();
    let refs: Vec<&str> = images.iter().map(|p| p.reference.as_str()).collect();
    for extra in [&[][..], &["--color", "always"], &["-j", "1"]] {
        let mut args = vec!["resolve"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&refs);
        let out = run(&args, None, None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stderr, "", "{extra:?}: stderr is not a terminal");
    }
    let dir = tempfile::tempdir().unwrap();
    let tf: String = refs
        .iter()
        .enumerate()
        .map(|(i, r)| format!("resource \"docker_container\" \"c{i}\" {{\n  image = \"{r}\"\n}}\n"))
        .collect();
    fs::write(dir.path().join("main.tf"), tf).unwrap();
    let out = run_in(Some(dir.path()), &["rewrite", "--check"], None, None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!has_progress_output(&out.stderr), "{:?}", out.stderr);
}

/// Runs tf-pin under a pseudo-terminal with `script(1)` (stdout and stderr both go to the
/// terminal and come back in `stdout`), stdin from `stdin_file`; `None` when unavailable.
fn in_terminal(args: &[&str], envs: &[(&str, &str)], stdin_file: Option<&Path>) -> Option<Run> {
    if !Path::new("/usr/bin/script").exists() {
        eprintln!("note: script(1) not found; skipping the terminal check");
        return None;
    }
    let mut line = shell_quote(env!("CARGO_BIN_EXE_tf-pin"));
    for arg in args {
        line.push(' ');
        line.push_str(&shell_quote(arg));
    }
    if let Some(file) = stdin_file {
        line.push_str(" < ");
        line.push_str(&shell_quote(file.to_str().unwrap()));
    }
    let mut script = Command::new("/usr/bin/script");
    script.args(["-q", "-e", "-c", &line, "/dev/null"]);
    CredEnv::new().apply(&mut script);
    script.env("TERM", "xterm-256color").env_remove("NO_COLOR");
    script.envs(envs.iter().copied());
    Some(run_command(&mut script, None))
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[test]
fn progress_bar_on_a_terminal_but_not_with_quiet_or_in_external_mode() {
    let reg = Registry::start(RegistryConfig::plain());
    let images: Vec<Pushed> = (0..4)
        .map(|i| reg.push_oci_image("app", &format!("t{i}"), 10 + i))
        .collect();
    let refs: Vec<&str> = images.iter().map(|p| p.reference.as_str()).collect();

    let mut args = vec!["resolve"];
    args.extend_from_slice(&refs);
    let Some(shown) = in_terminal(&args, &[], None) else {
        return;
    };
    assert_eq!(shown.code, 0, "{}", shown.stdout);
    assert!(
        shown.stdout.contains("resolving tags"),
        "{:?}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("\x1b[36m"),
        "coloured: {:?}",
        shown.stdout
    );
    for image in &images {
        assert!(shown.stdout.contains(&image.pinned()));
    }

    let plain = in_terminal(&args, &[("NO_COLOR", "1")], None).unwrap();
    assert!(
        plain.stdout.contains("resolving tags"),
        "{:?}",
        plain.stdout
    );
    assert!(
        !plain.stdout.contains("\x1b[36m"),
        "NO_COLOR: {:?}",
        plain.stdout
    );
    let mut never = vec!["--color", "never"];
    never.extend_from_slice(&args);
    let plain = in_terminal(&never, &[], None).unwrap();
    assert!(
        !plain.stdout.contains("\x1b[36m"),
        "--color never: {:?}",
        plain.stdout
    );

    let mut quiet = vec!["resolve", "-q"];
    quiet.extend_from_slice(&refs);
    let hidden = in_terminal(&quiet, &[], None).unwrap();
    assert_eq!(hidden.code, 0);
    assert!(
        !has_progress_output(&hidden.stdout.replace("\r\n", "\n")),
        "{:?}",
        hidden.stdout
    );

    let mut verbose = vec!["resolve", "-v"];
    verbose.extend_from_slice(&refs);
    let logged = in_terminal(&verbose, &[], None).unwrap();
    assert!(
        !logged.stdout.contains("resolving tags"),
        "{:?}",
        logged.stdout
    );
    assert!(logged.stdout.contains("-> 200"), "{:?}", logged.stdout);

    let dir = tempfile::tempdir().unwrap();
    let query = dir.path().join("query.json");
    fs::write(
        &query,
        serde_json::json!({"a": refs[0], "b": refs[1], "c": refs[2]}).to_string(),
    )
    .unwrap();
    let external = in_terminal(&["external"], &[], Some(&query)).unwrap();
    assert_eq!(external.code, 0, "{}", external.stdout);
    assert!(
        external.stdout.contains(&images[2].pinned()),
        "{:?}",
        external.stdout
    );
    let output = external.stdout.replace("\r\n", "\n");
    assert!(!has_progress_output(&output), "{output:?}");
}
