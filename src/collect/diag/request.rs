//! Building `SOCK_DIAG_BY_FAMILY` dump requests (sock_diag(7), `linux/inet_diag.h`,
//! `linux/unix_diag.h`): one request per address family and protocol, asking the kernel only
//! for the states the user wants (`idiag_states` / `udiag_states`), so a narrow query costs
//! little.

use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage};
use netlink_packet_sock_diag::{
    AF_INET, AF_INET6, IPPROTO_RAW, IPPROTO_TCP, IPPROTO_UDP, SockDiagMessage,
    inet::{ExtensionFlags, InetRequest, SocketId, StateFlags},
    unix::{ShowFlags, StateFlags as UnixStateFlags, UnixRequest},
};

use crate::model::{Family, Proto};

/// What one dump asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub proto: Proto,
    /// `Inet` or `Inet6` for TCP, UDP and RAW; `Unix` for UNIX.
    pub family: Family,
    /// Bit mask of kernel state numbers ([`crate::model::State::bit`]).
    pub states: u32,
}

/// Offset of `sdiag_raw_protocol` in `struct inet_diag_req_raw` (`linux/inet_diag.h`): the
/// byte `struct inet_diag_req_v2` calls `pad`.
const RAW_PROTOCOL_OFFSET: usize = 3;

impl Request {
    /// The whole netlink datagram for this dump, with sequence number `seq` and, for TCP, UDP
    /// and RAW, the request attribute `filter` (`INET_DIAG_REQ_BYTECODE`, see
    /// [`crate::filter::Filter::request_attribute`]) after `struct inet_diag_req_v2`.
    pub fn to_bytes(self, seq: u32, filter: Option<&[u8]>) -> Vec<u8> {
        let message = match self.proto {
            Proto::Unix => SockDiagMessage::UnixRequest(UnixRequest {
                state_flags: UnixStateFlags::from_bits_retain(self.states),
                inode: 0,
                show_flags: ShowFlags::NAME | ShowFlags::PEER | ShowFlags::RQLEN | SHOW_UID,
                cookie: [0xff; 8],
            }),
            Proto::Tcp | Proto::Udp | Proto::Raw => SockDiagMessage::InetRequest(InetRequest {
                family: if self.family == Family::Inet6 {
                    AF_INET6
                } else {
                    AF_INET
                },
                protocol: match self.proto {
                    Proto::Tcp => IPPROTO_TCP,
                    Proto::Udp => IPPROTO_UDP,
                    _ => IPPROTO_RAW,
                },
                extensions: ExtensionFlags::empty(),
                states: StateFlags::from_bits_retain(self.states),
                socket_id: if self.family == Family::Inet6 {
                    SocketId::new_v6()
                } else {
                    SocketId::new_v4()
                },
            }),
        };
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, message.into());
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        if self.proto == Proto::Raw {
            // raw_diag matches `sk_protocol == sdiag_raw_protocol` unless it is IPPROTO_RAW,
            // which selects every raw socket (net/ipv4/raw_diag.c, raw_sock_get). The crate
            // always writes 0 there, which would select IPPROTO_IP sockets only.
            bytes[NLMSG_HDRLEN + RAW_PROTOCOL_OFFSET] = IPPROTO_RAW;
        }
        if let Some(attribute) = filter.filter(|_| self.proto != Proto::Unix) {
            bytes.extend_from_slice(attribute);
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            bytes[..4].copy_from_slice(&len.to_ne_bytes());
        }
        bytes
    }
}

/// `TCPDIAG_GETSOCK` (`linux/inet_diag.h`): the original inet_diag request type.
pub const TCPDIAG_GETSOCK: u16 = 18;

/// A dump of TCP sockets of both families in one request: the original `TCPDIAG_GETSOCK`
/// with `struct inet_diag_req` (family, source and destination lengths, ext, the 48-byte
/// `inet_diag_sockid`, `idiag_states`, `idiag_dbs`), which `inet_diag_dump_compat` serves
/// with `sdiag_family = AF_UNSPEC`: one walk of the global hash tables returns IPv4 and IPv6
/// sockets alike, where `SOCK_DIAG_BY_FAMILY` needs a walk per family (and refuses
/// `AF_UNSPEC`). The kernel answers with messages of type `TCPDIAG_GETSOCK`, each an
/// `inet_diag_msg` as usual. Every kernel that has sock_diag serves it (net/ipv4/inet_diag.c
/// `inet_diag_rcv_msg_compat`).
pub fn tcp_both_families(states: u32, seq: u32) -> Vec<u8> {
    const REQ_LEN: usize = 4 + 48 + 4 + 4;
    let mut bytes = Vec::with_capacity(NLMSG_HDRLEN + REQ_LEN);
    bytes.extend_from_slice(&((NLMSG_HDRLEN + REQ_LEN) as u32).to_ne_bytes());
    bytes.extend_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    bytes.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    bytes.extend_from_slice(&seq.to_ne_bytes());
    bytes.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel fills ours in
    bytes.push(AF_INET); // idiag_family: overridden by AF_UNSPEC for a dump
    bytes.extend_from_slice(&[0, 0, 0]); // src_len, dst_len, ext
    bytes.extend_from_slice(&[0; 48]); // inet_diag_sockid: no socket in particular
    bytes.extend_from_slice(&states.to_ne_bytes());
    bytes.extend_from_slice(&0u32.to_ne_bytes()); // idiag_dbs, not implemented
    bytes
}

/// `UDIAG_SHOW_UID` = 0x40 (Linux 5.3, `linux/unix_diag.h`), missing from the crate's
/// `ShowFlags`. Not `1 << UNIX_DIAG_UID` (attribute 7): the show bits are numbered apart from
/// the attributes they ask for (`UDIAG_SHOW_RQLEN` 0x10 asks for `UNIX_DIAG_RQLEN` = 4, but
/// `UDIAG_SHOW_UID` 0x40 for `UNIX_DIAG_UID` = 7), and a wrong bit is silently ignored, leaving
/// every uid 0 (`sk_diag_fill` only adds the attribute when asked).
const SHOW_UID: ShowFlags = ShowFlags::from_bits_retain(0x40);

/// Size of `struct nlmsghdr` (`linux/netlink.h`).
pub const NLMSG_HDRLEN: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    #[test]
    fn tcp_v4_request_bytes() {
        let states = State::LISTEN.bit() | State::BOUND_INACTIVE.bit();
        let bytes = Request {
            proto: Proto::Tcp,
            family: Family::Inet,
            states,
        }
        .to_bytes(7, None);
        assert_eq!(bytes.len(), 16 + 56, "nlmsghdr + inet_diag_req_v2");
        // nlmsghdr: len 72, type 20 (SOCK_DIAG_BY_FAMILY), flags REQUEST|DUMP (0x301), seq 7
        assert_eq!(&bytes[..12], &[72, 0, 0, 0, 20, 0, 0x01, 0x03, 7, 0, 0, 0]);
        // family AF_INET, IPPROTO_TCP, no extensions, pad 0, idiag_states 0x2400
        assert_eq!(&bytes[16..24], &[2, 6, 0, 0, 0x00, 0x24, 0, 0]);
    }

    #[test]
    fn a_filter_follows_the_request_and_counts_in_its_length() {
        let request = Request {
            proto: Proto::Tcp,
            family: Family::Inet6,
            states: State::ALL_BITS,
        };
        let attribute = [8, 0, 1, 0, 0xaa, 0xbb, 0xcc, 0xdd];
        let bytes = request.to_bytes(3, Some(&attribute));
        assert_eq!(bytes.len(), 16 + 56 + 8);
        assert_eq!(&bytes[..4], &80u32.to_ne_bytes());
        assert_eq!(&bytes[72..], &attribute);
        let unix = Request {
            proto: Proto::Unix,
            family: Family::Unix,
            states: u32::MAX,
        };
        assert_eq!(
            unix.to_bytes(3, Some(&attribute)).len(),
            16 + 24,
            "unix_diag takes no filter"
        );
    }

    #[test]
    fn tcp_both_families_is_the_compat_request() {
        let bytes = tcp_both_families(State::ALL_BITS, 5);
        assert_eq!(bytes.len(), 16 + 60, "nlmsghdr + inet_diag_req");
        // nlmsghdr: len 76, type 18 (TCPDIAG_GETSOCK), flags REQUEST|DUMP, seq 5
        assert_eq!(&bytes[..12], &[76, 0, 0, 0, 18, 0, 0x01, 0x03, 5, 0, 0, 0]);
        assert_eq!(bytes[16], 2, "AF_INET, which a dump overrides with AF_UNSPEC");
        assert_eq!(&bytes[68..72], &State::ALL_BITS.to_ne_bytes(), "idiag_states");
    }

    #[test]
    fn raw_request_selects_every_raw_protocol() {
        let bytes = Request {
            proto: Proto::Raw,
            family: Family::Inet6,
            states: u32::MAX,
        }
        .to_bytes(1, None);
        // AF_INET6, sdiag_protocol IPPROTO_RAW, ext 0, sdiag_raw_protocol IPPROTO_RAW
        assert_eq!(&bytes[16..20], &[10, 255, 0, 255]);
    }

    #[test]
    fn unix_request_asks_name_peer_rqlen_uid() {
        let bytes = Request {
            proto: Proto::Unix,
            family: Family::Unix,
            states: u32::MAX,
        }
        .to_bytes(1, None);
        assert_eq!(bytes.len(), 16 + 24, "nlmsghdr + unix_diag_req");
        assert_eq!(bytes[16], 1, "AF_UNIX");
        let show = u32::from_ne_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]);
        // UDIAG_SHOW_NAME 0x01, UDIAG_SHOW_PEER 0x04, UDIAG_SHOW_RQLEN 0x10, UDIAG_SHOW_UID 0x40
        // (linux/unix_diag.h); tests/hardening.rs checks the uid against the kernel.
        assert_eq!(show, 0x01 | 0x04 | 0x10 | 0x40);
    }
}
