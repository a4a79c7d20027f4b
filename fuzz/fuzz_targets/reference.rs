//! `Reference::parse` on arbitrary text: it never panics, and whatever it accepts
//! round-trips through `Display`, `pinned` and `unpinned`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tf_pin::reference::{Digest, Reference};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let reference = match Reference::parse(text) {
        Ok(reference) => reference,
        Err(error) => {
            // Every error message renders (and names something).
            assert!(!error.to_string().is_empty());
            return;
        }
    };

    // Display gives back the input exactly, and that parses to the same reference.
    let shown = reference.to_string();
    assert_eq!(shown, text, "Display does not round-trip");
    assert_eq!(Reference::parse(&shown).as_ref(), Ok(&reference));

    // The accessors agree with each other.
    assert!(!reference.written_name().is_empty());
    assert!(!reference.registry().is_empty());
    assert!(!reference.api_host().is_empty());
    assert!(!reference.repository().is_empty());
    assert_eq!(
        reference.canonical_name(),
        format!("{}/{}", reference.registry(), reference.repository())
    );
    assert_eq!(reference.is_pinned(), reference.digest().is_some());
    assert_eq!(
        reference.is_digest_only(),
        reference.is_pinned() && reference.tag().is_none()
    );

    // unpinned() drops the digest and nothing else.
    let unpinned = Reference::parse(&reference.unpinned())
        .unwrap_or_else(|e| panic!("unpinned() of {text:?} does not parse: {e}"));
    assert!(!unpinned.is_pinned());
    assert_eq!(unpinned.written_name(), reference.written_name());
    assert_eq!(unpinned.registry(), reference.registry());
    assert_eq!(unpinned.repository(), reference.repository());
    assert_eq!(unpinned.tag(), reference.tag());

    // pinned() with a digest (sha256 and sha512) parses back with that digest, and
    // unpinning it yields the tag that was pinned.
    for digest in [Digest::sha256_of(data), Digest::sha512_of(data)] {
        assert_eq!(Digest::parse(digest.as_str()).as_ref(), Ok(&digest));
        for strip_tag in [false, true] {
            let pinned_text = reference.pinned(&digest, strip_tag);
            let pinned = Reference::parse(&pinned_text).unwrap_or_else(|e| {
                panic!("pinned({strip_tag}) of {text:?} = {pinned_text:?} does not parse: {e}")
            });
            assert_eq!(pinned.to_string(), pinned_text);
            assert_eq!(pinned.digest(), Some(&digest));
            assert_eq!(pinned.written_name(), reference.written_name());
            assert_eq!(pinned.registry(), reference.registry());
            assert_eq!(pinned.repository(), reference.repository());
            let expected_tag = (!strip_tag).then(|| reference.tag_or_default());
            assert_eq!(pinned.tag(), expected_tag);

            let back = pinned.unpinned();
            let expected = match expected_tag {
                Some(tag) => format!("{}:{tag}", reference.written_name()),
                None => reference.written_name().to_owned(),
            };
            assert_eq!(back, expected);
            if reference.tag().is_some() && !strip_tag {
                assert_eq!(back, reference.unpinned(), "pin then unpin lost the tag");
            }
            let back = Reference::parse(&back)
                .unwrap_or_else(|e| panic!("unpinned {back:?} does not parse: {e}"));
            assert!(!back.is_pinned());
            assert_eq!(back.canonical_name(), reference.canonical_name());
        }
    }

    // Re-homing at another registry (--registry-map) keeps repository and tag, or fails
    // cleanly (e.g. when the longer name exceeds the length limit).
    for registry in ["mirror.example.com:5000", "localhost", "[::1]:443"] {
        if let Ok(moved) = reference.with_registry(registry) {
            assert_eq!(moved.registry(), registry);
            assert_eq!(moved.repository(), reference.repository());
            assert_eq!(moved.tag(), reference.tag());
            assert!(!moved.is_pinned());
        }
    }
});
