//! Bad input at the command line, none of it involving `.tf` files: every row exits 2
//! before any registry is asked (none is running), prints nothing on stdout, and names what
//! is wrong — the part of a reference, the JSON value, the flag. Extends tests/external.rs,
//! which covers the common `external` query mistakes.

mod support;

use support::cli::{Run, run, run_command};
use support::tf_pin;

/// Exit 2, nothing on stdout, and every needle on stderr.
#[track_caller]
fn assert_input_error(run: &Run, needles: &[&str]) {
    run.assert_failed(2, needles);
}

/// One row per way a reference can break the grammar, each naming the part that is wrong.
#[test]
fn resolve_rejects_every_kind_of_invalid_reference_naming_the_part() {
    let long_name = format!("r.io/{}", "a".repeat(251));
    let long_tag = format!("app:{}", "t".repeat(129));
    let upper_hex = format!("app@sha256:{}", "A".repeat(64));
    let md5 = format!("app@md5:{}", "a".repeat(32));
    let short_sha512 = format!("app@sha512:{}", "a".repeat(64));
    let table: &[(&str, &str)] = &[
        (
            "",
            "empty image reference: expected something like `registry.example.com/team/app:1.0`",
        ),
        (" ", "empty image reference"),
        ("app :1", "it contains whitespace or control characters"),
        ("app\t1", "it contains whitespace or control characters"),
        (
            "r.io:port/app",
            "registry host \"r.io:port\" is not a valid host[:port]",
        ),
        ("-r.io/app", "registry host \"-r.io\""),
        ("r..io/app", "registry host \"r..io\""),
        ("r.io:/app", "registry host \"r.io:\""),
        ("[::1/app", "registry host \"[::1\""),
        ("https://r.io/app", "registry host \"https:\""),
        (
            "r.io//app",
            "repository component \"\" must be lowercase letters and digits",
        ),
        ("r.io/app/", "repository component \"\""),
        ("r.io/", "repository component \"\""),
        ("r.io/-app", "repository component \"-app\""),
        ("r.io/app_", "repository component \"app_\""),
        ("r.io/a___b", "repository component \"a___b\""),
        ("r.io/a..b", "repository component \"a..b\""),
        ("[::1]:5000", "repository component \"[::1]\""),
        ("App:1", "repository name \"App\" must be lowercase"),
        (
            "r.io/Team/app",
            "repository name \"Team/app\" must be lowercase",
        ),
        (
            &long_name,
            "the name is 256 characters long, the limit is 255",
        ),
        ("app:", "tag \"\" must start with a letter, digit or '_'"),
        ("app:-bad", "tag \"-bad\""),
        ("app:.x", "tag \".x\""),
        ("app:a+b", "tag \"a+b\""),
        (&long_tag, "contain at most 128 letters, digits"),
        (
            "app@",
            "digest \"\" must look like sha256:<64 lowercase hex characters>",
        ),
        (
            "app@sha256:short",
            "digest \"sha256:short\" must be sha256: followed by exactly 64",
        ),
        (
            &upper_hex,
            "must use lowercase hex characters (0-9, a-f) only",
        ),
        (&short_sha512, "must be sha512: followed by exactly 128"),
        (
            &md5,
            "uses an unsupported algorithm (sha256 and sha512 are supported)",
        ),
        ("app@sha256", "must look like sha256:"),
    ];
    for (input, needle) in table {
        // `--`: an input such as `-r.io/app` is a reference here, not a flag.
        let out = run(&["resolve", "--", input], None, None);
        // The message quotes the input, except when there is nothing to quote.
        let quoted = format!("invalid image reference {input:?}: ");
        let quoted = if input.trim().is_empty() { "" } else { &quoted };
        assert_input_error(&out, &["tf-pin: error: ", quoted, needle]);
        assert_eq!(out.stderr.lines().count(), 1, "{input:?}: {}", out.stderr);
    }

    // All at once: one line each, in input order, still exit 2 and nothing on stdout.
    let inputs: Vec<&str> = table.iter().map(|(input, _)| *input).collect();
    let mut args = vec!["resolve", "--"];
    args.extend(&inputs);
    let out = run(&args, None, None);
    assert_input_error(&out, &[]);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), table.len(), "{}", out.stderr);
    for ((_, needle), line) in table.iter().zip(&lines) {
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
    }
}

#[test]
fn external_rejects_queries_that_are_not_an_object_of_reference_strings() {
    let table: &[(&[u8], &[&str])] = &[
        (
            b"\n\t ",
            &["expected the data source query as a JSON object on stdin, got nothing"],
        ),
        (
            b"{\"app\": \"nginx:1\"} trailing",
            &["the query on stdin is not valid JSON (trailing characters at line 1 column 20)"],
        ),
        (
            b"{'app': 'nginx:1'}",
            &[
                "not valid JSON (key must be a string at line 1 column 2): pass a JSON object such as {\"app\": \"nginx:1.25\"}",
            ],
        ),
        (b"{\"app\": \"\xff\"}", &["not valid JSON"]),
        (
            b"null",
            &["must be a JSON object mapping names to image references, got null"],
        ),
        (b"\"nginx:1\"", &["got a string"]),
        (b"42", &["got a number"]),
        (b"true", &["got a boolean"]),
        (
            b"{\"n\": null, \"b\": false, \"l\": [\"nginx:1\"], \"o\": {\"image\": \"nginx:1\"}}",
            &[
                "query key \"n\": the value must be a string image reference, got null",
                "query key \"b\": the value must be a string image reference, got a boolean",
                "query key \"l\": the value must be a string image reference, got an array",
                "query key \"o\": the value must be a string image reference, got an object",
            ],
        ),
        (
            b"{\"empty\": \"\", \"upper\": \"r.io/App\", \"ok\": \"nginx:1\"}",
            &[
                "query key \"empty\": empty image reference",
                "query key \"upper\": invalid image reference \"r.io/App\": repository name \"App\" must be lowercase",
            ],
        ),
    ];
    for (query, needles) in table {
        let out = run(&["external"], Some(query), None);
        assert_input_error(&out, needles);
        assert_eq!(
            out.stderr.lines().count(),
            needles.len(),
            "one line per problem: {}",
            out.stderr
        );
    }

    // No stdin at all (closed, as when run by hand without a pipe).
    let out = run(&["external"], None, None);
    assert_input_error(&out, &["got nothing"]);
}

#[test]
fn unknown_flags_and_subcommands_are_usage_errors() {
    let table: &[(&[&str], &str)] = &[
        (
            &["resolve", "--nope", "app:1"],
            "unexpected argument '--nope' found",
        ),
        (
            &["external", "--nope"],
            "unexpected argument '--nope' found",
        ),
        (&["--nope"], "unexpected argument '--nope' found"),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (&[], "Usage: tf-pin"),
        (
            &["resolve"],
            "the following required arguments were not provided",
        ),
        (
            &["resolve", "--format", "yaml", "app:1"],
            "invalid value 'yaml' for '--format <FORMAT>'",
        ),
        (
            &["external", "--digest-only", "--strip-tag"],
            "the argument '--digest-only' cannot be used with '--strip-tag'",
        ),
        (&["resolve", "-q", "-v", "app:1"], "cannot be used with"),
    ];
    for (args, needle) in table {
        let out = run(args, Some(b"{}"), None);
        assert_input_error(&out, &[needle]);
    }
}

#[test]
fn out_of_range_option_values_are_usage_errors_naming_the_flag() {
    let table: &[(&[&str], &[&str])] = &[
        (
            &["--timeout", "0"],
            &[
                "invalid value '0' for '--timeout <SECS>'",
                "\"0\" is not a number of seconds between 0 and 3600",
            ],
        ),
        (&["--timeout=-1"], &["\"-1\" is not a number of seconds"]),
        (
            &["--timeout", "3601"],
            &["\"3601\" is not a number of seconds"],
        ),
        (
            &["--timeout", "soon"],
            &["\"soon\" is not a number of seconds"],
        ),
        (
            &["--timeout", "NaN"],
            &["\"NaN\" is not a number of seconds"],
        ),
        (
            &["--jobs", "0"],
            &["invalid value '0' for '--jobs <N>'", "0 is not in 1..=256"],
        ),
        (&["-j", "257"], &["'--jobs <N>'", "257 is not in 1..=256"]),
        (&["--jobs", "many"], &["'--jobs <N>'"]),
        (
            &["--platform", "bad"],
            &[
                "invalid value 'bad' for '--platform <OS/ARCH[/VARIANT]>'",
                "invalid platform \"bad\": expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8",
            ],
        ),
        (&["--platform", "linux/"], &["invalid platform \"linux/\""]),
        (
            &["--platform", "linux/arm/v7/x"],
            &["invalid platform \"linux/arm/v7/x\""],
        ),
        (
            &["--platform", "linux amd64"],
            &["invalid platform \"linux amd64\""],
        ),
        (
            &["--registry-map", "bad"],
            &[
                "invalid value 'bad' for '--registry-map <MIRROR=UPSTREAM>'",
                "\"bad\" is not MIRROR=UPSTREAM with two registry hosts, e.g. mirror.local:5000=docker.io",
            ],
        ),
        (
            &["--registry-map", "mirror.local="],
            &["\"mirror.local=\" is not MIRROR=UPSTREAM"],
        ),
        (
            &["--registry-map", "=docker.io"],
            &["\"=docker.io\" is not MIRROR=UPSTREAM"],
        ),
        (
            &["--registry-map", "mirror.local=https://docker.io"],
            &["is not MIRROR=UPSTREAM"],
        ),
        (
            &["--registry-map", "mirror.local=docker.io/library"],
            &["is not MIRROR=UPSTREAM"],
        ),
    ];
    for (flags, needles) in table {
        for command in ["resolve", "external"] {
            let mut args = vec![command];
            args.extend_from_slice(flags);
            if command == "resolve" {
                args.push("app:1");
            }
            let out = run(&args, Some(b"{\"app\": \"app:1\"}"), None);
            assert_input_error(&out, needles);
        }
    }
}

/// Settings that parse but cannot work are found before any request: a CA file without a
/// certificate, a helper timeout that is not a number of seconds.
#[test]
fn unusable_settings_are_input_errors_found_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "this is not a certificate\n").unwrap();
    let not_pem = not_pem.display().to_string();
    // The registry host does not resolve: reaching it would be a registry error (3), not 2.
    let reference = "registry.invalid/app:1";
    let out = run(&["resolve", "--ca-file", &not_pem, reference], None, None);
    assert_input_error(
        &out,
        &[&format!(
            "cannot use --ca-file {not_pem}: it contains no PEM certificate; pass a PEM file with one or more CA certificates"
        )],
    );

    for value in ["0", "-3", "ten", "1e9"] {
        for (args, stdin) in [
            (vec!["resolve", reference], None),
            (
                vec!["external"],
                Some(&b"{\"app\": \"registry.invalid/app:1\"}"[..]),
            ),
        ] {
            let mut cmd = tf_pin();
            cmd.env("TF_PIN_CREDENTIAL_HELPER_TIMEOUT", value)
                .args(&args);
            let out = run_command(&mut cmd, stdin);
            assert_input_error(
                &out,
                &[&format!(
                    "TF_PIN_CREDENTIAL_HELPER_TIMEOUT=\"{value}\" is not a number of seconds between 0 and 3600: set it to e.g. 30, or unset it"
                )],
            );
        }
    }
}
