//! Pure decoding of what a `SOCK_DIAG_BY_FAMILY` dump sends back: the netlink framing of one
//! datagram (`linux/netlink.h`: several messages per datagram, `NLMSG_DONE`, `NLMSG_ERROR`,
//! `NLM_F_DUMP_INTR`) and each message's `inet_diag_msg` / `unix_diag_msg` turned at once into
//! our own [`Socket`] row. Nothing here does I/O, so every rule is tested on bytes.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use netlink_packet_core::{
    DecodeError, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, Nla, Parseable,
};
use netlink_packet_sock_diag::{
    SOCK_DIAG_BY_FAMILY,
    inet::{InetResponseHeader, Timer},
    unix::{UnixResponse, nlas::Nla as UnixNla, nlas::UnixDiagName},
};

use crate::model::{Endpoint, Family, Proto, Socket, State, SysText, UnixType};

/// One netlink message of a dump answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A `SOCK_DIAG_BY_FAMILY` message: one socket, still to be decoded.
    Row(&'a [u8]),
    /// `NLMSG_DONE`, with the dump's error code (0, or a negative errno).
    Done(i32),
    /// `NLMSG_ERROR` with a negative errno (0 would be an ACK, which a dump does not ask for).
    Error(i32),
}

/// A message the walk over a datagram could not frame: the datagram is broken from there on.
#[derive(Debug, PartialEq, Eq)]
pub struct FramingError(pub String);

/// The messages of one received datagram that answer our request (port `port`, sequence
/// `seq`), with whether any carried `NLM_F_DUMP_INTR`. Messages for another port or
/// sequence (left over from an earlier request) are skipped, as iproute2's `rtnl_dump_filter`
/// does.
pub fn frames(datagram: &[u8], port: u32, seq: u32) -> Result<(Vec<Frame<'_>>, bool), FramingError> {
    let mut out = Vec::new();
    let mut interrupted = false;
    let mut rest = datagram;
    while !rest.is_empty() {
        let message =
            NetlinkBuffer::new_checked(rest).map_err(|e| FramingError(format!("bad netlink header: {e}")))?;
        let len = message.length() as usize;
        let aligned = (len + 3) & !3;
        let payload = message.payload();
        rest = rest.get(aligned..).unwrap_or_default();
        if message.port_number() != port || message.sequence_number() != seq {
            continue;
        }
        interrupted |= message.flags() & NLM_F_DUMP_INTR != 0;
        let frame = match message.message_type() {
            NLMSG_DONE => Frame::Done(leading_i32(payload).unwrap_or(0)),
            NLMSG_ERROR => {
                let code = leading_i32(payload)
                    .ok_or_else(|| FramingError("NLMSG_ERROR without error code".into()))?;
                Frame::Error(code)
            }
            // The answer to the compat request of `request::tcp_both_families` has its type.
            SOCK_DIAG_BY_FAMILY | super::request::TCPDIAG_GETSOCK => Frame::Row(payload),
            _ => continue,
        };
        out.push(frame);
    }
    Ok((out, interrupted))
}

fn leading_i32(payload: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(payload.get(..4)?.try_into().ok()?))
}

/// `idiag_timer` value the kernel sets only for timewait minisocks (`inet_twsk_diag_fill`).
const TIMER_TIME_WAIT: Timer = Timer::TimeWait;

/// Decodes one `SOCK_DIAG_BY_FAMILY` message answering a dump of `proto`.
pub fn decode_row(proto: Proto, payload: &[u8]) -> Result<Socket, DecodeError> {
    match proto {
        Proto::Unix => decode_unix(payload),
        Proto::Tcp | Proto::Udp | Proto::Raw => decode_inet(proto, payload),
    }
}

/// `struct inet_diag_msg` (`linux/inet_diag.h`) and, of the attributes after it, only
/// `INET_DIAG_SKV6ONLY`, which needs no `idiag_ext` bit: the kernel adds it to AF_INET6 full
/// sockets in LISTEN or CLOSE (`inet_diag_msg_attrs_fill`), the only ones a wildcard address
/// can belong to.
fn decode_inet(proto: Proto, payload: &[u8]) -> Result<Socket, DecodeError> {
    let header = InetResponseHeader::parse(payload)?;
    let id = &header.socket_id;
    let family = match id.source_address {
        IpAddr::V4(_) => Family::Inet,
        IpAddr::V6(_) => Family::Inet6,
    };
    let endpoint = |addr: IpAddr, port: u16| {
        Endpoint::Ip(match addr {
            IpAddr::V6(v6) if v6.is_unicast_link_local() => {
                SocketAddr::V6(SocketAddrV6::new(v6, port, 0, id.interface_id))
            }
            _ => SocketAddr::new(addr, port),
        })
    };
    let v6only = (family == Family::Inet6)
        .then(|| payload.get(INET_DIAG_MSG_LEN..).and_then(v6only_attribute))
        .flatten();
    Ok(Socket {
        proto,
        family,
        state: State(header.state),
        timewait: header.timer == Some(TIMER_TIME_WAIT),
        local: endpoint(id.source_address, id.source_port),
        peer: endpoint(id.destination_address, id.destination_port),
        unix_type: None,
        v6only,
        peer_inode: 0,
        recv_q: header.recv_queue,
        send_q: header.send_queue,
        uid: header.uid,
        inode: header.inode,
        cookie: cookie(id.cookie),
    })
}

/// `struct unix_diag_msg` and the attributes asked for (`linux/unix_diag.h`).
fn decode_unix(payload: &[u8]) -> Result<Socket, DecodeError> {
    let response = UnixResponse::parse(payload)?;
    let mut socket = Socket {
        proto: Proto::Unix,
        family: Family::Unix,
        state: State(response.header.state),
        timewait: false,
        local: Endpoint::Unnamed,
        peer: Endpoint::Unnamed,
        unix_type: UnixType::from_kernel(response.header.kind),
        v6only: None,
        peer_inode: 0,
        recv_q: 0,
        send_q: 0,
        uid: 0,
        inode: response.header.inode,
        cookie: cookie(response.header.cookie),
    };
    for nla in &response.nlas {
        match nla {
            UnixNla::Name(UnixDiagName::Pathname(path)) => {
                socket.local = Endpoint::Path(SysText::new(path.as_encoded_bytes()));
            }
            UnixNla::Name(UnixDiagName::Abstract(name)) => {
                // Kept exact: ss prints a NUL inside an abstract name as '@', which makes
                // "\0a\0b" and "\0a@b" look alike; ours is shown escaped (`\x00`).
                socket.local = Endpoint::Abstract(SysText::new(name));
            }
            UnixNla::Peer(inode) => socket.peer_inode = *inode,
            UnixNla::ReceiveQueueLength(recv_q, send_q) => {
                socket.recv_q = *recv_q;
                socket.send_q = *send_q;
            }
            UnixNla::Other(other) if other.kind() == UNIX_DIAG_UID && other.value_len() == 4 => {
                let mut value = [0; 4];
                other.emit_value(&mut value);
                socket.uid = u32::from_ne_bytes(value);
            }
            _ => {}
        }
    }
    Ok(socket)
}

/// `sizeof(struct inet_diag_msg)`: the attributes start after it.
const INET_DIAG_MSG_LEN: usize = 72;
/// `INET_DIAG_SKV6ONLY`: a u8, the socket's `IPV6_V6ONLY`.
const INET_DIAG_SKV6ONLY: u16 = 11;

/// The value of `INET_DIAG_SKV6ONLY` among the attributes `attrs` (netlink attributes, each
/// `{u16 len, u16 type}` then its value, padded to 4 bytes), if present and well-formed.
fn v6only_attribute(mut attrs: &[u8]) -> Option<bool> {
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == INET_DIAG_SKV6ONLY {
            return attrs.get(4).filter(|_| len >= 5).map(|&v| v != 0);
        }
        attrs = attrs.get((len + 3) & !3..).unwrap_or_default();
    }
    None
}

/// `UNIX_DIAG_UID` (Linux 5.3), which the crate does not name.
const UNIX_DIAG_UID: u16 = 7;

/// The kernel stores the 64-bit socket cookie as two host-order u32, low word first
/// (`sock_diag_save_cookie`); ss prints it the same way.
fn cookie(raw: [u8; 8]) -> u64 {
    let low = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let high = u32::from_ne_bytes([raw[4], raw[5], raw[6], raw[7]]);
    u64::from(high) << 32 | u64::from(low)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::diag::replay::{TIMEWAIT_FIN_WAIT2, message};

    #[test]
    fn timewait_minisock_is_told_by_its_timer() {
        let row = decode_row(Proto::Tcp, &TIMEWAIT_FIN_WAIT2).expect("decodes");
        assert_eq!(row.state, State::FIN_WAIT2);
        assert!(row.timewait);
        assert_eq!(row.local.to_string(), "127.0.0.1:41052");
        assert_eq!(row.peer.to_string(), "127.0.0.1:5000");
        assert_eq!(row.cookie, 1 << 32 | 42);
        assert_eq!(row.inode, 0);
    }

    /// A connected unix stream socket bound to the abstract name "\0db\0x", as
    /// `sk_diag_fill` (net/unix/diag.c) writes it for UDIAG_SHOW_NAME|PEER|RQLEN|UID.
    #[rustfmt::skip]
    const UNIX_ABSTRACT: [u8; 56] = [
        1,              // udiag_family AF_UNIX
        1,              // udiag_type SOCK_STREAM
        1,              // udiag_state TCP_ESTABLISHED
        0,              // pad
        0x39, 0x30, 0, 0, // udiag_ino 12345
        7, 0, 0, 0, 0, 0, 0, 0, // udiag_cookie: low 7, high 0
        9, 0, 0, 0, 0, b'd', b'b', 0, b'x', 0, 0, 0, // UNIX_DIAG_NAME (0), 5 bytes, padded
        8, 0, 2, 0, 0x3a, 0x30, 0, 0,  // UNIX_DIAG_PEER (2): 12346
        12, 0, 4, 0, 3, 0, 0, 0, 0, 0, 0, 0, // UNIX_DIAG_RQLEN (4): rq 3, wq 0
        8, 0, 7, 0, 0xe8, 0x03, 0, 0,  // UNIX_DIAG_UID (7): 1000
    ];

    #[test]
    fn unix_socket_with_abstract_name() {
        let row = decode_row(Proto::Unix, &UNIX_ABSTRACT).expect("decodes");
        assert_eq!(row.state, State::ESTABLISHED);
        assert_eq!(
            row.local.to_string(),
            "@db\\x00x",
            "an embedded NUL is shown escaped, not as ss's @, which two names can share"
        );
        assert_eq!((row.inode, row.peer_inode, row.cookie), (12345, 12346, 7));
        assert_eq!((row.recv_q, row.send_q, row.uid), (3, 0, 1000));
        assert_eq!(row.unix_type, Some(UnixType::Stream));
        assert_eq!(row.v6only, None);
        let mut seqpacket = UNIX_ABSTRACT;
        seqpacket[1] = 5;
        let row = decode_row(Proto::Unix, &seqpacket).expect("decodes");
        assert_eq!(row.unix_type, Some(UnixType::SeqPacket));
    }

    #[test]
    fn v6only_attribute_among_others() {
        // INET_DIAG_SHUTDOWN (8) u8, then INET_DIAG_SKV6ONLY (11) u8 1.
        let attrs = [5, 0, 8, 0, 0, 0, 0, 0, 5, 0, 11, 0, 1, 0, 0, 0];
        assert_eq!(v6only_attribute(&attrs), Some(true));
        assert_eq!(v6only_attribute(&attrs[..8]), None, "absent");
        let mut off = attrs;
        off[12] = 0;
        assert_eq!(v6only_attribute(&off), Some(false));
        assert_eq!(
            v6only_attribute(&[200, 0, 11, 0, 1]),
            None,
            "length beyond the message"
        );
        assert_eq!(
            v6only_attribute(&[0, 0, 11, 0]),
            None,
            "zero length does not loop"
        );
    }

    #[test]
    fn short_message_is_a_decode_error() {
        assert!(decode_row(Proto::Tcp, &TIMEWAIT_FIN_WAIT2[..40]).is_err());
        assert!(decode_row(Proto::Unix, &[1, 2, 3]).is_err());
    }

    #[test]
    fn frames_of_a_datagram() {
        let mut datagram = message(SOCK_DIAG_BY_FAMILY, 2, 9, 77, &TIMEWAIT_FIN_WAIT2);
        datagram.extend(message(SOCK_DIAG_BY_FAMILY, 2, 8, 77, &TIMEWAIT_FIN_WAIT2)); // stale seq
        datagram.extend(message(SOCK_DIAG_BY_FAMILY, 2, 9, 78, &TIMEWAIT_FIN_WAIT2)); // other port
        datagram.extend(message(NLMSG_DONE, 2, 9, 77, &0i32.to_ne_bytes()));
        let (frames, interrupted) = frames(&datagram, 77, 9).expect("frames");
        assert_eq!(frames, [Frame::Row(&TIMEWAIT_FIN_WAIT2[..]), Frame::Done(0)]);
        assert!(!interrupted);
    }

    #[test]
    fn error_and_interrupted_dump() {
        // NLMSG_ERROR: -ENOENT, then the request's header.
        let mut payload = (-2i32).to_ne_bytes().to_vec();
        payload.extend_from_slice(&[0; 16]);
        let datagram = message(NLMSG_ERROR, 0, 1, 5, &payload);
        assert_eq!(frames(&datagram, 5, 1).expect("frames").0, [Frame::Error(-2)]);

        let datagram = message(NLMSG_DONE, NLM_F_DUMP_INTR | 2, 1, 5, &0i32.to_ne_bytes());
        let (frames, interrupted) = frames(&datagram, 5, 1).expect("frames");
        assert_eq!(frames, [Frame::Done(0)]);
        assert!(interrupted);
    }

    #[test]
    fn broken_framing() {
        assert!(frames(&[20, 0, 0, 0, 20, 0], 0, 0).is_err(), "truncated header");
        let mut datagram = message(SOCK_DIAG_BY_FAMILY, 2, 1, 5, &TIMEWAIT_FIN_WAIT2);
        datagram[0] = 200; // length beyond the datagram
        assert!(frames(&datagram, 5, 1).is_err());
        let datagram = message(NLMSG_ERROR, 0, 1, 5, &[1, 2]);
        assert!(frames(&datagram, 5, 1).is_err(), "error without code");
    }

    /// A whole dump captured on Linux 6.18 by `tests/fixtures/capture-dump.py`, replayed.
    /// The rows of a dump captured by `tests/fixtures/capture-dump.py` (length-prefixed
    /// datagrams of an IPv4 then an IPv6 dump), as (state, timewait, local) sorted.
    fn replay(capture: &[u8]) -> (Vec<Socket>, Vec<(String, bool, String)>) {
        let port = u32::from_ne_bytes(capture[16..20].try_into().expect("4 bytes"));
        let mut rest = capture;
        let mut rows = Vec::new();
        let mut seq = 1;
        while !rest.is_empty() {
            let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            let (datagram, tail) = rest[4..].split_at(len);
            rest = tail;
            let (messages, interrupted) = frames(datagram, port, seq).expect("frames");
            assert!(!interrupted);
            for message in messages {
                match message {
                    Frame::Row(payload) => rows.push(decode_row(Proto::Tcp, payload).expect("decodes")),
                    Frame::Done(code) => {
                        assert_eq!(code, 0);
                        seq += 1;
                    }
                    Frame::Error(code) => panic!("error {code}"),
                }
            }
        }
        assert_eq!(seq, 3, "two dumps, each closed by NLMSG_DONE");
        let mut seen: Vec<(String, bool, String)> = rows
            .iter()
            .map(|r| (r.state.name().to_owned(), r.timewait, r.local.to_string()))
            .collect();
        seen.sort();
        (rows, seen)
    }

    /// The population of `capture-dump.py`: listeners on 127.0.0.1:5000 and [::1]:5001, an
    /// established pair, a TIME_WAIT, a FIN_WAIT2 minisock and its CLOSE_WAIT peer, and
    /// (dumped from Linux 6.8 on) a socket bound to 127.0.0.1:6000.
    const POPULATION: [(&str, bool); 7] = [
        ("CLOSE_WAIT", false),
        ("ESTABLISHED", false),
        ("ESTABLISHED", false),
        ("FIN_WAIT2", true),
        ("LISTEN", false),
        ("LISTEN", false),
        ("TIME_WAIT", true),
    ];

    #[test]
    fn replay_captured_tcp_dumps_of_each_kernel() {
        for (kernel, capture, bound_inactive) in [
            (
                "6.18",
                &include_bytes!("../../../tests/fixtures/dump-tcp-6.18.bin")[..],
                true,
            ),
            (
                "6.12",
                &include_bytes!("../../../tests/fixtures/dump-tcp-6.12.bin")[..],
                true,
            ),
            (
                "6.1",
                &include_bytes!("../../../tests/fixtures/dump-tcp-6.1.bin")[..],
                false,
            ),
        ] {
            let (rows, seen) = replay(capture);
            let states: Vec<(&str, bool)> = seen.iter().map(|s| (s.0.as_str(), s.1)).collect();
            let mut expected = POPULATION.to_vec();
            if bound_inactive {
                expected.insert(0, ("CLOSE", false));
                assert_eq!(
                    seen[0].2, "127.0.0.1:6000",
                    "{kernel}: bound-inactive comes back as CLOSE"
                );
            }
            assert_eq!(states, expected, "{kernel}");
            assert!(seen.iter().any(|s| s.2 == "[::1]:5001"), "{kernel}");
            assert!(
                rows.iter().filter(|r| r.timewait).all(|r| r.inode == 0),
                "{kernel}"
            );
            assert!(
                rows.iter().filter(|r| !r.timewait).all(|r| r.inode != 0),
                "{kernel}"
            );
        }
    }
}
