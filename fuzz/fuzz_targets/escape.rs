//! The escaping of system text: `render::escape::for_terminal` and `for_json`.
//!
//! - terminal form: no C0 control character (< 0x20), no DEL, no C1 control character, no
//!   bidi override; and it decodes back to the input (the form is unambiguous).
//! - JSON form: decodes back to the input the way the module docs tell a consumer to (`\\` is
//!   one backslash, `\xNN` the byte NN); valid UTF-8 without a backslash is kept as it is.
//!
//! The JSON form is decoded by the crate's own inverse, `escape::from_json`; the terminal
//! form by a decoder written here from the documented rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockdiag::render::escape::{Escaped, for_json, for_terminal, from_json, label_value_bytes};

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    Some((digit(*pair.first()?)? << 4) | digit(*pair.get(1)?)?)
}

fn from_terminal(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1)? {
            b'\\' => out.push(b'\\'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'x' => {
                out.push(hex_pair(bytes.get(i + 2..i + 4)?)?);
                i += 4;
                continue;
            }
            b'u' if bytes.get(i + 2) == Some(&b'{') => {
                let rest = text.get(i + 3..)?;
                let end = rest.find('}')?;
                let c = char::from_u32(u32::from_str_radix(&rest[..end], 16).ok()?)?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                i += 3 + end + 1;
                continue;
            }
            _ => return None,
        }
        i += 2;
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let terminal = for_terminal(data);
    assert!(
        !terminal.bytes().any(|b| b < 0x20 || b == 0x7f),
        "control byte in {terminal:?}"
    );
    assert!(
        !terminal
            .chars()
            .any(|c| ('\u{80}'..='\u{9f}').contains(&c) || ('\u{202a}'..='\u{202e}').contains(&c)),
        "C1 control or bidi override in {terminal:?}"
    );
    assert_eq!(from_terminal(&terminal).as_deref(), Some(data), "{terminal:?}");
    assert_eq!(format!("{}", Escaped(data)), terminal);

    let json = for_json(data);
    assert_eq!(from_json(&json).as_deref(), Some(data), "{json:?}");
    if let Ok(text) = std::str::from_utf8(data)
        && !text.contains('\\')
    {
        assert_eq!(json, text);
    }
    assert!(!label_value_bytes(data).contains('\n'));
});
