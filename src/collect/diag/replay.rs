//! A transport that replays datagrams, for tests of the receive loop and of what a census
//! does with what the kernel may send: truncated datagrams, an error in the middle of a dump,
//! dumps interrupted once or every time.

use std::collections::VecDeque;
use std::io;

use netlink_packet_core::{NLM_F_DUMP_INTR, NLM_F_MULTIPART, NLMSG_DONE, NLMSG_ERROR};
use netlink_packet_sock_diag::SOCK_DIAG_BY_FAMILY;

use super::Transport;

/// The netlink port the replayed answers are addressed to.
pub const PORT: u32 = 77;

/// What the kernel answers to one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// These rows (inet_diag_msg payloads) in one datagram, then `NLMSG_DONE`, with
    /// `NLM_F_DUMP_INTR` on every message when `interrupted`.
    Rows { rows: Vec<Vec<u8>>, interrupted: bool },
    /// These rows, then `NLMSG_ERROR` with this negative errno.
    ErrorAfter { rows: Vec<Vec<u8>>, errno: i32 },
    /// One datagram longer than the receive buffer (`MSG_TRUNC` reports its real length).
    Truncated { len: usize },
}

/// Answers each request in turn with the next [`Answer`]; a request beyond the script gets an
/// empty dump.
pub struct Replay {
    script: VecDeque<Answer>,
    pending: VecDeque<(Vec<u8>, usize)>,
}

impl Replay {
    pub fn new(script: Vec<Answer>) -> Box<Self> {
        Box::new(Replay {
            script: script.into(),
            pending: VecDeque::new(),
        })
    }
}

impl Transport for Replay {
    fn send(&mut self, request: &[u8]) -> io::Result<()> {
        let seq = u32::from_ne_bytes([request[8], request[9], request[10], request[11]]);
        let answer = self.script.pop_front().unwrap_or(Answer::Rows {
            rows: Vec::new(),
            interrupted: false,
        });
        let multi = NLM_F_MULTIPART;
        match answer {
            Answer::Rows { rows, interrupted } => {
                let flags = multi | if interrupted { NLM_F_DUMP_INTR } else { 0 };
                let mut datagram: Vec<u8> = rows
                    .iter()
                    .flat_map(|row| message(SOCK_DIAG_BY_FAMILY, flags, seq, PORT, row))
                    .collect();
                datagram.extend(message(NLMSG_DONE, flags, seq, PORT, &0i32.to_ne_bytes()));
                let len = datagram.len();
                self.pending.push_back((datagram, len));
            }
            Answer::ErrorAfter { rows, errno } => {
                let rows: Vec<u8> = rows
                    .iter()
                    .flat_map(|row| message(SOCK_DIAG_BY_FAMILY, multi, seq, PORT, row))
                    .collect();
                self.pending.push_back((rows.clone(), rows.len()));
                let mut error = errno.to_ne_bytes().to_vec();
                error.extend_from_slice(&[0; 16]); // the request's header, as the kernel echoes it
                let error = message(NLMSG_ERROR, 0, seq, PORT, &error);
                let len = error.len();
                self.pending.push_back((error, len));
            }
            Answer::Truncated { len } => self.pending.push_back((vec![0; 16], len)),
        }
        Ok(())
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<(usize, u32)> {
        let (datagram, len) = self
            .pending
            .pop_front()
            .ok_or_else(|| io::Error::other("replay: nothing more to receive"))?;
        let copied = datagram.len().min(buffer.len());
        buffer[..copied].copy_from_slice(&datagram[..copied]);
        Ok((len, 0))
    }
}

/// One `nlmsghdr` around `payload`.
pub fn message(kind: u16, flags: u16, seq: u32, port: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(16 + payload.len() as u32).to_ne_bytes());
    bytes.extend_from_slice(&kind.to_ne_bytes());
    bytes.extend_from_slice(&flags.to_ne_bytes());
    bytes.extend_from_slice(&seq.to_ne_bytes());
    bytes.extend_from_slice(&port.to_ne_bytes());
    bytes.extend_from_slice(payload);
    while bytes.len() % 4 != 0 {
        bytes.push(0);
    }
    bytes
}

/// A timewait minisock in FIN_WAIT2, as `inet_twsk_diag_fill` writes it.
#[rustfmt::skip]
pub const TIMEWAIT_FIN_WAIT2: [u8; 72] = [
    2,          // idiag_family AF_INET
    5,          // idiag_state: the substate, TCP_FIN_WAIT2
    3,          // idiag_timer 3: only timewait minisocks
    0,          // idiag_retrans
    0xa0, 0x5c, // sport 41052 (big endian)
    0x13, 0x88, // dport 5000
    127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // src
    127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // dst
    0, 0, 0, 0,             // idiag_if
    0x2a, 0, 0, 0, 1, 0, 0, 0, // cookie: low word 42, high word 1
    0x10, 0x27, 0, 0,       // idiag_expires 10000 ms
    0, 0, 0, 0,             // rqueue
    0, 0, 0, 0,             // wqueue
    0, 0, 0, 0,             // uid 0
    0, 0, 0, 0,             // inode 0: no struct socket
];
