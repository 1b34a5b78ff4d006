//! `sockdiag list` against real sockets whose every fact is known.
//!
//! Each test moves its thread into a private network namespace (`common::enter_private_netns`)
//! and builds there a [`Population`]: listeners, connected pairs, a half-closed pair, timewait
//! minisocks in both substates, bound-only TCP sockets, UDP and UNIX sockets. Its ground truth
//! comes from the sockets themselves, never from sock_diag: inodes from `fstat`, addresses from
//! `getsockname`/`getpeername`, owners from the fd numbers this process holds. A dump of the
//! namespace must return exactly that population, so the assertions are exact while the other
//! tests of this binary run in parallel, each in its own namespace.
//!
//! Every socket and pipe here is close-on-exec (std's are; the ones made with rustix use
//! `SOCK_CLOEXEC`/`O_CLOEXEC`, which is why `common::tcp_socket` is not used): a socket
//! inherited by a command another test spawns at that moment would be one more owner in `-p`
//! output, and a pipe read end inherited that way would not close when the test drops it.
//!
//! `ss` serves as a live second opinion in the same namespace, with its known blind spot:
//! iproute2 < 6.8 never shows bound-only TCP sockets (6.8 and later show them as UNCONN).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{self as unix, UnixDatagram, UnixListener, UnixStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use rustix::net::{AddressFamily, SocketFlags, SocketType, ipproto};
use serde::Deserialize;

const SOCKDIAG: &str = env!("CARGO_BIN_EXE_sockdiag");

/// ss's default filter and sockdiag's default (no `-a`, `-l`, `--state`): connected states,
/// without SYN_RECV and TIME_WAIT (`SS_CONN` in iproute2's misc/ss.c).
const CONNECTED: [&str; 7] = [
    "ESTABLISHED",
    "SYN_SENT",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "CLOSE_WAIT",
    "LAST_ACK",
    "CLOSING",
];

// ---------------------------------------------------------------------------------------------
// The JSON contract
// ---------------------------------------------------------------------------------------------

/// One line of `list --json`, field for field as the man page (`list --help`) documents it. An
/// unknown field fails the parse, and so does a missing one: `Option` fields are made
/// required (but nullable) by `deserialize_with`, except `owners`, which only `-p` adds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    proto: String,
    #[serde(rename = "type", deserialize_with = "Option::deserialize")]
    kind: Option<String>,
    family: String,
    state: String,
    timewait: bool,
    local: String,
    peer: String,
    #[serde(deserialize_with = "Option::deserialize")]
    v6only: Option<bool>,
    #[serde(deserialize_with = "Option::deserialize")]
    peer_inode: Option<u32>,
    recv_q: u32,
    send_q: u32,
    uid: u32,
    inode: u32,
    cookie: u64,
    netns: u64,
    source: String,
    #[serde(default)]
    owners: Option<Vec<JsonOwner>>,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonOwner {
    pid: u32,
    comm: String,
    fd: u32,
    cgroup: Option<String>,
    container: Option<JsonContainer>,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonContainer {
    runtime: String,
    id: String,
    #[serde(default)]
    pod: Option<String>,
}

/// The cgroup of this process, as `/proc/self/cgroup` gives it (one `0::` line on a v2 host).
fn own_cgroup() -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    sockdiag::collect::cgroup::parse_proc_cgroup(text.as_bytes())
        .map(|path| String::from_utf8_lossy(&path).into_owned())
}

/// What identifies a row, in a form both the ground truth and sockdiag's output produce.
/// Queue lengths, uid and cookie are checked apart (they are not known in advance).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    proto: String,
    kind: Option<String>,
    family: String,
    state: String,
    timewait: bool,
    local: String,
    peer: String,
    v6only: Option<bool>,
    peer_inode: Option<u32>,
    inode: u32,
}

impl JsonRow {
    fn key(&self) -> Key {
        Key {
            proto: self.proto.clone(),
            kind: self.kind.clone(),
            family: self.family.clone(),
            state: self.state.clone(),
            timewait: self.timewait,
            local: self.local.clone(),
            peer: self.peer.clone(),
            v6only: self.v6only,
            peer_inode: self.peer_inode,
            inode: self.inode,
        }
    }
}

/// Runs `sockdiag list --json ARGS` in the calling thread's namespace; every line must parse.
fn list_json(args: &[&str]) -> Vec<JsonRow> {
    let args = [&["list", "--json"], args].concat();
    common::sockdiag_ok(&args)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("sockdiag {args:?}: {e}: {line}")))
        .collect()
}

fn sorted_keys(rows: &[JsonRow]) -> Vec<Key> {
    let mut keys: Vec<Key> = rows.iter().map(JsonRow::key).collect();
    keys.sort();
    keys
}

/// Compares two sorted lists of rows; on a difference, names the rows missing and the rows
/// unexpected rather than printing two long lists.
fn assert_same_rows(got: &[Key], want: &[Key], what: &str) {
    if got == want {
        return;
    }
    let missing: Vec<&Key> = want.iter().filter(|k| !got.contains(k)).collect();
    let unexpected: Vec<&Key> = got.iter().filter(|k| !want.contains(k)).collect();
    panic!(
        "{what}: {} rows, {} expected\nmissing: {missing:#?}\nunexpected: {unexpected:#?}",
        got.len(),
        want.len()
    );
}

// ---------------------------------------------------------------------------------------------
// The population: sockets with a known ground truth
// ---------------------------------------------------------------------------------------------

/// One socket of the population as sockdiag must report it, and the fds of this process that
/// hold it (none for a timewait minisock).
#[derive(Debug)]
struct Expected {
    key: Key,
    fds: Vec<u32>,
    /// (recv_q, send_q) where the test knows them exactly.
    queues: Option<(u32, u32)>,
}

/// Sockets built in the calling thread's (private) namespace, kept open as long as this lives.
struct Population {
    sockets: Vec<Expected>,
    held: Vec<OwnedFd>,
    /// Directory of the path-bound UNIX sockets, removed on drop.
    dir: tempfile::TempDir,
}

/// How sock_diag prints the far end of an unconnected IP socket: the zero address, port 0.
fn unspecified(like: SocketAddr) -> SocketAddr {
    let any = if like.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
    any.parse().expect("addr")
}

impl Population {
    fn new() -> Population {
        Population {
            sockets: Vec::new(),
            held: Vec::new(),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A TCP or UDP socket held by every fd of `fds` (the first one and its dups).
    fn inet(
        &mut self,
        proto: &str,
        state: &str,
        local: SocketAddr,
        peer: Option<SocketAddr>,
        fds: Vec<OwnedFd>,
    ) -> &mut Expected {
        let key = Key {
            proto: proto.into(),
            kind: None,
            family: if local.is_ipv6() { "inet6" } else { "inet" }.into(),
            state: state.into(),
            timewait: false,
            local: local.to_string(),
            peer: peer.unwrap_or_else(|| unspecified(local)).to_string(),
            // Said by the kernel for LISTEN and CLOSE sockets only. A new namespace's
            // net.ipv6.bindv6only is 0, but binding a specific IPv6 address sets v6only.
            v6only: (local.is_ipv6() && matches!(state, "LISTEN" | "CLOSE"))
                .then(|| !local.ip().is_unspecified()),
            peer_inode: None,
            inode: common::inode(&fds[0]),
        };
        self.keep(key, fds)
    }

    /// A timewait minisock: no `struct socket`, so inode 0 and no owner.
    fn timewait(&mut self, state: &str, local: SocketAddr, peer: SocketAddr) {
        let key = Key {
            proto: "tcp".into(),
            kind: None,
            family: if local.is_ipv6() { "inet6" } else { "inet" }.into(),
            state: state.into(),
            timewait: true,
            local: local.to_string(),
            peer: peer.to_string(),
            v6only: None, // a minisock has no socket options
            peer_inode: None,
            inode: 0,
        };
        self.keep(key, Vec::new()).queues = Some((0, 0));
    }

    /// A UNIX socket of type `kind` (JSON `type`): `local` as sockdiag prints it (path,
    /// `@abstract` or `*`), `peer_inode` the inode of the socket at the other end if connected.
    fn unix(
        &mut self,
        kind: &str,
        state: &str,
        local: &str,
        peer_inode: Option<u32>,
        fd: OwnedFd,
    ) -> &mut Expected {
        let key = Key {
            proto: "unix".into(),
            kind: Some(kind.into()),
            family: "unix".into(),
            state: state.into(),
            timewait: false,
            local: local.into(),
            peer: "*".into(),
            v6only: None,
            peer_inode,
            inode: common::inode(&fd),
        };
        self.keep(key, vec![fd])
    }

    fn keep(&mut self, key: Key, fds: Vec<OwnedFd>) -> &mut Expected {
        let mut numbers: Vec<u32> = fds.iter().map(common::raw_fd).collect();
        numbers.sort_unstable();
        self.held.extend(fds);
        self.sockets.push(Expected {
            key,
            fds: numbers,
            queues: None,
        });
        self.sockets.last_mut().expect("just pushed")
    }

    /// The sockets a dump returns: every one, but the bound-only TCP sockets (CLOSE) only
    /// where the kernel dumps them (Linux >= 6.8, `common::dumps_bound_inactive`).
    fn dumped(&self) -> impl Iterator<Item = &Expected> {
        let bound_inactive = common::dumps_bound_inactive();
        self.sockets
            .iter()
            .filter(move |s| bound_inactive || !(s.key.proto == "tcp" && s.key.state == "CLOSE"))
    }

    /// The expected rows that `keep` selects, sorted.
    fn keys(&self, keep: impl Fn(&Key) -> bool) -> Vec<Key> {
        let mut keys: Vec<Key> = self.dumped().map(|s| s.key.clone()).filter(|k| keep(k)).collect();
        keys.sort();
        keys
    }

    /// Runs `sockdiag list --json ARGS` and checks its rows are exactly the expected ones
    /// that `keep` selects.
    fn check(&self, args: &[&str], keep: impl Fn(&Key) -> bool) -> Vec<JsonRow> {
        let rows = list_json(args);
        assert_same_rows(
            &sorted_keys(&rows),
            &self.keys(keep),
            &format!("sockdiag list --json {args:?}"),
        );
        rows
    }

    fn expected(&self, key: &Key) -> &Expected {
        self.sockets
            .iter()
            .find(|s| &s.key == key)
            .expect("a known socket")
    }

    /// Builds the whole population in the calling thread's namespace, which must be private
    /// (fixed ports, and the dumps must contain nothing else).
    fn build(test: &str) -> Population {
        let mut p = Population::new();

        // TCP listeners, v4 and v6; the v4 one is dup'ed, so it has two owners.
        let l4 = TcpListener::bind("127.0.0.1:5000").expect("listen v4");
        let l6 = TcpListener::bind("[::1]:5001").expect("listen v6");

        // Connected pairs, v4 and v6; both sides are full sockets with an inode.
        // Five bytes left unread on the v4 server side: its Recv-Q; the client's Send-Q is
        // empty once they are acked, which is waited for.
        let (mut c4, s4) = common::connected_pair(&l4);
        let (c6, s6) = common::connected_pair(&l6);
        c4.write_all(b"hello").expect("write");
        let c4_local = format!("src {}", c4.local_addr().expect("addr"));
        common::poll_ss(&["-tnH", &c4_local], |out| {
            out.split_whitespace().nth(2) == Some("0")
        });

        // A half-closed pair: shutdown(SHUT_WR) sends a FIN but keeps the socket, so the
        // client is a full socket in FIN_WAIT2 (once the FIN is acked, which is waited for)
        // and the server stays in CLOSE_WAIT.
        let (half_client, half_server) = common::connected_pair(&l4);
        half_client.shutdown(Shutdown::Write).expect("shutdown");
        let half_local = format!("src {}", half_client.local_addr().expect("addr"));
        common::poll_ss(&["-tanH", "state", "fin-wait-2", &half_local], |out| {
            !out.is_empty()
        });

        // A FIN_WAIT2 minisock: the client closes first and the server keeps its side open;
        // once the FIN is acked the orphan becomes a timewait minisock, substate FIN_WAIT2.
        let (fw2_server, fw2_local) = common::make_fin_wait2(&l4);

        let tw_local = common::make_time_wait(&l4);

        let l4_addr = l4.local_addr().expect("addr");
        let l6_addr = l6.local_addr().expect("addr");
        let l4_dup = l4.try_clone().expect("dup"); // F_DUPFD_CLOEXEC
        p.inet("tcp", "LISTEN", l4_addr, None, vec![l4.into(), l4_dup.into()]);
        p.inet("tcp", "LISTEN", l6_addr, None, vec![l6.into()]);
        for (stream, state, queues) in [
            (c4, "ESTABLISHED", Some((0, 0))),
            (s4, "ESTABLISHED", Some((5, 0))),
            (c6, "ESTABLISHED", Some((0, 0))),
            (s6, "ESTABLISHED", Some((0, 0))),
            (half_client, "FIN_WAIT2", None),
            (half_server, "CLOSE_WAIT", None), // the FIN counts in Recv-Q, as in ss
            (fw2_server, "CLOSE_WAIT", None),
        ] {
            let (local, peer) = endpoints(&stream);
            p.inet("tcp", state, local, Some(peer), vec![stream.into()])
                .queues = queues;
        }
        p.timewait("FIN_WAIT2", fw2_local, l4_addr);
        p.timewait("TIME_WAIT", tw_local, l4_addr);

        // Bound-only TCP sockets (state CLOSE in the dump).
        for local in ["127.0.0.1:6000", "[::1]:6001"] {
            let (fd, local) = (
                common::tcp_bound(local),
                local.parse::<SocketAddr>().expect("addr"),
            );
            p.inet("tcp", "CLOSE", local, None, vec![fd]);
        }

        // UDP: bound (unconnected: CLOSE) and connected (ESTABLISHED), v4 and v6.
        for (bound, client) in [("127.0.0.1:7000", "127.0.0.1:0"), ("[::1]:7001", "[::1]:0")] {
            let server = UdpSocket::bind(bound).expect("udp bind");
            let connected = UdpSocket::bind(client).expect("udp bind");
            connected
                .connect(server.local_addr().expect("addr"))
                .expect("udp connect");
            let local = server.local_addr().expect("addr");
            p.inet("udp", "CLOSE", local, None, vec![server.into()]);
            let local = connected.local_addr().expect("addr");
            let peer = connected.peer_addr().expect("addr");
            p.inet("udp", "ESTABLISHED", local, Some(peer), vec![connected.into()]);
        }

        // UNIX: a stream listener on a path and a connection through it (the accepted side
        // carries the listener's name; the client is unnamed), a datagram socket bound to an
        // abstract name, an unbound datagram socket.
        let path = p.dir.path().join("stream.sock");
        let path_name = path.to_str().expect("utf8 path").to_owned();
        let listener = UnixListener::bind(&path).expect("unix listen");
        let mut client = UnixStream::connect(&path).expect("unix connect");
        let (accepted, _) = listener.accept().expect("unix accept");
        client.write_all(b"sockdiag").expect("write"); // 8 bytes queued on the accepted side
        let abstract_name = format!("sockdiag-list-{test}");
        let named = unix::SocketAddr::from_abstract_name(&abstract_name).expect("abstract name");
        let abstract_dgram = UnixDatagram::bind_addr(&named).expect("unix bind abstract");
        let unbound = UnixDatagram::unbound().expect("unix dgram");
        let (client_inode, accepted_inode) = (common::inode(&client), common::inode(&accepted));
        let (seq_a, seq_b) = seqpacket_pair();
        let (seq_a_inode, seq_b_inode) = (common::inode(&seq_a), common::inode(&seq_b));
        p.unix("stream", "LISTEN", &path_name, None, listener.into());
        p.unix(
            "stream",
            "ESTABLISHED",
            &path_name,
            Some(client_inode),
            accepted.into(),
        )
        .queues = Some((8, 0));
        p.unix("stream", "ESTABLISHED", "*", Some(accepted_inode), client.into());
        let abstract_local = format!("@{abstract_name}");
        p.unix("dgram", "CLOSE", &abstract_local, None, abstract_dgram.into());
        p.unix("dgram", "CLOSE", "*", None, unbound.into());
        p.unix("seqpacket", "ESTABLISHED", "*", Some(seq_b_inode), seq_a);
        p.unix("seqpacket", "ESTABLISHED", "*", Some(seq_a_inode), seq_b);
        p
    }
}

/// A connected pair of UNIX seqpacket sockets, close-on-exec.
fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .expect("socketpair")
}

fn endpoints(stream: &TcpStream) -> (SocketAddr, SocketAddr) {
    (
        stream.local_addr().expect("addr"),
        stream.peer_addr().expect("addr"),
    )
}

/// The comm of this test process, as `/proc/PID/comm` gives it to sockdiag.
fn own_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .expect("comm")
        .trim_end()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// ss, as a live second opinion
// ---------------------------------------------------------------------------------------------

/// ss's state names (`sstate_name` in misc/ss.c) as the kernel names sockdiag prints.
fn kernel_state(ss_state: &str) -> &'static str {
    match ss_state {
        "ESTAB" => "ESTABLISHED",
        "SYN-SENT" => "SYN_SENT",
        "SYN-RECV" => "SYN_RECV",
        "FIN-WAIT-1" => "FIN_WAIT1",
        "FIN-WAIT-2" => "FIN_WAIT2",
        "TIME-WAIT" => "TIME_WAIT",
        "UNCONN" => "CLOSE",
        "CLOSE-WAIT" => "CLOSE_WAIT",
        "LAST-ACK" => "LAST_ACK",
        "LISTEN" => "LISTEN",
        "CLOSING" => "CLOSING",
        other => panic!("unknown ss state {other:?}"),
    }
}

/// The shape ss and sockdiag are compared in: state → sorted (tag, inode, local address), the
/// tag being the protocol for IP sockets and the peer inode (0: none) for UNIX ones.
type ByState = BTreeMap<String, Vec<(String, u32, String)>>;

fn by_state(rows: impl IntoIterator<Item = (String, String, u32, String)>) -> ByState {
    let mut map = ByState::new();
    for (state, proto, inode, local) in rows {
        map.entry(state).or_default().push((proto, inode, local));
    }
    map.values_mut().for_each(|v| v.sort());
    map
}

/// `ss -tanue`-style output (Netid column, `-e` details): tcp and udp rows, `ino:N` parsed
/// from the details.
fn ss_inet(text: &str) -> ByState {
    let mut lines = text.lines();
    let header = lines.next().expect("ss header");
    assert!(header.starts_with("Netid"), "{header}");
    by_state(lines.map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let inode = fields
            .iter()
            .find_map(|f| f.strip_prefix("ino:"))
            .unwrap_or_else(|| panic!("no ino: in {line}"));
        (
            kernel_state(fields[1]).to_owned(),
            fields[0].to_owned(),
            inode.parse().expect("inode"),
            fields[4].to_owned(),
        )
    }))
}

/// `ss -xa` output: `Netid State Recv-Q Send-Q Local Inode Peer PeerInode`; the local inode
/// is in the "Port" column.
fn ss_unix(text: &str) -> ByState {
    let mut lines = text.lines();
    let header = lines.next().expect("ss header");
    assert!(header.starts_with("Netid"), "{header}");
    by_state(lines.map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 8, "ss -x line: {line}");
        let tag = format!("{} {}", fields[0], fields[7]); // Netid, peer inode (0: none)
        (
            kernel_state(fields[1]).to_owned(),
            tag,
            fields[5].parse().expect("inode"),
            fields[4].to_owned(),
        )
    }))
}

fn sockdiag_inet(rows: &[JsonRow]) -> ByState {
    by_state(
        rows.iter()
            .map(|r| (r.state.clone(), r.proto.clone(), r.inode, r.local.clone())),
    )
}

fn sockdiag_unix(rows: &[JsonRow]) -> ByState {
    by_state(rows.iter().map(|r| {
        let tag = format!("{} {}", netid(r.kind.as_deref()), r.peer_inode.unwrap_or(0));
        (r.state.clone(), tag, r.inode, r.local.clone())
    }))
}

/// ss's Netid of a UNIX socket of JSON `type` `kind`.
fn netid(kind: Option<&str>) -> &'static str {
    match kind {
        Some("stream") => "u_str",
        Some("dgram") => "u_dgr",
        Some("seqpacket") => "u_seq",
        other => panic!("not a unix type: {other:?}"),
    }
}

/// Drops the TCP CLOSE rows (bound-inactive sockets), which ss shows only from iproute2 6.8.
fn without_tcp_close(mut map: ByState) -> ByState {
    if let Some(rows) = map.get_mut("CLOSE") {
        rows.retain(|(proto, _, _)| proto != "tcp");
        if rows.is_empty() {
            map.remove("CLOSE");
        }
    }
    map
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A child process this test started, killed and reaped when dropped (panics included).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a `-p` listing again while `foreign` finds an owner that is not this process.
///
/// A command that another test of this binary spawns holds, between fork and exec, a copy of
/// every fd of this process, the sockets of all tests included (close-on-exec acts at exec
/// only): for that instant it is a genuine owner, which `-p` rightly shows, named after the
/// forking test's thread. It is gone within milliseconds; a foreign owner that stays is a bug.
fn settled<T: std::fmt::Debug>(run: impl Fn() -> T, foreign: impl Fn(&T) -> bool) -> T {
    let mut listing = run();
    for _ in 0..20 {
        if !foreign(&listing) {
            return listing;
        }
        std::thread::sleep(Duration::from_millis(10));
        listing = run();
    }
    panic!("owners other than this process stay: {listing:#?}");
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

/// `-a -p`: every socket of the namespace, exactly, with its owners and the timewait facts.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn all_rows_match_the_ground_truth() {
    if !common::private_netns("all_rows_match_the_ground_truth") {
        return;
    }
    let p = Population::build("ground-truth");
    let rows = settled(
        || p.check(&["-tux", "-a", "-p"], |_| true),
        |rows| {
            rows.iter()
                .flat_map(|r| r.owners.iter().flatten())
                .any(|o| o.pid != std::process::id())
        },
    );

    let comm = own_comm();
    for row in &rows {
        assert_eq!(row.uid, 0, "created by root: {row:?}");
        assert_eq!(
            row.timewait,
            row.inode == 0,
            "only timewait minisocks lack an inode here: {row:?}"
        );
        if row.timewait {
            assert!(matches!(row.state.as_str(), "TIME_WAIT" | "FIN_WAIT2"), "{row:?}");
        }
        let expected = p.expected(&row.key());
        if let Some(queues) = expected.queues {
            assert_eq!((row.recv_q, row.send_q), queues, "queues of {row:?}");
        }
        // Every fd of this process that holds the socket, in fd order; none for a minisock.
        let want: Vec<JsonOwner> = expected
            .fds
            .iter()
            .map(|&fd| JsonOwner {
                pid: std::process::id(),
                comm: comm.clone(),
                fd,
                cgroup: own_cgroup(),
                container: None,
            })
            .collect();
        assert_eq!(row.owners.as_deref(), Some(&want[..]), "owners of {row:?}");
    }
    assert_eq!(rows.iter().filter(|r| r.timewait).count(), 2, "the two minisocks");
    // sock_diag hands out a cookie for every socket; (cookie, inode) tells rows apart.
    let mut ids: Vec<(u64, u32)> = rows.iter().map(|r| (r.cookie, r.inode)).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "{rows:#?}");
    assert!(ids.iter().all(|&(cookie, _)| cookie != 0));
    let dup = rows
        .iter()
        .find(|r| r.state == "LISTEN" && r.family == "inet")
        .expect("v4 listener");
    assert_eq!(
        dup.owners.as_ref().map(Vec::len),
        Some(2),
        "both fds of the dup'ed listener"
    );

    // Without -p there is no `owners` key at all.
    let rows = list_json(&["-tux", "-a"]);
    assert!(rows.iter().all(|r| r.owners.is_none()), "owners without -p");
}

/// The same namespace through live `ss`, state by state: `-a` views and the default views.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn rows_match_live_ss() {
    if !common::private_netns("rows_match_live_ss") {
        return;
    }
    let p = Population::build("versus-ss");

    // TCP and UDP (`ss -tanue` lists both), every state.
    let ours = without_tcp_close(sockdiag_inet(&list_json(&["-tu", "-a"])));
    let theirs = without_tcp_close(ss_inet(&common::ss(&["-tanue"])));
    assert_eq!(ours, theirs, "sockdiag list -tu -a vs ss -tanue");
    // Not vacuous: the whole population but bound-only sockets, in each of its states.
    let seen = |map: &ByState| map.values().map(Vec::len).sum::<usize>();
    let ip = |k: &Key| k.proto != "unix" && !(k.proto == "tcp" && k.state == "CLOSE");
    assert_eq!(seen(&ours), p.keys(ip).len());
    let states: Vec<&str> = ours.keys().map(String::as_str).collect();
    assert_eq!(
        states,
        [
            "CLOSE",
            "CLOSE_WAIT",
            "ESTABLISHED",
            "FIN_WAIT2",
            "LISTEN",
            "TIME_WAIT"
        ]
    );

    // ss -uane alone (no Netid column): the UDP part.
    let mut udp: Vec<(String, u32, String)> = common::ss(&["-uane"])
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let inode = f.iter().find_map(|f| f.strip_prefix("ino:")).expect("ino:");
            (
                kernel_state(f[0]).to_owned(),
                inode.parse().expect("inode"),
                f[3].to_owned(),
            )
        })
        .collect();
    let mut udp_ours: Vec<(String, u32, String)> = list_json(&["-u", "-a"])
        .into_iter()
        .map(|r| (r.state, r.inode, r.local))
        .collect();
    udp.sort();
    udp_ours.sort();
    assert_eq!(udp_ours, udp, "sockdiag list -u -a vs ss -uane");
    assert_eq!(udp.len(), p.keys(|k| k.proto == "udp").len());

    // Default views: connected states only, on both sides.
    let ours = sockdiag_inet(&list_json(&["-tu"]));
    let theirs = ss_inet(&common::ss(&["-tnue"]));
    assert_eq!(ours, theirs, "sockdiag list -tu vs ss -tnue");
    assert_eq!(
        seen(&ours),
        p.keys(|k| ip(k) && CONNECTED.contains(&k.state.as_str())).len()
    );

    // UNIX: `ss -xa` and `ss -x`, peer inodes included.
    let ours = sockdiag_unix(&list_json(&["-x", "-a"]));
    let theirs = ss_unix(&common::ss(&["-xa"]));
    assert_eq!(ours, theirs, "sockdiag list -x -a vs ss -xa");
    assert_eq!(seen(&ours), p.keys(|k| k.proto == "unix").len());
    let ours = sockdiag_unix(&list_json(&["-x"]));
    let theirs = ss_unix(&common::ss(&["-x"]));
    assert_eq!(ours, theirs, "sockdiag list -x vs ss -x");
    assert_eq!(
        seen(&ours),
        p.keys(|k| k.proto == "unix" && k.state == "ESTABLISHED").len()
    );
}

/// No -a: connected states only; the FIN_WAIT2 minisock is one (as in ss), TIME_WAIT is not.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn default_lists_connected_states_only() {
    if !common::private_netns("default_lists_connected_states_only") {
        return;
    }
    let p = Population::build("default");
    let rows = p.check(&["-tux"], |k| CONNECTED.contains(&k.state.as_str()));
    for row in &rows {
        assert!(
            !matches!(row.state.as_str(), "LISTEN" | "TIME_WAIT" | "CLOSE"),
            "{row:?}"
        );
    }
    // What the default leaves out does exist in the namespace.
    assert_eq!(list_json(&["-tux", "-a"]).len(), p.dumped().count());
}

/// -l: TCP listeners only; for UDP and UNIX, unconnected sockets too (as ss does).
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn listening_lists_listeners_only() {
    if !common::private_netns("listening_lists_listeners_only") {
        return;
    }
    let p = Population::build("listening");
    let rows = p.check(&["-t", "-l"], |k| k.proto == "tcp" && k.state == "LISTEN");
    assert_eq!(rows.len(), 2, "v4 and v6 listeners");
    p.check(&["-tux", "-l"], |k| {
        k.state == "LISTEN" || (k.proto != "tcp" && k.state == "CLOSE")
    });
}

/// --state selects exactly its rows; timewait minisocks are told from full sockets.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn state_filters_select_exact_rows() {
    if !common::private_netns("state_filters_select_exact_rows") {
        return;
    }
    let p = Population::build("states");

    // No protocol flag: every protocol is asked (raw may add a notice on stderr).
    let rows = p.check(&["--state", "time-wait"], |k| k.state == "TIME_WAIT");
    assert!(
        rows.len() == 1 && rows[0].timewait && rows[0].inode == 0,
        "{rows:?}"
    );

    // FIN_WAIT2: the half-closed full socket and the minisock, told apart by `timewait`.
    let rows = p.check(&["--state", "fin_wait2"], |k| k.state == "FIN_WAIT2");
    let mut kinds: Vec<(bool, bool)> = rows.iter().map(|r| (r.timewait, r.inode == 0)).collect();
    kinds.sort();
    assert_eq!(kinds, [(false, false), (true, true)], "{rows:?}");

    // bound-inactive: the bound-only TCP sockets, reported as CLOSE.
    let rows = p.check(&["--state", "bound-inactive"], |k| {
        k.proto == "tcp" && k.state == "CLOSE"
    });
    let dumps_bound_inactive = common::dumps_bound_inactive();
    assert_eq!(rows.len(), if dumps_bound_inactive { 2 } else { 0 });
    assert!(rows.iter().all(|r| !r.timewait && r.inode != 0), "{rows:?}");
    if !dumps_bound_inactive {
        // Before 6.8 they are not dumped, and sockdiag says so, once.
        for args in [
            &["list", "-t", "--state", "bound-inactive"][..],
            &["list", "-tux", "-a"],
        ] {
            let err = stderr_lines(&common::sockdiag(args));
            assert_eq!(err.len(), 1, "{args:?}: {err:?}");
            assert!(err[0].contains("(< 6.8) does not dump bound-inactive"), "{err:?}");
        }
    }

    // Repeated --state adds up; `close` also means bound-inactive for TCP.
    p.check(&["-t", "--state", "listen", "--state", "time-wait"], |k| {
        k.proto == "tcp" && matches!(k.state.as_str(), "LISTEN" | "TIME_WAIT")
    });
    p.check(&["-tux", "--state", "close"], |k| k.state == "CLOSE");
}

/// -4 / -6 restrict families (and drop UNIX); -x is UNIX only; -t -6 combines.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn family_and_protocol_selection() {
    if !common::private_netns("family_and_protocol_selection") {
        return;
    }
    let p = Population::build("families");
    p.check(&["-4", "-a"], |k| k.family == "inet");
    p.check(&["-6", "-a"], |k| k.family == "inet6");
    p.check(&["-x", "-a"], |k| k.proto == "unix");
    p.check(&["-t", "-6", "-a"], |k| k.proto == "tcp" && k.family == "inet6");
    p.check(&["-u", "-4", "-a"], |k| k.proto == "udp" && k.family == "inet");
}

/// The table: a header, then one row per socket; `-e` adds `ino:N`, `-p` the owners.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn table_output() {
    if !common::private_netns("table_output") {
        return;
    }
    let p = Population::build("table");

    let own = format!("pid={},", std::process::id());
    let text = settled(
        || common::sockdiag_ok(&["list", "-tux", "-a", "-e", "-p"]),
        |text| {
            text.match_indices("pid=")
                .any(|(at, _)| !text[at..].starts_with(&own))
        },
    );
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    assert!(
        header.starts_with("Netid State") && header.ends_with("Peer Address:Port        Details Process"),
        "{header:?}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), p.dumped().count(), "one row per socket:\n{text}");

    // Each socket's inode appears in exactly one row (the two minisocks share ino:0).
    for socket in p.dumped() {
        let ino = format!(" ino:{} ", socket.key.inode);
        let matching: Vec<&&str> = rows.iter().filter(|r| r.contains(&ino)).collect();
        let want = if socket.key.timewait { 2 } else { 1 };
        assert_eq!(matching.len(), want, "{ino}in\n{text}");
        let netid = match socket.key.kind.as_deref() {
            None => socket.key.proto.as_str(),
            kind => netid(kind),
        };
        assert!(
            matching[0].starts_with(&format!("{netid:<5} ")),
            "{}",
            matching[0]
        );
    }
    for row in rows.iter().filter(|r| r.contains(" ino:0 ")) {
        assert!(row.contains(" timewait") && !row.contains("users:"), "{row}");
    }

    // The dup'ed listener: both owners, in fd order, ss's users:((...)) syntax.
    let listener = p
        .sockets
        .iter()
        .find(|s| s.key.state == "LISTEN" && s.key.family == "inet")
        .expect("v4");
    let (comm, pid) = (own_comm(), std::process::id());
    let users = format!(
        "users:((\"{comm}\",pid={pid},fd={}),(\"{comm}\",pid={pid},fd={}))",
        listener.fds[0], listener.fds[1]
    );
    let row = rows
        .iter()
        .find(|r| r.contains(&format!(" ino:{} ", listener.key.inode)))
        .expect("listener row");
    assert!(
        row.starts_with("tcp   LISTEN ") && row.ends_with(&users),
        "{row}\nwant {users}"
    );

    // Without -e and -p: no details, no owners, same rows.
    let text = common::sockdiag_ok(&["list", "-tux", "-a"]);
    assert!(!text.contains("ino:") && !text.contains("users:"), "{text}");
    assert_eq!(
        text.lines().next(),
        Some(header.trim_end_matches(" Details Process").trim_end()),
        "the last column is not padded"
    );
    assert_eq!(text.lines().count(), p.dumped().count() + 1);
}

/// --netns /proc/PID/ns/net lists that namespace (held here by a `sleep` child), not ours.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn netns_option_reads_another_namespace() {
    if !common::private_netns("netns_option_reads_another_namespace") {
        return;
    }
    let ours = TcpListener::bind("127.0.0.1:5000").expect("listen");

    // Another private namespace, entered by a helper thread that leaves behind a listener on
    // the same address and a child process holding the namespace.
    let (theirs, child, their_netns) = std::thread::spawn(|| {
        common::enter_private_netns();
        let listener = TcpListener::bind("127.0.0.1:5000").expect("listen");
        let child = Command::new("sleep").arg("30").spawn().expect("spawn sleep");
        (listener, KillOnDrop(child), common::current_netns())
    })
    .join()
    .expect("netns thread");
    assert_ne!(their_netns, common::current_netns());
    let path = format!("/proc/{}/ns/net", child.0.id());

    let rows = list_json(&["-t", "-l", "--netns", &path]);
    let inodes: Vec<u32> = rows.iter().map(|r| r.inode).collect();
    assert_eq!(inodes, [common::inode(&theirs)], "--netns {path}: {rows:?}");
    let rows = list_json(&["-t", "-l"]);
    let inodes: Vec<u32> = rows.iter().map(|r| r.inode).collect();
    assert_eq!(inodes, [common::inode(&ours)], "own namespace: {rows:?}");
    drop(child);
}

/// A missing namespace is an error: exit 2, one line naming it, nothing on stdout.
#[test]
fn missing_netns_is_an_error() {
    let out = common::sockdiag(&["list", "--netns", "nosuch-sockdiag-test"]);
    let err = stderr_lines(&out);
    assert_eq!(out.status.code(), Some(2), "{err:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].starts_with("sockdiag: ") && err[0].contains("nosuch-sockdiag-test"),
        "{err:?}"
    );
}

/// -w: RAW sockets are listed with raw_diag (`source` netlink) and without it (`source`
/// proc, read from /proc/net/raw{,6}, said once on stderr); exactly those `ss -wan` shows.
/// Without -w or -a nothing is said about them.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn raw_sockets_with_or_without_raw_diag() {
    if !common::private_netns("raw_sockets_with_or_without_raw_diag") {
        return;
    }
    let p = Population::build("raw");
    let raw = |family, protocol| {
        rustix::net::socket_with(family, SocketType::RAW, SocketFlags::CLOEXEC, Some(protocol))
            .expect("raw socket")
    };
    let icmp = raw(AddressFamily::INET, ipproto::ICMP);
    let icmp6 = raw(AddressFamily::INET6, ipproto::ICMPV6);
    let udp = raw(AddressFamily::INET, ipproto::UDP);
    rustix::net::connect(&udp, &"127.0.0.1:0".parse::<SocketAddr>().expect("addr")).expect("connect");

    let out = common::sockdiag(&["list", "-w", "-a", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = stderr_lines(&out);
    let rows: Vec<JsonRow> = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let has_raw_diag = err.is_empty();
    if !has_raw_diag {
        eprintln!("this kernel has no raw_diag: {err:?}");
        assert_eq!(err.len(), 1, "one notice for both families: {err:?}");
        assert!(
            err[0].starts_with("sockdiag: raw sockets: ") && err[0].contains("/proc/net/raw"),
            "{err:?}"
        );
    }
    let source = if has_raw_diag { "netlink" } else { "proc" };
    let mut seen: Vec<(String, String, u32, String, String)> = rows
        .iter()
        .map(|r| {
            assert_eq!((r.proto.as_str(), r.source.as_str()), ("raw", source), "{r:?}");
            (
                r.family.clone(),
                r.state.clone(),
                r.inode,
                r.local.clone(),
                r.peer.clone(),
            )
        })
        .collect();
    seen.sort();
    let row = |family: &str, state: &str, fd: &OwnedFd, local: &str, peer: &str| {
        (
            family.to_owned(),
            state.to_owned(),
            common::inode(fd),
            local.to_owned(),
            peer.to_owned(),
        )
    };
    let mut want = vec![
        row("inet", "CLOSE", &icmp, "0.0.0.0:1", "0.0.0.0:0"),
        row("inet", "ESTABLISHED", &udp, "127.0.0.1:17", "127.0.0.1:0"),
        row("inet6", "CLOSE", &icmp6, "[::]:58", "[::]:0"),
    ];
    want.sort();
    assert_eq!(seen, want);

    // The table, token for token as `ss -wan` prints it (ss has no Netid column for one
    // table; its wildcards are ours).
    let ours = common::sockdiag_ok(&["list", "-wa"]);
    let ours: Vec<String> = table_rows(&ours)
        .into_iter()
        .map(|r| r.strip_prefix("raw ").expect("raw row").to_owned())
        .collect();
    assert_eq!(
        ours,
        table_rows(&common::ss(&["-wan"])),
        "sockdiag list -wa vs ss -wan"
    );

    // Not asked for: no word about them (the default lists connected RAW sockets, as ss).
    for args in [&["list", "-t"][..], &["list"], &["list", "-tu", "-a"]] {
        let out = common::sockdiag(args);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        // Before 6.8, `-a` (bound-inactive asked for) says once that they are not dumped.
        let expected: Vec<String> = if args.contains(&"-a") && !common::dumps_bound_inactive() {
            vec!["sockdiag: this kernel (< 6.8) does not dump bound-inactive TCP sockets: list cannot show them; summary finds them through the fd scan, counts them as unbound and reports bound_inactive as null".into()]
        } else {
            Vec::new()
        };
        assert_eq!(stderr_lines(&out), expected, "{args:?}");
    }
    let rows: Vec<JsonRow> = common::sockdiag_ok(&["list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .filter(|r: &JsonRow| r.proto == "raw")
        .collect();
    let inodes: Vec<u32> = rows.iter().map(|r| r.inode).collect();
    assert_eq!(inodes, [common::inode(&udp)], "only the connected one by default");

    // -tw: the TCP sockets are still listed, exactly.
    let out = common::sockdiag(&["list", "-tw", "-a", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Before 6.8, -a also brings the notice that bound-inactive sockets are not dumped.
    let notices = usize::from(!has_raw_diag) + usize::from(!common::dumps_bound_inactive());
    assert_eq!(stderr_lines(&out).len(), notices);
    let rows: Vec<JsonRow> = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .filter(|r: &JsonRow| r.proto == "tcp")
        .collect();
    assert_same_rows(
        &sorted_keys(&rows),
        &p.keys(|k| k.proto == "tcp"),
        "sockdiag list -tw -a",
    );
}

/// ss's state words in a table row turned into the kernel's, other tokens kept.
fn ss_state(token: &str) -> String {
    match token {
        "ESTAB" | "UNCONN" | "SYN-SENT" | "SYN-RECV" | "FIN-WAIT-1" | "FIN-WAIT-2" | "TIME-WAIT"
        | "CLOSE-WAIT" | "LAST-ACK" => kernel_state(token).to_owned(),
        other => other.to_owned(),
    }
}

/// Output to a pipe whose reader is gone: quiet success, as `sockdiag list | head` needs.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn closed_stdout_pipe_is_quiet_success() {
    if !common::private_netns("closed_stdout_pipe_is_quiet_success") {
        return;
    }

    // 3000 pairs below are 6000 fds, more than the usual soft limit (1024): up to the hard one.
    let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let raised = rustix::process::Rlimit {
        current: nofile.maximum,
        maximum: nofile.maximum,
    };
    rustix::process::setrlimit(rustix::process::Resource::Nofile, raised).expect("setrlimit");

    // The reader closed before sockdiag starts: the first write fails with EPIPE.
    let _pair = UnixStream::pair().expect("socketpair");
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    drop(reader);
    let out = Command::new(SOCKDIAG)
        .args(["list", "-x", "-a", "--json"])
        .stdout(Stdio::from(writer))
        .output()
        .expect("run sockdiag");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    // The reader reads one line of a listing bigger than the pipe, then goes away
    // (`| head -1`): sockdiag is blocked mid-listing when its pipe closes.
    const PAIRS: usize = 3000;
    let pairs: Vec<(UnixStream, UnixStream)> = (0..PAIRS)
        .map(|_| UnixStream::pair().expect("socketpair"))
        .collect();
    let mut child = Command::new(SOCKDIAG)
        .args(["list", "-x", "-a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sockdiag");
    let stdout = child.stdout.take().expect("stdout");
    // Rows have fixed-width columns (84 bytes and a newline at least): the listing is more
    // than the pipe and the line reader's buffer hold, so sockdiag cannot be done writing.
    let pipe_size = rustix::pipe::fcntl_getpipe_size(&stdout).expect("F_GETPIPE_SZ");
    let listing = 2 * PAIRS * 85;
    assert!(
        listing > 2 * (pipe_size + 8 * 1024),
        "{listing} vs pipe {pipe_size}"
    );
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).expect("read");
    assert!(first.starts_with("Netid State"), "{first:?}");
    drop(reader);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{status}");
    assert_eq!(stderr, "");
    drop(pairs);
}

/// Usage errors: exit 2 and exactly one line on stderr, `sockdiag: ` first.
#[test]
fn usage_errors_exit_2_with_one_line() {
    for (args, names) in [
        (&["list", "--bogus"][..], &["--bogus"][..]),
        (&["list", "--state", "nosuch"], &["nosuch"]),
        (&["list", "-a", "-l"], &["--all", "--listening"]),
        (&["list", "-4", "-6"], &["--ipv4", "--ipv6"]),
        (&[], &["a command is required: list, summary"]),
        (&["frobnicate"], &["frobnicate"]),
        (&["summary", "--ss"], &["--ss"]),
        (
            &["list", "--all-netns", "--netns", "x"],
            &["--all-netns", "--netns"],
        ),
    ] {
        let out = common::sockdiag(args);
        let err = stderr_lines(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(err.len(), 1, "{args:?}: {err:?}");
        assert!(err[0].starts_with("sockdiag: "), "{args:?}: {err:?}");
        for name in names {
            assert!(err[0].contains(name), "{args:?}: {err:?} should name {name}");
        }
    }
}

/// As an ordinary user the sockets are all listed but root's fd tables are closed: owners are
/// missing and stderr says how many processes could not be inspected.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn ordinary_user_gets_a_lower_bound() {
    if !common::require_root("ordinary_user_gets_a_lower_bound") {
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "setpriv (util-linux) is missing; .ci/setup installs it"
        );
        eprintln!("SKIPPED ordinary_user_gets_a_lower_bound: no setpriv (util-linux)");
        return;
    }
    common::enter_private_netns();
    let listener = TcpListener::bind("127.0.0.1:5000").expect("listen");
    let fd = common::raw_fd(&listener);
    let ino = common::inode(&listener);

    // As root: the owner (this process) is shown.
    let text = common::sockdiag_ok(&["list", "-t", "-l", "-p", "-e"]);
    let owner = format!("pid={},fd={fd})", std::process::id());
    assert!(text.contains(&owner), "root sees the owner:\n{text}");

    // As nobody (uid and gid 65534, no groups).
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", SOCKDIAG])
        .args(["list", "-tp", "-a", "-e"])
        .output()
        .expect("run setpriv");
    let err = stderr_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{err:?}");
    let notice: Vec<&String> = err
        .iter()
        .filter(|l| l.contains("could not be inspected"))
        .collect();
    assert_eq!(notice.len(), 1, "{err:?}");
    // "sockdiag: N of M processes could not be inspected ...": at least this one, as root.
    let denied: u32 = notice[0]
        .strip_prefix("sockdiag: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{notice:?}"));
    assert!(denied >= 1, "{notice:?}");

    let text = String::from_utf8(out.stdout).expect("utf8");
    let row = text
        .lines()
        .find(|l| l.contains(&format!(" ino:{ino} ")))
        .unwrap_or_else(|| panic!("the listener is still listed:\n{text}"));
    assert!(row.contains(" uid:0 ") && !row.contains("users:"), "{row}");
}

// ---------------------------------------------------------------------------------------------
// Parity with ss: tables token for token, filters row for row, every namespace
// ---------------------------------------------------------------------------------------------

/// A table's rows as token lists (state words in the kernel's spelling), sorted.
fn table_rows(text: &str) -> Vec<String> {
    let mut rows: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(ss_state).collect::<Vec<_>>().join(" "))
        .collect();
    rows.sort();
    rows
}

/// Wildcard listeners of every kind, next to the population: v4 0.0.0.0, dual-stack [::],
/// v6-only [::], and UDP ones.
fn wildcard_sockets() -> Vec<OwnedFd> {
    let v6 = |port: u16, v6only: bool, kind: SocketType| {
        let fd =
            rustix::net::socket_with(AddressFamily::INET6, kind, SocketFlags::CLOEXEC, None).expect("socket");
        rustix::net::sockopt::set_ipv6_v6only(&fd, v6only).expect("IPV6_V6ONLY");
        let addr: SocketAddr = format!("[::]:{port}").parse().expect("addr");
        rustix::net::bind(&fd, &addr).expect("bind");
        if kind == SocketType::STREAM {
            rustix::net::listen(&fd, 8).expect("listen");
        }
        fd
    };
    let v4: OwnedFd = TcpListener::bind("0.0.0.0:5004").expect("listen").into();
    let v4_udp: OwnedFd = UdpSocket::bind("0.0.0.0:5006").expect("udp").into();
    vec![
        v4,
        v6(5002, false, SocketType::STREAM),
        v6(5003, true, SocketType::STREAM),
        v6(5005, false, SocketType::DGRAM),
        v6(5007, true, SocketType::DGRAM),
        v4_udp,
    ]
}

/// `-xa` and `-tuan` tables equal ss's token for token: UNIX Netids (u_str, u_dgr, u_seq),
/// own and peer inodes in the address columns, wildcards and port 0 as ss prints them
/// (`*:5002` dual-stack, `[::]:5003` v6-only, `0.0.0.0:*`). The JSON keeps exact addresses
/// and says v6only.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn tables_match_ss_token_for_token() {
    if !common::private_netns("tables_match_ss_token_for_token") {
        return;
    }
    let p = Population::build("tokens");
    let wildcards = wildcard_sockets();

    let ours = table_rows(&common::sockdiag_ok(&["list", "-xa"]));
    assert_eq!(ours, table_rows(&common::ss(&["-xa"])), "list -xa vs ss -xa");
    assert_eq!(ours.len(), p.keys(|k| k.proto == "unix").len());
    for netid in ["u_str", "u_dgr", "u_seq"] {
        assert!(ours.iter().any(|r| r.starts_with(netid)), "{netid} in {ours:#?}");
    }

    // iproute2 < 6.8 does not show bound-inactive TCP sockets (state CLOSE for TCP).
    let ours: Vec<String> = table_rows(&common::sockdiag_ok(&["list", "-tuan"]))
        .into_iter()
        .filter(|r| !r.starts_with("tcp CLOSE "))
        .collect();
    let theirs = table_rows(&common::ss(&["-tuan"]));
    assert_eq!(ours, theirs, "list -tuan vs ss -tuan");
    for row in [
        "tcp LISTEN 0 8 *:5002 *:*",
        "tcp LISTEN 0 8 [::]:5003 [::]:*",
        "tcp LISTEN 0 128 0.0.0.0:5004 0.0.0.0:*",
        "udp CLOSE 0 0 *:5005 *:*",
        "udp CLOSE 0 0 0.0.0.0:5006 0.0.0.0:*",
        "udp CLOSE 0 0 [::]:5007 [::]:*",
    ] {
        assert!(ours.iter().any(|r| r == row), "{row} in {ours:#?}");
    }

    // JSON: exact addresses, v6only told.
    let rows = list_json(&["-tu", "-l"]);
    let of = |inode: u32| rows.iter().find(|r| r.inode == inode).expect("row");
    let v6only: Vec<(String, String, Option<bool>)> = wildcards
        .iter()
        .map(|fd| {
            let r = of(common::inode(fd));
            (r.local.clone(), r.peer.clone(), r.v6only)
        })
        .collect();
    assert_eq!(
        v6only,
        [
            ("0.0.0.0:5004".into(), "0.0.0.0:0".into(), None),
            ("[::]:5002".into(), "[::]:0".into(), Some(false)),
            ("[::]:5003".into(), "[::]:0".into(), Some(true)),
            ("[::]:5005".into(), "[::]:0".into(), Some(false)),
            ("[::]:5007".into(), "[::]:0".into(), Some(true)),
            ("0.0.0.0:5006".into(), "0.0.0.0:0".into(), None),
        ]
    );
    // -H: the same rows, no header; -O is accepted and changes nothing.
    let with = common::sockdiag_ok(&["list", "-tuan"]);
    let without = common::sockdiag_ok(&["list", "-tuanHO"]);
    assert_eq!(without, with.split_once('\n').expect("header").1);
}

/// The differential test of the filter: each expression gives `sockdiag list -tuan` exactly
/// the rows `ss -tuane` gives with the same expression, told apart by socket cookie (ss's
/// `sk:`), timewait minisocks included. Bound-inactive TCP rows, which iproute2 < 6.8 never
/// shows, are left out of ours. `autobound` differs on purpose (see the list).
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn filter_expressions_select_the_rows_ss_selects() {
    if !common::private_netns("filter_expressions_select_the_rows_ss_selects") {
        return;
    }
    let p = Population::build("filters");
    let _wildcards = wildcard_sockets();
    // More ends: a v4 client of the dual-stack listener (v4-mapped on the server side) and
    // a v6 client of it.
    let mapped = TcpStream::connect("127.0.0.1:5002").expect("connect v4 to [::]");
    let v6 = TcpStream::connect("[::1]:5002").expect("connect v6 to [::]");

    const EXPRESSIONS: [&str; 30] = [
        "sport = :5000",
        "dport = :5000",
        "sport != :5000",
        "sport < :5001",
        "sport > :5001",
        "sport <= :5002",
        "dport >= :5001",
        "sport eq :7000 or sport eq :7001",
        "src 127.0.0.1",
        "dst 127.0.0.1",
        "src [::1]",
        "dst [::1]",
        "src 127.0.0.0/8",
        "dst 127.0.0.0/24",
        "src ::1/128",
        "src ::/0",
        "src 127.0.0.1:5000",
        "dst [::1]:5001",
        "src 10.0.0.0/8",
        "not sport = :5000",
        "sport = :5000 or sport = :5001",
        "( sport = :5000 or dport = :5000 ) and src 127.0.0.1",
        "! ( sport >= :5000 and sport <= :5002 )",
        "sport = :5000 || ( dport = :5001 && dst [::1] )",
        "state established",
        "state listening",
        "exclude established",
        "state established ( dport = :5000 or dport = :5002 )",
        "state time-wait state fin-wait-2",
        "dst 127.0.0.1 and not dport = :5000",
        // Not `autobound`: ss also requires, in user space, a local port inside
        // ip_local_port_range (`is_ephemeral`); sockdiag takes the kernel's word alone.
    ];
    let mut nonempty = 0;
    for expression in EXPRESSIONS {
        let words: Vec<&str> = expression.split(' ').collect();
        let mut ours: Vec<String> = list_json(&[&["-tua"][..], &words].concat())
            .into_iter()
            .filter(|r| !(r.proto == "tcp" && r.state == "CLOSE"))
            .map(|r| format!("{:x}", r.cookie))
            .collect();
        let mut theirs: Vec<String> = common::ss(&[&["-tuane"][..], &words].concat())
            .lines()
            .skip(1)
            .map(|line| {
                line.split_whitespace()
                    .find_map(|f| f.strip_prefix("sk:"))
                    .unwrap_or_else(|| panic!("no sk: in {line}"))
                    .to_owned()
            })
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(
            ours, theirs,
            "sockdiag list -tua {expression} vs ss -tuane {expression}"
        );
        nonempty += usize::from(!ours.is_empty());
    }
    // Not vacuous: most expressions select something, and not everything.
    assert!(nonempty >= 25, "{nonempty} expressions selected rows");
    drop((p, mapped, v6));
}

/// A network namespace made with `ip netns add`, deleted when dropped (panics included).
struct NamedNetns(String);

impl NamedNetns {
    fn add(name: &str) -> NamedNetns {
        let _ = Command::new("ip").args(["netns", "delete", name]).status();
        let status = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .expect("ip netns add");
        assert!(status.success(), "ip netns add {name}");
        NamedNetns(name.to_owned())
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.0]).status();
    }
}

/// `--all-netns`: every namespace found, each with exactly its sockets (ground truth from the
/// sockets made in three namespaces: two private ones held by a process, one `ip netns add`
/// held by its bind mount only), tagged with its inode; `-p` owners across namespaces.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn all_netns_lists_every_namespace() {
    if !common::private_netns("all_netns_lists_every_namespace") {
        return;
    }
    let ours = vec![
        TcpListener::bind("127.0.0.1:5000").expect("listen"),
        TcpListener::bind("[::1]:5001").expect("listen"),
    ];
    let ours_netns = common::current_netns();
    // A second private namespace: a helper thread leaves a listener and a `sleep` in it.
    let (theirs, child, their_netns) = std::thread::spawn(|| {
        common::enter_private_netns();
        let listener = TcpListener::bind("127.0.0.1:5000").expect("listen");
        let child = Command::new("sleep").arg("30").spawn().expect("spawn sleep");
        (vec![listener], KillOnDrop(child), common::current_netns())
    })
    .join()
    .expect("netns thread");
    // A named one: no process in it, only its bind mount and a socket made there.
    let named = NamedNetns::add(&format!("sockdiag-test-{}", std::process::id()));
    let path = named.path();
    let (in_named, raw, named_netns) = std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open netns");
        rustix::thread::move_into_link_name_space(
            std::os::fd::AsFd::as_fd(&file),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns");
        Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("ip");
        let listener = TcpListener::bind("127.0.0.1:5009").expect("listen");
        let raw = rustix::net::socket_with(
            AddressFamily::INET,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(ipproto::ICMP),
        )
        .expect("raw socket");
        (vec![listener], raw, common::current_netns())
    })
    .join()
    .expect("named netns thread");

    let rows = list_json(&["-tl", "--all-netns", "-p"]);
    let netns_of = |inode: u32| {
        rows.iter()
            .filter(|r| r.inode == inode)
            .map(|r| r.netns)
            .collect::<Vec<_>>()
    };
    for (listeners, netns) in [
        (&ours, ours_netns),
        (&theirs, their_netns),
        (&in_named, named_netns),
    ] {
        let mut want: Vec<u32> = listeners.iter().map(common::inode).collect();
        let mut got: Vec<u32> = rows
            .iter()
            .filter(|r| r.netns == netns)
            .map(|r| r.inode)
            .collect();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "netns {netns}");
        for listener in listeners.iter() {
            assert_eq!(netns_of(common::inode(listener)), [netns], "listed once");
        }
    }
    // Owners as with one namespace: this process holds all of them.
    for r in rows
        .iter()
        .filter(|r| [ours_netns, their_netns, named_netns].contains(&r.netns))
    {
        let pids: Vec<u32> = r.owners.iter().flatten().map(|o| o.pid).collect();
        assert!(pids.contains(&std::process::id()), "{r:?}");
    }
    // RAW sockets of another namespace (from its /proc/net/raw without raw_diag), by name
    // and among all.
    for args in [&["-wa", "--netns", &named.0][..], &["-wa", "--all-netns"]] {
        let rows: Vec<(u64, u32)> = list_json(args)
            .iter()
            .filter(|r| r.netns == named_netns)
            .map(|r| (r.netns, r.inode))
            .collect();
        assert_eq!(rows, [(named_netns, common::inode(&raw))], "{args:?}");
    }

    // The table has a Netns column first.
    let text = common::sockdiag_ok(&["list", "-tl", "--all-netns"]);
    assert!(text.starts_with("Netns      Netid State"), "{text}");
    let row = format!("{named_netns:<10} tcp   LISTEN ");
    assert_eq!(text.lines().filter(|l| l.starts_with(&row)).count(), 1, "{text}");
    drop((child, raw, named));
}

/// `-a` with `--state` or a state word: the state wins, as in ss (`-tan --state established`,
/// `-l --state time-wait`, `-ta state established`).
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn named_states_win_over_all_and_listening() {
    if !common::private_netns("named_states_win_over_all_and_listening") {
        return;
    }
    let p = Population::build("state-wins");
    let tcp = |state: &'static str| move |k: &Key| k.proto == "tcp" && k.state == state;
    p.check(&["-tan", "--state", "established"], tcp("ESTABLISHED"));
    p.check(&["-t", "-l", "--state", "time-wait"], tcp("TIME_WAIT"));
    p.check(&["-ta", "state", "established"], tcp("ESTABLISHED"));
    p.check(&["-tl", "state", "established"], tcp("ESTABLISHED"));
    p.check(&["-ta", "exclude", "established"], |k| {
        k.proto == "tcp" && k.state != "ESTABLISHED"
    });
}

/// A bound socket in flight (sent with SCM_RIGHTS, its sender's fd closed): listed with no
/// owner, and one line on stderr says nobody inspected holds it, and why that may be.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn bound_socket_in_flight_is_one_note() {
    if !common::private_netns("bound_socket_in_flight_is_one_note") {
        return;
    }
    let bound = common::tcp_bound("127.0.0.1:6000");
    let inode = common::inode(&bound);
    let (sender, _receiver) = UnixStream::pair().expect("socketpair");
    {
        use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        let fds = [std::os::fd::AsFd::as_fd(&bound)];
        assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
        rustix::net::sendmsg(
            &sender,
            &[std::io::IoSlice::new(b"x")],
            &mut control,
            SendFlags::empty(),
        )
        .expect("sendmsg");
    }
    drop(bound);

    let out = common::sockdiag(&["list", "-ta", "-p", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rows: Vec<JsonRow> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let notes: Vec<String> = stderr_lines(&out)
        .into_iter()
        .filter(|l| l.contains("bound-inactive"))
        .collect();
    if !common::dumps_bound_inactive() {
        // Before 6.8 no dump returns it: list says once that it cannot show such sockets.
        assert!(rows.iter().all(|r| r.inode != inode), "{rows:?}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("(< 6.8) does not dump bound-inactive"),
            "{notes:?}"
        );
        return;
    }
    let row = rows.iter().find(|r| r.inode == inode).expect("still dumped");
    assert_eq!(
        (row.state.as_str(), row.owners.as_deref()),
        ("CLOSE", Some(&[][..]))
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0]
            .starts_with("sockdiag: 1 bound-inactive socket(s) are held by no process inspected: in flight"),
        "{notes:?}"
    );
    // Without -p nothing is said: owners were not looked for.
    let out = common::sockdiag(&["list", "-ta"]);
    assert_eq!(stderr_lines(&out), Vec::<String>::new());
}
