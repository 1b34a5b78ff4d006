//! Expression → inet_diag filter program (`linux/inet_diag.h`), laid out as ss lays it out
//! (`ssfilter_bytecompile` in `misc/ss.c`), so that the bytes can be checked against ss's.
//!
//! Each piece of program is a block that, run from its first byte, falls off its end when the
//! socket matches and jumps 4 bytes past its end when it does not. So:
//! - `a and b` is `a b`, with every jump of `a` to its "no" exit moved on by `len(b)`;
//! - `a or b` is `a JMP b`: a match of `a` reaches the JMP, which jumps over `b` to the end;
//!   a mismatch of `a` lands 4 bytes past `a`, at `b`;
//! - `not a` is `a JMP`: a match reaches the JMP, which jumps 4 past the end (mismatch); a
//!   mismatch of `a` lands exactly on the end (match).
//!
//! The offsets are the kernel's: `yes` (u8) is the instruction's own length, `no` (u16) is
//! relative to the instruction. Numbers are in host order (the kernel reads them as plain
//! `u16`/`int`), addresses in network order. Every program this produces passes
//! `inet_diag_bc_audit` (`net/ipv4/inet_diag.c`); the tests check it with the same rules.

use std::net::IpAddr;

use super::{Cond, Expr, HostCond, Side};

/// `INET_DIAG_REQ_BYTECODE`: the request attribute type of the program.
pub const INET_DIAG_REQ_BYTECODE: u16 = 1;

/// The `INET_DIAG_BC_*` operation codes used here.
const BC_JMP: u8 = 1;
const BC_S_GE: u8 = 2;
const BC_S_LE: u8 = 3;
const BC_D_GE: u8 = 4;
const BC_D_LE: u8 = 5;
const BC_AUTO: u8 = 6;
const BC_S_COND: u8 = 7;
const BC_D_COND: u8 = 8;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// Size of `struct inet_diag_bc_op`.
const OP: usize = 4;

/// The program for `expr`, or `None` if it does not fit the ABI: an offset overflowing its
/// field, or the whole past the 16-bit length of an attribute (the caller then sends no
/// filter).
pub fn compile(expr: &Expr) -> Option<Vec<u8>> {
    block(expr).filter(|code| u16::try_from(OP + code.len()).is_ok())
}

/// `struct nlattr { u16 nla_len; u16 nla_type; }` and a program from [`compile`].
pub fn attribute(program: &[u8]) -> Vec<u8> {
    // `compile` keeps programs within an attribute's length.
    let len = u16::try_from(OP + program.len()).unwrap_or(u16::MAX);
    let mut attr = Vec::with_capacity(OP + program.len());
    attr.extend(len.to_ne_bytes());
    attr.extend(INET_DIAG_REQ_BYTECODE.to_ne_bytes());
    attr.extend(program);
    attr
}

fn block(expr: &Expr) -> Option<Vec<u8>> {
    match expr {
        Expr::Cond(cond) => condition(cond),
        Expr::And(a, b) => {
            let mut a = block(a)?;
            let b = block(b)?;
            move_no_exits(&mut a, b.len())?;
            a.extend(b);
            Some(a)
        }
        Expr::Or(a, b) => {
            let mut a = block(a)?;
            let b = block(b)?;
            op(&mut a, BC_JMP, OP, OP + b.len())?;
            a.extend(b);
            Some(a)
        }
        Expr::Not(a) => {
            let mut a = block(a)?;
            op(&mut a, BC_JMP, OP, 2 * OP)?;
            Some(a)
        }
    }
}

fn condition(cond: &Cond) -> Option<Vec<u8>> {
    let mut code = Vec::new();
    match *cond {
        Cond::Host(side, host) => host_cond(&mut code, side, host),
        Cond::PortGe(side, port) => {
            let ge = if side == Side::Src { BC_S_GE } else { BC_D_GE };
            port_cond(&mut code, ge, port)
        }
        Cond::PortLe(side, port) => {
            let le = if side == Side::Src { BC_S_LE } else { BC_D_LE };
            port_cond(&mut code, le, port)
        }
        Cond::Autobound => op(&mut code, BC_AUTO, OP, 2 * OP),
        // Never true of an IP socket: an unconditional jump to the "no" exit.
        Cond::UnixName(_) => op(&mut code, BC_JMP, OP, 2 * OP),
    }?;
    Some(code)
}

/// `inet_diag_bc_op` then `struct inet_diag_hostcond { u8 family; u8 prefix_len; (2 bytes of
/// padding) int port; __be32 addr[]; }`. Without an address, 4 zero bytes of address follow
/// as in ss (the kernel reads none for AF_UNSPEC).
fn host_cond(code: &mut Vec<u8>, side: Side, host: HostCond) -> Option<()> {
    let (family, prefix_len, addr) = match host.net {
        None => (AF_UNSPEC, 0, vec![0; 4]),
        Some((IpAddr::V4(a), len)) => (AF_INET, len, a.octets().to_vec()),
        Some((IpAddr::V6(a), len)) => (AF_INET6, len, a.octets().to_vec()),
    };
    let len = OP + 8 + addr.len();
    op(
        code,
        if side == Side::Src { BC_S_COND } else { BC_D_COND },
        len,
        len + OP,
    )?;
    code.extend([family, prefix_len, 0, 0]);
    code.extend(host.port.map_or(-1, i32::from).to_ne_bytes());
    code.extend(addr);
    Some(())
}

/// A port comparison: the port travels in the `no` field of a second, inert operation.
fn port_cond(code: &mut Vec<u8>, compare: u8, port: u16) -> Option<()> {
    op(code, compare, 2 * OP, 3 * OP)?;
    code.extend([0, 0]);
    code.extend(port.to_ne_bytes());
    Some(())
}

/// Appends `struct inet_diag_bc_op { code, yes, no }`; `None` if `yes` or `no` overflows.
fn op(code: &mut Vec<u8>, opcode: u8, yes: usize, no: usize) -> Option<()> {
    let yes = u8::try_from(yes).ok()?;
    let no = u16::try_from(no).ok()?;
    code.extend([opcode, yes]);
    code.extend(no.to_ne_bytes());
    Some(())
}

/// Moves every "no" exit of `block` (a jump to 4 bytes past its end) on by `by` bytes, to land
/// past what will follow (`ssfilter_patch` in ss). Instructions are walked by their `yes`.
fn move_no_exits(block: &mut [u8], by: usize) -> Option<()> {
    let mut at = 0;
    while at + OP <= block.len() {
        let yes = usize::from(block[at + 1]);
        let no = usize::from(u16::from_ne_bytes([block[at + 2], block[at + 3]]));
        if no == block.len() - at + OP {
            let moved = u16::try_from(no + by).ok()?;
            block[at + 2..at + 4].copy_from_slice(&moved.to_ne_bytes());
        }
        if yes == 0 {
            break;
        }
        at += yes;
    }
    Some(())
}

#[cfg(test)]
pub(super) mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::filter::{Services, parse};
    use crate::model::{Endpoint, Family, Socket};

    /// The service names the oracle's expressions use, as the capture machine had them.
    pub const SERVICES: &str = "ssh 22/tcp\nhttp 80/tcp www\nhttps 443/tcp\nhttps 443/udp\n";

    pub fn words(expression: &str) -> Vec<String> {
        expression.split(' ').map(str::to_owned).collect()
    }

    /// One line of the oracle: an expression, and ss's `idiag_states` and bytecode for it (`None`
    /// for none, `Err` when ss rejected the expression).
    pub struct Case {
        pub expr: &'static str,
        pub states: u32,
        pub code: Result<Option<Vec<u8>>, ()>,
    }

    pub fn oracle() -> Vec<Case> {
        include_str!("../../tests/fixtures/filter/ss-bytecode.txt")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let mut fields = line.split('\t');
                let (expr, states, code) = (fields.next(), fields.next(), fields.next());
                let (Some(expr), Some(states), Some(code)) = (expr, states, code) else {
                    panic!("bad fixture line {line:?}");
                };
                let states = u32::from_str_radix(states.trim_start_matches("0x"), 16).unwrap_or(0);
                let code = match code {
                    "error" => Err(()),
                    "-" => Ok(None),
                    hex => Ok(Some(
                        (0..hex.len())
                            .step_by(2)
                            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                            .collect(),
                    )),
                };
                Case { expr, states, code }
            })
            .collect()
    }

    /// Expressions ss rejects and sockdiag takes, on purpose (see `parse`'s module docs).
    const ACCEPTED_BY_SOCKDIAG_ONLY: [&str; 4] = [
        // ss cuts a port after the last colon (`:` and `1`) and fails; sockdiag reads ::1.
        "dst ::1",
        "dst ::ffff:10.0.0.1",
        // ss does not split parentheses off words.
        "(sport = :22)",
        // ss wants the prefix length inside the brackets.
        "dst [2001:db8::]/32",
    ];

    /// Expressions ss takes and sockdiag rejects, on purpose.
    const REJECTED_BY_SOCKDIAG_ONLY: [&str; 1] = [
        // ss compiles the port into the hostcond's int, which no socket's u16 port equals.
        "sport = :70000",
    ];

    /// The oracle's expressions that compile to a program in sockdiag.
    pub fn expressions() -> Vec<&'static str> {
        oracle()
            .into_iter()
            .filter(|case| {
                matches!(case.code, Ok(Some(_))) && !REJECTED_BY_SOCKDIAG_ONLY.contains(&case.expr)
                    || ACCEPTED_BY_SOCKDIAG_ONLY.contains(&case.expr)
            })
            .map(|case| case.expr)
            .collect()
    }

    #[test]
    fn bytecode_is_byte_for_byte_sss() {
        let services = Services::parse(SERVICES);
        let table = oracle();
        assert!(table.len() >= 25, "{} expressions", table.len());
        let mut same = 0;
        for Case {
            expr,
            states: ss_states,
            code: ss_code,
        } in &table
        {
            let ours = parse(&words(expr), &services);
            match (ss_code, &ours) {
                (Err(()), Err(_)) => {}
                (Err(()), Ok(_)) if ACCEPTED_BY_SOCKDIAG_ONLY.contains(expr) => continue,
                (Ok(_), Err(_)) if REJECTED_BY_SOCKDIAG_ONLY.contains(expr) => continue,
                (Err(()), Ok(f)) => panic!("{expr:?}: ss rejects it, sockdiag gives {f:?}"),
                (Ok(_), Err(e)) => panic!("{expr:?}: ss accepts it, sockdiag says {e}"),
                (Ok(code), Ok(filter)) => {
                    let ours = filter.bytecode();
                    assert_eq!(&ours, code, "{expr:?}");
                    if let Some(code) = &ours {
                        audit(code).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
                    }
                    // ss sets bit 0 (its SS_UNKNOWN) and knows neither NEW_SYN_RECV (12) nor
                    // BOUND_INACTIVE (13); sockdiag's `close` and `syn-recv` include them.
                    let ours = filter.states().map(|s| s & 0xffe);
                    let has_states = ["state ", "exclude ", "excl "]
                        .iter()
                        .any(|w| expr.starts_with(w));
                    let ss = has_states.then_some(ss_states & 0xffe);
                    assert_eq!(ours, ss, "{expr:?}: states {:#x?}", filter.states());
                }
            }
            same += 1;
        }
        let differ = ACCEPTED_BY_SOCKDIAG_ONLY.len() + REJECTED_BY_SOCKDIAG_ONLY.len();
        assert_eq!(same, table.len() - differ);
    }

    #[test]
    fn attribute_header() {
        let program = [BC_AUTO, 4, 8, 0];
        let attr = attribute(&program);
        assert_eq!(attr.len(), 8);
        assert_eq!(u16::from_ne_bytes([attr[0], attr[1]]), 8, "nla_len");
        assert_eq!(u16::from_ne_bytes([attr[2], attr[3]]), INET_DIAG_REQ_BYTECODE);
        assert_eq!(&attr[4..], &program);
    }

    #[test]
    fn sockdiag_only_programs_pass_audit() {
        let services = Services::parse(SERVICES);
        for expr in [
            "dst ::1",
            "src unix:/run/*",
            "not src unix:/run/* or sport = :22",
            "dst inet:*",
            "src inet6:",
            "dst [2001:db8::]/32:443",
            "autobound and not ( src unix:* or dport >= :1 )",
        ] {
            let filter = parse(&words(expr), &services).unwrap_or_else(|e| panic!("{expr}: {e}"));
            let code = filter.bytecode().expect("an expression");
            audit(&code).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
        }
    }

    #[test]
    fn overlong_program_is_none() {
        // A balanced `or` of 2^n `autobound`s: 2^(n+3) - 4 bytes of program.
        let wide = |n| {
            (0..n).fold(Expr::Cond(Cond::Autobound), |e, _| {
                Expr::Or(Box::new(e.clone()), Box::new(e))
            })
        };
        assert_eq!(compile(&wide(11)).map(|code| code.len()), Some(16380));
        // 64 KiB - 4, all offsets within u16, but no room for the attribute header.
        assert_eq!(block(&wide(13)).map(|code| code.len()), Some(65532));
        assert_eq!(compile(&wide(13)), None);
        // Offsets past u16.
        assert_eq!(block(&wide(14)), None);
    }

    #[test]
    fn longest_filter_compiles_on_a_test_thread_stack() {
        // MAX_WORDS conditions joined by adjacency: the deepest tree a filter can make.
        let filter = parse(&vec!["autobound".to_owned(); 1024], &Services::default()).expect("parses");
        let code = filter.bytecode().expect("fits");
        assert_eq!(code.len(), 4 * 1024);
        audit(&code).expect("audit");
        let row = crate::filter::eval::tests::rows().remove(0);
        assert!(filter.matches(&row));
    }

    /// `inet_diag_bc_audit`'s rules (`net/ipv4/inet_diag.c`), for the operations compiled here.
    pub fn audit(code: &[u8]) -> Result<(), String> {
        if code.len() < OP {
            return Err("shorter than one operation".into());
        }
        let mut at = 0;
        while at < code.len() {
            let len = code.len() - at;
            if len < OP {
                return Err(format!("{at}: truncated operation"));
            }
            let (opcode, yes) = (code[at], usize::from(code[at + 1]));
            let no = usize::from(u16::from_ne_bytes([code[at + 2], code[at + 3]]));
            let mut min = OP;
            match opcode {
                BC_S_COND | BC_D_COND => {
                    min += 8;
                    let addr_len = match code.get(at + 4) {
                        Some(&AF_UNSPEC) => 0,
                        Some(&AF_INET) => 4,
                        Some(&AF_INET6) => 16,
                        other => return Err(format!("{at}: hostcond family {other:?}")),
                    };
                    min += addr_len;
                    if len < min || usize::from(code[at + 5]) > 8 * addr_len {
                        return Err(format!("{at}: bad hostcond"));
                    }
                }
                BC_S_GE | BC_S_LE | BC_D_GE | BC_D_LE => min += OP,
                0 | BC_JMP | BC_AUTO => {}
                other => return Err(format!("{at}: opcode {other}")),
            }
            if len < min {
                return Err(format!("{at}: operands past the end"));
            }
            if opcode != 0 {
                if no < min || no > len + 4 || no % 4 != 0 {
                    return Err(format!("{at}: bad no {no}"));
                }
                if no < len && !lands_on_operation(code, at + no) {
                    return Err(format!("{at}: no {no} lands inside an operation"));
                }
            }
            if yes < min || yes > len + 4 || yes % 4 != 0 {
                return Err(format!("{at}: bad yes {yes}"));
            }
            at += yes;
        }
        if at == code.len() {
            Ok(())
        } else {
            Err("yes runs past the end".into())
        }
    }

    /// `valid_cc`: `target` is the start of an operation, walking from the first by `yes`.
    fn lands_on_operation(code: &[u8], target: usize) -> bool {
        let mut at = 0;
        while at < target {
            let yes = usize::from(code[at + 1]);
            if yes < OP || yes % 4 != 0 {
                return false;
            }
            at += yes;
        }
        at == target
    }

    /// What `inet_diag_bc_run` sees of a socket (`struct inet_diag_entry`).
    pub struct Entry {
        family: u8,
        saddr: Vec<u8>,
        daddr: Vec<u8>,
        sport: u16,
        dport: u16,
        autobound: bool,
    }

    impl Entry {
        pub fn of(socket: &Socket, autobound: bool) -> Option<Entry> {
            let (Endpoint::Ip(local), Endpoint::Ip(peer)) = (&socket.local, &socket.peer) else {
                return None;
            };
            let bytes = |a: &SocketAddr| match a.ip() {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            };
            Some(Entry {
                family: if socket.family == Family::Inet6 {
                    AF_INET6
                } else {
                    AF_INET
                },
                saddr: bytes(local),
                daddr: bytes(peer),
                sport: local.port(),
                dport: peer.port(),
                autobound,
            })
        }
    }

    /// `inet_diag_bc_run`, written from the kernel's: whether the program keeps `entry`.
    pub fn run(code: &[u8], entry: &Entry) -> bool {
        let mut at = 0;
        while at < code.len() {
            let field = |i: usize| u16::from_ne_bytes([code[at + i], code[at + i + 1]]);
            let yes = match code[at] {
                0 => true,
                BC_JMP => false,
                BC_S_GE => entry.sport >= field(6),
                BC_S_LE => entry.sport <= field(6),
                BC_D_GE => entry.dport >= field(6),
                BC_D_LE => entry.dport <= field(6),
                BC_AUTO => entry.autobound,
                opcode @ (BC_S_COND | BC_D_COND) => {
                    let (addr, port) = if opcode == BC_S_COND {
                        (&entry.saddr, entry.sport)
                    } else {
                        (&entry.daddr, entry.dport)
                    };
                    let (family, plen) = (code[at + 4], usize::from(code[at + 5]));
                    let cport =
                        i32::from_ne_bytes([code[at + 8], code[at + 9], code[at + 10], code[at + 11]]);
                    let caddr = &code[at + 12..];
                    let bits_match = |a: &[u8]| {
                        (0..plen).all(|bit| (a[bit / 8] ^ caddr[bit / 8]) & (0x80 >> (bit % 8)) == 0)
                    };
                    if cport != -1 && cport != i32::from(port) {
                        false
                    } else if family != AF_UNSPEC && family != entry.family {
                        entry.family == AF_INET6
                            && family == AF_INET
                            && addr[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
                            && bits_match(&addr[12..])
                    } else {
                        plen == 0 || bits_match(addr)
                    }
                }
                other => panic!("opcode {other}"),
            };
            at += if yes {
                usize::from(code[at + 1])
            } else {
                usize::from(field(2))
            };
        }
        at == code.len()
    }
}
