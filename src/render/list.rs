//! Rows of `sockdiag list`, written one at a time as the dump delivers them: an ss-like table
//! with fixed column widths (so nothing needs the whole table to align it) or JSON lines.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::{Endpoint, Owner, Socket};
use crate::render::escape;

/// How `list` prints its rows.
#[derive(Debug, Clone, Copy)]
pub enum ListFormat {
    Table { extended: bool, processes: bool },
    Json { processes: bool },
}

/// Width of the address columns: a full IPv4 `addr:port` fits; longer ones push the row.
const ADDR_WIDTH: usize = 24;

impl ListFormat {
    pub fn header(&self, out: &mut impl Write) -> io::Result<()> {
        let ListFormat::Table { extended, processes } = *self else {
            return Ok(());
        };
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

    pub fn row(&self, out: &mut impl Write, socket: &Socket, owners: &[Owner]) -> io::Result<()> {
        match *self {
            ListFormat::Table { extended, processes } => table_row(out, socket, owners, extended, processes),
            ListFormat::Json { processes } => {
                serde_json::to_writer(&mut *out, &JsonRow::new(socket, processes.then_some(owners)))?;
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
    cell(out, s.proto.name().as_bytes(), 5, Align::Left)?;
    out.write_all(b" ")?;
    cell(out, s.state.name().as_bytes(), 14, Align::Left)?;
    out.write_all(b" ")?;
    cell(out, decimal(u64::from(s.recv_q), &mut [0; 20]), 6, Align::Right)?;
    out.write_all(b" ")?;
    cell(out, decimal(u64::from(s.send_q), &mut [0; 20]), 6, Align::Right)?;
    out.write_all(b" ")?;
    endpoint(out, &s.local, ADDR_WIDTH)?;
    out.write_all(b" ")?;
    // The peer ends the line unless details or owners follow: no trailing blanks then.
    let width = if extended || (processes && !owners.is_empty()) {
        ADDR_WIDTH
    } else {
        0
    };
    if s.peer_inode != 0 {
        cell(out, format!("* {}", s.peer_inode).as_bytes(), width, Align::Left)?;
    } else {
        endpoint(out, &s.peer, width)?;
    }
    if extended {
        write!(out, " uid:{} ino:{} sk:{:x}", s.uid, s.inode, s.cookie)?;
        if s.timewait {
            out.write_all(b" timewait")?;
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

/// An address cell: IPv4 by hand (the common case), anything else through `Display`.
fn endpoint(out: &mut impl Write, endpoint: &Endpoint, width: usize) -> io::Result<()> {
    if let Endpoint::Ip(std::net::SocketAddr::V4(v4)) = endpoint {
        let mut text = [0u8; 21]; // 255.255.255.255:65535
        let mut len = 0;
        let mut push = |bytes: &[u8]| {
            text[len..len + bytes.len()].copy_from_slice(bytes);
            len += bytes.len();
        };
        for (i, octet) in v4.ip().octets().into_iter().enumerate() {
            push(decimal(u64::from(octet), &mut [0; 20]));
            push(if i < 3 { b"." } else { b":" });
        }
        push(decimal(u64::from(v4.port()), &mut [0; 20]));
        cell(out, &text[..len], width, Align::Left)
    } else {
        cell(out, endpoint.to_string().as_bytes(), width, Align::Left)
    }
}

/// The JSON line of one socket: the field names are a contract (see the man page).
#[derive(Serialize)]
struct JsonRow<'a> {
    proto: &'static str,
    family: &'static str,
    state: &'static str,
    timewait: bool,
    #[serde(serialize_with = "endpoint_json")]
    local: &'a Endpoint,
    #[serde(serialize_with = "endpoint_json")]
    peer: &'a Endpoint,
    peer_inode: Option<u32>,
    recv_q: u32,
    send_q: u32,
    uid: u32,
    inode: u32,
    cookie: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    owners: Option<&'a [Owner<'a>]>,
}

impl<'a> JsonRow<'a> {
    fn new(s: &'a Socket, owners: Option<&'a [Owner]>) -> Self {
        JsonRow {
            proto: s.proto.name(),
            family: s.family.name(),
            state: s.state.name(),
            timewait: s.timewait,
            local: &s.local,
            peer: &s.peer,
            peer_inode: (s.peer_inode != 0).then_some(s.peer_inode),
            recv_q: s.recv_q,
            send_q: s.send_q,
            uid: s.uid,
            inode: s.inode,
            cookie: s.cookie,
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
    use crate::model::{Family, Proto, State, SysText};

    fn tcp6_listener() -> Socket {
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet6,
            state: State::LISTEN,
            timewait: false,
            local: Endpoint::Ip("[::1]:8080".parse().expect("addr")),
            peer: Endpoint::Ip("[::]:0".parse().expect("addr")),
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
        format.row(&mut out, socket, owners).expect("row");
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
            },
            &tcp6_listener(),
            &owners,
        );
        assert_eq!(
            text,
            "Netid State          Recv-Q Send-Q Local Address:Port       Peer Address:Port        Details Process\n\
             tcp   LISTEN              0    128 [::1]:8080               [::]:0                   uid:1000 ino:4242 sk:1f users:((\"srv\",pid=7,fd=3),(\"srv\",pid=8,fd=4))\n"
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
            r#"{"proto":"tcp","family":"inet6","state":"LISTEN","timewait":false,"local":"[::1]:8080","peer":"[::]:0","peer_inode":null,"recv_q":0,"send_q":128,"uid":1000,"inode":4242,"cookie":31,"owners":[{"pid":7,"comm":"srv","fd":3,"cgroup":null,"container":null}]}"#.to_owned() + "\n"
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
        let text = render(ListFormat::Json { processes: false }, &s, &[]);
        assert!(
            text.contains(r#""local":"@dbus","peer":"*","peer_inode":99"#),
            "{text}"
        );
        let table = render(
            ListFormat::Table {
                extended: false,
                processes: false,
            },
            &s,
            &[],
        );
        assert!(table.ends_with("@dbus                    * 99\n"), "{table:?}");
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
        let table = render(
            ListFormat::Table {
                extended: false,
                processes: true,
            },
            &s,
            &owners,
        );
        assert_eq!(
            table,
            "Netid State          Recv-Q Send-Q Local Address:Port       Peer Address:Port        Process\n\
             unix  LISTEN              0    128 @bad\\x1b[2Jname\\nline    *                        users:((\"ev\\x1b[31mil\\nx\\t\",pid=7,fd=3))\n"
        );
        let json = render(ListFormat::Json { processes: true }, &s, &owners);
        assert!(json.contains(r#""local":"@bad\u001b[2Jname\nline""#), "{json}");
        assert!(json.contains(r#""comm":"ev\u001b[31mil\nx\t""#), "{json}");

        s.local = Endpoint::Path(SysText::new(b"/tmp/caf\xe9\\"));
        let table = render(
            ListFormat::Table {
                extended: false,
                processes: false,
            },
            &s,
            &[],
        );
        assert!(table.contains(" /tmp/caf\\xe9\\\\ "), "{table:?}");
        let json = render(ListFormat::Json { processes: false }, &s, &[]);
        assert!(json.contains(r#""local":"/tmp/caf\\xe9\\\\""#), "{json}");
    }
}
