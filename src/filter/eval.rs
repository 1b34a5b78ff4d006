//! Expression × socket row → match, in user space: for IP rows as the kernel's
//! `inet_diag_bc_run` (`net/ipv4/inet_diag.c`) decides, for UNIX rows as ss's `run_ssfilter`
//! (`misc/ss.c`) does.
//!
//! Three-valued: `None` when the answer depends on what a row does not carry (`autobound` on
//! an IP row: the kernel's `SOCK_BINDPORT_LOCK`). `and`, `or` and `not` then follow Kleene's
//! logic, so a definite answer is always right.

use std::net::{IpAddr, SocketAddr};

use super::{Cond, Expr, HostCond, Side};
use crate::model::{Endpoint, Family, Socket};

pub fn eval(expr: &Expr, socket: &Socket) -> Option<bool> {
    match expr {
        Expr::Cond(cond) => condition(cond, socket),
        Expr::Not(a) => eval(a, socket).map(|a| !a),
        Expr::And(a, b) => match eval(a, socket) {
            Some(false) => Some(false),
            a => match (a, eval(b, socket)) {
                (_, Some(false)) => Some(false),
                (Some(true), b) => b,
                _ => None,
            },
        },
        Expr::Or(a, b) => match eval(a, socket) {
            Some(true) => Some(true),
            a => match (a, eval(b, socket)) {
                (_, Some(true)) => Some(true),
                (Some(false), b) => b,
                _ => None,
            },
        },
    }
}

fn condition(cond: &Cond, socket: &Socket) -> Option<bool> {
    let end = |side| match (side, &socket.local, &socket.peer) {
        (Side::Src, Endpoint::Ip(addr), _) | (Side::Dst, _, Endpoint::Ip(addr)) => Some(*addr),
        _ => None,
    };
    Some(match cond {
        Cond::Host(side, host) => end(*side).is_some_and(|addr| host_matches(host, addr)),
        Cond::PortGe(side, port) => end(*side).is_some_and(|addr| addr.port() >= *port),
        Cond::PortLe(side, port) => end(*side).is_some_and(|addr| addr.port() <= *port),
        Cond::Autobound if socket.family == Family::Unix => unix_autobound(&socket.local),
        Cond::Autobound => return None,
        Cond::UnixName(glob) => socket.family == Family::Unix && glob_match(glob, &unix_name(&socket.local)),
    })
}

/// `INET_DIAG_BC_S_COND` / `D_COND`: the port unless wildcard, then the family, then the
/// prefix. An IPv4 condition also matches the v4-mapped addresses (`::ffff:a.b.c.d`) of an
/// IPv6 socket; an IPv6 condition never matches an IPv4 socket.
fn host_matches(host: &HostCond, addr: SocketAddr) -> bool {
    if host.port.is_some_and(|port| port != addr.port()) {
        return false;
    }
    let Some((net, len)) = host.net else {
        return true;
    };
    match (net, addr.ip()) {
        (IpAddr::V4(net), IpAddr::V4(a)) => prefix_matches(&net.octets(), &a.octets(), len),
        (IpAddr::V6(net), IpAddr::V6(a)) => prefix_matches(&net.octets(), &a.octets(), len),
        (IpAddr::V4(net), IpAddr::V6(a)) => a
            .to_ipv4_mapped()
            .is_some_and(|a| prefix_matches(&net.octets(), &a.octets(), len)),
        (IpAddr::V6(_), IpAddr::V4(_)) => false,
    }
}

/// Whether the first `len` bits of `a` and `b` agree (`bitstring_match`).
fn prefix_matches(a: &[u8], b: &[u8], len: u8) -> bool {
    let len = usize::from(len).min(8 * a.len().min(b.len()));
    let (bytes, bits) = (len / 8, len % 8);
    let mask = !(0xffu8 >> bits);
    a[..bytes] == b[..bytes] && (bits == 0 || (a[bytes] ^ b[bytes]) & mask == 0)
}

/// The name as ss matches it: a path, `@` and an abstract name, or nothing. Bytes, as the
/// kernel gives them (not necessarily UTF-8).
fn unix_name(endpoint: &Endpoint) -> Vec<u8> {
    match endpoint {
        Endpoint::Path(path) => path.as_bytes().to_vec(),
        Endpoint::Abstract(name) => [b"@", name.as_bytes()].concat(),
        Endpoint::Unnamed | Endpoint::Ip(_) => Vec::new(),
    }
}

/// ss's test for UNIX sockets: no name, or an abstract name of 5 lowercase hex digits (what
/// the kernel's autobind picks, `unix_autobind`).
fn unix_autobound(local: &Endpoint) -> bool {
    match local {
        Endpoint::Unnamed => true,
        Endpoint::Abstract(name) => {
            let name = name.as_bytes();
            name.len() == 5
                && name
                    .iter()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        }
        Endpoint::Path(_) | Endpoint::Ip(_) => false,
    }
}

/// fnmatch(3) with `FNM_CASEFOLD` and no other flag, over bytes (as in the C locale: ASCII
/// letters fold, `?` is one byte): `*` (slashes included), `?`, `[...]` (`!` or `^` negates,
/// ranges), `\` quotes.
fn glob_match(pattern: &str, text: &[u8]) -> bool {
    let pattern = pattern.as_bytes();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it is tried to stretch to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(b'?') => Some(1),
            Some(b'[') => match bracket(&pattern[p..], text[t]) {
                Some((matched, len)) => matched.then_some(len),
                None => (text[t] == b'[').then_some(1),
            },
            Some(b'\\') if p + 1 < pattern.len() => {
                pattern[p + 1].eq_ignore_ascii_case(&text[t]).then_some(2)
            }
            Some(c) => c.eq_ignore_ascii_case(&text[t]).then_some(1),
            None => None,
        };
        match (step, star) {
            (Some(len), _) => {
                p += len;
                t += 1;
            }
            (None, Some((star_p, star_t))) => {
                star = Some((star_p, star_t + 1));
                p = star_p + 1;
                t = star_t + 1;
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// A `[...]` at the start of `pattern`: whether `c` is in it, and its length; `None` when it
/// is not closed (then `[` is an ordinary character).
fn bracket(pattern: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let first = i;
    let mut found = false;
    loop {
        let lo = *pattern.get(i)?;
        if lo == b']' && i > first {
            return Some((found != negated, i + 1));
        }
        match (pattern.get(i + 1), pattern.get(i + 2)) {
            (Some(b'-'), Some(&hi)) if hi != b']' => {
                let range = lo..=hi;
                found |= range.contains(&c.to_ascii_lowercase()) || range.contains(&c.to_ascii_uppercase());
                i += 3;
            }
            _ => {
                found |= lo.eq_ignore_ascii_case(&c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::filter::compile::tests::{Entry, SERVICES, expressions, run, words};
    use crate::filter::{Filter, Services, parse};
    use crate::model::{Proto, State};

    /// A TCP row between two `addr:port` (`[v6]:port`) ends.
    pub fn ip(local: &str, peer: &str) -> Socket {
        let (local, peer): (SocketAddr, SocketAddr) =
            (local.parse().expect("local"), peer.parse().expect("peer"));
        Socket {
            proto: Proto::Tcp,
            family: if local.is_ipv4() {
                Family::Inet
            } else {
                Family::Inet6
            },
            state: State::ESTABLISHED,
            timewait: false,
            local: Endpoint::Ip(local),
            peer: Endpoint::Ip(peer),
            unix_type: None,
            v6only: None,
            peer_inode: 0,
            recv_q: 0,
            send_q: 0,
            uid: 0,
            inode: 1,
            cookie: 1,
        }
    }

    pub fn unix(local: Endpoint) -> Socket {
        Socket {
            proto: Proto::Unix,
            family: Family::Unix,
            local,
            peer: Endpoint::Unnamed,
            ..ip("127.0.0.1:1", "127.0.0.1:2")
        }
    }

    /// IP rows around the ports and networks of the oracle's expressions.
    pub fn rows() -> Vec<Socket> {
        [
            ("127.0.0.1:22", "127.0.0.1:50000"),
            ("10.0.0.1:50001", "10.0.0.2:443"),
            ("10.0.0.1:1", "10.0.0.2:80"),
            ("192.168.1.7:2222", "192.168.1.200:80"),
            ("10.1.2.3:1024", "8.8.8.8:1000"),
            ("0.0.0.0:8080", "0.0.0.0:0"),
            ("127.0.0.1:2048", "10.0.0.1:22"),
            ("127.0.0.1:2", "192.168.2.1:443"),
            ("10.0.0.5:3000", "192.168.1.9:443"),
            ("10.0.0.9:7", "10.1.2.3:8"),
            ("10.200.0.1:1", "10.0.0.1:443"),
            ("[::1]:5", "[::ffff:10.0.0.1]:443"),
            ("[::1]:22", "[::1]:40000"),
            ("[::ffff:10.0.0.1]:443", "[::ffff:10.0.0.2]:1024"),
            ("[fe80::1]:80", "[fe80::1]:443"),
            ("[2001:db8::5]:1000", "[2001:db8:1::9]:2048"),
            ("[::]:2222", "[::]:0"),
            ("[::ffff:127.0.0.1]:8080", "[::ffff:127.0.0.1]:22"),
            ("[::ffff:192.168.1.9]:22", "[::ffff:10.200.0.1]:80"),
            ("[::]:1023", "[::ffff:0.0.0.0]:1025"),
        ]
        .into_iter()
        .map(|(local, peer)| ip(local, peer))
        .collect()
    }

    fn filter(expr: &str) -> Filter {
        parse(&words(expr), &Services::parse(SERVICES)).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    #[test]
    fn eval_agrees_with_the_kernel_program() {
        let extra = ["dst inet:*", "src inet6:*", "src unix:* or sport = :22"];
        let expressions = expressions().into_iter().chain(extra);
        let mut decided = 0;
        for expr in expressions {
            let filter = filter(expr);
            let (Some(expr_tree), Some(code)) = (&filter.expr, filter.bytecode()) else {
                panic!("{expr}: no program");
            };
            let mut kept = 0;
            for row in rows() {
                for autobound in [false, true] {
                    let entry = Entry::of(&row, autobound).expect("an IP row");
                    let kernel = run(&code, &entry);
                    if let Some(ours) = eval(expr_tree, &row) {
                        assert_eq!(ours, kernel, "{expr:?} on {row:?} (autobound {autobound})");
                        decided += 1;
                    }
                    kept += usize::from(kernel);
                }
            }
            assert!(
                kept > 0 || expr.contains("nosuch"),
                "{expr:?} keeps no sample row: add one"
            );
        }
        assert!(decided > 1000, "{decided} rows decided");
    }

    #[test]
    fn rows_the_kernel_keeps() {
        let cases: &[(&str, &str, &str, bool)] = &[
            ("dport = :443", "10.0.0.1:50001", "10.0.0.2:443", true),
            ("dport = :443", "10.0.0.1:443", "10.0.0.2:80", false),
            ("dport = :https", "[::1]:1", "[::1]:443", true),
            ("( sport = :22 or sport = :2222 )", "[::]:2222", "[::]:0", true),
            (
                "( sport = :22 or sport = :2222 )",
                "127.0.0.1:2223",
                "[::]:0",
                false,
            ),
            ("sport != :22", "127.0.0.1:22", "127.0.0.1:5", false),
            ("dport > :1024", "127.0.0.1:1", "127.0.0.1:1024", false),
            ("dport > :1024", "127.0.0.1:1", "127.0.0.1:1025", true),
            ("dport <= :1024", "127.0.0.1:1", "127.0.0.1:1024", true),
            ("dst 10.0.0.0/8", "127.0.0.1:1", "10.255.0.1:80", true),
            ("dst 10.0.0.0/8", "127.0.0.1:1", "11.0.0.1:80", false),
            // An IPv4 condition matches the v4-mapped addresses of IPv6 sockets...
            ("dst 10.0.0.0/8", "[::1]:1", "[::ffff:10.1.1.1]:80", true),
            ("src 0.0.0.0/0", "[::ffff:1.2.3.4]:1", "[::1]:2", true),
            // ...but no other IPv6 address, even with a zero prefix length.
            ("src 0.0.0.0/0", "[::1]:1", "[::1]:2", false),
            // An IPv6 condition never matches an IPv4 socket, mapped or not.
            ("dst ::ffff:10.0.0.0/104", "10.0.0.1:1", "10.0.0.2:2", false),
            ("dst ::ffff:10.0.0.0/104", "[::1]:1", "[::ffff:10.0.0.2]:2", true),
            ("dst 192.168.1.0/24:443", "10.0.0.1:1", "192.168.1.9:443", true),
            ("dst 192.168.1.0/24:443", "10.0.0.1:1", "192.168.1.9:444", false),
            ("src [::1]:22", "[::1]:22", "[::1]:5", true),
            ("src [::1]:22", "127.0.0.1:22", "127.0.0.1:5", false),
            ("dst [2001:db8::/32]", "[::1]:1", "[2001:db8:ffff::1]:5", true),
            ("dst [2001:db8::/32]", "[::1]:1", "[2001:db9::1]:5", false),
            ("dst *:443", "[::1]:1", "[::2]:443", true),
            ("src *", "1.2.3.4:5", "6.7.8.9:10", true),
            ("dst inet:*", "[::1]:1", "[::1]:2", false),
            ("dst inet:*", "1.2.3.4:5", "6.7.8.9:10", true),
            ("src inet6:*", "1.2.3.4:5", "6.7.8.9:10", false),
            (
                "dport = :443 or dport = :80 and src 10.0.0.1",
                "10.0.0.2:1",
                "10.0.0.3:443",
                false,
            ),
            (
                "dport = :443 or dport = :80 and src 10.0.0.1",
                "10.0.0.1:1",
                "10.0.0.3:443",
                true,
            ),
            (
                "sport >= :1024 sport <= :2048",
                "127.0.0.1:2048",
                "127.0.0.1:1",
                true,
            ),
            (
                "sport >= :1024 sport <= :2048",
                "127.0.0.1:2049",
                "127.0.0.1:1",
                false,
            ),
            (
                "not ( sport = :22 and dport = :80 )",
                "127.0.0.1:22",
                "127.0.0.1:80",
                false,
            ),
            (
                "not ( sport = :22 and dport = :80 )",
                "127.0.0.1:22",
                "127.0.0.1:81",
                true,
            ),
        ];
        for &(expr, local, peer, kept) in cases {
            assert_eq!(
                filter(expr).matches(&ip(local, peer)),
                kept,
                "{expr:?} on {local} -> {peer}"
            );
        }
    }

    #[test]
    fn ip_predicates_never_match_unix_rows() {
        let row = unix(Endpoint::Path("/run/x.sock".into()));
        for expr in [
            "sport = :0",
            "src *",
            "dport >= :0",
            "dst 0.0.0.0/0",
            "dst inet6:*",
        ] {
            assert!(!filter(expr).matches(&row), "{expr}");
            assert!(filter(&format!("not {expr}")).matches(&row), "not {expr}");
        }
    }

    #[test]
    fn unix_names_and_autobound() {
        let path = unix(Endpoint::Path("/run/Docker.sock".into()));
        let abstract_ = unix(Endpoint::Abstract("/tmp/.X11-unix/X0".into()));
        let autobound = unix(Endpoint::Abstract("0a1f3".into()));
        let unnamed = unix(Endpoint::Unnamed);
        let cases: &[(&str, &Socket, bool)] = &[
            ("src unix:/run/*", &path, true),
            ("src unix:/RUN/DOCKER.SOCK", &path, true),
            ("src unix:/run/d?cker.sock", &path, true),
            ("src unix:/run/[a-e]ocker.sock", &path, true),
            ("src unix:/run/[!d]ocker.sock", &path, false),
            ("src unix:*.sock", &path, true),
            ("src unix:/run", &path, false),
            ("src unix:@*X11*", &abstract_, true),
            ("src unix:/tmp/*", &abstract_, false),
            ("src unix:", &unnamed, true),
            ("src unix:*", &unnamed, true),
            ("autobound", &autobound, true),
            ("autobound", &unnamed, true),
            ("autobound", &path, false),
            ("autobound", &abstract_, false),
            ("not autobound", &autobound, false),
        ];
        for &(expr, row, kept) in cases {
            assert_eq!(filter(expr).matches(row), kept, "{expr:?} on {:?}", row.local);
        }
        let ip_row = ip("127.0.0.1:1", "127.0.0.1:2");
        assert!(!filter("src unix:*").matches(&ip_row));
    }

    #[test]
    fn autobound_on_ip_rows_is_left_to_the_kernel() {
        let row = ip("127.0.0.1:22", "127.0.0.1:50000");
        let decided = |expr: &str| eval(filter(expr).expr.as_ref().expect("expr"), &row);
        assert_eq!(decided("autobound"), None);
        assert_eq!(decided("not autobound"), None);
        assert_eq!(decided("autobound and sport = :23"), Some(false));
        assert_eq!(decided("autobound or sport = :22"), Some(true));
        assert_eq!(decided("not ( autobound or sport = :22 )"), Some(false));
        assert_eq!(decided("autobound and sport = :22"), None);
        assert!(
            filter("not autobound").matches(&row),
            "kept: the kernel's program decided"
        );
    }

    #[test]
    fn glob_corners() {
        for (pattern, text, expected) in [
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("*a", "baaa", true),
            ("[", "[", true),
            ("[]]", "]", true),
            ("[!]]", "a", true),
            ("[^a]", "a", false),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("[A-C]x", "bX", true),
            ("ü*", "ü-x", true),
            ("ü*", "Ü-x", false),
        ] {
            assert_eq!(
                glob_match(pattern, text.as_bytes()),
                expected,
                "{pattern:?} {text:?}"
            );
        }
    }
}
