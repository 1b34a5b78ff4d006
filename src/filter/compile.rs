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

/// The program for `expr`, or `None` if an offset overflows its field (too long a program:
/// the caller then sends no filter).
pub fn compile(expr: &Expr) -> Option<Vec<u8>> {
    block(expr)
}

/// `struct nlattr { u16 nla_len; u16 nla_type; }` and the program.
pub fn attribute(program: &[u8]) -> Vec<u8> {
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
