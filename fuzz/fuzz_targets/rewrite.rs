//! The pure rewrite pipeline on arbitrary bytes: `scan_source` → `plan` (against
//! `MemorySource::derived()`, a fixed fake digest table) → `apply_edits`.
//!
//! * No input panics, in any mode, as a `.tf` or a `.tfvars` file.
//! * Every target's ranges point at its own quoted literal in the input.
//! * Outside the replaced literals the output equals the input, byte for byte.
//! * Pinned output parses again, and pinning it again changes nothing.
//! * When every reference was tagged, unpinned and spelled without escapes, unpinning
//!   the pinned output restores the input exactly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tf_pin::reference::Reference;
use tf_pin::rewrite::{
    DigestSource, Edit, FileKind, Lookups, MemorySource, Mode, Scan, ScanOptions, apply_edits,
    decode_literal, edit_for, encode_literal, needs, plan, scan_source,
};

const MODES: [Mode; 5] = [
    Mode::Pin,
    Mode::Update,
    Mode::Unpin,
    Mode::Check { offline: true },
    Mode::Check { offline: false },
];

fuzz_target!(|data: &[u8]| {
    let options = ScanOptions {
        extra_attributes: vec!["container_image".to_owned()],
    };
    for kind in [FileKind::Terraform, FileKind::Tfvars] {
        check(data, kind, &options);
    }
});

fn check(data: &[u8], kind: FileKind, options: &ScanOptions) {
    let scan = match scan_source(data, kind, options) {
        Ok(scan) => scan,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    check_targets(data, &scan);
    let registry = MemorySource::derived();

    for mode in MODES {
        for strip_tag in [false, true] {
            let (edits, out) = run(data, &scan, &registry, mode, strip_tag);
            if matches!(mode, Mode::Check { .. }) {
                assert!(edits.is_empty(), "check mode produced edits");
            }
            assert_only_literals_changed(data, &out, &edits);
        }
    }

    // Pinned output is still a file tf-pin can read, and a second pin is a no-op.
    let (_, pinned) = run(data, &scan, &registry, Mode::Pin, false);
    let rescan = scan_source(&pinned, kind, options)
        .unwrap_or_else(|e| panic!("pinned output no longer scans: {e}"));
    check_targets(&pinned, &rescan);
    assert_eq!(
        rescan.targets.len(),
        scan.targets.len(),
        "pinning changed the number of targets"
    );
    assert!(rescan.targets.iter().all(|t| t.reference.is_pinned()));
    let (again, twice) = run(&pinned, &rescan, &registry, Mode::Pin, false);
    assert!(again.is_empty(), "pin is not idempotent: {again:?}");
    assert_eq!(twice, pinned);

    // pin → unpin restores tagged, unpinned, plainly spelled input byte for byte.
    let plain_tagged = scan.targets.iter().all(|t| {
        t.reference.tag().is_some()
            && !t.reference.is_pinned()
            && data[t.content.clone()] == *encode_literal(&t.value).as_bytes()
    });
    if plain_tagged {
        let (_, restored) = run(&pinned, &rescan, &registry, Mode::Unpin, false);
        assert!(
            restored == data,
            "pin then unpin did not restore the input:\n{:?}\n{:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&restored)
        );
    }
}

/// Each target names its own quoted literal, whose decoded text is the reference.
fn check_targets(data: &[u8], scan: &Scan) {
    let mut previous_end = 0;
    for target in &scan.targets {
        let literal = target.literal.clone();
        let content = target.content.clone();
        assert!(literal.end <= data.len(), "literal past the end");
        assert_eq!(content.start, literal.start + 1);
        assert_eq!(content.end + 1, literal.end);
        assert!(content.start <= content.end);
        assert_eq!(data[literal.start], b'"');
        assert_eq!(data[content.end], b'"');
        assert!(
            literal.start >= previous_end,
            "targets overlap or are unsorted"
        );
        previous_end = literal.end;
        let raw = std::str::from_utf8(&data[content]).expect("a literal is UTF-8");
        assert_eq!(decode_literal(raw).as_deref(), Ok(target.value.as_str()));
        assert_eq!(
            Reference::parse(&target.value).as_ref(),
            Ok(&target.reference)
        );
        assert!(target.line >= 1 && target.column >= 1);
    }
}

/// Plans every target against the in-memory registry and applies the edits.
fn run(
    data: &[u8],
    scan: &Scan,
    registry: &MemorySource,
    mode: Mode,
    strip_tag: bool,
) -> (Vec<Edit>, Vec<u8>) {
    let lookups = lookups(scan, registry, mode);
    let edits: Vec<Edit> = scan
        .targets
        .iter()
        .filter_map(|t| edit_for(t, &plan(t, mode, strip_tag, &lookups)))
        .collect();
    let out =
        apply_edits(data, &edits).unwrap_or_else(|e| panic!("edits of one scan do not apply: {e}"));
    (edits, out)
}

fn lookups(scan: &Scan, registry: &MemorySource, mode: Mode) -> Lookups {
    let needs = needs(&scan.targets, mode);
    let mut lookups = Lookups::default();
    let answers = registry.resolve_many(&needs.tags);
    assert_eq!(answers.len(), needs.tags.len());
    for (reference, answer) in needs.tags.iter().zip(answers) {
        lookups.set_tag(reference, answer.map(|resolution| resolution.digest));
    }
    let answers = registry.manifest_exists(&needs.manifests);
    assert_eq!(answers.len(), needs.manifests.len());
    for ((reference, digest), answer) in needs.manifests.iter().zip(answers) {
        lookups.set_manifest(reference, digest, answer);
    }
    lookups
}

/// Outside the edited ranges (each between two quotes), `new` equals `old`.
fn assert_only_literals_changed(old: &[u8], new: &[u8], edits: &[Edit]) {
    let mut edits: Vec<&Edit> = edits.iter().collect();
    edits.sort_by_key(|e| e.range.start);
    let (mut at_old, mut at_new) = (0, 0);
    for edit in edits {
        let range = &edit.range;
        assert_eq!(old[range.start - 1], b'"', "edit not after a quote");
        assert_eq!(old[range.end], b'"', "edit not before a quote");
        let keep = range.start - at_old;
        assert_eq!(&old[at_old..range.start], &new[at_new..at_new + keep]);
        at_new += keep;
        let replacement = edit.replacement.as_bytes();
        assert_eq!(&new[at_new..at_new + replacement.len()], replacement);
        at_new += replacement.len();
        at_old = range.end;
    }
    assert_eq!(&old[at_old..], &new[at_new..], "the tail changed");
}
