//! Properties of the pure pipeline (scan → plan → apply_edits) over the fixture corpus,
//! over generated documents with random formatting, and over mutated (mostly broken)
//! input:
//!
//! * only the bytes between the quotes of targeted literals change;
//! * a second run changes nothing (idempotence);
//! * unpin after pin restores the input (tagged references written without escapes);
//! * no input makes the scanner or the splicer panic.

use std::path::Path;

use tf_pin::reference::Reference;
use tf_pin::rewrite::{
    Edit, FileKind, Lookups, Mode, ScanOptions, apply_edits, derived_digest, edit_for,
    encode_literal, plan, scan_source,
};

const FIXTURES: &str = "tests/fixtures/terraform";

/// Every fixture that parses, with its kind.
fn corpus() -> Vec<(String, FileKind, Vec<u8>)> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let kind = FileKind::of_path(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        if scan_source(&bytes, kind, &ScanOptions::default()).is_ok() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, kind, bytes));
        }
    }
    assert!(out.len() >= 15, "the corpus shrank: {}", out.len());
    out
}

/// The fake registry: every tag resolves to `sha256(<name>:<tag>)`, or to
/// `sha256(moved/<name>:<tag>)` after the tags "moved".
fn lookups(references: &[Reference], moved: bool) -> Lookups {
    let mut lookups = Lookups::default();
    for reference in references {
        let digest = if moved {
            tf_pin::reference::Digest::sha256_of(
                format!("moved/{}", derived_digest(reference)).as_bytes(),
            )
        } else {
            derived_digest(reference)
        };
        lookups.set_tag(reference, Ok(digest));
    }
    lookups
}

/// One pure run: the edits and the new bytes.
fn run(bytes: &[u8], kind: FileKind, mode: Mode, moved: bool) -> (Vec<Edit>, Vec<u8>) {
    let scan = scan_source(bytes, kind, &ScanOptions::default()).expect("parses");
    let references: Vec<Reference> = scan.targets.iter().map(|t| t.reference.clone()).collect();
    let lookups = lookups(&references, moved);
    let edits: Vec<Edit> = scan
        .targets
        .iter()
        .filter_map(|t| edit_for(t, &plan(t, mode, false, &lookups)))
        .collect();
    let out = apply_edits(bytes, &edits).expect("edits apply");
    (edits, out)
}

/// Outside the edited ranges (which must sit between two quotes), `new` equals `old`.
fn assert_only_literals_changed(name: &str, old: &[u8], new: &[u8], edits: &[Edit]) {
    let mut edits: Vec<&Edit> = edits.iter().collect();
    edits.sort_by_key(|e| e.range.start);
    let (mut at_old, mut at_new) = (0, 0);
    for edit in edits {
        let range = &edit.range;
        assert_eq!(old[range.start - 1], b'"', "{name}: edit not after a quote");
        assert_eq!(old[range.end], b'"', "{name}: edit not before a quote");
        let keep = range.start - at_old;
        assert_eq!(
            &old[at_old..range.start],
            &new[at_new..at_new + keep],
            "{name}: bytes before offset {} changed",
            range.start
        );
        at_new += keep;
        let replacement = edit.replacement.as_bytes();
        assert_eq!(
            &new[at_new..at_new + replacement.len()],
            replacement,
            "{name}"
        );
        at_new += replacement.len();
        at_old = range.end;
    }
    assert_eq!(&old[at_old..], &new[at_new..], "{name}: the tail changed");
}

#[test]
fn pin_changes_only_the_bytes_between_the_quotes() {
    for (name, kind, bytes) in corpus() {
        let (edits, pinned) = run(&bytes, kind, Mode::Pin, false);
        assert_only_literals_changed(&name, &bytes, &pinned, &edits);
        let (edits, updated) = run(&pinned, kind, Mode::Update, true);
        assert_only_literals_changed(&name, &pinned, &updated, &edits);
    }
}

#[test]
fn a_second_run_changes_nothing() {
    for (name, kind, bytes) in corpus() {
        let (_, once) = run(&bytes, kind, Mode::Pin, false);
        let (edits, twice) = run(&once, kind, Mode::Pin, false);
        assert!(edits.is_empty(), "{name}: second pin edited {edits:?}");
        assert_eq!(once, twice, "{name}");
        // Update fixes stale pins (pinned.tf has some) once, then has nothing to do.
        let (_, updated) = run(&once, kind, Mode::Update, false);
        let (edits, _) = run(&updated, kind, Mode::Update, false);
        assert!(edits.is_empty(), "{name}: a second update edited");
        let (_, unpinned) = run(&once, kind, Mode::Unpin, false);
        let (edits, _) = run(&unpinned, kind, Mode::Unpin, false);
        assert!(edits.is_empty(), "{name}: second unpin edited");
    }
}

/// What unpin(pin(x)) must give: x, except that untagged references gain `:latest` and
/// literals written with escapes come back in plain spelling.
fn expected_round_trip(bytes: &[u8], kind: FileKind) -> Vec<u8> {
    let scan = scan_source(bytes, kind, &ScanOptions::default()).unwrap();
    let edits: Vec<Edit> = scan
        .targets
        .iter()
        .filter(|t| !t.reference.is_pinned())
        .filter_map(|t| {
            let plain = t.reference.unpinned();
            let wanted = if t.reference.tag().is_none() {
                format!("{plain}:latest")
            } else {
                plain
            };
            let raw = &bytes[t.content.clone()];
            (raw != encode_literal(&wanted).as_bytes()).then(|| Edit {
                range: t.content.clone(),
                replacement: encode_literal(&wanted),
            })
        })
        .collect();
    apply_edits(bytes, &edits).unwrap()
}

#[test]
fn unpin_after_pin_restores_the_input() {
    let mut exact = 0;
    for (name, kind, bytes) in corpus() {
        if Path::new(&name) == Path::new("pinned.tf") {
            // Unpin also unpins what was pinned before the first run.
            continue;
        }
        let (_, pinned) = run(&bytes, kind, Mode::Pin, false);
        let (_, restored) = run(&pinned, kind, Mode::Unpin, false);
        let expected = expected_round_trip(&bytes, kind);
        assert_eq!(
            String::from_utf8_lossy(&restored),
            String::from_utf8_lossy(&expected),
            "{name}"
        );
        if expected == bytes {
            assert_eq!(restored, bytes, "{name}");
            exact += 1;
        }
    }
    assert!(exact >= 12, "only {exact} fixtures round-trip exactly");
}

#[test]
fn untagged_references_come_back_as_latest() {
    let source = b"locals {\n  a = { image = \"busybox\" }\n}\n";
    let (_, pinned) = run(source, FileKind::Terraform, Mode::Pin, false);
    let (_, restored) = run(&pinned, FileKind::Terraform, Mode::Unpin, false);
    assert_eq!(
        String::from_utf8(restored).unwrap(),
        "locals {\n  a = { image = \"busybox:latest\" }\n}\n"
    );
}

/// A tiny deterministic generator (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const REFS: &[&str] = &[
    "nginx",
    "nginx:1.25",
    "redis:latest",
    "ghcr.io/acme/app:1.0.0",
    "localhost:5000/team/app:dev",
    "registry.example.com:443/a/b/c:v1",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:2",
    "alpine@sha256:c9ef5b1f0b442255774ae31a839ff48ce1206a606a97052db8b4a13ae153fb7c",
    "busybox:1.36@sha256:0000000000000000000000000000000000000000000000000000000000000000",
];
const SPACE: &[&str] = &[" ", "  ", "\t", " \t ", "    "];
const COMMENTS: &[&str] = &[
    "# héllo ✓",
    "// note",
    "/* c */",
    "# renovate: datasource=docker depName=x",
    "#",
];

/// A document with random formatting and the number of image literals in it.
fn generate(rng: &mut Rng) -> (Vec<u8>, usize) {
    let eol = if rng.below(3) == 0 { "\r\n" } else { "\n" };
    let mut doc = String::new();
    if rng.below(5) == 0 {
        doc.push('\u{feff}');
    }
    let mut images = 0;
    for i in 0..1 + rng.below(6) {
        if rng.below(3) == 0 {
            doc.push_str(&format!("{}{eol}", rng.pick(COMMENTS)));
        }
        if rng.below(4) == 0 {
            doc.push_str(eol);
        }
        let (s1, s2, s3) = (rng.pick(SPACE), rng.pick(SPACE), rng.pick(SPACE));
        let image = rng.pick(REFS);
        let trailer = if rng.below(2) == 0 {
            format!("{s3}{}", rng.pick(COMMENTS))
        } else if rng.below(2) == 0 {
            s3.to_owned()
        } else {
            String::new()
        };
        images += match rng.below(5) {
            0 => {
                doc.push_str(&format!(
                    "resource \"docker_container\" \"c{i}\" {{{eol}{s1}name = \"ü{i}\"{eol}{s1}image{s2}={s3}\"{image}\"{trailer}{eol}}}{eol}"
                ));
                1
            }
            1 => {
                doc.push_str(&format!(
                    "locals {{{eol}{s1}l{i}{s2}={s3}{{{s2}image{s2}={s3}\"{image}\"{s2}}}{trailer}{eol}}}{eol}"
                ));
                1
            }
            2 => {
                doc.push_str(&format!(
                    "resource \"aws_ecs_task_definition\" \"t{i}\" {{{eol}{s1}container_definitions = jsonencode([{eol}{s1}{s1}{{ name = \"n\", image = \"{image}\" }},{trailer}{eol}{s1}{s1}{{{s2}\"image\"{s2}:{s3}\"{image}\"{s2}}}{eol}{s1}]){eol}}}{eol}"
                ));
                2
            }
            3 => {
                doc.push_str(&format!(
                    "module \"m{i}\" {{{eol}{s1}source{s2}= \"./m\"{eol}{s1}image{s2}={s3}\"{image}\"{trailer}{eol}{s1}other = \"${{var.x}}:1\"{eol}}}{eol}"
                ));
                1
            }
            _ => {
                doc.push_str(&format!(
                    "variable \"v{i}_image\" {{{eol}{s1}default{s2}={s3}\"{image}\"{trailer}{eol}}}{eol}"
                ));
                // A bare name under an image-ish variable name is ambiguous: skipped.
                usize::from(image.contains(['/', ':', '@']))
            }
        };
    }
    if rng.below(2) == 0 {
        doc.push_str(rng.pick(SPACE));
    }
    (doc.into_bytes(), images)
}

#[test]
fn generated_documents_keep_every_other_byte() {
    let mut rng = Rng(0x5eed);
    for case in 0..400 {
        let (bytes, images) = generate(&mut rng);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let scan = scan_source(&bytes, FileKind::Terraform, &ScanOptions::default())
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{text}"));
        assert_eq!(scan.targets.len(), images, "case {case}:\n{text}");
        let (edits, pinned) = run(&bytes, FileKind::Terraform, Mode::Pin, false);
        assert_only_literals_changed(&format!("case {case}"), &bytes, &pinned, &edits);
        let (again, _) = run(&pinned, FileKind::Terraform, Mode::Pin, false);
        assert!(again.is_empty(), "case {case}: not idempotent\n{text}");
        let (_, restored) = run(&pinned, FileKind::Terraform, Mode::Unpin, false);
        let mut expected = expected_round_trip(&bytes, FileKind::Terraform);
        // References that were pinned before the first run get unpinned as well.
        let (_, unpinned_original) = run(&expected, FileKind::Terraform, Mode::Unpin, false);
        expected = unpinned_original;
        assert_eq!(
            String::from_utf8_lossy(&restored),
            String::from_utf8_lossy(&expected),
            "case {case}"
        );
    }
}

/// Random damage to real files must never panic; whatever still parses keeps the
/// byte-preservation property.
#[test]
fn mutated_input_never_panics() {
    const NOISE: &[u8] = b"\"{}[]()#/*\\\n\r\t $%=:,.@\xff\xc3\xef\xbb\xbf";
    let corpus = corpus();
    let mut rng = Rng(42);
    let mut parsed = 0;
    // `TF_PIN_MUTATION_ROUNDS=100000 cargo test --release mutated` for a longer soak.
    let rounds: usize = std::env::var("TF_PIN_MUTATION_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(600);
    for round in 0..rounds {
        let (name, kind, original) = &corpus[rng.below(corpus.len())];
        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(4) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = NOISE[rng.below(NOISE.len())],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, NOISE[rng.below(NOISE.len())]),
            }
        }
        let Ok(scan) = scan_source(&bytes, *kind, &ScanOptions::default()) else {
            continue;
        };
        parsed += 1;
        let references: Vec<Reference> = scan.targets.iter().map(|t| t.reference.clone()).collect();
        let lookups = lookups(&references, false);
        let edits: Vec<Edit> = scan
            .targets
            .iter()
            .filter_map(|t| edit_for(t, &plan(t, Mode::Pin, round % 2 == 0, &lookups)))
            .collect();
        let out = apply_edits(&bytes, &edits).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_only_literals_changed(name, &bytes, &out, &edits);
    }
    assert!(
        parsed > 50,
        "too few mutants parsed ({parsed}) to mean anything"
    );
}

#[test]
fn apply_edits_rejects_bad_edit_lists_instead_of_panicking() {
    let bytes = b"a = \"x\"";
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 3..2;
    for range in [0..100, 7..8, backwards] {
        let edit = Edit {
            range,
            replacement: "y".to_owned(),
        };
        assert!(apply_edits(bytes, &[edit]).is_err());
    }
}
