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

/// The name as ss matches it: a path, `@` and an abstract name, or "" for none.
fn unix_name(endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::Path(path) => path.to_string(),
        Endpoint::Abstract(name) => format!("@{name}"),
        Endpoint::Unnamed | Endpoint::Ip(_) => String::new(),
    }
}

/// ss's test for UNIX sockets: no name, or an abstract name of 5 lowercase hex digits (what
/// the kernel's autobind picks, `unix_autobind`).
fn unix_autobound(local: &Endpoint) -> bool {
    match local {
        Endpoint::Unnamed => true,
        Endpoint::Abstract(name) => {
            name.len() == 5
                && name
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        Endpoint::Path(_) | Endpoint::Ip(_) => false,
    }
}

/// fnmatch(3) with `FNM_CASEFOLD` and no other flag: `*` (slashes included), `?`, `[...]`
/// (`!` or `^` negates, ranges), `\` quotes.
fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let same = |a: char, b: char| a == b || a.to_lowercase().eq(b.to_lowercase());
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it is tried to stretch to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match bracket(&pattern[p..], text[t], same) {
                Some((matched, len)) => matched.then_some(len),
                None => same('[', text[t]).then_some(1),
            },
            Some('\\') if p + 1 < pattern.len() => same(pattern[p + 1], text[t]).then_some(2),
            Some(&c) => same(c, text[t]).then_some(1),
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
    pattern[p..].iter().all(|&c| c == '*')
}

/// A `[...]` at the start of `pattern`: whether `c` is in it, and its length; `None` when it
/// is not closed (then `[` is an ordinary character).
fn bracket(pattern: &[char], c: char, same: impl Fn(char, char) -> bool) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(pattern.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut found = false;
    let first = i;
    loop {
        let lo = *pattern.get(i)?;
        if lo == ']' && i > first {
            return Some((found != negated, i + 1));
        }
        match (pattern.get(i + 1), pattern.get(i + 2)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                let lower = c.to_lowercase().next().unwrap_or(c);
                let upper = c.to_uppercase().next().unwrap_or(c);
                found |= (lo..=hi).contains(&lower) || (lo..=hi).contains(&upper);
                i += 3;
            }
            _ => {
                found |= same(lo, c);
                i += 1;
            }
        }
    }
}
