//! A file's bytes as hcl-edit sees them: UTF-8 checked, a leading byte-order mark set
//! aside (hcl-edit rejects it, Terraform accepts it), and a line index for positions.
//!
//! Offsets come in two flavours: *text offsets* index [`Source::text`] (what hcl-edit
//! parsed, BOM excluded) and *file offsets* index the original bytes. They differ by
//! [`Source::base`], which is 3 when the file starts with a BOM and 0 otherwise.

use super::error::SourceError;

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A decoded source file.
#[derive(Debug)]
pub struct Source<'a> {
    text: &'a str,
    base: usize,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    /// Checks the encoding and sets a leading BOM aside.
    pub fn new(bytes: &'a [u8]) -> Result<Source<'a>, SourceError> {
        let (base, body) = match bytes.strip_prefix(BOM) {
            Some(rest) => (BOM.len(), rest),
            None => (0, bytes),
        };
        match std::str::from_utf8(body) {
            Ok(text) => Ok(Source {
                text,
                base,
                line_starts: line_starts(text),
            }),
            Err(err) => {
                let valid = err.valid_up_to();
                // The prefix up to `valid` is UTF-8 by definition.
                let prefix = std::str::from_utf8(&body[..valid]).unwrap_or_default();
                let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
                Err(SourceError::NotUtf8 {
                    line: prefix.matches('\n').count() + 1,
                    column: prefix[line_start..].chars().count() + 1,
                    offset: base + valid,
                })
            }
        }
    }

    /// The text hcl-edit parses (without a BOM).
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// Length of the set-aside BOM: add it to a text offset to get a file offset.
    pub fn base(&self) -> usize {
        self.base
    }

    /// One-based line and column (in characters) of a text offset. Out-of-range offsets
    /// are clamped; offsets inside a character count that character.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line_index).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..)
            .unwrap_or_default()
            .char_indices()
            .take_while(|(i, _)| start + i < offset)
            .count()
            + 1;
        (line_index + 1, column)
    }

    /// The one-based line number containing a text offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.position(offset).0
    }

    /// Text range of a one-based line, without its line terminator (`\n` or `\r\n`).
    pub fn line_range(&self, line: usize) -> Option<std::ops::Range<usize>> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |next| next - 1);
        let end = if self.text.as_bytes().get(end.wrapping_sub(1)) == Some(&b'\r') && end > start {
            end - 1
        } else {
            end
        };
        Some(start..end)
    }

    /// The text of a one-based line, without its terminator; empty when out of range.
    pub fn line(&self, line: usize) -> &'a str {
        self.line_range(line)
            .and_then(|range| self.text.get(range))
            .unwrap_or_default()
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_lines() {
        let source = Source::new("a = 1\r\nbé = \"x\"\n".as_bytes()).unwrap();
        assert_eq!(source.position(0), (1, 1));
        assert_eq!(source.position(7), (2, 1));
        // "bé = " is 6 bytes but 5 characters.
        assert_eq!(source.position(13), (2, 6));
        assert_eq!(source.line(1), "a = 1");
        assert_eq!(source.line(2), "bé = \"x\"");
        assert_eq!(source.line(3), "");
        assert_eq!(source.line(4), "");
    }

    #[test]
    fn a_bom_is_set_aside_and_counted_in_file_offsets() {
        let source = Source::new(b"\xEF\xBB\xBFa = 1\n").unwrap();
        assert_eq!(source.base(), 3);
        assert_eq!(source.text(), "a = 1\n");
        assert_eq!(source.position(4), (1, 5));
    }

    #[test]
    fn invalid_utf8_names_line_column_and_offset() {
        let err = Source::new(b"a = 1\nb = \"\xFF\"\n").unwrap_err();
        assert_eq!(
            err,
            SourceError::NotUtf8 {
                line: 2,
                column: 6,
                offset: 11
            }
        );
    }
}
