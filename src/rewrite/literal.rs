//! The codec for the text between the quotes of an HCL quoted string literal.
//!
//! HCL escapes: `\n`, `\r`, `\t`, `\"`, `\\`, `\uXXXX`, `\UXXXXXXXX`, and the template
//! escapes `$${` (a literal `${`) and `%%{` (a literal `%{`). An unescaped `${` or `%{`
//! makes the string a template, which is not a literal.

/// Why raw literal text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// `${` or `%{` starts a template interpolation or directive at this byte offset.
    Template(usize),
    /// A backslash escape is invalid at this byte offset.
    Escape(usize),
    /// A raw `"` appears at this byte offset (the literal would have ended there).
    Quote(usize),
}

/// Decodes the raw text between the quotes into the string value.
pub fn decode(raw: &str) -> Result<String, DecodeError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        let at = raw.len() - rest.len();
        if let Some(after) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = rest.strip_prefix("%%{") {
            out.push_str("%{");
            rest = after;
        } else if rest.starts_with("${") || rest.starts_with("%{") {
            return Err(DecodeError::Template(at));
        } else if c == '"' {
            return Err(DecodeError::Quote(at));
        } else if c == '\\' {
            let (ch, consumed) = decode_escape(&rest[1..]).ok_or(DecodeError::Escape(at))?;
            out.push(ch);
            rest = &rest[1 + consumed..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Ok(out)
}

/// Decodes the escape after a backslash: the character and the bytes it used.
fn decode_escape(after_backslash: &str) -> Option<(char, usize)> {
    let kind = after_backslash.chars().next()?;
    match kind {
        'n' => Some(('\n', 1)),
        'r' => Some(('\r', 1)),
        't' => Some(('\t', 1)),
        '"' => Some(('"', 1)),
        '\\' => Some(('\\', 1)),
        'u' | 'U' => {
            let digits = if kind == 'u' { 4 } else { 8 };
            let hex = after_backslash.get(1..1 + digits)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let code = u32::from_str_radix(hex, 16).ok()?;
            Some((char::from_u32(code)?, 1 + digits))
        }
        _ => None,
    }
}

/// Encodes a string value as raw literal text (without the quotes), escaping only what
/// must be escaped so that ordinary image references come out verbatim.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    // Control characters are all in the BMP: one unit.
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_escape_form() {
        let table: &[(&str, &str)] = &[
            ("", ""),
            ("nginx:1.25", "nginx:1.25"),
            (r#"a\"b"#, "a\"b"),
            (r"a\\b", "a\\b"),
            (r"a\nb\rc\td", "a\nb\rc\td"),
            (r"\u00e9", "é"),
            (r"\u00E9", "é"),
            (r"\U0001F600", "😀"),
            ("$${var.x}", "${var.x}"),
            ("%%{if}", "%{if}"),
            ("$$${", "$${"),
            ("$x %y $ %", "$x %y $ %"),
            ("héllo ✓", "héllo ✓"),
        ];
        for (raw, value) in table {
            assert_eq!(decode(raw).as_deref(), Ok(*value), "decode {raw:?}");
        }
    }

    #[test]
    fn rejects_templates_bad_escapes_and_stray_quotes() {
        let table: &[(&str, DecodeError)] = &[
            ("${var.x}", DecodeError::Template(0)),
            ("a%{ if x }", DecodeError::Template(1)),
            (r"a\q", DecodeError::Escape(1)),
            (r"\u12", DecodeError::Escape(0)),
            (r"\uD800", DecodeError::Escape(0)),
            (r"\U00110000", DecodeError::Escape(0)),
            (r"\u+0AB", DecodeError::Escape(0)),
            ("\\", DecodeError::Escape(0)),
            ("a\"b", DecodeError::Quote(1)),
        ];
        for (raw, expected) in table {
            assert_eq!(decode(raw).as_ref(), Err(expected), "decode {raw:?}");
        }
    }

    #[test]
    fn encodes_only_what_needs_escaping() {
        let table: &[(&str, &str)] = &[
            ("nginx:1.25@sha256:abc", "nginx:1.25@sha256:abc"),
            ("a\"b\\c", r#"a\"b\\c"#),
            ("a\nb\tc\r", r"a\nb\tc\r"),
            ("${x}", "$${x}"),
            ("%{x}", "%%{x}"),
            ("$${", "$$${"),
            ("$ %", "$ %"),
            ("\u{1}", r"\u0001"),
            ("\u{7f}", r"\u007F"),
            ("é✓", "é✓"),
        ];
        for (value, raw) in table {
            assert_eq!(encode(value), *raw, "encode {value:?}");
        }
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let samples = [
            "",
            "plain",
            "${",
            "$${",
            "$$${{",
            "%{%%{",
            "\\\"",
            "\u{0}\u{1f}\u{7f}\u{9f}",
            "a$",
            "a%",
            "$",
            "%",
            "{",
            "é😀",
            "\r\n",
        ];
        for sample in samples {
            assert_eq!(decode(&encode(sample)).as_deref(), Ok(sample), "{sample:?}");
        }
    }

    #[test]
    fn encoded_text_means_the_same_to_hcl_edit() {
        let samples = [
            "nginx:1",
            "a\"b\\c",
            "${x}",
            "$${",
            "%{y}",
            "\u{1}é",
            "tab\there",
        ];
        for sample in samples {
            let source = format!("a = \"{}\"\n", encode(sample));
            let body = hcl_edit::parser::parse_body(&source).unwrap();
            let value = body.get_attribute("a").unwrap().value.as_str();
            assert_eq!(value, Some(sample), "{source:?}");
        }
    }
}
