//! Escaping of every text that came from the system before it is shown.
//!
//! sockdiag runs as root and prints text that other users' processes chose: command names
//! (`comm`, up to 15 bytes the process sets with `prctl(PR_SET_NAME)`), unix socket paths and
//! abstract names (any bytes, NUL included), cgroup paths (any bytes but `/` in a delegated
//! subtree), network namespace names, anything read from a file. Written raw to a terminal such
//! a name can move the cursor, clear the screen, recolour or hide the rows after it, fake a
//! line break, or reorder what follows it (bidi overrides). Every such text goes through one of
//! the functions here, in the tables and the notes alike; nothing system-chosen is written raw.
//!
//! # Terminal form ([`for_terminal`], [`Escaped`])
//!
//! The bytes are read as UTF-8, and:
//!
//! - a printable character is shown as itself, spaces included;
//! - `\` is shown as `\\`;
//! - line feed, tab and carriage return are shown as `\n`, `\t` and `\r`;
//! - every other C0 control character (U+0000 to U+001F) and DEL (U+007F) is shown as `\xNN`,
//!   `NN` being two lower-case hexadecimal digits (NUL is `\x00`, ESC is `\x1b`);
//! - a byte that is not part of valid UTF-8 is shown as `\xNN` too: `\x80` to `\xff` always
//!   stand for such a byte, `\x00` to `\x1f` and `\x7f` for a control character;
//! - a C1 control character (U+0080 to U+009F), a format character (Unicode general category
//!   Cf: the bidirectional embeddings, overrides and isolates U+202A to U+202E and U+2066 to
//!   U+2069, the marks U+200E, U+200F and U+061C, the zero-width characters U+200B to U+200D,
//!   U+2060 and U+FEFF, the invisible operators U+2061 to U+2064, the soft hyphen U+00AD, tag
//!   characters U+E0001 to U+E007F, ...), the line and paragraph separators U+2028 and U+2029,
//!   and every other character Unicode says to render invisibly (Default_Ignorable_Code_Point:
//!   variation selectors, Hangul fillers, ...) is shown as `\u{XXXX}`: its code point in at
//!   least four lower-case hexadecimal digits, as `\u{202e}` or `\u{e0041}`.
//!
//! The form is unambiguous: two different byte strings are never shown alike (the tests decode
//! it back). Spaces are not escaped: `ps`, `ss` and `lsof` show a command name `a b` as is,
//! and escaping every blank would make ordinary paths unreadable. The table columns are
//! aligned for a person, not for splitting on whitespace: a name with blanks in it can make a
//! row look as if it had more columns, but never another row, since it cannot contain a line
//! break. Programs read `--json`. What the rules above do not catch: characters that look alike
//! (homoglyphs), combining marks, and wide characters, which make a row look wider than the
//! count of characters that aligns it.
//!
//! # JSON form ([`for_json`])
//!
//! JSON strings are Unicode text, so bytes that are not valid UTF-8 need a rule; the rule is
//! lossless: valid UTF-8 is kept as it is except that `\` becomes `\\`, and each byte that is
//! not part of valid UTF-8 becomes the four characters `\xNN` (lower-case hex). A consumer gets
//! the original bytes back by reading `\\` as one backslash and `\xNN` as the byte `NN`; a
//! string with no backslash in it is exactly the original text. Control characters stay as
//! they are here; `serde_json` then escapes them as JSON demands (`\n`, `\u001b`, ...).
//!
//! # Metric labels ([`label_value`], [`label_value_bytes`])
//!
//! Label values follow the Prometheus text exposition format 0.0.4: `\` is written `\\`, `"`
//! is written `\"`, a line feed is written `\n`, every other UTF-8 character as is. A label
//! whose source is bytes first takes the JSON form, so the value a scraper stores is the same
//! string JSON carries, and is reversible the same way.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// `bytes` as a terminal may show it: see the module docs for the rules. Borrowed when nothing
/// needs escaping, which is the common case.
pub fn for_terminal(bytes: &[u8]) -> Cow<'_, str> {
    if let Some(text) = plain_terminal(bytes) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_terminal(&mut out, c);
        }
        for &byte in chunk.invalid() {
            push_byte(&mut out, byte);
        }
    }
    Cow::Owned(out)
}

/// `bytes` losslessly as the text of a JSON string (before JSON's own escaping): see the
/// module docs. Borrowed when the bytes are valid UTF-8 without a backslash.
pub fn for_json(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes)
        && !text.contains('\\')
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    push_json(&mut out, bytes);
    Cow::Owned(out)
}

/// The inverse of [`for_json`], for a consumer of the JSON who wants the original bytes:
/// `None` for a backslash not followed by `\` or `xNN` (lower-case hex).
pub fn from_json(text: &str) -> Option<Vec<u8>> {
    unescape(text, false)
}

/// `text` as a label value of the Prometheus text exposition format 0.0.4: `\`, `"` and line
/// feed escaped, nothing else. Borrowed when none of the three occurs.
pub fn label_value(text: &str) -> Cow<'_, str> {
    if !text.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    push_label(&mut out, text);
    Cow::Owned(out)
}

/// `bytes` as a label value: [`label_value`] of [`for_json`], so that the value a scraper
/// reads is the JSON form of the bytes.
pub fn label_value_bytes(bytes: &[u8]) -> Cow<'_, str> {
    match for_json(bytes) {
        Cow::Borrowed(text) => label_value(text),
        Cow::Owned(json) => {
            let mut out = String::with_capacity(json.len() + 8);
            push_label(&mut out, &json);
            Cow::Owned(out)
        }
    }
}

/// Shows bytes in the terminal form of [`for_terminal`], honouring width, alignment and
/// precision: `format!("{:<20}", Escaped(comm))`. Width counts characters of the escaped text
/// (an escape such as `\x1b` counts four); a precision cuts the escaped text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&for_terminal(self.0))
    }
}

/// `bytes` as they are when no character of them needs escaping.
fn plain_terminal(bytes: &[u8]) -> Option<&str> {
    // Most names are printable ASCII: one pass over the bytes, no character decoding.
    if bytes.iter().all(|&b| (b' '..=b'~').contains(&b) && b != b'\\') {
        return std::str::from_utf8(bytes).ok();
    }
    let text = std::str::from_utf8(bytes).ok()?;
    (!text.chars().any(needs_terminal_escape)).then_some(text)
}

fn needs_terminal_escape(c: char) -> bool {
    c == '\\' || c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c) || is_invisible(c)
}

fn push_terminal(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        // C0 controls and DEL: one byte each.
        '\0'..='\u{1f}' | '\u{7f}' => push_byte(out, c as u8),
        c if ('\u{80}'..='\u{9f}').contains(&c) || is_invisible(c) => {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

fn push_byte(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0xf)]));
}

fn push_json(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        for (i, piece) in chunk.valid().split('\\').enumerate() {
            if i > 0 {
                out.push_str("\\\\");
            }
            out.push_str(piece);
        }
        for &byte in chunk.invalid() {
            push_byte(out, byte);
        }
    }
}

fn push_label(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The inverse of [`for_terminal`]: the bytes a shown name stands for (the form is
/// unambiguous); `None` for text that is not in that form.
pub fn from_terminal(text: &str) -> Option<Vec<u8>> {
    unescape(text, true)
}

/// The one decoder of both forms: `\\` and `\xNN` in each, and with `terminal` also
/// `\n`, `\t`, `\r` and `\u{…}`, which only [`for_terminal`] writes.
fn unescape(text: &str, terminal: bool) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let simple = match bytes.get(i + 1)? {
            b'\\' => b'\\',
            b'n' if terminal => b'\n',
            b't' if terminal => b'\t',
            b'r' if terminal => b'\r',
            b'x' => {
                out.push(hex_pair(bytes.get(i + 2..i + 4)?)?);
                i += 4;
                continue;
            }
            b'u' if terminal && bytes.get(i + 2) == Some(&b'{') => {
                let rest = text.get(i + 3..)?;
                let end = rest.find('}')?;
                let c = char::from_u32(u32::from_str_radix(&rest[..end], 16).ok()?)?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                i += 3 + end + 1;
                continue;
            }
            _ => return None,
        };
        out.push(simple);
        i += 2;
    }
    Some(out)
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    Some((digit(*pair.first()?)? << 4) | digit(*pair.get(1)?)?)
}

/// Characters above U+009F shown as `\u{XXXX}`: general categories Cf (format), Zl and Zp,
/// and the rest of Default_Ignorable_Code_Point (Unicode 15.1 `DerivedCoreProperties.txt`),
/// as inclusive ranges in ascending order. Unassigned code points in those ranges are kept in
/// them, so that a later Unicode version cannot turn them visible-but-blank unnoticed.
const INVISIBLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // soft hyphen
    (0x034F, 0x034F),   // combining grapheme joiner
    (0x0600, 0x0605),   // Arabic number signs
    (0x061C, 0x061C),   // Arabic letter mark (bidi)
    (0x06DD, 0x06DD),   // Arabic end of ayah
    (0x070F, 0x070F),   // Syriac abbreviation mark
    (0x0890, 0x0891),   // Arabic pound and piastre marks above
    (0x08E2, 0x08E2),   // Arabic disputed end of ayah
    (0x115F, 0x1160),   // Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),   // Khmer inherent vowels
    (0x180B, 0x180F),   // Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),   // zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x202E),   // line and paragraph separators; bidi embeddings and overrides
    (0x2060, 0x206F),   // word joiner, invisible operators, bidi isolates, deprecated formats
    (0x3164, 0x3164),   // Hangul filler
    (0xFE00, 0xFE0F),   // variation selectors 1 to 16
    (0xFEFF, 0xFEFF),   // zero-width no-break space (byte order mark)
    (0xFFA0, 0xFFA0),   // halfwidth Hangul filler
    (0xFFF0, 0xFFFB),   // reserved; interlinear annotation anchors
    (0x110BD, 0x110BD), // Kaithi number sign
    (0x110CD, 0x110CD), // Kaithi number sign above
    (0x13430, 0x1343F), // Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol beam and slur controls
    (0xE0000, 0xE0FFF), // tags; variation selectors 17 to 256
];

fn is_invisible(c: char) -> bool {
    let c = u32::from(c);
    c >= 0xAD && INVISIBLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny xorshift64 generator: reproducible byte strings without a crate.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Bytes biased towards the ones escaping cares about, with whole UTF-8 sequences.
        fn bytes(&mut self) -> Vec<u8> {
            let len = (self.next() % 40) as usize;
            let mut out = Vec::with_capacity(len * 2);
            for _ in 0..len {
                let r = self.next();
                match r % 8 {
                    0 => out.push(b'\\'),
                    1 => out.extend_from_slice(b"x1"),
                    2 => out.push((r >> 8) as u8 & 0x1f),
                    3 => {
                        let c = char::from_u32((r >> 8) as u32 % 0x11_0000).unwrap_or('\u{202e}');
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    4 => out.push(0x80 | (r >> 8) as u8),
                    _ => out.push((r >> 8) as u8),
                }
            }
            out
        }
    }

    /// Names hostile processes can choose, with their exact terminal and JSON-text forms.
    const HOSTILE: &[(&[u8], &str, &str)] = &[
        // comm with an SGR colour, a line feed and a tab.
        (b"ev\x1b[31mil\nx\t", r"ev\x1b[31mil\nx\t", "ev\x1b[31mil\nx\t"),
        // An abstract name after its leading NUL (sockdiag prints `@` for the NUL).
        (
            b"bad\x1b[2Jname\nline",
            r"bad\x1b[2Jname\nline",
            "bad\x1b[2Jname\nline",
        ),
        // The whole abstract name, NUL included.
        (b"\0bad", r"\x00bad", "\0bad"),
        // Latin-1, not UTF-8.
        (b"caf\xe9", r"caf\xe9", r"caf\xe9"),
        // Right-to-left override: would show `exe.txt`.
        (
            "\u{202e}txt.exe".as_bytes(),
            r"\u{202e}txt.exe",
            "\u{202e}txt.exe",
        ),
        // C1 CSI as a character, and as a lone byte.
        ("\u{9b}31m".as_bytes(), r"\u{009b}31m", "\u{9b}31m"),
        (b"\x9b31m", r"\x9b31m", r"\x9b31m"),
        // Backslashes, including one that looks like an escape already.
        (b"a\\b", r"a\\b", r"a\\b"),
        (b"\\x1b", r"\\x1b", r"\\x1b"),
        // Carriage return, DEL, BEL.
        (b"ok\rfake\x7f\x07", r"ok\rfake\x7f\x07", "ok\rfake\x7f\x07"),
        // Zero-width space, byte order mark, hidden tag letters.
        (
            "ng\u{200b}inx\u{feff}".as_bytes(),
            r"ng\u{200b}inx\u{feff}",
            "ng\u{200b}inx\u{feff}",
        ),
        ("a\u{e0041}".as_bytes(), r"a\u{e0041}", "a\u{e0041}"),
        // Line separator and bidi isolate.
        (
            "a\u{2028}b\u{2066}".as_bytes(),
            r"a\u{2028}b\u{2066}",
            "a\u{2028}b\u{2066}",
        ),
        // A truncated UTF-8 sequence (comm cut at 15 bytes in the middle of a character).
        (b"na\xc3", r"na\xc3", r"na\xc3"),
        (b"\xe2\x80", r"\xe2\x80", r"\xe2\x80"),
        // An overlong encoding of `/` and a UTF-16 surrogate encoded in UTF-8.
        (
            b"\xc0\xaf\xed\xa0\x80",
            r"\xc0\xaf\xed\xa0\x80",
            r"\xc0\xaf\xed\xa0\x80",
        ),
        // Spaces and printable non-ASCII pass.
        ("a b café 進程 ☃".as_bytes(), "a b café 進程 ☃", "a b café 進程 ☃"),
    ];

    #[test]
    fn hostile_names_byte_for_byte() {
        for &(input, terminal, json) in HOSTILE {
            assert_eq!(for_terminal(input), terminal, "terminal form of {input:?}");
            assert_eq!(for_json(input), json, "JSON text of {input:?}");
            assert_eq!(from_json(json).as_deref(), Some(input), "JSON back of {input:?}");
            assert_eq!(
                from_terminal(terminal).as_deref(),
                Some(input),
                "terminal back of {input:?}"
            );
        }
    }

    #[test]
    fn json_documents_byte_for_byte() {
        let json = |bytes: &[u8]| serde_json::to_string(&for_json(bytes)).expect("a string serializes");
        assert_eq!(json(b"ev\x1b[31mil\nx\t"), r#""ev\u001b[31mil\nx\t""#);
        assert_eq!(json(b"caf\xe9"), r#""caf\\xe9""#);
        assert_eq!(json(b"a\\b\"c"), r#""a\\\\b\"c""#);
        assert_eq!(json("\u{202e}txt".as_bytes()), "\"\u{202e}txt\"");
        assert_eq!(json(b"\0x"), r#""\u0000x""#);
    }

    #[test]
    fn nothing_to_escape_borrows() {
        for text in ["nginx", "/run/systemd/journal/stdout", "a b", "", "café", "進程"] {
            assert!(matches!(for_terminal(text.as_bytes()), Cow::Borrowed(t) if t == text));
            assert!(matches!(for_json(text.as_bytes()), Cow::Borrowed(t) if t == text));
            assert!(matches!(label_value(text), Cow::Borrowed(t) if t == text));
            assert!(matches!(label_value_bytes(text.as_bytes()), Cow::Borrowed(t) if t == text));
        }
        assert!(matches!(for_terminal(b"a\\b"), Cow::Owned(_)));
        assert!(matches!(for_json(b"caf\xe9"), Cow::Owned(_)));
    }

    #[test]
    fn display_pads_the_escaped_text() {
        assert_eq!(format!("{:<8}|", Escaped(b"a\nb")), "a\\nb    |");
        assert_eq!(format!("{:>8}|", Escaped(b"\x1b")), "    \\x1b|");
        assert_eq!(format!("{:^6}|", Escaped(b"ab")), "  ab  |");
        assert_eq!(format!("{}", Escaped(b"caf\xe9")), "caf\\xe9");
        assert_eq!(format!("{:.3}", Escaped(b"abcdef")), "abc");
    }

    #[test]
    fn label_values_follow_the_exposition_format() {
        assert_eq!(label_value("a\"b\\c\nd\te"), "a\\\"b\\\\c\\nd\te");
        // Bytes take the JSON form first, whose backslashes are then escaped.
        assert_eq!(label_value_bytes(b"x\xff\\\"\n"), r#"x\\xff\\\\\"\n"#);
        assert_eq!(label_value_bytes(b"caf\xe9"), r"caf\\xe9");
    }

    #[test]
    fn json_form_is_lossless_and_terminal_form_unambiguous() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let bytes = rng.bytes();
            let json = for_json(&bytes);
            assert_eq!(from_json(&json).as_deref(), Some(&bytes[..]), "{bytes:?}");
            let terminal = for_terminal(&bytes);
            assert_eq!(from_terminal(&terminal).as_deref(), Some(&bytes[..]), "{bytes:?}");
            // Nothing a terminal acts on survives, and backslashes only start escapes.
            assert!(
                !terminal.chars().any(|c| c != '\\' && needs_terminal_escape(c)),
                "{terminal:?}"
            );
            // The label value is one line with every quote escaped.
            let label = label_value_bytes(&bytes);
            assert!(!label.contains('\n'));
            assert!(!label.replace("\\\\", "").replace("\\\"", "").contains('"'));
        }
    }

    #[test]
    fn every_byte_alone() {
        for byte in 0..=u8::MAX {
            let terminal = for_terminal(&[byte]).into_owned();
            let expected = match byte {
                b'\\' => r"\\".to_owned(),
                b'\n' => r"\n".to_owned(),
                b'\t' => r"\t".to_owned(),
                b'\r' => r"\r".to_owned(),
                b' '..=b'~' => char::from(byte).to_string(),
                _ => format!("\\x{byte:02x}"),
            };
            assert_eq!(terminal, expected);
        }
    }

    #[test]
    fn invisible_table_is_sorted_and_disjoint() {
        for pair in INVISIBLE.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
        for c in [
            '\u{ad}', '\u{200b}', '\u{200f}', '\u{202a}', '\u{2064}', '\u{2069}', '\u{feff}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', ' ', '\u{a0}', 'é', '\u{2010}', '\u{fffd}', '☃'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }
}
