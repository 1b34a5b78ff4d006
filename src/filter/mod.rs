//! ss's filter expressions (`ss -tn dport = :443`, `ss -ta '( sport = :22 or sport = :2222 )'`,
//! `ss -t state established dst 10.0.0.0/8`), so that `list` takes the same words.
//!
//! The pure part only: [`parse()`] turns the words that follow the options into a [`Filter`];
//! [`Filter::bytecode`] compiles its expression into the inet_diag filter program the kernel
//! runs over every socket of a dump, so that only matching rows cross netlink; and
//! [`Filter::matches`] evaluates it on a [`Socket`] row in user space, for UNIX rows (unix_diag
//! has no filter) and for what the program could not express.
//!
//! Use: [`Filter::states`] (if any) is the dump's state mask; [`Filter::request_attribute`]
//! goes after `struct inet_diag_req_v2` in every TCP, UDP and RAW request, either family;
//! [`Filter::matches`] then runs on every row, IP or UNIX. For an IP row the kernel kept it
//! repeats the kernel's verdict; when `bytecode` is `None` (a program too long for the ABI,
//! only possible beyond any real filter) it does the kernel's work.
//!
//! The ABI (`linux/inet_diag.h`, `net/ipv4/inet_diag.c`): the program is the payload of the
//! `INET_DIAG_REQ_BYTECODE` attribute that follows `struct inet_diag_req_v2` in a dump request.
//! It is a sequence of `struct inet_diag_bc_op { u8 code; u8 yes; u16 no; }`, each a forward
//! jump: to `yes` bytes further when its test holds, `no` bytes further otherwise; a socket is
//! kept when the run ends exactly at the end of the program (`inet_diag_bc_run`). Before a dump
//! starts, `inet_diag_bc_audit` rejects the request with EINVAL unless every jump lands on an
//! instruction or on the end (or 4 past it, "reject"), and every operand fits. As ss 6.1, only
//! the original operations are used (a port equality is a host condition without address, not
//! the later `INET_DIAG_BC_S_EQ`/`D_EQ`), so old kernels take the programs too.
//!
//! Grammar and meaning follow iproute2's `misc/ssfilter.y` and `misc/ss.c` (6.1), the oracle
//! of the tests (`tests/fixtures/filter/`), with these rules worth knowing:
//! - `and`/`&&`/`&`, `or`/`||`/`|` and adjacency (an implicit `and`) group strictly left to
//!   right, with no precedence between them: `a or b and c` is `(a or b) and c`. The man page
//!   says `and` binds tighter, but ss's grammar never did, and its bytecode shows it.
//! - `state NAME` / `exclude NAME` words come first and make a state mask for the request
//!   (`idiag_states`), not bytecode, as in ss.
//! - Address and port predicates match IP sockets only, `src unix:GLOB` UNIX sockets only.
//! - An IPv4 network also matches the v4-mapped addresses (`::ffff:a.b.c.d`) of IPv6 sockets;
//!   an IPv6 one never matches an IPv4 socket (the kernel's rule, which `eval` follows).

// Wired into `list` and the netlink request by the CLI work; until then nothing calls it.

mod compile;
mod eval;
#[cfg(test)]
mod kernel_tests;
mod parse;
mod services;

use std::net::IpAddr;

pub use compile::INET_DIAG_REQ_BYTECODE;
pub use parse::{FilterError, FilterErrorKind, parse};
pub use services::{Ambiguous, Services};

use crate::model::Socket;

/// A parsed filter: an optional state mask and an optional expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    states: Option<u32>,
    expr: Option<Expr>,
}

impl Filter {
    /// The `idiag_states` / `udiag_states` mask the `state` and `exclude` words make
    /// ([`crate::model::State::bit`] bits), or `None` when there were none and the command's
    /// own default applies. `exclude` starts from every state, as in ss.
    pub fn states(&self) -> Option<u32> {
        self.states
    }

    /// Whether there is an expression (beyond the state words).
    pub fn has_expression(&self) -> bool {
        self.expr.is_some()
    }

    /// The payload of `INET_DIAG_REQ_BYTECODE` for a TCP, UDP or RAW dump of either family (the
    /// same bytes serve AF_INET and AF_INET6, as ss sends them). `None` when there is no
    /// expression, or when the program would overflow the ABI's 16-bit offsets or attribute length
    /// (never below the parser's 1024 words): then the request carries no filter and
    /// [`Filter::matches`] does all the work.
    pub fn bytecode(&self) -> Option<Vec<u8>> {
        compile::compile(self.expr.as_ref()?)
    }

    /// The whole attribute to append after `struct inet_diag_req_v2` (a `struct nlattr` header,
    /// type [`INET_DIAG_REQ_BYTECODE`], then [`Filter::bytecode`]; its length is a multiple of
    /// 4, so no padding follows). Add its length to `nlmsg_len`.
    pub fn request_attribute(&self) -> Option<Vec<u8>> {
        self.bytecode().map(|program| compile::attribute(&program))
    }

    /// Whether `socket` passes the expression (states are not looked at: the request's mask
    /// selected them). Exact for every row, with one exception: `autobound` on an IP row is
    /// known to the kernel only (`SOCK_BINDPORT_LOCK`); when the answer hinges on it, the row
    /// is kept, as the kernel's program already decided for rows of a filtered dump.
    pub fn matches(&self, socket: &Socket) -> bool {
        self.expr
            .as_ref()
            .is_none_or(|expr| eval::eval(expr, socket).unwrap_or(true))
    }
}

/// An expression, shaped as ss builds it (`sport > :N` is `not sport <= :N`, `sport != :N` is
/// `not sport = :N`), so that the program comes out byte for byte as ss's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cond(Cond),
}

/// The local (`src`, `sport`) or the remote (`dst`, `dport`) end of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Src,
    Dst,
}

/// One predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// `src`/`dst HOST`, and `sport`/`dport = PORT` (a host condition without address):
    /// `INET_DIAG_BC_S_COND` / `INET_DIAG_BC_D_COND`.
    Host(Side, HostCond),
    /// `sport`/`dport >= PORT`: `INET_DIAG_BC_S_GE` / `INET_DIAG_BC_D_GE`.
    PortGe(Side, u16),
    /// `sport`/`dport <= PORT`: `INET_DIAG_BC_S_LE` / `INET_DIAG_BC_D_LE`.
    PortLe(Side, u16),
    /// `autobound`: the port (IP, `INET_DIAG_BC_AUTO`) or name (UNIX) was not chosen by the
    /// user.
    Autobound,
    /// `src unix:GLOB`: the UNIX socket's name matches a case-insensitive fnmatch(3) pattern.
    /// Never true of an IP socket, so it compiles to an always-false jump.
    UnixName(String),
}

/// `struct inet_diag_hostcond`: an optional network and an optional port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCond {
    /// Address and prefix length; `None` matches any address of any family.
    pub net: Option<(IpAddr, u8)>,
    /// `None` is the wildcard (`-1` in the ABI).
    pub port: Option<u16>,
}
