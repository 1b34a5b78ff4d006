//! Rows of `sockdiag list`, written one at a time as the dump delivers them: an ss-like table
//! with fixed column widths (so nothing needs the whole table to align it) or JSON lines.

use std::io::{self, Write};

use serde::Serialize;

use std::net::{SocketAddr, SocketAddrV6};

use crate::model::{Endpoint, Owner, Proto, Socket, UnixType};
use crate::render::escape;

/// How `list` prints its rows.
#[derive(Debug, Clone, Copy)]
pub enum ListFormat {
    Table {
        extended: bool,
        processes: bool,
        /// A `Netns` column first (`--all-netns`).
        netns: bool,
    },
    Json {
        processes: bool,
    },
}

/// Where a row was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A `SOCK_DIAG_BY_FAMILY` dump.
    Netlink,
    /// `/proc/net/raw` or `/proc/net/raw6` (RAW sockets on a kernel without raw_diag).
    Proc,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Netlink => "netlink",
            Source::Proc => "proc",
        }
    }
}

/// What every row of one dump shares: the namespace it was read in and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowContext {
    pub netns: u64,
    pub source: Source,
}

/// Width of the address columns: a full IPv4 `addr:port` fits; longer ones push the row.
const ADDR_WIDTH: usize = 24;
/// Width of the `Netns` column: a namespace inode (10 digits today).
const NETNS_WIDTH: usize = 10;

impl ListFormat {
    pub fn header(&self, out: &mut impl Write) -> io::Result<()> {
        let ListFormat::Table {
            extended,
            processes,
            netns,
        } = *self
        else {
            return Ok(());
        };
        if netns {
            write!(out, "{:<NETNS_WIDTH$} ", "Netns")?;
        }
        write!(
            out,
            "{:<5} {:<14} {:>6} {:>6} {:<ADDR_WIDTH$} ",
            "Netid", "State", "Recv-Q", "Send-Q", "Local Address:Port"
        )?;
        if extended || processes {
            write!(out, "{:<ADDR_WIDTH$}", "Peer Address:Port")?;
        } else {
            out.write_all(b"Peer Address:Port")?;
        }
        if extended {
            out.write_all(b" Details")?;
        }
        if processes {
            out.write_all(b" Process")?;
        }
        out.write_all(b"\n")
    }

    pub fn row(
        &self,
        out: &mut impl Write,
        context: RowContext,
        socket: &Socket,
        owners: &[Owner],
    ) -> io::Result<()> {
        match *self {
            ListFormat::Table {
                extended,
                processes,
                netns,
            } => {
                if netns {
                    cell(
                        out,
                        decimal(context.netns, &mut [0; 20]),
                        NETNS_WIDTH,
                        Align::Left,
                    )?;
                    out.write_all(b" ")?;
                }
                table_row(out, socket, owners, extended, processes)
            }
            ListFormat::Json { processes } => {
                let row = JsonRow::new(context, socket, processes.then_some(owners));
                serde_json::to_writer(&mut *out, &row)?;
                out.write_all(b"\n")
            }
        }
    }
}

fn table_row(
    out: &mut impl Write,
    s: &Socket,
    owners: &[Owner],
    extended: bool,
    processes: bool,
) -> io::Result<()> {
    // The hot path of a large listing: fixed-width cells written without core::fmt, whose
    // padding of a SocketAddr costs more than the kernel's dump of the socket (perf, 100k rows).
    let netid = s.unix_type.map_or(s.proto.name(), UnixType::netid);
    cell(out, netid.as_bytes(), 5, Align::Left)?;
    out.write_all(b" ")?;
    cell(out, s.state.name().as_bytes(), 14, Align::Left)?;
    out.write_all(b" ")?;
    cell(out, decimal(u64::from(s.recv_q), &mut [0; 20]), 6, Align::Right)?;
    out.write_all(b" ")?;
    cell(out, decimal(u64::from(s.send_q), &mut [0; 20]), 6, Align::Right)?;
    out.write_all(b" ")?;
    // The peer ends the line unless details or owners follow: no trailing blanks then.
    let width = if extended || (processes && !owners.is_empty()) {
        ADDR_WIDTH
    } else {
        0
    };
    if s.proto == Proto::Unix {
        // ss: `name inode` (`*` for no name), and `* peer-inode` (0 for no peer).
        unix_end(out, &s.local, s.inode, ADDR_WIDTH)?;
        out.write_all(b" ")?;
        unix_end(out, &s.peer, s.peer_inode, width)?;
    } else {
        let v6only = s.v6only.unwrap_or(false);
        endpoint(out, &s.local, v6only, ADDR_WIDTH)?;
        out.write_all(b" ")?;
        endpoint(out, &s.peer, v6only, width)?;
    }
    if extended {
        write!(out, " uid:{} ino:{} sk:{:x}", s.uid, s.inode, s.cookie)?;
        if s.timewait {
            out.write_all(b" timewait")?;
        }
        if let Some(v6only) = s.v6only {
            write!(out, " v6only:{}", u8::from(v6only))?;
        }
    }
    if processes && !owners.is_empty() {
        out.write_all(b" users:(")?;
        for (i, o) in owners.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(out, "{sep}(\"{}\",pid={},fd={}", o.comm, o.pid, o.fd)?;
            if let Some(label) = o.label() {
                write!(out, ",{}", escape::for_terminal(label.as_bytes()))?;
            }
            out.write_all(b")")?;
        }
        out.write_all(b")")?;
    }
    out.write_all(b"\n")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// `text` padded with spaces to `width`.
fn cell(out: &mut impl Write, text: &[u8], width: usize, align: Align) -> io::Result<()> {
    const SPACES: [u8; 64] = [b' '; 64];
    let pad = &SPACES[..width.saturating_sub(text.len()).min(SPACES.len())];
    if align == Align::Right {
        out.write_all(pad)?;
    }
    out.write_all(text)?;
    if align == Align::Left {
        out.write_all(pad)?;
    }
    Ok(())
}

/// The decimal digits of `n`, written at the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

/// One end of a UNIX socket as ss prints it: the name (escaped) or `*`, a space, the inode.
fn unix_end(out: &mut impl Write, name: &Endpoint, inode: u32, width: usize) -> io::Result<()> {
    let text = format!("{name} {inode}");
    cell(out, text.as_bytes(), width, Align::Left)
}

/// An address cell as ss prints it (`inet_addr_print` in iproute2's misc/ss.c): port 0 is
/// `*`; the IPv6 wildcard `::` is `*` unless the socket is v6-only (a dual-stack socket
/// bound there takes IPv4 too), `[::]` then. IPv4 by hand (the common case), the rest through
/// `Display`.
fn endpoint(out: &mut impl Write, endpoint: &Endpoint, v6only: bool, width: usize) -> io::Result<()> {
    let mut text = [0u8; 21]; // 255.255.255.255:65535
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        text[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    let port = match endpoint {
        Endpoint::Ip(SocketAddr::V4(v4)) => {
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                push(decimal(u64::from(octet), &mut [0; 20]));
                push(if i < 3 { b"." } else { b":" });
            }
            v4.port()
        }
        Endpoint::Ip(SocketAddr::V6(v6)) if v6.ip().is_unspecified() && !v6only => {
            push(b"*:");
            v6.port()
        }
        Endpoint::Ip(SocketAddr::V6(v6)) => {
            let host = SocketAddr::V6(SocketAddrV6::new(*v6.ip(), 0, 0, v6.scope_id())).to_string();
            let host = host.strip_suffix(":0").unwrap_or(&host);
            let port = if v6.port() == 0 {
                "*".to_owned()
            } else {
                v6.port().to_string()
            };
            return cell(out, format!("{host}:{port}").as_bytes(), width, Align::Left);
        }
        other => return cell(out, other.to_string().as_bytes(), width, Align::Left),
    };
    if port == 0 {
        push(b"*");
    } else {
        push(decimal(u64::from(port), &mut [0; 20]));
    }
    cell(out, &text[..len], width, Align::Left)
}

/// The JSON line of one socket: the field names are a contract (see the man page).
#[derive(Serialize)]
struct JsonRow<'a> {
    proto: &'static str,
    #[serde(rename = "type")]
    kind: Option<&'static str>,
    family: &'static str,
    state: &'static str,
    timewait: bool,
    #[serde(serialize_with = "endpoint_json")]
    local: &'a Endpoint,
    #[serde(serialize_with = "endpoint_json")]
    peer: &'a Endpoint,
    v6only: Option<bool>,
    peer_inode: Option<u32>,
    recv_q: u32,
    send_q: u32,
    uid: u32,
    inode: u32,
    cookie: u64,
    netns: u64,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    owners: Option<&'a [Owner<'a>]>,
}

impl<'a> JsonRow<'a> {
    fn new(context: RowContext, s: &'a Socket, owners: Option<&'a [Owner]>) -> Self {
        JsonRow {
            proto: s.proto.name(),
            kind: s.unix_type.map(UnixType::name),
            family: s.family.name(),
            state: s.state.name(),
            timewait: s.timewait,
            local: &s.local,
            peer: &s.peer,
            v6only: s.v6only,
            peer_inode: (s.peer_inode != 0).then_some(s.peer_inode),
            recv_q: s.recv_q,
            send_q: s.send_q,
            uid: s.uid,
            inode: s.inode,
            cookie: s.cookie,
            netns: context.netns,
            source: context.source.name(),
            owners,
        }
    }
}

fn endpoint_json<S: serde::Serializer>(value: &&Endpoint, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&value.json())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, State, SysText};

    fn tcp6_listener() -> Socket {
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet6,
            state: State::LISTEN,
            timewait: false,
            local: Endpoint::Ip("[::1]:8080".parse().expect("addr")),
            peer: Endpoint::Ip("[::]:0".parse().expect("addr")),
            unix_type: None,
            v6only: Some(false),
            peer_inode: 0,
            recv_q: 0,
            send_q: 128,
            uid: 1000,
            inode: 4242,
            cookie: 0x1f,
        }
    }

    fn render(format: ListFormat, socket: &Socket, owners: &[Owner]) -> String {
        let mut out = Vec::new();
        format.header(&mut out).expect("header");
        let context = RowContext {
            netns: 4026531840,
            source: Source::Netlink,
        };
        format.row(&mut out, context, socket, owners).expect("row");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn table_golden() {
        let srv = SysText::from("srv");
        let owners = [
            Owner {
                pid: 7,
                comm: &srv,
                fd: 3,
                cgroup: None,
            },
            Owner {
                pid: 8,
                comm: &srv,
                fd: 4,
                cgroup: None,
            },
        ];
        let text = render(
            ListFormat::Table {
                extended: true,
                processes: true,
                netns: false,
            },
            &tcp6_listener(),
            &owners,
        );
        assert_eq!(
            text,
            "Netid State          Recv-Q Send-Q Local Address:Port       Peer Address:Port        Details Process\n\
             tcp   LISTEN              0    128 [::1]:8080               *:*                      uid:1000 ino:4242 sk:1f v6only:0 users:((\"srv\",pid=7,fd=3),(\"srv\",pid=8,fd=4))\n"
        );
    }

    #[test]
    fn json_golden() {
        let srv = SysText::from("srv");
        let owners = [Owner {
            pid: 7,
            comm: &srv,
            fd: 3,
            cgroup: None,
        }];
        let text = render(ListFormat::Json { processes: true }, &tcp6_listener(), &owners);
        assert_eq!(
            text,
            r#"{"proto":"tcp","type":null,"family":"inet6","state":"LISTEN","timewait":false,"local":"[::1]:8080","peer":"[::]:0","v6only":false,"peer_inode":null,"recv_q":0,"send_q":128,"uid":1000,"inode":4242,"cookie":31,"netns":4026531840,"source":"netlink","owners":[{"pid":7,"comm":"srv","fd":3,"cgroup":null,"container":null}]}"#.to_owned() + "\n"
        );
        let without = render(ListFormat::Json { processes: false }, &tcp6_listener(), &[]);
        assert!(!without.contains("owners"), "{without}");
    }

    #[test]
    fn unix_names() {
        let mut s = tcp6_listener();
        s.proto = Proto::Unix;
        s.family = Family::Unix;
        s.local = Endpoint::Abstract("dbus".into());
        s.peer = Endpoint::Unnamed;
        s.peer_inode = 99;
        s.unix_type = Some(UnixType::Dgram);
        s.v6only = None;
        let text = render(ListFormat::Json { processes: false }, &s, &[]);
        assert!(
            text.contains(r#""type":"dgram","family":"unix","#)
                && text.contains(r#""local":"@dbus","peer":"*","v6only":null,"peer_inode":99"#),
            "{text}"
        );
        let table = render(
            ListFormat::Table {
                extended: false,
                processes: false,
                netns: false,
            },
            &s,
            &[],
        );
        assert!(
            table.ends_with("\nu_dgr LISTEN              0    128 @dbus 4242               * 99\n"),
            "{table:?}"
        );
    }

    /// The issue's hostile names, byte for byte: an escape sequence and a line break in a
    /// command name, a screen clear and a line break in an abstract name, a path that is not
    /// UTF-8. The table shows them escaped on one row; JSON keeps them exactly.
    #[test]
    fn hostile_names_are_escaped() {
        let comm = SysText::new(b"ev\x1b[31mil\nx\t");
        let owners = [Owner {
            pid: 7,
            comm: &comm,
            fd: 3,
            cgroup: None,
        }];
        let mut s = tcp6_listener();
        s.proto = Proto::Unix;
        s.family = Family::Unix;
        s.local = Endpoint::Abstract(SysText::new(b"bad\x1b[2Jname\nline"));
        s.peer = Endpoint::Unnamed;
        s.unix_type = Some(UnixType::Stream);
        let table = render(
            ListFormat::Table {
                extended: false,
                processes: true,
                netns: false,
            },
            &s,
            &owners,
        );
        assert_eq!(
            table,
            "Netid State          Recv-Q Send-Q Local Address:Port       Peer Address:Port        Process\n\
             u_str LISTEN              0    128 @bad\\x1b[2Jname\\nline 4242 * 0                      users:((\"ev\\x1b[31mil\\nx\\t\",pid=7,fd=3))\n"
        );
        let json = render(ListFormat::Json { processes: true }, &s, &owners);
        assert!(json.contains(r#""local":"@bad\u001b[2Jname\nline""#), "{json}");
        assert!(json.contains(r#""comm":"ev\u001b[31mil\nx\t""#), "{json}");

        s.local = Endpoint::Path(SysText::new(b"/tmp/caf\xe9\\"));
        let table = render(
            ListFormat::Table {
                extended: false,
                processes: false,
                netns: false,
            },
            &s,
            &[],
        );
        assert!(table.contains(" /tmp/caf\\xe9\\\\ 4242 "), "{table:?}");
        let json = render(ListFormat::Json { processes: false }, &s, &[]);
        assert!(json.contains(r#""local":"/tmp/caf\\xe9\\\\""#), "{json}");
    }

    /// Wildcards and port 0 as `ss -tuan` (iproute2 6.1) prints them, captured from sockets
    /// built for it: v4, dual-stack, v6-only, and a v6 end that is not the wildcard.
    #[test]
    fn wildcards_print_as_ss_prints_them() {
        let table = |local: &str, peer: &str, v6only: Option<bool>| {
            let mut s = tcp6_listener();
            s.local = Endpoint::Ip(local.parse().expect("local"));
            s.peer = Endpoint::Ip(peer.parse().expect("peer"));
            s.v6only = v6only;
            let mut out = Vec::new();
            table_row(&mut out, &s, &[], false, false).expect("row");
            let text = String::from_utf8(out).expect("utf8");
            text.split_whitespace().skip(4).collect::<Vec<_>>().join(" ")
        };
        assert_eq!(table("0.0.0.0:5004", "0.0.0.0:0", None), "0.0.0.0:5004 0.0.0.0:*");
        assert_eq!(table("[::]:5002", "[::]:0", Some(false)), "*:5002 *:*");
        assert_eq!(table("[::]:5003", "[::]:0", Some(true)), "[::]:5003 [::]:*");
        assert_eq!(
            table("[::]:58", "[::]:0", None),
            "*:58 *:*",
            "raw6 from /proc: unknown"
        );
        assert_eq!(table("[::1]:0", "[::1]:5001", Some(true)), "[::1]:* [::1]:5001");
        assert_eq!(
            table("[fe80::1%2]:22", "[fe80::2%2]:40000", Some(false)),
            "[fe80::1%2]:22 [fe80::2%2]:40000"
        );
    }
}
