//! RAW sockets from `/proc/net/raw` and `/proc/net/raw6`, for kernels without raw_diag (where
//! a RAW dump answers ENOENT): what `ss -w` falls back to as well. [`parse`] is pure; the
//! caller reads the file of the namespace wanted (from a thread inside it for another one).
//!
//! The format is `raw_sock_seq_show` / `ip6_dgram_sock_seq_show` (net/ipv4/raw.c,
//! net/ipv6/datagram.c): addresses as the in-memory words printed `%08X` (host order of the
//! network-order bytes), the "port" is the socket's protocol, the peer port always 0; queues
//! `tx:rx` in hex; uid and inode in decimal. No cookie: rows from here have cookie 0.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::model::{Endpoint, Family, Proto, Socket, State};

/// The rows of one `/proc/net/raw` (`Family::Inet`) or `/proc/net/raw6` (`Family::Inet6`)
/// text, in file order. A line that does not parse is an error naming its number.
pub fn parse(text: &str, family: Family) -> Result<Vec<Socket>, String> {
    text.lines()
        .enumerate()
        .skip(1) // the header
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| row(line, family).ok_or_else(|| format!("line {}: cannot parse {line:?}", i + 1)))
        .collect()
}

fn row(line: &str, family: Family) -> Option<Socket> {
    let mut fields = line.split_whitespace();
    fields.next()?; // "sl:"
    let local = endpoint(fields.next()?, family)?;
    let peer = endpoint(fields.next()?, family)?;
    let state = u8::from_str_radix(fields.next()?, 16).ok()?;
    let (tx, rx) = fields.next()?.split_once(':')?;
    let send_q = u32::from_str_radix(tx, 16).ok()?;
    let recv_q = u32::from_str_radix(rx, 16).ok()?;
    fields.next()?; // tr:tm->when
    fields.next()?; // retrnsmt
    let uid = fields.next()?.parse().ok()?;
    fields.next()?; // timeout
    let inode = fields.next()?.parse().ok()?;
    Some(Socket {
        proto: Proto::Raw,
        family,
        unix_type: None,
        v6only: None,
        state: State(state),
        timewait: false,
        local,
        peer,
        peer_inode: 0,
        recv_q,
        send_q,
        uid,
        inode,
        cookie: 0,
    })
}

/// `ADDR:PORT`: ADDR one (IPv4) or four (IPv6) `%08X` words of the address's memory.
fn endpoint(text: &str, family: Family) -> Option<Endpoint> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match (family, addr.len()) {
        (Family::Inet, 8) => Ipv4Addr::from(word(0)?).into(),
        (Family::Inet6, 32) => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Ipv6Addr::from(bytes).into()
        }
        _ => return None,
    };
    Some(Endpoint::Ip(SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured on Linux 6.18 (little-endian) in a private namespace holding an ICMP socket
    /// with a queued packet, a UDP-protocol socket connected to 127.0.0.1, an ICMPv6 socket
    /// and one bound and connected to ::1; `ss -wan` of the same moment is the oracle.
    #[cfg(target_endian = "little")]
    #[test]
    fn captured_files_read_as_ss_reads_them() {
        let v4 = parse(
            include_str!("../../tests/fixtures/procnet/raw-6.18.txt"),
            Family::Inet,
        )
        .expect("raw");
        let v6 = parse(
            include_str!("../../tests/fixtures/procnet/raw6-6.18.txt"),
            Family::Inet6,
        )
        .expect("raw6");
        let seen: Vec<String> = v4
            .iter()
            .chain(&v6)
            .map(|s| {
                format!(
                    "{} {} {} {} {} {}",
                    s.state.name(),
                    s.recv_q,
                    s.send_q,
                    s.local,
                    s.peer,
                    s.inode
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                "CLOSE 1664 0 0.0.0.0:1 0.0.0.0:0 3237640",
                "ESTABLISHED 0 0 127.0.0.1:17 127.0.0.1:0 3237641",
                "ESTABLISHED 0 0 [::1]:58 [::1]:0 3237643",
                "CLOSE 0 0 [::]:58 [::]:0 3237642",
            ]
        );
        assert!(
            v4.iter()
                .chain(&v6)
                .all(|s| s.proto == Proto::Raw && s.cookie == 0 && s.v6only.is_none())
        );
        let oracle = include_str!("../../tests/fixtures/procnet/ss-wan-6.18.txt");
        assert_eq!(oracle.lines().count(), 1 + seen.len());
    }

    #[test]
    fn empty_file_and_garbage() {
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";
        assert_eq!(parse(header, Family::Inet), Ok(Vec::new()));
        let bad = format!("{header}  1: 0100007F:zz 00000000:0000 07\n");
        assert_eq!(
            parse(&bad, Family::Inet).expect_err("garbage").split(':').next(),
            Some("line 2")
        );
        let v6_in_v4 = format!(
            "{header} 1: 00000000000000000000000000000000:003A 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 7 2 0 0\n"
        );
        assert!(parse(&v6_in_v4, Family::Inet).is_err());
    }
}
