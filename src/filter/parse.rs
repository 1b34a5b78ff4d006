//! Words → [`Filter`]: ss's grammar (`misc/ssfilter.y`) by recursive descent, and its host and
//! port syntax (`parse_hostcond` in `misc/ss.c`, `get_prefix_1` in `lib/utils.c`).
//!
//! Each word is split on blanks, as ss does (so `'( sport = :22 or sport = :2222 )'` may come
//! as one shell word), and parentheses stuck to a word are split off (`(sport`, `:22)`), which
//! ss does not do. Errors count these pieces: "word 3" is the third of them.
//!
//! Differences from ss, all accepting more: an unbracketed IPv6 address with two colons or
//! more is an address (`dst ::1`; ss takes the text after the last colon as a port and fails);
//! `[2001:db8::]/32` is read as `[2001:db8::/32]`. Ports above 65535 and negative ones (ss
//! takes -1 as the wildcard) are errors. Host names are not resolved.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::services::Services;
use super::{Cond, Expr, Filter, HostCond, Side};
use crate::model::State;

/// Longest filter accepted, in words: far above any real one, and low enough that the program
/// always fits the ABI's 16-bit offsets and the recursion depth stays small.
const MAX_WORDS: usize = 1024;
/// Deepest nesting of `(` and `not`.
const MAX_DEPTH: usize = 64;

/// Why a filter does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub kind: FilterErrorKind,
    /// The 1-based number of the offending word and its text; `None` when the words ran out.
    pub at: Option<(usize, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterErrorKind {
    /// `what` must follow `after` (the words before it, e.g. `dport =`).
    Expected {
        what: &'static str,
        after: String,
    },
    /// A word that cannot start a condition.
    NotACondition,
    /// A `)` with no `(` open.
    UnmatchedClose,
    /// A `(` never closed.
    Unclosed,
    /// A service name with different TCP and UDP ports.
    AmbiguousService {
        tcp: u16,
        udp: u16,
    },
    /// `state` or `exclude` after the expression started.
    StateTooLate,
    /// Part of ss's syntax that sockdiag does not implement.
    Unsupported(&'static str),
    TooLong,
    TooDeep,
}

impl fmt::Display for FilterErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expected { what, after } => write!(f, "expected {what} after '{after}'"),
            Self::NotACondition => {
                f.write_str("expected a condition (sport, dport, src, dst, autobound), 'not' or '('")
            }
            Self::UnmatchedClose => f.write_str("')' without a matching '('"),
            Self::Unclosed => f.write_str("'(' without a matching ')'"),
            Self::AmbiguousService { tcp, udp } => {
                write!(f, "ambiguous service name: TCP port {tcp}, UDP port {udp}")
            }
            Self::StateTooLate => f.write_str("'state' and 'exclude' must come before the expression"),
            Self::Unsupported(what) => write!(f, "not supported by sockdiag: {what}"),
            Self::TooLong => write!(f, "too long (at most {MAX_WORDS} words)"),
            Self::TooDeep => write!(
                f,
                "nested too deeply (at most {MAX_DEPTH} levels of '(' and 'not')"
            ),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "filter: {}", self.kind)?;
        match &self.at {
            Some((word, text)) => write!(f, " at word {word} ('{}')", text.escape_debug()),
            None => f.write_str(" at the end"),
        }
    }
}

impl std::error::Error for FilterError {}

/// Parses the filter words that follow `list`'s options: `[state NAME | exclude NAME]...
/// [EXPRESSION]`. Never panics. `services` resolves port names (`:https`).
pub fn parse(words: &[String], services: &Services) -> Result<Filter, FilterError> {
    let tokens = tokenize(words)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        services,
    };
    let states = parser.states()?;
    let expr = if parser.peek().is_some() {
        let expr = parser.list()?;
        if parser.peek().is_some() {
            return Err(parser.error_here(FilterErrorKind::UnmatchedClose));
        }
        Some(expr)
    } else {
        None
    };
    Ok(Filter { states, expr })
}

fn tokenize(words: &[String]) -> Result<Vec<&str>, FilterError> {
    let mut tokens = Vec::new();
    for piece in words.iter().flat_map(|w| w.split_ascii_whitespace()) {
        let mut rest = piece;
        while let Some(r) = rest.strip_prefix('(') {
            tokens.push("(");
            rest = r;
        }
        let mut closes = 0;
        while let Some(r) = rest.strip_suffix(')') {
            closes += 1;
            rest = r;
        }
        if !rest.is_empty() {
            tokens.push(rest);
        }
        tokens.extend(std::iter::repeat_n(")", closes));
        if tokens.len() > MAX_WORDS {
            return Err(FilterError {
                kind: FilterErrorKind::TooLong,
                at: Some((MAX_WORDS + 1, tokens[MAX_WORDS].to_owned())),
            });
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<&'a str>,
    pos: usize,
    depth: usize,
    services: &'a Services,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.tokens.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<&'a str> {
        let token = self.peek()?;
        self.pos += 1;
        Some(token)
    }

    /// An error at the word `peek` would return (or at the end).
    fn error_here(&self, kind: FilterErrorKind) -> FilterError {
        FilterError {
            kind,
            at: self.peek().map(|t| (self.pos + 1, t.to_owned())),
        }
    }

    /// An error at the word `next` just returned.
    fn error_last(&self, kind: FilterErrorKind) -> FilterError {
        let word = self.pos.checked_sub(1).and_then(|i| self.tokens.get(i));
        FilterError {
            kind,
            at: word.map(|t| (self.pos, (*t).to_owned())),
        }
    }

    /// The value after `after`: the next word, or an "expected `what`" error at the end.
    fn value(&mut self, what: &'static str, after: &str) -> Result<&'a str, FilterError> {
        self.next().ok_or_else(|| {
            self.error_here(FilterErrorKind::Expected {
                what,
                after: after.to_owned(),
            })
        })
    }

    fn expected(&self, what: &'static str, after: &str) -> FilterError {
        self.error_last(FilterErrorKind::Expected {
            what,
            after: after.to_owned(),
        })
    }

    /// Leading `state NAME` / `exclude NAME` words: the first `state` starts from no state,
    /// the first `exclude` from every state (ss's `main`).
    fn states(&mut self) -> Result<Option<u32>, FilterError> {
        let mut mask: Option<u32> = None;
        while let Some(keyword @ ("state" | "exclude" | "excl")) = self.peek() {
            self.pos += 1;
            let name = self.value("a state name", keyword)?;
            let bits = state_bits(name).ok_or_else(|| {
                self.expected("a state name (established, listening, connected, ...)", keyword)
            })?;
            mask = Some(if keyword == "state" {
                mask.unwrap_or(0) | bits
            } else {
                mask.unwrap_or(State::ALL_BITS) & !bits
            });
        }
        Ok(mask)
    }

    /// `exprlist`: conditions joined by `and`, `or` or nothing, grouped left to right with no
    /// precedence, up to the end or a `)`.
    fn list(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.expr()?;
        loop {
            let join: fn(Box<Expr>, Box<Expr>) -> Expr = match self.peek() {
                None | Some(")") => return Ok(left),
                Some("|" | "||" | "or") => {
                    self.pos += 1;
                    Expr::Or
                }
                Some("&" | "&&" | "and") => {
                    self.pos += 1;
                    Expr::And
                }
                Some(_) => Expr::And,
            };
            left = join(Box::new(left), Box::new(self.expr()?));
        }
    }

    /// `expr`: `( list )`, `not expr`, or one condition.
    fn expr(&mut self) -> Result<Expr, FilterError> {
        let Some(token) = self.next() else {
            return Err(self.error_here(FilterErrorKind::NotACondition));
        };
        match token {
            "(" | "!" | "not" => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(self.error_last(FilterErrorKind::TooDeep));
                }
                let expr = if token == "(" {
                    let open = self.pos;
                    let inner = self.list()?;
                    if self.next().is_none() {
                        return Err(FilterError {
                            kind: FilterErrorKind::Unclosed,
                            at: Some((open, token.to_owned())),
                        });
                    }
                    inner
                } else {
                    Expr::Not(Box::new(self.expr()?))
                };
                self.depth -= 1;
                Ok(expr)
            }
            "sport" => self.port(Side::Src, token),
            "dport" => self.port(Side::Dst, token),
            "src" => self.host(Side::Src, token),
            "dst" => self.host(Side::Dst, token),
            "autobound" => Ok(Expr::Cond(Cond::Autobound)),
            "dev" => Err(self.error_last(FilterErrorKind::Unsupported("dev"))),
            "fwmark" => Err(self.error_last(FilterErrorKind::Unsupported("fwmark"))),
            "cgroup" => Err(self.error_last(FilterErrorKind::Unsupported("cgroup"))),
            "state" | "exclude" | "excl" => Err(self.error_last(FilterErrorKind::StateTooLate)),
            _ => Err(self.error_last(FilterErrorKind::NotACondition)),
        }
    }

    /// `sport`/`dport [OP] [:]PORT`.
    fn port(&mut self, side: Side, keyword: &str) -> Result<Expr, FilterError> {
        enum Op {
            Eq,
            Ne,
            Lt,
            Gt,
            Le,
            Ge,
        }
        let op = match self.peek() {
            Some("=" | "==" | "eq") => Some(Op::Eq),
            Some("!=" | "ne" | "neq") => Some(Op::Ne),
            Some("<" | "lt") => Some(Op::Lt),
            Some(">" | "gt") => Some(Op::Gt),
            Some("<=" | "le" | "leq") => Some(Op::Le),
            Some(">=" | "ge" | "geq") => Some(Op::Ge),
            _ => None,
        };
        let after = match op {
            Some(_) => format!("{keyword} {}", self.next().unwrap_or_default()),
            None => keyword.to_owned(),
        };
        let op = op.unwrap_or(Op::Eq);
        let text = self.value("a port", &after)?;
        if has_family_prefix(text) {
            return Err(self.error_last(FilterErrorKind::Unsupported(
                "a family in a port condition (use -4 or -6)",
            )));
        }
        let port = self.port_number(text.strip_prefix(':').unwrap_or(text), &after)?;
        let cond = |port: Option<u16>, make: fn(Side, u16) -> Cond| match port {
            Some(port) => Ok(Expr::Cond(make(side, port))),
            None => Err(self.expected("a port, not a wildcard,", &after)),
        };
        let host = Expr::Cond(Cond::Host(side, HostCond { net: None, port }));
        Ok(match op {
            Op::Eq => host,
            Op::Ne => Expr::Not(Box::new(host)),
            Op::Ge => cond(port, Cond::PortGe)?,
            Op::Le => cond(port, Cond::PortLe)?,
            Op::Gt => Expr::Not(Box::new(cond(port, Cond::PortLe)?)),
            Op::Lt => Expr::Not(Box::new(cond(port, Cond::PortGe)?)),
        })
    }

    /// A port without its colon: `*` or nothing (any port), a number (C syntax, as ss's
    /// `get_integer`: `0x16` and `026` are 22), or a service name.
    fn port_number(&self, text: &str, after: &str) -> Result<Option<u16>, FilterError> {
        if text.is_empty() || text == "*" {
            return Ok(None);
        }
        if let Some(number) = c_unsigned(text) {
            return match u16::try_from(number) {
                Ok(port) => Ok(Some(port)),
                Err(_) => Err(self.expected("a port from 0 to 65535", after)),
            };
        }
        match self.services.port(text) {
            Ok(Some(port)) => Ok(Some(port)),
            Ok(None) => Err(self.expected("a port (a number or a service name of /etc/services)", after)),
            Err(a) => Err(self.error_last(FilterErrorKind::AmbiguousService {
                tcp: a.tcp,
                udp: a.udp,
            })),
        }
    }

    /// `src`/`dst [=] HOST`, HOST being `[FAMILY:]ADDRESS[/PLEN][:PORT]`, `[V6ADDRESS]...`,
    /// `*[:PORT]` or `unix:GLOB`.
    fn host(&mut self, side: Side, keyword: &str) -> Result<Expr, FilterError> {
        let after = match self.peek() {
            Some(op @ ("=" | "==" | "eq")) => {
                self.pos += 1;
                format!("{keyword} {op}")
            }
            _ => keyword.to_owned(),
        };
        let text = self.value("an address", &after)?;
        let (family, rest) = match text.split_once(':') {
            Some(("unix", glob)) if side == Side::Src => {
                return Ok(Expr::Cond(Cond::UnixName(glob.to_owned())));
            }
            Some(("unix", _)) => {
                return Err(self.error_last(FilterErrorKind::Unsupported(
                    "dst unix: (sockdiag does not resolve the names of UNIX peers)",
                )));
            }
            Some(("inet", rest)) => (Some(Family::V4), rest),
            Some(("inet6", rest)) => (Some(Family::V6), rest),
            Some(("link" | "netlink" | "vsock" | "tipc" | "xdp", _)) => {
                return Err(self.error_last(FilterErrorKind::Unsupported(
                    "that family (sockdiag lists TCP, UDP, RAW and UNIX sockets)",
                )));
            }
            _ => (None, text),
        };
        let parts = split_host(rest).ok_or_else(|| self.expected("an address", &after))?;
        let port = match parts.port {
            Some(port) => self.port_number(port, &after)?,
            None => None,
        };
        let net = match (parts.address, parts.plen) {
            ("" | "*" | "any" | "all" | "default", None) => family.map(Family::any),
            (address, plen) => Some(self.prefix(address, plen, family, &after)?),
        };
        Ok(Expr::Cond(Cond::Host(side, HostCond { net, port })))
    }

    /// `ADDRESS[/PLEN]`, PLEN a number or (as ss allows) a dotted netmask.
    fn prefix(
        &self,
        address: &str,
        plen: Option<&str>,
        family: Option<Family>,
        after: &str,
    ) -> Result<(IpAddr, u8), FilterError> {
        let ip = if address.contains(':') {
            address.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        } else {
            ipv4(address).map(IpAddr::V4)
        };
        let Some(ip) = ip else {
            let name_like = address.bytes().any(|b| b.is_ascii_alphabetic())
                && address
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            return Err(if name_like {
                self.error_last(FilterErrorKind::Unsupported("host names (give an address)"))
            } else {
                self.expected("an address", after)
            });
        };
        match (family, ip) {
            (Some(Family::V4), IpAddr::V6(_)) => return Err(self.expected("an IPv4 address", after)),
            (Some(Family::V6), IpAddr::V4(_)) => return Err(self.expected("an IPv6 address", after)),
            _ => {}
        }
        let bits: u8 = if ip.is_ipv4() { 32 } else { 128 };
        let len = match plen {
            None => Some(bits),
            Some(plen) => c_unsigned(plen)
                .or_else(|| ipv4(plen).and_then(netmask_len))
                .and_then(|n| u8::try_from(n).ok())
                .filter(|&n| n <= bits),
        };
        match len {
            Some(len) => Ok((ip, len)),
            None if ip.is_ipv4() => Err(self.expected("a prefix length from 0 to 32", after)),
            None => Err(self.expected("a prefix length from 0 to 128", after)),
        }
    }
}

#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

impl Family {
    /// The network of every address of the family: how `inet:*` keeps that family only.
    fn any(self) -> (IpAddr, u8) {
        match self {
            Family::V4 => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            Family::V6 => (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        }
    }
}

fn has_family_prefix(text: &str) -> bool {
    text.split_once(':').is_some_and(|(family, _)| {
        matches!(
            family,
            "unix" | "inet" | "inet6" | "link" | "netlink" | "vsock" | "tipc" | "xdp"
        )
    })
}

/// `ADDRESS[/PLEN][:PORT]` cut in its parts (each without its `/` or `:`).
struct HostParts<'a> {
    address: &'a str,
    plen: Option<&'a str>,
    port: Option<&'a str>,
}

/// Cuts a host. The colon of the port is the last one after the `/`; without `/`, the only
/// one: several colons are an IPv6 address, which takes a port only in brackets
/// (`[::1]:22`, `[2001:db8::/32]:443`, or `[2001:db8::]/32:443`). `None` when malformed.
fn split_host(text: &str) -> Option<HostParts<'_>> {
    if let Some(inner) = text.strip_prefix('[') {
        let (inside, tail) = inner.split_once(']')?;
        let (tail, port) = match tail.split_once(':') {
            Some((tail, port)) => (tail, Some(port)),
            None => (tail, None),
        };
        let (address, plen) = cut(inside, '/');
        let plen = match (plen, tail) {
            (plen, "") => plen,
            (None, tail) => Some(tail.strip_prefix('/')?),
            (Some(_), _) => return None,
        };
        return Some(HostParts { address, plen, port });
    }
    if let Some(tail) = text.strip_prefix('*') {
        let port = match tail {
            "" => None,
            _ => Some(tail.strip_prefix(':')?),
        };
        return Some(HostParts {
            address: "*",
            plen: None,
            port,
        });
    }
    let colon = match text.find('/') {
        Some(slash) => text[slash..].rfind(':').map(|i| slash + i),
        None if text.matches(':').count() == 1 => text.find(':'),
        None => None,
    };
    let (before, port) = match colon {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (address, plen) = cut(before, '/');
    Some(HostParts { address, plen, port })
}

/// `text` before and after the first `sep`.
fn cut(text: &str, sep: char) -> (&str, Option<&str>) {
    match text.split_once(sep) {
        Some((before, after)) => (before, Some(after)),
        None => (text, None),
    }
}

/// An unsigned number as C's `strtoul(text, &end, 0)` reads a whole string: `0x` hex, `0`
/// octal, else decimal; no sign, no blanks.
fn c_unsigned(text: &str) -> Option<u64> {
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        (hex, 16)
    } else if text.len() > 1
        && let Some(octal) = text.strip_prefix('0')
    {
        (octal, 8)
    } else {
        (text, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// An IPv4 address as iproute2's `get_addr_ipv4` reads it: one to four C numbers up to 255
/// separated by dots, the missing bytes zero (`10/8` is `10.0.0.0/8`).
fn ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for (octet, part) in octets.iter_mut().zip(parts.by_ref()) {
        *octet = u8::try_from(c_unsigned(part)?).ok()?;
    }
    match parts.next() {
        None => Some(Ipv4Addr::from(octets)),
        Some(_) => None,
    }
}

/// The prefix length of a contiguous dotted netmask (`255.255.0.0` is 16).
fn netmask_len(mask: Ipv4Addr) -> Option<u64> {
    let mask = u32::from(mask);
    (mask.leading_ones() + mask.trailing_zeros() == 32).then_some(u64::from(mask.leading_ones()))
}

/// The bits of a state name or group of ss (`scan_state` in `misc/ss.c`), case-insensitive,
/// with sockdiag's extras (`--state` spellings: `listen`, `syn_sent`, `bound-inactive`, ...).
/// `close` includes bound-inactive sockets, which TCP dumps report as CLOSE (as `--state`
/// does); SYN_RECV includes NEW_SYN_RECV, so that excluding it drops request sockets too.
fn state_bits(name: &str) -> Option<u32> {
    let bits = |states: &[State]| states.iter().fold(0, |mask, s| mask | s.bit());
    let syn_recv = bits(&[State::SYN_RECV, State::NEW_SYN_RECV]);
    let connected = State::ALL_BITS & !bits(&[State::LISTEN, State::CLOSE, State::BOUND_INACTIVE]);
    let bucket = syn_recv | State::TIME_WAIT.bit();
    Some(match name.to_ascii_lowercase().replace('_', "-").as_str() {
        "established" | "estab" => State::ESTABLISHED.bit(),
        "syn-sent" => State::SYN_SENT.bit(),
        "syn-recv" | "syn-rcv" => syn_recv,
        "fin-wait-1" | "fin-wait1" => State::FIN_WAIT1.bit(),
        "fin-wait-2" | "fin-wait2" => State::FIN_WAIT2.bit(),
        "time-wait" => State::TIME_WAIT.bit(),
        "close" | "closed" | "unconnected" | "unconn" => bits(&[State::CLOSE, State::BOUND_INACTIVE]),
        "close-wait" => State::CLOSE_WAIT.bit(),
        "last-ack" => State::LAST_ACK.bit(),
        "listen" | "listening" => State::LISTEN.bit(),
        "closing" => State::CLOSING.bit(),
        "bound-inactive" => State::BOUND_INACTIVE.bit(),
        "all" => State::ALL_BITS,
        "connected" => connected,
        "synchronized" => connected & !State::SYN_SENT.bit(),
        "bucket" => bucket,
        "big" => State::ALL_BITS & !bucket,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::compile::tests::{SERVICES, audit, words};
    use crate::filter::eval::tests::{rows, unix};
    use crate::model::Endpoint;

    fn parse_str(expr: &str) -> Result<Filter, FilterError> {
        parse(&words(expr), &Services::parse(SERVICES))
    }

    fn error(expr: &str) -> String {
        match parse_str(expr) {
            Ok(f) => panic!("{expr:?} parsed: {f:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn host(side: Side, net: Option<(&str, u8)>, port: Option<u16>) -> Expr {
        let net = net.map(|(a, len)| (a.parse().expect("ip"), len));
        Expr::Cond(Cond::Host(side, HostCond { net, port }))
    }

    #[test]
    fn errors_point_at_the_word() {
        for (expr, message) in [
            (
                "dport = foo",
                "filter: expected a port (a number or a service name of /etc/services) after 'dport =' at word 3 ('foo')",
            ),
            ("dport =", "filter: expected a port after 'dport =' at the end"),
            (
                "sport >= :70000",
                "filter: expected a port from 0 to 65535 after 'sport >=' at word 3 (':70000')",
            ),
            (
                "sport > *",
                "filter: expected a port, not a wildcard, after 'sport >' at word 3 ('*')",
            ),
            (
                "and sport = :22",
                "filter: expected a condition (sport, dport, src, dst, autobound), 'not' or '(' at word 1 ('and')",
            ),
            (
                "sport = :22 or",
                "filter: expected a condition (sport, dport, src, dst, autobound), 'not' or '(' at the end",
            ),
            (
                "( sport = :22",
                "filter: '(' without a matching ')' at word 1 ('(')",
            ),
            (
                "( ( sport = :22 )",
                "filter: '(' without a matching ')' at word 1 ('(')",
            ),
            (
                "sport = :22 )",
                "filter: ')' without a matching '(' at word 4 (')')",
            ),
            (
                "( )",
                "filter: expected a condition (sport, dport, src, dst, autobound), 'not' or '(' at word 2 (')')",
            ),
            (
                "dst 10.0.0.0/33",
                "filter: expected a prefix length from 0 to 32 after 'dst' at word 2 ('10.0.0.0/33')",
            ),
            (
                "dst [::1]/129",
                "filter: expected a prefix length from 0 to 128 after 'dst' at word 2 ('[::1]/129')",
            ),
            (
                "src = 1.2.3.4.5",
                "filter: expected an address after 'src =' at word 3 ('1.2.3.4.5')",
            ),
            (
                "src [::1",
                "filter: expected an address after 'src' at word 2 ('[::1')",
            ),
            (
                "dst inet6:10.0.0.1",
                "filter: expected an IPv6 address after 'dst' at word 2 ('inet6:10.0.0.1')",
            ),
            (
                "dst example.com",
                "filter: not supported by sockdiag: host names (give an address) at word 2 ('example.com')",
            ),
            (
                "dev = eth0",
                "filter: not supported by sockdiag: dev at word 1 ('dev')",
            ),
            (
                "sport = :22 fwmark = 0x1/0x3",
                "filter: not supported by sockdiag: fwmark at word 4 ('fwmark')",
            ),
            (
                "cgroup /sys/fs/cgroup/x",
                "filter: not supported by sockdiag: cgroup at word 1 ('cgroup')",
            ),
            (
                "dst unix:/run/*",
                "filter: not supported by sockdiag: dst unix: (sockdiag does not resolve the names of UNIX peers) at word 2 ('unix:/run/*')",
            ),
            (
                "src link:eth0",
                "filter: not supported by sockdiag: that family (sockdiag lists TCP, UDP, RAW and UNIX sockets) at word 2 ('link:eth0')",
            ),
            (
                "sport = inet6::22",
                "filter: not supported by sockdiag: a family in a port condition (use -4 or -6) at word 3 ('inet6::22')",
            ),
            (
                "state bogus",
                "filter: expected a state name (established, listening, connected, ...) after 'state' at word 2 ('bogus')",
            ),
            (
                "exclude",
                "filter: expected a state name after 'exclude' at the end",
            ),
            (
                "sport = :22 state established",
                "filter: 'state' and 'exclude' must come before the expression at word 4 ('state')",
            ),
            (
                "dst 1.2.3.4\t'x",
                "filter: expected a condition (sport, dport, src, dst, autobound), 'not' or '(' at word 3 ('\\'x')",
            ),
        ] {
            assert_eq!(error(expr), message, "{expr:?}");
        }
        let services = Services::parse("odd 10/tcp\nodd 11/udp\n");
        let e = parse(&words("sport = :odd"), &services).expect_err("ambiguous");
        assert_eq!(
            e.to_string(),
            "filter: ambiguous service name: TCP port 10, UDP port 11 at word 3 (':odd')"
        );
    }

    #[test]
    fn no_words_no_filter() {
        let filter = parse(&[], &Services::default()).expect("empty");
        assert_eq!(
            filter,
            Filter {
                states: None,
                expr: None
            }
        );
        assert_eq!(filter.bytecode(), None);
        assert!(filter.matches(&rows()[0]));
        let blank = parse(&["  ".to_owned(), String::new()], &Services::default()).expect("blank");
        assert_eq!(blank, filter);
    }

    #[test]
    fn words_split_on_blanks_and_parentheses() {
        let one_word = parse(
            &["( sport = :22 or sport = :2222 )".to_owned()],
            &Services::default(),
        );
        let shell_words = parse_str("( sport = :22 or sport = :2222 )");
        let attached = parse_str("(sport = :22 or sport = :2222)");
        let tight = parse(
            &["((sport".into(), "=".into(), ":22))".into()],
            &Services::default(),
        );
        assert_eq!(one_word, shell_words);
        assert_eq!(attached, shell_words);
        let expected = Expr::Or(
            Box::new(host(Side::Src, None, Some(22))),
            Box::new(host(Side::Src, None, Some(2222))),
        );
        assert_eq!(shell_words.expect("parses").expr, Some(expected));
        assert_eq!(tight.expect("parses").expr, Some(host(Side::Src, None, Some(22))));
    }

    #[test]
    fn and_or_group_left_to_right_as_in_ss() {
        let (a, b, c) = (
            host(Side::Dst, None, Some(1)),
            host(Side::Dst, None, Some(2)),
            host(Side::Dst, None, Some(3)),
        );
        let bx = |e: &Expr| Box::new(e.clone());
        let left = |join: fn(Box<Expr>, Box<Expr>) -> Expr, j2: fn(Box<Expr>, Box<Expr>) -> Expr| {
            j2(Box::new(join(bx(&a), bx(&b))), bx(&c))
        };
        let cases: [(&str, Expr); 5] = [
            (
                "dport = :1 or dport = :2 and dport = :3",
                left(Expr::Or, Expr::And),
            ),
            (
                "dport = :1 && dport = :2 || dport = :3",
                left(Expr::And, Expr::Or),
            ),
            ("dport = :1 | dport = :2 dport = :3", left(Expr::Or, Expr::And)),
            (
                "dport = :1 or ( dport = :2 & dport = :3 )",
                Expr::Or(bx(&a), Box::new(Expr::And(bx(&b), bx(&c)))),
            ),
            (
                "! dport = :1 or dport = :2",
                Expr::Or(Box::new(Expr::Not(bx(&a))), bx(&b)),
            ),
        ];
        for (expr, tree) in cases {
            assert_eq!(parse_str(expr).expect("parses").expr, Some(tree), "{expr}");
        }
    }

    #[test]
    fn port_and_host_forms() {
        let src = |net, port| Some(host(Side::Src, net, port));
        let dst = |net, port| Some(host(Side::Dst, net, port));
        let not = |e: Option<Expr>| e.map(|e| Expr::Not(Box::new(e)));
        let ge = |p| Some(Expr::Cond(Cond::PortGe(Side::Dst, p)));
        let le = |p| Some(Expr::Cond(Cond::PortLe(Side::Src, p)));
        let cases: Vec<(&str, Option<Expr>)> = vec![
            ("sport = :22", src(None, Some(22))),
            ("sport :22", src(None, Some(22))),
            ("sport 22", src(None, Some(22))),
            ("sport == ssh", src(None, Some(22))),
            ("sport eq :www", src(None, Some(80))),
            ("sport = 026", src(None, Some(22))),
            ("sport = :0X16", src(None, Some(22))),
            ("sport = *", src(None, None)),
            ("sport = :*", src(None, None)),
            ("sport = :", src(None, None)),
            ("sport ne :22", not(src(None, Some(22)))),
            ("dport geq :1024", ge(1024)),
            ("dport lt :1024", not(ge(1024))),
            ("sport leq :80", le(80)),
            ("sport gt :http", not(le(80))),
            ("src 127.0.0.1", src(Some(("127.0.0.1", 32)), None)),
            ("src = 127.1", src(Some(("127.1.0.0", 32)), None)),
            ("src == 0x7f.1", src(Some(("127.1.0.0", 32)), None)),
            ("dst 10.0.0.0/255.255.0.0", dst(Some(("10.0.0.0", 16)), None)),
            ("dst 10.0.0.0/0x8", dst(Some(("10.0.0.0", 8)), None)),
            ("dst 10.0.0.0/8:https", dst(Some(("10.0.0.0", 8)), Some(443))),
            ("dst 10.0.0.1:*", dst(Some(("10.0.0.1", 32)), None)),
            ("dst :22", dst(None, Some(22))),
            ("dst *", dst(None, None)),
            ("dst *:22", dst(None, Some(22))),
            ("dst any", dst(None, None)),
            ("dst inet:*", dst(Some(("0.0.0.0", 0)), None)),
            ("dst inet6:", dst(Some(("::", 0)), None)),
            ("dst inet6:*:443", dst(Some(("::", 0)), Some(443))),
            ("dst inet:10.0.0.1:22", dst(Some(("10.0.0.1", 32)), Some(22))),
            ("dst ::1", dst(Some(("::1", 128)), None)),
            ("dst ::ffff:10.0.0.1", dst(Some(("::ffff:10.0.0.1", 128)), None)),
            ("dst [::1]", dst(Some(("::1", 128)), None)),
            ("dst [::1]:22", dst(Some(("::1", 128)), Some(22))),
            ("dst [fe80::/10]:22", dst(Some(("fe80::", 10)), Some(22))),
            ("dst [fe80::]/10:22", dst(Some(("fe80::", 10)), Some(22))),
            ("dst [10.0.0.1]:22", dst(Some(("10.0.0.1", 32)), Some(22))),
            ("dst 2001:db8::/32:443", dst(Some(("2001:db8::", 32)), Some(443))),
            ("autobound", Some(Expr::Cond(Cond::Autobound))),
            (
                "src unix:/run/*.sock",
                Some(Expr::Cond(Cond::UnixName("/run/*.sock".into()))),
            ),
        ];
        for (expr, tree) in cases {
            assert_eq!(parse_str(expr).map(|f| f.expr), Ok(tree), "{expr}");
        }
        for bad in [
            "sport = -1",
            "sport = 0x",
            "sport = 08",
            "sport = :22:",
            "dst 10.",
            "dst 10..1",
            "dst 256.0.0.1",
            "dst 10.0.0.0/08",
            "dst 10.0.0.0/255.0.255.0",
            "dst [::1]x",
            "dst [::1/64]/64",
            "dst *x",
            "dst */8",
            "dst any/8",
            "dst inet:::1",
            "dst 1.2.3.4:99999",
        ] {
            assert!(parse_str(bad).is_err(), "{bad} parses");
        }
    }

    #[test]
    fn state_words() {
        let states = |expr: &str| parse_str(expr).expect("parses").states;
        let bit = |s: State| s.bit();
        assert_eq!(states("sport = :22"), None);
        assert_eq!(states("state established"), Some(bit(State::ESTABLISHED)));
        assert_eq!(
            states("state LISTEN state Time_Wait"),
            Some(bit(State::LISTEN) | bit(State::TIME_WAIT))
        );
        assert_eq!(states("state bound-inactive"), Some(bit(State::BOUND_INACTIVE)));
        assert_eq!(
            states("state closed"),
            Some(bit(State::CLOSE) | bit(State::BOUND_INACTIVE))
        );
        assert_eq!(
            states("state syn-recv"),
            Some(bit(State::SYN_RECV) | bit(State::NEW_SYN_RECV))
        );
        assert_eq!(states("state all"), Some(State::ALL_BITS));
        assert_eq!(states("exclude bucket"), states("state big"));
        assert_eq!(
            states("exclude syn-recv"),
            Some(State::ALL_BITS & !bit(State::SYN_RECV) & !bit(State::NEW_SYN_RECV)),
            "request socks (NEW_SYN_RECV) go with SYN_RECV"
        );
        let connected = states("state connected").expect("mask");
        for s in [State::LISTEN, State::CLOSE, State::BOUND_INACTIVE] {
            assert_eq!(connected & bit(s), 0, "{s}");
        }
        assert_eq!(
            states("state synchronized"),
            Some(connected & !bit(State::SYN_SENT))
        );
        let filter = parse_str("state established ( dport = :https )").expect("parses");
        assert_eq!(filter.states, Some(bit(State::ESTABLISHED)));
        assert_eq!(filter.expr, Some(host(Side::Dst, None, Some(443))));
    }

    #[test]
    fn limits() {
        let long = vec!["autobound".to_owned(); MAX_WORDS + 1];
        assert_eq!(
            parse(&long, &Services::default())
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err("filter: too long (at most 1024 words) at word 1025 ('autobound')".to_owned())
        );
        let deep = format!("{}autobound", "not ".repeat(MAX_DEPTH + 1));
        assert_eq!(
            error(&deep),
            "filter: nested too deeply (at most 64 levels of '(' and 'not') at word 65 ('not')"
        );
        let deep = format!("{}autobound{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse(&[deep], &Services::default()).is_ok(), "64 levels are fine");
    }

    /// xorshift64*: a fixed-seed stream of pseudo-random numbers.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn garbage_never_panics_and_what_parses_compiles_to_audited_code() {
        const VOCABULARY: &[&str] = &[
            "(",
            ")",
            "!",
            "not",
            "and",
            "&&",
            "&",
            "or",
            "||",
            "|",
            "sport",
            "dport",
            "src",
            "dst",
            "=",
            "==",
            "!=",
            ">",
            "<",
            ">=",
            "<=",
            "eq",
            "ne",
            "gt",
            "lt",
            "ge",
            "le",
            "autobound",
            "state",
            "exclude",
            "established",
            "all",
            "dev",
            "fwmark",
            ":22",
            ":https",
            "*",
            "*:80",
            "10.0.0.0/8",
            "[::1]:22",
            "::ffff:1.2.3.4",
            "unix:/run/*",
            "inet:*",
            "inet6:",
            "0x16",
            "65535",
            "65536",
            "[",
            "]",
            "/",
            ":",
            "[::1",
            "1.2.3.4/",
            "::/0",
            "é",
            "(sport",
            ":22)",
            "((",
            "))",
            "",
            "\t",
            "  ",
            "[]:",
            "*:",
            ":*",
            "/32",
            "1.2.3.4/255.255.255.255:1",
        ];
        const BYTES: &[u8] = b"()[]:/*!=<>&|.-0123456789abcdefxX unix:inet6 \t\\'\"";
        let services = Services::parse(SERVICES);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut sample = rows();
        sample.push(unix(Endpoint::Abstract("00af1".into())));
        sample.push(unix(Endpoint::Path("/run/a".into())));
        let mut parsed = 0;
        for round in 0..20_000 {
            let words: Vec<String> = (0..rng.below(12))
                .map(|_| match rng.below(4) {
                    0 => (0..rng.below(8))
                        .map(|_| char::from(BYTES[rng.below(BYTES.len())]))
                        .collect(),
                    1 => (0..rng.below(6))
                        .map(|_| char::from_u32(rng.next() as u32 % 0x800).unwrap_or('?'))
                        .collect(),
                    _ => VOCABULARY[rng.below(VOCABULARY.len())].to_owned(),
                })
                .collect();
            let filter = match parse(&words, &services) {
                Ok(filter) => filter,
                Err(e) => {
                    let message = e.to_string();
                    assert!(!message.contains(['\n', '\r']), "{words:?}: {message:?}");
                    continue;
                }
            };
            parsed += 1;
            if let Some(code) = filter.bytecode() {
                audit(&code).unwrap_or_else(|e| panic!("round {round}: {words:?}: {e}"));
            }
            for row in &sample {
                let _ = filter.matches(row);
            }
        }
        assert!(parsed > 1000, "only {parsed} random filters parsed");
    }
}
