//! The socket census: `SOCK_DIAG_BY_FAMILY` dumps over a `NETLINK_SOCK_DIAG` socket
//! (sock_diag(7)), one request per family and protocol, each answer turned into a
//! [`Socket`] row as soon as it arrives.
//!
//! A dump covers the network namespace the netlink socket was created in, whatever namespace
//! the calling thread is in later: open a [`DiagSocket`] after `setns` to census another one.
//! The receive loop follows iproute2's `lib/libnetlink.c`: several messages per datagram,
//! port and sequence checks, `NLMSG_DONE` with its error code, `NLMSG_ERROR` turned into an
//! error naming the protocol, `NLM_F_DUMP_INTR` reported to the caller. There is no fallback
//! to `/proc/net/tcp`: if netlink fails, we say so.

mod decode;
#[cfg(test)]
pub(crate) mod replay;
pub mod request;

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use netlink_sys::{Socket as NetlinkSocket, SocketAddr, protocols::NETLINK_SOCK_DIAG};

pub use decode::{Frame, decode_row, frames};
pub use request::Request;

use crate::model::{Family, Proto, Socket, State};

/// A dump failed as a whole.
#[derive(Debug)]
pub enum DiagError {
    /// `ENOENT`: the kernel has no sock_diag handler for this family/protocol
    /// (e.g. `raw_diag` not built or loaded).
    Unsupported { proto: Proto },
    /// The kernel answered the request with another error.
    Kernel {
        proto: Proto,
        family: Family,
        error: io::Error,
    },
    /// The netlink socket itself failed.
    Io { what: &'static str, error: io::Error },
    /// The answer was not well-formed netlink.
    Framing {
        proto: Proto,
        family: Family,
        detail: String,
    },
}

impl fmt::Display for DiagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiagError::Unsupported { proto, .. } => write!(
                f,
                "{} sockets: this kernel has no {}_diag (sock_diag answered ENOENT)",
                proto.name(),
                proto.name()
            ),
            DiagError::Kernel { proto, family, error } => {
                write!(f, "{} {} dump failed: {error}", family.name(), proto.name())
            }
            DiagError::Io { what, error } => write!(f, "netlink sock_diag {what}: {error}"),
            DiagError::Framing {
                proto,
                family,
                detail,
            } => {
                write!(
                    f,
                    "{} {} dump: malformed answer: {detail}",
                    family.name(),
                    proto.name()
                )
            }
        }
    }
}

impl std::error::Error for DiagError {}

impl DiagError {
    /// The system error behind it, if any (its `Display` already says it, so it is no
    /// `source`).
    pub fn errno(&self) -> Option<i32> {
        match self {
            DiagError::Kernel { error, .. } | DiagError::Io { error, .. } => error.raw_os_error(),
            _ => None,
        }
    }
}

/// What a successful dump observed besides its rows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DumpStats {
    /// Some message carried `NLM_F_DUMP_INTR`: the tables changed during the dump, which may
    /// have missed or repeated sockets.
    pub interrupted: bool,
    /// Messages that could not be decoded (skipped, the rest of the dump kept).
    pub decode_errors: usize,
    pub first_decode_error: Option<String>,
}

impl DumpStats {
    /// "N message(s), the first: ERROR", if some could not be decoded.
    pub fn undecodable(&self) -> Option<String> {
        let first = self.first_decode_error.as_ref()?;
        Some(format!("{} message(s), the first: {first}", self.decode_errors))
    }
}

/// Receive buffer size. The kernel sizes dump datagrams after the reader's buffer and never
/// beyond 32 KiB (`netlink_recvmsg`, `max_recvmsg_len`), so 64 KiB always holds one whole;
/// `MSG_TRUNC` still checks it.
const RECV_BUFFER: usize = 64 * 1024;

/// What carries requests to the kernel and its answers back: the netlink socket, or, in
/// tests, a replay of datagrams (truncated ones, errors mid-dump, interrupted dumps).
pub trait Transport: Send {
    fn send(&mut self, request: &[u8]) -> io::Result<()>;
    /// One datagram into `buffer`: its real length (which may exceed the buffer: `MSG_TRUNC`)
    /// and the sender's port (0 for the kernel).
    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<(usize, u32)>;
}

impl Transport for NetlinkSocket {
    fn send(&mut self, request: &[u8]) -> io::Result<()> {
        NetlinkSocket::send(self, request, 0).map(drop)
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<(usize, u32)> {
        let (len, sender) = self.recv_from(&mut &mut buffer[..], MSG_TRUNC)?;
        Ok((len, sender.port_number()))
    }
}

/// A `NETLINK_SOCK_DIAG` socket, bound to the network namespace it was opened in.
pub struct DiagSocket {
    transport: Box<dyn Transport>,
    port: u32,
    seq: u32,
    buffer: Vec<u8>,
}

impl DiagSocket {
    /// Opens a sock_diag socket in the calling thread's network namespace.
    pub fn open() -> Result<Self, DiagError> {
        let io = |what| move |error| DiagError::Io { what, error };
        let mut socket = NetlinkSocket::new(NETLINK_SOCK_DIAG).map_err(io("socket"))?;
        let port = socket.bind_auto().map_err(io("bind"))?.port_number();
        socket.connect(&SocketAddr::new(0, 0)).map_err(io("connect"))?;
        Ok(DiagSocket::over(Box::new(socket), port))
    }

    /// A sock_diag client over any transport, whose own netlink port is `port`.
    pub fn over(transport: Box<dyn Transport>, port: u32) -> Self {
        DiagSocket {
            transport,
            port,
            seq: 0,
            buffer: vec![0; RECV_BUFFER],
        }
    }

    /// Runs one dump, handing every decoded row to `on_row` as it arrives.
    pub fn dump(&mut self, request: &Request, on_row: impl FnMut(Socket)) -> Result<DumpStats, DiagError> {
        self.dump_filtered(request, None, on_row)
    }

    /// Runs one dump with a filter program the kernel runs on every socket (`filter`: the
    /// `INET_DIAG_REQ_BYTECODE` attribute), so that only the rows it keeps cross netlink.
    pub fn dump_filtered(
        &mut self,
        request: &Request,
        filter: Option<&[u8]>,
        on_row: impl FnMut(Socket),
    ) -> Result<DumpStats, DiagError> {
        self.seq = self.seq.wrapping_add(1);
        let bytes = request.to_bytes(self.seq, filter);
        self.exchange(&bytes, request.proto, request.family, on_row)
    }

    /// One TCP dump of both families in a single walk of the kernel's tables (see
    /// [`request::tcp_both_families`]): half the cost of a dump per family where the tables
    /// are large and shared by many namespaces. Errors name the dump `inet tcp`.
    pub fn dump_tcp_both_families(
        &mut self,
        states: u32,
        on_row: impl FnMut(Socket),
    ) -> Result<DumpStats, DiagError> {
        self.seq = self.seq.wrapping_add(1);
        let bytes = request::tcp_both_families(states, self.seq);
        self.exchange(&bytes, Proto::Tcp, Family::Inet, on_row)
    }

    /// Sends one dump request and receives its answer, row by row.
    fn exchange(
        &mut self,
        request: &[u8],
        proto: Proto,
        family: Family,
        mut on_row: impl FnMut(Socket),
    ) -> Result<DumpStats, DiagError> {
        self.transport
            .send(request)
            .map_err(|error| DiagError::Io { what: "send", error })?;
        let mut stats = DumpStats::default();
        loop {
            let (len, sender) = self
                .transport
                .recv(&mut self.buffer)
                .map_err(|error| DiagError::Io { what: "recv", error })?;
            if len > self.buffer.len() {
                return Err(DiagError::Framing {
                    proto,
                    family,
                    detail: format!("datagram of {len} bytes truncated to {}", self.buffer.len()),
                });
            }
            if sender != 0 {
                continue; // not from the kernel
            }
            let (messages, interrupted) =
                frames(&self.buffer[..len], self.port, self.seq).map_err(|e| DiagError::Framing {
                    proto,
                    family,
                    detail: e.0,
                })?;
            stats.interrupted |= interrupted;
            for message in messages {
                match message {
                    Frame::Row(payload) => match decode_row(proto, payload) {
                        Ok(row) => on_row(row),
                        Err(e) => {
                            stats.decode_errors += 1;
                            stats.first_decode_error.get_or_insert_with(|| e.to_string());
                        }
                    },
                    Frame::Done(0) => return Ok(stats),
                    Frame::Done(code) | Frame::Error(code) => {
                        let errno = -code;
                        return Err(if errno == ENOENT {
                            DiagError::Unsupported { proto }
                        } else {
                            DiagError::Kernel {
                                proto,
                                family,
                                error: io::Error::from_raw_os_error(errno),
                            }
                        });
                    }
                }
            }
        }
    }

    /// Runs one dump, and says whether it returned the probe socket of inode `probe` (see
    /// [`probe_socket`]), whose row is not handed to `on_row`: whether this kernel dumps
    /// bound-but-inactive sockets. Riding on a dump that runs anyway costs one `bind`
    /// instead of a dump of its own.
    pub fn dump_probing(
        &mut self,
        request: &Request,
        probe: u32,
        mut on_row: impl FnMut(Socket),
    ) -> Result<(DumpStats, bool), DiagError> {
        let mut seen = false;
        let stats = self.dump(request, |row| {
            if row.inode == probe && row.state == State::CLOSE {
                seen = true;
            } else {
                on_row(row);
            }
        })?;
        Ok((stats, seen))
    }
}

/// A TCP socket bound to an ephemeral port and never used, in the calling thread's network
/// namespace, with its inode: a bound-but-inactive socket that a dump asking for bit 13
/// returns on Linux >= 6.8 (`inet_diag_dump_icsk`'s bhash2 phase) and that older kernels,
/// which ignore the request bit silently, do not. A dump is the only test.
pub fn probe_socket() -> Result<(OwnedFd, u32), DiagError> {
    use rustix::net::{AddressFamily, SocketType, bind, ipproto, socket};
    let io = |error: rustix::io::Errno| DiagError::Io {
        what: "probe socket",
        error: error.into(),
    };
    let probe = socket(AddressFamily::INET, SocketType::STREAM, Some(ipproto::TCP)).map_err(io)?;
    bind(
        &probe,
        &std::net::SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0),
    )
    .map_err(io)?;
    let inode = inode_of(probe.as_fd()).map_err(io)?;
    Ok((probe, inode))
}

const ENOENT: i32 = rustix::io::Errno::NOENT.raw_os_error();
const MSG_TRUNC: i32 = rustix::net::RecvFlags::TRUNC.bits() as i32;

/// The inode number of a file descriptor, as `idiag_inode` (u32) carries it.
fn inode_of(fd: BorrowedFd<'_>) -> rustix::io::Result<u32> {
    Ok(rustix::fs::fstat(fd)?.st_ino as u32)
}

#[cfg(test)]
mod tests {
    use super::replay::{Answer, PORT, Replay, TIMEWAIT_FIN_WAIT2};
    use super::*;

    const TCP4: Request = Request {
        proto: Proto::Tcp,
        family: Family::Inet,
        states: State::ALL_BITS,
    };

    fn dump(script: Vec<Answer>) -> (Vec<Socket>, Result<DumpStats, DiagError>) {
        let mut diag = DiagSocket::over(Replay::new(script), PORT);
        let mut rows = Vec::new();
        let outcome = diag.dump(&TCP4, |row| rows.push(row));
        (rows, outcome)
    }

    #[test]
    fn a_truncated_datagram_is_an_error_not_a_short_dump() {
        let (rows, outcome) = dump(vec![Answer::Truncated { len: 100_000 }]);
        assert!(rows.is_empty());
        let error = outcome.expect_err("truncated").to_string();
        assert_eq!(
            error,
            "inet tcp dump: malformed answer: datagram of 100000 bytes truncated to 65536"
        );
    }

    #[test]
    fn an_error_in_the_middle_of_a_dump_fails_the_dump() {
        let rows = vec![TIMEWAIT_FIN_WAIT2.to_vec(); 3];
        let (seen, outcome) = dump(vec![Answer::ErrorAfter { rows, errno: -5 }]);
        assert_eq!(seen.len(), 3, "the rows before the error were delivered");
        let error = outcome.expect_err("EIO").to_string();
        assert!(
            error.starts_with("inet tcp dump failed: Input/output error"),
            "{error}"
        );
        // ENOENT: no diag module for the protocol.
        let (_, outcome) = dump(vec![Answer::ErrorAfter {
            rows: Vec::new(),
            errno: -2,
        }]);
        assert!(matches!(
            outcome,
            Err(DiagError::Unsupported { proto: Proto::Tcp })
        ));
    }

    #[test]
    fn an_interrupted_dump_says_so() {
        let rows = vec![TIMEWAIT_FIN_WAIT2.to_vec()];
        let (seen, outcome) = dump(vec![Answer::Rows {
            rows,
            interrupted: true,
        }]);
        assert_eq!(seen.len(), 1);
        assert!(outcome.expect("dump").interrupted);
    }

    #[test]
    fn an_undecodable_row_is_counted_and_the_rest_kept() {
        let rows = vec![
            TIMEWAIT_FIN_WAIT2.to_vec(),
            vec![1, 2, 3],
            TIMEWAIT_FIN_WAIT2.to_vec(),
        ];
        let (seen, outcome) = dump(vec![Answer::Rows {
            rows,
            interrupted: false,
        }]);
        assert_eq!(seen.len(), 2);
        let stats = outcome.expect("dump");
        assert_eq!(stats.decode_errors, 1);
        assert!(
            stats
                .undecodable()
                .is_some_and(|u| u.starts_with("1 message(s), the first: "))
        );
    }
}
