//! `saved_ss::parse` on arbitrary text (lossy UTF-8), then `compare` with some live figures.
//! Beyond not panicking: a bad line's number is a line of the input, and every figure read is
//! compared once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockdiag::figures::SsFigures;
use sockdiag::saved_ss::{self, SavedSsError};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match saved_ss::parse(&text) {
        Ok(saved) => {
            let comparisons = saved_ss::compare(&saved, &SsFigures::default());
            assert_eq!(comparisons.len(), saved.figures().count());
            assert!(comparisons.len() <= 21);
        }
        Err(SavedSsError::BadLine { number, .. }) => {
            assert!(number >= 1 && number <= text.lines().count(), "line {number}");
        }
        Err(SavedSsError::NotSsOutput) => {}
    }
});
