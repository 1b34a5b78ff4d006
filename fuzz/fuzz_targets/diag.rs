//! The netlink datagram decoder: `collect::diag::frames` over one datagram, then
//! `decode_row` of every `Frame::Row` payload as each protocol, and the decoded endpoints
//! shown as text. The port and sequence asked for are those of the datagram's first message
//! header (bytes 8..16), so that the messages the fuzzer builds are not all skipped as
//! another request's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockdiag::collect::diag::{Frame, decode_row, frames};
use sockdiag::model::Proto;

fuzz_target!(|data: &[u8]| {
    let word = |at: usize| {
        data.get(at..at + 4)
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (seq, port) = (word(8), word(12));
    let Ok((messages, _interrupted)) = frames(data, port, seq) else {
        return;
    };
    for message in messages {
        if let Frame::Row(payload) = message {
            for proto in [Proto::Tcp, Proto::Udp, Proto::Raw, Proto::Unix] {
                if let Ok(row) = decode_row(proto, payload) {
                    assert_eq!(row.proto, proto);
                    let shown = format!("{} {} {}", row.state.name(), row.local, row.peer);
                    assert!(!shown.contains('\n'), "{shown:?}");
                }
            }
        }
    }
});
