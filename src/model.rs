//! Plain data shared by every stage: the socket rows the census produces and the owners the
//! `/proc` scan attaches to them.
//!
//! Netlink types never reach this module: `census::decode` turns each `SOCK_DIAG_BY_FAMILY`
//! answer into a [`Socket`] at once, so everything past the census works on these rows only.

use std::fmt;
use std::net::SocketAddr;

use crate::collect::cgroup;
use crate::render::escape;

/// Transport protocol of a socket row, as the user selects it (`-t`, `-u`, `-w`, `-x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Raw,
    Unix,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Raw => "raw",
            Proto::Unix => "unix",
        }
    }
}

/// Address family of a socket row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Inet,
    Inet6,
    Unix,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
            Family::Unix => "unix",
        }
    }
}

/// The type of a UNIX socket (`udiag_type`), as ss names it in its Netid column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnixType {
    Stream,
    Dgram,
    SeqPacket,
}

impl UnixType {
    /// From `udiag_type` (`SOCK_STREAM` 1, `SOCK_DGRAM` 2, `SOCK_SEQPACKET` 5).
    pub fn from_kernel(kind: u8) -> Option<UnixType> {
        match kind {
            1 => Some(UnixType::Stream),
            2 => Some(UnixType::Dgram),
            5 => Some(UnixType::SeqPacket),
            _ => None,
        }
    }

    /// ss's Netid: `u_str`, `u_dgr`, `u_seq`.
    pub fn netid(self) -> &'static str {
        match self {
            UnixType::Stream => "u_str",
            UnixType::Dgram => "u_dgr",
            UnixType::SeqPacket => "u_seq",
        }
    }

    /// The JSON `type`: `stream`, `dgram`, `seqpacket`.
    pub fn name(self) -> &'static str {
        match self {
            UnixType::Stream => "stream",
            UnixType::Dgram => "dgram",
            UnixType::SeqPacket => "seqpacket",
        }
    }
}

/// A socket state number as the kernel reports it (`include/net/tcp_states.h`), shared by
/// TCP, UDP, RAW and UNIX rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct State(pub u8);

impl State {
    pub const ESTABLISHED: State = State(1);
    pub const SYN_SENT: State = State(2);
    pub const SYN_RECV: State = State(3);
    pub const FIN_WAIT1: State = State(4);
    pub const FIN_WAIT2: State = State(5);
    pub const TIME_WAIT: State = State(6);
    pub const CLOSE: State = State(7);
    pub const CLOSE_WAIT: State = State(8);
    pub const LAST_ACK: State = State(9);
    pub const LISTEN: State = State(10);
    pub const CLOSING: State = State(11);
    /// Request socks live in the established hash with this state; `inet_diag` reports them
    /// as `SYN_RECV`. Not in any uapi header.
    pub const NEW_SYN_RECV: State = State(12);
    /// Only a request bit (kernel >= 6.8, `inet_diag_dump_icsk`): the sockets it selects come
    /// back with state [`State::CLOSE`]. Not in any uapi header.
    pub const BOUND_INACTIVE: State = State(13);

    /// Every request bit, 1 (ESTABLISHED) to 13 (BOUND_INACTIVE). A kernel older than 6.8
    /// ignores bit 13 silently; SYN_RECV (3) brings NEW_SYN_RECV request socks along.
    pub const ALL_BITS: u32 = (1 << 14) - 2;

    /// The kernel's name without the `TCP_` prefix.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "ESTABLISHED",
            2 => "SYN_SENT",
            3 => "SYN_RECV",
            4 => "FIN_WAIT1",
            5 => "FIN_WAIT2",
            6 => "TIME_WAIT",
            7 => "CLOSE",
            8 => "CLOSE_WAIT",
            9 => "LAST_ACK",
            10 => "LISTEN",
            11 => "CLOSING",
            12 => "NEW_SYN_RECV",
            13 => "BOUND_INACTIVE",
            _ => "UNKNOWN",
        }
    }

    /// The bit of this state in an `idiag_states` / `udiag_states` request mask.
    pub fn bit(self) -> u32 {
        1 << self.0
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Text the system handed us and someone else chose: a command name, a unix socket path or
/// abstract name, a cgroup path, a namespace file name. Kept as the bytes the kernel gave
/// (not necessarily UTF-8, any control character possible), and shown only escaped:
/// `Display` gives the terminal form and `Serialize` the lossless JSON form of
/// [`crate::render::escape`].
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SysText(Box<[u8]>);

impl SysText {
    pub fn new(bytes: &[u8]) -> Self {
        SysText(bytes.into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The terminal form, borrowed when nothing needed escaping.
    pub fn escaped(&self) -> std::borrow::Cow<'_, str> {
        escape::for_terminal(&self.0)
    }
}

impl From<&str> for SysText {
    fn from(text: &str) -> Self {
        SysText::new(text.as_bytes())
    }
}

impl fmt::Display for SysText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&escape::Escaped(&self.0), f)
    }
}

impl fmt::Debug for SysText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", escape::for_terminal(&self.0))
    }
}

impl serde::Serialize for SysText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&escape::for_json(&self.0))
    }
}

/// One end of a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An IPv4 or IPv6 address and port (for RAW sockets the "port" is the IP protocol).
    Ip(SocketAddr),
    /// A UNIX socket bound to a filesystem path.
    Path(SysText),
    /// A UNIX socket bound to an abstract name (printed with a leading `@`).
    Abstract(SysText),
    /// No name: an unbound UNIX socket, or the peer side of a UNIX socket.
    Unnamed,
}

impl Endpoint {
    /// The JSON form: `addr:port`, `[v6addr]:port`, a path or `@name` in the lossless form of
    /// [`crate::render::escape::for_json`], or `*`.
    pub fn json(&self) -> String {
        match self {
            Endpoint::Path(path) => escape::for_json(path.as_bytes()).into_owned(),
            Endpoint::Abstract(name) => format!("@{}", escape::for_json(name.as_bytes())),
            other => other.to_string(),
        }
    }
}

/// The terminal form: names escaped.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Delegated (not `write!`) so that width and alignment apply.
            Endpoint::Ip(addr) => fmt::Display::fmt(addr, f),
            Endpoint::Path(path) => fmt::Display::fmt(path, f),
            Endpoint::Abstract(name) => f.pad(&format!("@{name}")),
            Endpoint::Unnamed => f.pad("*"),
        }
    }
}

/// One socket, as one `SOCK_DIAG_BY_FAMILY` message describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    pub family: Family,
    /// UNIX only: stream, datagram or seqpacket (`udiag_type`); `None` for IP sockets and
    /// for a type ss does not name.
    pub unix_type: Option<UnixType>,
    /// `IPV6_V6ONLY`, from `INET_DIAG_SKV6ONLY`, which the kernel sends for AF_INET6 full
    /// sockets in LISTEN or CLOSE (`inet_diag_msg_attrs_fill`). `None` for the others (IPv4,
    /// connected, timewait, request socks) and rows read from `/proc/net/raw6`.
    pub v6only: Option<bool>,
    /// For a timewait minisock, its substate: TIME_WAIT or FIN_WAIT2.
    pub state: State,
    /// A timewait minisock (`struct inet_timewait_sock`), told apart by `idiag_timer == 3`.
    pub timewait: bool,
    pub local: Endpoint,
    pub peer: Endpoint,
    /// UNIX only: the inode of the connected peer (`UNIX_DIAG_PEER`), 0 when none.
    pub peer_inode: u32,
    pub recv_q: u32,
    pub send_q: u32,
    pub uid: u32,
    /// 0 when there is no `struct socket`: timewait, request socks, orphans, unaccepted children.
    pub inode: u32,
    pub cookie: u64,
}

/// One holder of a socket: a file descriptor of a process, borrowing the process's name and
/// cgroup from the `/proc` walk rather than copying them per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner<'a> {
    pub pid: u32,
    pub comm: &'a SysText,
    pub fd: u32,
    /// The process's cgroup path, when it could be read.
    pub cgroup: Option<&'a SysText>,
}

impl Owner<'_> {
    /// The unit or container the process belongs to, short (`nginx.service`,
    /// `docker:3f2a1b9c04de`), as [`crate::collect::cgroup::Classified::label`] makes it.
    pub fn label(&self) -> Option<String> {
        cgroup::classify(self.cgroup?.as_bytes()).label()
    }
}

/// `{pid, comm, fd, cgroup, container}`: the cgroup path, and the container parsed from it
/// (`{runtime, id, pod}`), null where none applies.
impl serde::Serialize for Owner<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let container = self
            .cgroup
            .and_then(|path| cgroup::classify(path.as_bytes()).container);
        let mut owner = serializer.serialize_struct("Owner", 5)?;
        owner.serialize_field("pid", &self.pid)?;
        owner.serialize_field("comm", self.comm)?;
        owner.serialize_field("fd", &self.fd)?;
        owner.serialize_field("cgroup", &self.cgroup)?;
        owner.serialize_field("container", &container)?;
        owner.end()
    }
}
