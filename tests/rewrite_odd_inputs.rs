//! `tf-pin rewrite` (the binary, against a real registry) on big and odd inputs that
//! tests/rewrite_files.rs does not cover: a 100 MB file, a 10 MB file, Latin-1 and UTF-16
//! files, a named pipe, dangling and looping symlinks, a 360-byte file that hcl-edit would
//! take hours to reject. Each odd file is named in a clear
//! message, left byte for byte as it was, and does not stop the other files from being
//! pinned. (BOM, CRLF, read-only files and directories, symlinks in and out of the tree,
//! a missing path and an empty directory are covered there, through the library.)

#![cfg(unix)]

mod support;

use std::fs;
use std::os::unix::fs::{FileTypeExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::*;

const MIB: usize = 1024 * 1024;

fn container(name: &str, image: &str) -> String {
    format!("resource \"docker_container\" \"{name}\" {{\n  image = \"{image}\"\n}}\n")
}

/// What a run of the binary did, and its peak resident memory (Linux: VmHWM).
struct Measured {
    code: i32,
    stdout: String,
    stderr: String,
    peak_rss: Option<usize>,
}

fn peak_rss(pid: u32) -> Option<usize> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs `tf-pin rewrite PATH…` with no credentials, sampling its peak memory; a run that
/// takes longer than a minute is killed and fails the test (a hang is a bug too).
fn rewrite(paths: &[&Path]) -> Measured {
    rewrite_with_env(paths, &[])
}

fn rewrite_with_env(paths: &[&Path], envs: &[(&str, &str)]) -> Measured {
    let logs = tempfile::tempdir().unwrap();
    let creds = CredEnv::new();
    let mut cmd = tf_pin();
    creds.apply(&mut cmd);
    cmd.envs(envs.iter().copied());
    let mut child = cmd
        .arg("rewrite")
        .args(paths)
        .stdin(Stdio::null())
        .stdout(fs::File::create(logs.path().join("out")).unwrap())
        .stderr(fs::File::create(logs.path().join("err")).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut peak = None;
    let status = loop {
        if let Some(rss) = peak_rss(child.id()) {
            peak = peak.max(Some(rss));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "tf-pin rewrite {paths:?} hung for a minute; stderr so far:\n{}",
                fs::read_to_string(logs.path().join("err")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Measured {
        code: status.code().unwrap_or(-1),
        stdout: fs::read_to_string(logs.path().join("out")).unwrap(),
        stderr: fs::read_to_string(logs.path().join("err")).unwrap(),
        peak_rss: peak,
    }
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(tf_pin::rewrite::TEMP_PREFIX)
        })
        .collect()
}

/// About `size` bytes of Terraform with an image literal every few lines (varied blocks,
/// comments, CRLF in every third block).
fn big_file(size: usize, images: &[Pushed]) -> String {
    let mut old = String::with_capacity(size + 4096);
    let mut i = 0;
    while old.len() < size {
        let image = &images[i % images.len()];
        let block = match i % 3 {
            0 => format!(
                "# block {i}\nresource \"docker_container\" \"c{i}\" {{\n  name  = \"svc-{i}\"\n  image = \"{}\" // inline\n}}\n\n",
                image.reference
            ),
            1 => format!(
                "locals {{\n  l{i} = {{ image = \"{}\", replicas = {i} }}\n}}\n\n",
                image.reference
            ),
            _ => format!(
                "resource \"null_resource\" \"n{i}\" {{\n  triggers = {{\n    image = \"{}\"\n  }}\n}}\n\n",
                image.reference
            )
            .replace('\n', "\r\n"),
        };
        old.push_str(&block);
        i += 1;
    }
    old
}

/// `text` with every image literal pinned to its digest.
fn pinned(text: &str, images: &[Pushed]) -> String {
    let mut out = text.to_owned();
    for image in images {
        out = out.replace(
            &format!("\"{}\"", image.reference),
            &format!("\"{}\"", image.pinned()),
        );
    }
    out
}

fn push_images(reg: &Registry) -> Vec<Pushed> {
    vec![
        reg.push_oci_image("team/api", "1.0", 1),
        reg.push_oci_image("team/web", "2", 2),
        reg.push_oci_image("worker", "latest", 3),
    ]
}

/// A 100 MB file costs about 2.3 GB of memory to parse, so it is refused before it is
/// read: the run stays small, names the file, says what to do, and pins the other files.
#[test]
fn a_100_mb_file_is_refused_unread_and_the_other_files_are_still_pinned() {
    let reg = Registry::start(RegistryConfig::plain());
    let images = push_images(&reg);
    let dir = tempfile::tempdir().unwrap();
    let old = big_file(100 * MIB, &images).into_bytes();
    let big = dir.path().join("generated.tf");
    fs::write(&big, &old).unwrap();
    let small = dir.path().join("main.tf");
    fs::write(&small, container("c", &images[0].reference)).unwrap();

    let ran = rewrite(&[dir.path()]);

    assert_eq!(ran.code, 2, "{}", ran.stderr);
    let size_mib = old.len() as f64 / MIB as f64;
    let expected = format!(
        "error: {}: cannot read: the file is {size_mib:.1} MiB, more than the 16 MiB tf-pin reads (parsing takes about 20 times a file's size in memory), so it was left alone; split it into smaller .tf files\n",
        big.display()
    );
    assert!(ran.stderr.contains(&expected), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("1 file could not be read or parsed"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        fs::read_to_string(&small).unwrap(),
        container("c", &images[0].pinned())
    );
    assert!(fs::read(&big).unwrap() == old, "the big file changed");
    assert!(temp_files(dir.path()).is_empty());
    if let Some(peak) = ran.peak_rss {
        eprintln!("peak RSS {} MiB", peak / MIB);
        assert!(
            peak < 64 * MIB,
            "{} MiB resident: the 100 MB file was read",
            peak / MIB
        );
    }
}

/// A 10 MB file (under the limit) is pinned byte for byte, in memory bounded by a
/// multiple of its size (measured: about 46 times for this file, dense with image
/// literals; about 25 times for plainer files. hcl-edit's syntax tree is most of it).
#[test]
fn a_10_mb_file_is_pinned_byte_for_byte_in_bounded_memory() {
    let reg = Registry::start(RegistryConfig::plain());
    let images = push_images(&reg);
    let dir = tempfile::tempdir().unwrap();
    let text = big_file(10 * MIB, &images);
    let literals = text.matches("image = \"").count();
    let new = pinned(&text, &images).into_bytes();
    let old = text.into_bytes();
    let path = dir.path().join("generated.tf");
    fs::write(&path, &old).unwrap();

    let ran = rewrite(&[&path]);

    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let written = fs::read(&path).unwrap();
    assert!(
        written == new,
        "the 10 MB file is not exactly the pinned text ({} bytes, expected {})",
        written.len(),
        new.len()
    );
    assert_eq!(ran.stdout.lines().count(), literals, "one line per pin");
    assert!(temp_files(dir.path()).is_empty());
    if let Some(peak) = ran.peak_rss {
        eprintln!(
            "peak RSS {} MiB for a {} MiB file",
            peak / MIB,
            old.len() / MIB
        );
        assert!(
            peak < 64 * old.len(),
            "{} MiB resident for a {} MiB file",
            peak / MIB,
            old.len() / MIB
        );
    }
}

/// Files tf-pin must not edit, each next to an ordinary file that it does pin.
#[test]
fn odd_files_are_named_and_left_as_they_were_while_the_rest_is_pinned() {
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_oci_image("team/api", "1.0", 1);
    let body = container("c", &image.reference);
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(body.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let latin1 = [b"# caf\xe9\n".as_slice(), body.as_bytes()].concat();

    enum Odd {
        Bytes(Vec<u8>),
        Fifo,
        Symlink(&'static str),
        Loop,
    }
    // (file name, what it is, exit code, what stderr says)
    let table: Vec<(&str, Odd, i32, String)> = vec![
        (
            "latin1.tf",
            Odd::Bytes(latin1),
            2,
            "latin1.tf:1:6: not valid UTF-8 (byte offset 5); Terraform reads UTF-8 only: re-encode the file. It was left alone".to_owned(),
        ),
        (
            "utf16.tf",
            Odd::Bytes(utf16),
            2,
            "utf16.tf:1:1: not valid UTF-8 (byte offset 0); Terraform reads UTF-8 only: re-encode the file. It was left alone".to_owned(),
        ),
        (
            "pipe.tf",
            Odd::Fifo,
            2,
            "pipe.tf: cannot read: not a regular file (a named pipe, socket or device), so tf-pin did not open it and left it alone; replace it with a regular file or leave it out of the paths".to_owned(),
        ),
        (
            "dangling.tf",
            Odd::Symlink("nowhere/gone.tf"),
            0,
            "dangling.tf: dangling symlink: its target does not exist".to_owned(),
        ),
        (
            "loop.tf",
            Odd::Loop,
            0,
            "loop.tf: symlink not followed: its target cannot be resolved (Too many levels of symbolic links".to_owned(),
        ),
    ];
    for (name, odd, code, message) in table {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.tf");
        fs::write(&good, &body).unwrap();
        let path = dir.path().join(name);
        match &odd {
            Odd::Bytes(bytes) => fs::write(&path, bytes).unwrap(),
            Odd::Fifo => assert!(
                std::process::Command::new("mkfifo")
                    .arg(&path)
                    .status()
                    .unwrap()
                    .success()
            ),
            Odd::Symlink(target) => symlink(dir.path().join(target), &path).unwrap(),
            Odd::Loop => {
                let other = dir.path().join("other.tf");
                symlink(&other, &path).unwrap();
                symlink(&path, &other).unwrap();
            }
        }

        let ran = rewrite(&[dir.path()]);

        assert_eq!(ran.code, code, "{name}: {}", ran.stderr);
        let shown = format!("{}/{message}", dir.path().display());
        assert!(ran.stderr.contains(&shown), "{name}: {}", ran.stderr);
        assert_eq!(
            fs::read_to_string(&good).unwrap(),
            container("c", &image.pinned()),
            "{name}: the ordinary file next to it is pinned"
        );
        match odd {
            Odd::Bytes(bytes) => assert_eq!(fs::read(&path).unwrap(), bytes, "{name}"),
            Odd::Fifo => assert!(
                fs::symlink_metadata(&path).unwrap().file_type().is_fifo(),
                "{name}"
            ),
            Odd::Symlink(_) | Odd::Loop => assert!(
                fs::symlink_metadata(&path)
                    .unwrap()
                    .file_type()
                    .is_symlink(),
                "{name}"
            ),
        }
        assert!(temp_files(dir.path()).is_empty(), "{name}");
    }
}

/// A malformed file on which hcl-edit backtracks exponentially (found by fuzzing: each
/// `x*1=={` level doubles the time) is given up after TF_PIN_PARSE_TIMEOUT seconds.
#[test]
fn a_file_the_parser_would_take_hours_on_is_given_up_after_the_timeout() {
    let reg = Registry::start(RegistryConfig::plain());
    let image = reg.push_oci_image("team/api", "1.0", 1);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.tf");
    fs::write(&good, container("c", &image.reference)).unwrap();
    let bad = dir.path().join("bad.tf");
    let text = format!("a = {}", "x*1=={\n".repeat(30));
    fs::write(&bad, &text).unwrap();

    let started = Instant::now();
    let ran = rewrite_with_env(&[dir.path()], &[("TF_PIN_PARSE_TIMEOUT", "1")]);

    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    let expected = format!(
        "error: {}:1:1: HCL parse error: hcl-edit did not finish parsing within 1 s (it backtracks exponentially on some malformed input, such as many unclosed brackets after operators): check the file with `terraform validate`, or raise TF_PIN_PARSE_TIMEOUT (seconds) if it is valid; the file was left alone\n",
        bad.display()
    );
    assert!(ran.stderr.contains(&expected), "{}", ran.stderr);
    assert_eq!(fs::read_to_string(&bad).unwrap(), text);
    assert_eq!(
        fs::read_to_string(&good).unwrap(),
        container("c", &image.pinned())
    );
}
