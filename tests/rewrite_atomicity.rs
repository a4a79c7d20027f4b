//! SIGKILL during `tf-pin rewrite`'s write phase never tears a file.
//!
//! A generated tree of 2,000 `.tf`/`.tfvars` files (several image literals each, varied
//! layouts, line endings, BOMs, comments and sizes) names images pushed to a real
//! `docker-registry`. A clean run on one copy gives every file's expected new content.
//! Then, on fresh copies, the binary is started again and again and killed with SIGKILL
//! (`Child::kill`) at a random moment of its write phase: the start of that phase is seen
//! as the first directory change (the temporary file of the first rewritten file), and the
//! kill comes a random fraction of the clean run's write-phase length later. After each
//! kill:
//!
//! * every file is byte-identical to its old or its new content, never a mixture, and no
//!   file is missing or added;
//! * the only extra files are tf-pin's temporary files, exactly of the
//!   `.tf-pin-XXXXXXXX.tmp` shape, and the next `tf-pin rewrite` removes them and finishes
//!   the job (every file new, no temporary file left).
//!
//! The trees live on tmpfs (`/dev/shm`) when there is one: a SIGKILL leaves the page
//! cache intact, so fsync plays no part in what this test checks, and without the disk's
//! fsync latency the whole write phase takes well under a second, which keeps the test
//! at about 15 s. Power loss (where fsync matters) is not simulated here.

#![cfg(unix)]

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime};

use support::*;
use tf_pin::rewrite::{TEMP_PREFIX, is_temp_file_name};

const FILES: usize = 2_000;
const DIRS: usize = 40;
const KILLS: usize = 10;
/// How many killed runs are followed by a completing run (always the ones that left a
/// temporary file behind, up to this many, and the last one).
const MAX_RESUMES: usize = 4;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// tmpfs when available (see the module doc), else the system temp dir.
fn scratch_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && tempfile::tempdir_in(shm).is_ok() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// One file of the tree: its path relative to the root and its original bytes.
type Files = Vec<(PathBuf, Vec<u8>)>;

const COMMENTS: &[&str] = &[
    "# managed by platform team",
    "// keep in sync with the helm chart",
    "/* rollout: canary first */",
    "# héllo ✓ — non-ASCII in a comment",
];

/// A file's text (with `\n` line ends) that names `images` in varied ways.
fn file_text(rng: &mut Rng, index: usize, images: &[Pushed]) -> String {
    let mut text = String::new();
    let blocks = 1 + rng.below(4);
    for b in 0..blocks {
        if rng.chance(2) {
            let comment = *rng.pick(COMMENTS);
            text.push_str(comment);
            text.push('\n');
        }
        let a = &rng.pick(images).reference;
        let c = &rng.pick(images).reference;
        // The first file always gets an unpinned image: the test watches its directory.
        let layout = if index == 0 && b == 0 {
            0
        } else {
            rng.below(6)
        };
        match layout {
            0 => text.push_str(&format!(
                "resource \"docker_container\" \"c{index}_{b}\" {{\n  name  = \"svc-{index}\"\n  image = \"{a}\" # pinned by tf-pin\n}}\n\n"
            )),
            1 => text.push_str(&format!(
                "resource \"kubernetes_deployment\" \"d{index}_{b}\" {{\n  metadata {{\n    name = \"d{index}\"\n  }}\n  spec {{\n    template {{\n      spec {{\n        container {{\n          name  = \"main\"\n          image = \"{a}\"\n        }}\n        container {{\n          name  = \"sidecar\"\n          image = \"{c}\"\n        }}\n      }}\n    }}\n  }}\n}}\n\n"
            )),
            2 => text.push_str(&format!(
                "resource \"aws_ecs_task_definition\" \"t{index}_{b}\" {{\n  family = \"t{index}\"\n  container_definitions = jsonencode([\n    {{ name = \"app\", image = \"{a}\", essential = true }},\n    {{ \"name\" : \"log\", \"image\" : \"{c}\" }},\n  ])\n}}\n\n"
            )),
            3 => text.push_str(&format!(
                "locals {{\n  images_{b} = {{\n    api    = {{ image = \"{a}\" }}\n    worker = {{ image = \"{c}\" }}\n  }}\n}}\n\nvariable \"app_image_{b}\" {{\n  type    = string\n  default = \"{a}\"\n}}\n\n"
            )),
            4 => {
                // Already pinned to the current digest: left alone.
                let pushed = rng.pick(images);
                text.push_str(&format!(
                    "resource \"docker_container\" \"p{index}_{b}\" {{\n  image = \"{}\"\n}}\n\n",
                    pushed.pinned()
                ));
            }
            _ => text.push_str(&format!(
                "resource \"null_resource\" \"n{index}_{b}\" {{\n  triggers = {{\n    version = \"{b}.{index}\"\n    note    = \"not an image: {a}\"\n  }}\n}}\n\n"
            )),
        }
    }
    // Some padding so file sizes range from a few hundred bytes to ~40 KB.
    let padding = if rng.chance(50) { 400 } else { rng.below(12) };
    for p in 0..padding {
        text.push_str(&format!(
            "resource \"null_resource\" \"pad{index}_{p}\" {{\n  triggers = {{ n = \"{p}\" }}\n}}\n"
        ));
    }
    text
}

/// The tree: `stack-NN/fNNNN.tf` (every 10th a `.tfvars`), CRLF or BOM in some files, a
/// few files without any image.
fn generate(rng: &mut Rng, images: &[Pushed]) -> Files {
    let mut files = Vec::with_capacity(FILES);
    for index in 0..FILES {
        let dir = format!("stack-{:02}", index % DIRS);
        let (name, text) = if index % 10 == 9 {
            let a = &rng.pick(images).reference;
            let b = &rng.pick(images).reference;
            (
                format!("f{index:04}.auto.tfvars"),
                format!(
                    "region = \"eu-west-1\"\napp_image = \"{a}\"\nsidecar_images = [\"{b}\", \"{a}\"]\n"
                ),
            )
        } else if index % 37 == 5 {
            (
                format!("f{index:04}.tf"),
                "terraform {\n  required_version = \">= 1.5\"\n}\n".to_owned(),
            )
        } else {
            (format!("f{index:04}.tf"), file_text(rng, index, images))
        };
        let mut text = if rng.chance(4) {
            text.replace('\n', "\r\n")
        } else {
            text
        };
        if rng.chance(8) {
            text.insert(0, '\u{feff}');
        }
        files.push((Path::new(&dir).join(name), text.into_bytes()));
    }
    files
}

fn write_tree(root: &Path, files: &Files) {
    for (relative, bytes) in files {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
}

/// Every file under `root`, relative, sorted.
fn list_tree(root: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

fn spawn(root: &Path, logs: &Path, creds: &CredEnv) -> Child {
    let mut cmd = tf_pin();
    creds.apply(&mut cmd);
    cmd.args(["rewrite", "--quiet"])
        .arg(root)
        .stdin(Stdio::null())
        .stdout(fs::File::create(logs.join("stdout")).unwrap())
        .stderr(fs::File::create(logs.join("stderr")).unwrap())
        .spawn()
        .expect("spawn tf-pin")
}

fn modified(dir: &Path) -> SystemTime {
    fs::metadata(dir).unwrap().modified().unwrap()
}

/// Waits until `watched` (the directory of the first file to be rewritten) changes, i.e.
/// the write phase began. `None` when the process exited first.
fn wait_for_write_phase(child: &mut Child, watched: &Path, before: SystemTime) -> Option<Instant> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if modified(watched) != before {
            return Some(Instant::now());
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(Instant::now() < deadline, "tf-pin never started writing");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Where the first byte differs, for a readable failure.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[test]
fn sigkill_during_the_write_phase_leaves_every_file_old_or_new() {
    let started = Instant::now();
    let reg = Registry::start(RegistryConfig::plain());
    let mut images = Vec::new();
    for (i, repo) in [
        "team/api",
        "team/web",
        "worker",
        "ops/cron/nightly",
        "edge-proxy",
    ]
    .iter()
    .enumerate()
    {
        for (j, tag) in ["1.0", "2.3.4", "latest"].iter().enumerate() {
            images.push(reg.push_oci_image(repo, tag, (i * 10 + j) as u64));
        }
    }
    let creds = CredEnv::new();
    let mut rng = Rng(0x7f4a_7c15_9e37_79b9);
    let old = generate(&mut rng, &images);
    let scratch = tempfile::tempdir_in(scratch_root()).unwrap();
    let logs = scratch.path().join("logs");
    fs::create_dir_all(&logs).unwrap();

    // The expected new content: a clean run on its own copy, checked against a textual
    // replacement of every unpinned literal by its pinned form.
    let clean = scratch.path().join("clean");
    write_tree(&clean, &old);
    let watched = clean.join(old[0].0.parent().unwrap());
    let before = modified(&watched);
    let run_started = Instant::now();
    let mut child = spawn(&clean, &logs, &creds);
    let write_start =
        wait_for_write_phase(&mut child, &watched, before).expect("the clean run rewrote nothing");
    let status = child.wait().unwrap();
    let write_phase = write_start.elapsed();
    let stderr = fs::read_to_string(logs.join("stderr")).unwrap();
    assert!(status.success(), "clean run: {status}\n{stderr}");
    let new: Vec<Vec<u8>> = old
        .iter()
        .map(|(relative, _)| fs::read(clean.join(relative)).unwrap())
        .collect();
    let mut changed = 0;
    for ((relative, old_bytes), new_bytes) in old.iter().zip(&new) {
        let mut expected = String::from_utf8(old_bytes.clone()).unwrap();
        for image in &images {
            expected = expected.replace(
                &format!("\"{}\"", image.reference),
                &format!("\"{}\"", image.pinned()),
            );
        }
        assert!(
            expected.as_bytes() == new_bytes.as_slice(),
            "{}: the clean run's output differs from the expected pinning at byte {}",
            relative.display(),
            first_difference(expected.as_bytes(), new_bytes)
        );
        changed += usize::from(old_bytes != new_bytes);
    }
    assert!(changed > FILES * 3 / 4, "only {changed} files change");
    assert!(old[0].1 != new[0], "the watched first file must change");
    let setup = started.elapsed();
    eprintln!(
        "clean run: {:?} in all, write phase {write_phase:?}, {changed} of {FILES} files rewritten (setup {setup:?})",
        run_started.elapsed()
    );

    let mut killed_mid_write = 0;
    let mut resumes = 0;
    let mut leftovers_seen = 0;
    for round in 0..KILLS {
        let root = scratch.path().join(format!("round-{round:02}"));
        write_tree(&root, &old);
        let watched = root.join(old[0].0.parent().unwrap());
        let before = modified(&watched);
        let delay = write_phase.mul_f64(rng.below(1_000) as f64 / 1_000.0);
        let mut child = spawn(&root, &logs, &creds);
        let status = match wait_for_write_phase(&mut child, &watched, before) {
            Some(_) => {
                std::thread::sleep(delay);
                child.kill().unwrap();
                child.wait().unwrap()
            }
            None => child.wait().unwrap(),
        };
        let was_killed = status.signal() == Some(9);
        killed_mid_write += usize::from(was_killed);

        // Every file is old or new; nothing is missing; extra files are our temp files.
        let mut rewritten = 0;
        for ((relative, old_bytes), new_bytes) in old.iter().zip(&new) {
            let now = fs::read(root.join(relative))
                .unwrap_or_else(|e| panic!("round {round}: {}: {e}", relative.display()));
            if now == *new_bytes {
                rewritten += usize::from(old_bytes != new_bytes);
            } else {
                assert!(
                    now == *old_bytes,
                    "round {round}: {} is neither old nor new: {} bytes, differs from the old at byte {} and from the new at byte {}",
                    relative.display(),
                    now.len(),
                    first_difference(&now, old_bytes),
                    first_difference(&now, new_bytes)
                );
            }
        }
        let expected_files: BTreeSet<PathBuf> = old.iter().map(|(p, _)| p.clone()).collect();
        let present = list_tree(&root);
        let extra: Vec<&PathBuf> = present.difference(&expected_files).collect();
        for path in &extra {
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(
                name.starts_with(TEMP_PREFIX) && is_temp_file_name(name),
                "round {round}: unexpected file {}",
                path.display()
            );
        }
        leftovers_seen += extra.len();
        eprintln!(
            "round {round}: kill {delay:?} into the write phase: {}, {rewritten} of {changed} files rewritten, {} temporary file(s) left",
            if was_killed {
                "killed".to_owned()
            } else {
                format!("had already exited ({status})")
            },
            extra.len()
        );

        // The next run removes the temporary files and finishes the job.
        let last = round == KILLS - 1;
        if (!extra.is_empty() && resumes < MAX_RESUMES) || last {
            resumes += 1;
            let root_arg = root.to_str().unwrap();
            let resumed = support::cli::run(&["rewrite", root_arg], None, Some(&creds));
            assert_eq!(resumed.code, 0, "round {round}: {}", resumed.stderr);
            for path in &extra {
                assert!(
                    resumed.stderr.contains(&format!(
                        "note: {}: removed a temporary file left by an interrupted tf-pin run",
                        root.join(path).display()
                    )),
                    "round {round}: {}",
                    resumed.stderr
                );
            }
            assert_eq!(
                list_tree(&root),
                expected_files,
                "round {round}: files after the completing run"
            );
            for ((relative, _), new_bytes) in old.iter().zip(&new) {
                assert!(
                    fs::read(root.join(relative)).unwrap() == *new_bytes,
                    "round {round}: {} after the completing run",
                    relative.display()
                );
            }
        }
        fs::remove_dir_all(&root).unwrap();
    }
    eprintln!(
        "{killed_mid_write} of {KILLS} runs killed mid-write, {leftovers_seen} temporary file(s) left in all, {resumes} completing run(s); {:?} in all",
        started.elapsed()
    );
    assert!(
        killed_mid_write * 2 >= KILLS,
        "only {killed_mid_write} of {KILLS} runs were still writing when killed: the timing no longer hits the write phase"
    );
}
