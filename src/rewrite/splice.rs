//! Splicing new literal text into the original bytes. Nothing is ever re-printed from a
//! syntax tree: every byte outside the edited ranges is copied as is.

use std::ops::Range;

/// Replace `range` (file byte offsets) with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The bytes to replace: the inside of a string literal, quotes excluded.
    pub range: Range<usize>,
    /// The new raw literal text (already escaped).
    pub replacement: String,
}

/// Why a set of edits cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// An edit reaches past the end of the input or has start > end.
    #[error("edit {start}..{end} is outside the {len}-byte input")]
    OutOfRange {
        /// Start offset.
        start: usize,
        /// End offset.
        end: usize,
        /// Input length.
        len: usize,
    },
    /// Two edits overlap.
    #[error("edits {first:?} and {second:?} overlap")]
    Overlap {
        /// The earlier edit's range.
        first: Range<usize>,
        /// The later edit's range.
        second: Range<usize>,
    },
}

/// Applies edits (in any order) to `original`. The result equals `original` outside the
/// edited ranges. Overlapping or out-of-range edits are rejected, never clamped.
pub fn apply_edits(original: &[u8], edits: &[Edit]) -> Result<Vec<u8>, EditError> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|edit| (edit.range.start, edit.range.end));
    let mut out = Vec::with_capacity(original.len() + edits.len() * 80);
    let mut cursor = 0;
    let mut previous: Option<&Range<usize>> = None;
    for edit in sorted {
        let Range { start, end } = edit.range;
        if start > end || end > original.len() {
            return Err(EditError::OutOfRange {
                start,
                end,
                len: original.len(),
            });
        }
        if start < cursor {
            return Err(EditError::Overlap {
                first: previous.cloned().unwrap_or(0..cursor),
                second: edit.range.clone(),
            });
        }
        out.extend_from_slice(&original[cursor..start]);
        out.extend_from_slice(edit.replacement.as_bytes());
        cursor = end;
        previous = Some(&edit.range);
    }
    out.extend_from_slice(&original[cursor..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(range: Range<usize>, text: &str) -> Edit {
        Edit {
            range,
            replacement: text.to_owned(),
        }
    }

    #[test]
    fn splices_in_any_order_and_keeps_everything_else() {
        let original = b"a = \"x\" # c\r\nb = \"y\"\r\n";
        let out = apply_edits(original, &[edit(18..19, "YY"), edit(5..6, "")]).unwrap();
        assert_eq!(out, b"a = \"\" # c\r\nb = \"YY\"\r\n");
        assert_eq!(apply_edits(original, &[]).unwrap(), original);
    }

    #[test]
    fn rejects_overlaps_and_out_of_range_edits() {
        let original = b"0123456789";
        assert!(matches!(
            apply_edits(original, &[edit(2..5, ""), edit(4..6, "")]),
            Err(EditError::Overlap { .. })
        ));
        assert!(matches!(
            apply_edits(original, &[edit(8..11, "")]),
            Err(EditError::OutOfRange { .. })
        ));
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = edit(5..4, "");
        assert!(matches!(
            apply_edits(original, &[backwards]),
            Err(EditError::OutOfRange { .. })
        ));
        // Adjacent edits are fine; so are two inserts at different points.
        assert_eq!(
            apply_edits(original, &[edit(2..4, "x"), edit(4..6, "y")]).unwrap(),
            b"01xy6789"
        );
    }
}
