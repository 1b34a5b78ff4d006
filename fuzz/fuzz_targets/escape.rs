//! The escaping of system text: `render::escape::for_terminal` and `for_json`.
//!
//! - terminal form: no C0 control character (< 0x20), no DEL, no C1 control character, no
//!   bidi override; and it decodes back to the input (the form is unambiguous).
//! - JSON form: decodes back to the input the way the module docs tell a consumer to (`\\` is
//!   one backslash, `\xNN` the byte NN); valid UTF-8 without a backslash is kept as it is.
//!
//! Both forms are decoded by the crate's own inverses, `escape::from_json` and
//! `escape::from_terminal`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockdiag::render::escape::{
    Escaped, for_json, for_terminal, from_json, from_terminal, label_value_bytes,
};

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
