//! `tf-pin:ignore` comments.
//!
//! A slot is ignored when a comment whose text starts with `tf-pin:ignore` (after `#`,
//! `//` or `/*` and optional spaces) sits on the slot's key line, on its value's line, or
//! alone on the line directly above the key. Text after the marker is free
//! (`# tf-pin:ignore -- pinned by the release pipeline`).

use super::source::Source;

/// The marker that opens an ignore comment.
pub const IGNORE_MARKER: &str = "tf-pin:ignore";

/// Whether the slot whose key starts at `key_offset` and whose value starts at
/// `value_offset` (text offsets) carries an ignore comment.
pub fn is_ignored(source: &Source<'_>, key_offset: usize, value_offset: usize) -> bool {
    let key_line = source.line_of(key_offset);
    let value_line = source.line_of(value_offset);
    line_comments(source.line(key_line)).any(is_ignore_comment)
        || (value_line != key_line && line_comments(source.line(value_line)).any(is_ignore_comment))
        || (key_line > 1 && is_comment_only_ignore_line(source.line(key_line - 1)))
}

/// A line holding nothing but an ignore comment (or the end of a block comment that
/// carries the marker).
fn is_comment_only_ignore_line(line: &str) -> bool {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.starts_with("//") || trimmed.starts_with("/*") {
        return line_comments(line).next().is_some_and(is_ignore_comment);
    }
    false
}

fn is_ignore_comment(comment: &str) -> bool {
    let body = comment
        .strip_prefix('#')
        .or_else(|| comment.strip_prefix("//"))
        .or_else(|| comment.strip_prefix("/*"))
        .unwrap_or(comment);
    body.trim_start().starts_with(IGNORE_MARKER)
}

/// Comments on one line of code, each including its opening marker. Quoted strings are
/// skipped so a `#` inside `"…"` is not a comment. The line is assumed to start outside a
/// string, which holds for every line that holds an attribute or object key.
fn line_comments(line: &str) -> impl Iterator<Item = &str> {
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'#' => {
                found.push(&line[i..]);
                break;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                found.push(&line[i..]);
                break;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = line[i + 2..]
                    .find("*/")
                    .map_or(line.len(), |e| i + 2 + e + 2);
                found.push(&line[i..end]);
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored(text: &str) -> bool {
        let source = Source::new(text.as_bytes()).unwrap();
        let key = text.find("image").unwrap();
        let value = text.find("\"nginx").unwrap();
        is_ignored(&source, key, value)
    }

    #[test]
    fn ignore_comment_placements() {
        let table: &[(&str, bool)] = &[
            ("image = \"nginx:1\"\n", false),
            ("image = \"nginx:1\" # tf-pin:ignore\n", true),
            ("image = \"nginx:1\" // tf-pin:ignore\n", true),
            ("image = \"nginx:1\" /* tf-pin:ignore */\n", true),
            ("image = \"nginx:1\" #tf-pin:ignore reason\n", true),
            ("# tf-pin:ignore\nimage = \"nginx:1\"\n", true),
            (
                "  // tf-pin:ignore: pinned elsewhere\n  image = \"nginx:1\"\n",
                true,
            ),
            ("# tf-pin:ignore\n\nimage = \"nginx:1\"\n", false),
            ("x = 1 # tf-pin:ignore\nimage = \"nginx:1\"\n", false),
            ("image = \"nginx:1\" # renovate: datasource=docker\n", false),
            ("image = \"nginx:1\" # see tf-pin:ignore docs\n", false),
            ("image = \"nginx:1#tf-pin:ignore\"\n", false),
            ("image =\n  \"nginx:1\" # tf-pin:ignore\n", true),
            ("{ image = \"nginx:1\", # tf-pin:ignore\n", true),
            ("image = \"nginx:1\" /* x */ # tf-pin:ignore\n", true),
            ("image = \"nginx:1\"\n# tf-pin:ignore\n", false),
        ];
        for (text, expected) in table {
            assert_eq!(ignored(text), *expected, "{text:?}");
        }
    }
}
