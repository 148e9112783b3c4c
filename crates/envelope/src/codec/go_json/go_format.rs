//! A `serde_json` formatter that escapes strings as Go's `encoding/json` does.

use std::io;

use serde_json::ser::Formatter;

/// Writes what `json.Marshal` writes: compact output where `<`, `>`, `&`,
/// U+2028 and U+2029 inside strings are `\u`-escaped (Go's default HTML-safe
/// escaping), and embedded raw JSON (`json.RawMessage`) compacted and escaped
/// the same way. serde_json's own escapes (`\"`, `\\`, `\b`, `\f`, `\n`,
/// `\r`, `\t`, `\u00XX` in lower-case hex) already match Go 1.22 and later.
pub(super) struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_escaped(writer, fragment.as_bytes(), false)
    }

    fn write_raw_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_escaped(writer, fragment.as_bytes(), true)
    }
}

/// Copies `src` to `writer`, escaping HTML-significant characters and line
/// separators; when `compact` (for valid JSON text), also drops whitespace
/// outside strings, as Go's `compact` does.
fn write_escaped<W: ?Sized + io::Write>(
    writer: &mut W,
    src: &[u8],
    compact: bool,
) -> io::Result<()> {
    let mut start = 0;
    let mut in_string = false;
    let mut after_backslash = false;
    let mut i = 0;
    while i < src.len() {
        let byte = src[i];
        let replacement: Option<&[u8]> = match byte {
            b'<' => Some(b"\\u003c"),
            b'>' => Some(b"\\u003e"),
            b'&' => Some(b"\\u0026"),
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
            0xE2 if src.get(i + 1) == Some(&0x80) && matches!(src.get(i + 2), Some(0xA8)) => {
                Some(b"\\u2028")
            }
            0xE2 if src.get(i + 1) == Some(&0x80) && matches!(src.get(i + 2), Some(0xA9)) => {
                Some(b"\\u2029")
            }
            b' ' | b'\t' | b'\n' | b'\r' if compact && !in_string => Some(b""),
            _ => None,
        };
        if compact {
            if in_string {
                if after_backslash {
                    after_backslash = false;
                } else if byte == b'\\' {
                    after_backslash = true;
                } else if byte == b'"' {
                    in_string = false;
                }
            } else if byte == b'"' {
                in_string = true;
            }
        }
        match replacement {
            Some(replacement) => {
                writer.write_all(&src[start..i])?;
                writer.write_all(replacement)?;
                // The line separators are three bytes long.
                i += if byte == 0xE2 { 3 } else { 1 };
                start = i;
            }
            None => i += 1,
        }
    }
    writer.write_all(&src[start..])
}
