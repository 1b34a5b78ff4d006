//! Integration tests of `sockdiag summary`: the binary run against real sockets built in
//! private network namespaces, each of a kind that ss's `closed` counts (man/closed.md)
//! with its inode known, so that every term of the reconciliation is checked against
//! ground truth rather than against a quiet machine.
//!
//! What can be asserted exactly and what cannot:
//!
//! - Per-netns counters (`sockets: used`, TCP/TCP6 `inuse`, `tw`, snmp `CurrEstab`, UDP, RAW,
//!   FRAG) belong to the test's own namespace: exact.
//! - `TCP: alloc` and `TCP: orphan` are global: other tests of this binary, other test binaries
//!   and anything else on the machine move them at any time. Figures derived from them
//!   (`TCP:` total, `closed`, `orphaned`) are compared with a live `ss -s` only when two `ss -s`
//!   around the run agree and sockdiag says its counters settled; otherwise only the
//!   identities that cancel alloc out are checked. The reconciliation itself is checked through
//!   the tool's own bookkeeping: the terms always sum to `reported`.
//! - Other tests of this binary hold sockets in their own namespaces from this same process:
//!   they show up as `other_netns` entries "found through a socket". Assertions are on the
//!   test's own namespace and on the second namespace it made, never on the whole list.

mod common;

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde::Deserialize;

// ---------------------------------------------------------------------------------------------
// The JSON contract (src/reconcile.rs `Report`), every field, nested ones too: a renamed,
// added or removed field fails every test that reads a report.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    netns: u64,
    view: String,
    ss: SsFigures,
    closed: ClosedTerms,
    other_netns: Vec<OtherNetnsCount>,
    close_sockets: Vec<CloseSocket>,
    processes: ScanStats,
    privileges: Privileges,
    consistency: Consistency,
    saved_ss: Option<Vec<FigureComparison>>,
    saved_ss_explained: Option<SavedExplanation>,
    findings: Vec<Finding>,
    notes: Vec<String>,
}

/// `saved_ss_explained`: a saved `ss -s` explained from its own arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedExplanation {
    closed: i64,
    timewait: i64,
    alloc: i64,
    hashed: i64,
    unhashed_or_elsewhere: i64,
    consistent: bool,
}

/// `findings`: what the reconciliation found, as data (the man page lists every kind).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Finding {
    TimewaitSplit { time_wait: u64, fin_wait2: u64 },
    BoundInactiveNotDumped,
    MissingCapability { capability: String, hides: String },
    ProcessesDenied { denied: u32, total: u32 },
    ProcessesVanished { count: u32 },
    NamespacesNotEntered { count: u32 },
    Counted { count: u32 },
    Unplaced { count: u64 },
    PlacedByHolder { count: u64 },
    ChangedSinceDump { count: u64 },
    ClosedDuringWalk { count: u64 },
    UnownedBoundInactive { count: u64 },
    MptcpSubflows(MptcpShare),
    InterruptedDumps { count: u32 },
    Undecodable { detail: String },
    Unsupported { proto: String },
    Unsettled { attempts: u32 },
    Unexplained { count: i64, drift: i64 },
    ContainerView { hidden: i64, drift: i64 },
    Overcounted { count: i64, drift: i64 },
    SavedSsDiffers { figures: Vec<String> },
}

/// `mptcp_subflows`: the MPTCP share of `unbound` and `bound_inactive` (tests/mptcp.rs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct MptcpShare {
    unbound: u64,
    bound_inactive: u64,
    unasked: u64,
}

/// `privileges`: our uid, the capabilities held among those the full picture needs, and
/// what each missing one hides.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Privileges {
    uid: u32,
    capabilities: Vec<String>,
    missing: Vec<MissingCapability>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct MissingCapability {
    capability: String,
    hides: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SsFigures {
    total: u64,
    tcp_total: u64,
    estab: u64,
    closed: i64,
    orphaned: u64,
    timewait: u64,
    raw: TransportRow,
    udp: TransportRow,
    tcp: TransportRow,
    inet: TransportRow,
    frag: TransportRow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransportRow {
    total: u64,
    ip: u64,
    ipv6: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClosedTerms {
    reported: i64,
    time_wait: u64,
    bound_inactive: Option<u64>,
    unbound: u64,
    other_netns: u64,
    unexplained: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OtherNetnsCount {
    netns: u64,
    name: String,
    tcp: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CloseKind {
    BoundInactive,
    Unbound,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseSocket {
    inode: u32,
    family: String,
    local: Option<String>,
    kind: CloseKind,
    owners: Vec<Owner>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Owner {
    pid: u32,
    comm: String,
    fd: u32,
    cgroup: Option<String>,
    container: Option<Container>,
}

/// The cgroup of this process, as `/proc/self/cgroup` gives it.
fn own_cgroup() -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    sockdiag::collect::cgroup::parse_proc_cgroup(text.as_bytes())
        .map(|path| String::from_utf8_lossy(&path).into_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Container {
    runtime: String,
    id: String,
    #[serde(default)]
    pod: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanStats {
    scanned: u32,
    denied: u32,
    vanished: u32,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct Consistency {
    attempts: u32,
    settled: bool,
    drift: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FigureComparison {
    figure: String,
    saved: i64,
    live: i64,
    diff: i64,
}

// ---------------------------------------------------------------------------------------------
// `ss -s` as text: the test's own model of iproute2's `print_summary`, checked against the live
// ss in `ss_block_equals_live_ss_s`.

/// The figures of an `ss -s` output (iproute2 4.17 and later).
fn parse_ss_s(text: &str) -> SsFigures {
    let number = |word: &str| -> i64 {
        let word = word.trim_end_matches([',', ')']);
        word.parse()
            .unwrap_or_else(|_| panic!("`{word}` in ss -s output:\n{text}"))
    };
    let (mut total, mut tcp_line, mut rows) = (None, None, Vec::new());
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Total:", n] => total = Some(number(n) as u64),
            // TCP:   N (estab N, closed N, orphaned N, timewait N)
            ["TCP:", n, "(estab", e, "closed", c, "orphaned", o, "timewait", t] => {
                tcp_line = Some([n, e, c, o, t].map(|w| number(w)))
            }
            [label @ ("RAW" | "UDP" | "TCP" | "INET" | "FRAG"), t, ip, ipv6] => rows.push((
                *label,
                TransportRow {
                    total: number(t) as u64,
                    ip: number(ip) as u64,
                    ipv6: number(ipv6) as u64,
                },
            )),
            _ => {}
        }
    }
    let row = |label: &str| {
        rows.iter()
            .find(|(l, _)| *l == label)
            .unwrap_or_else(|| panic!("no {label} row in ss -s output:\n{text}"))
            .1
    };
    let [tcp_total, estab, closed, orphaned, timewait] =
        tcp_line.unwrap_or_else(|| panic!("no TCP: line in ss -s output:\n{text}"));
    SsFigures {
        total: total.unwrap_or_else(|| panic!("no Total: line in ss -s output:\n{text}")),
        tcp_total: tcp_total as u64,
        estab: estab as u64,
        closed,
        orphaned: orphaned as u64,
        timewait: timewait as u64,
        raw: row("RAW"),
        udp: row("UDP"),
        tcp: row("TCP"),
        inet: row("INET"),
        frag: row("FRAG"),
    }
}

/// What `ss -s` prints for `f`, byte for byte: misc/ss.c `print_summary`, `%-9d` columns and a
/// tab after each row label, final blank line included.
fn render_ss_s(f: &SsFigures) -> String {
    let mut text = format!(
        "Total: {}\nTCP:   {} (estab {}, closed {}, orphaned {}, timewait {})\n\n\
         Transport Total     IP        IPv6\n",
        f.total, f.tcp_total, f.estab, f.closed, f.orphaned, f.timewait
    );
    for (label, row) in [
        ("RAW", f.raw),
        ("UDP", f.udp),
        ("TCP", f.tcp),
        ("INET", f.inet),
        ("FRAG", f.frag),
    ] {
        text.push_str(&format!(
            "{label}\t  {:<9} {:<9} {:<9}\n",
            row.total, row.ip, row.ipv6
        ));
    }
    text.push('\n');
    text
}

/// The figures that only sockets of the namespace read move (`Total` aside, see
/// [`settle_rcu`]): they must match exactly, whatever the rest of the machine does.
fn per_netns(f: &SsFigures) -> (u64, u64, [TransportRow; 5]) {
    (f.estab, f.timewait, [f.raw, f.udp, f.tcp, f.inet, f.frag])
}

/// The figures made of the global `TCP: alloc` and `TCP: orphan`.
fn global(f: &SsFigures) -> (u64, i64, u64) {
    (f.tcp_total, f.closed, f.orphaned)
}

/// `TCP: alloc` cancels out of `tcp_total − closed` = (alloc + tw) − (alloc − inuse4 − inuse6 + tw):
/// an identity of one read of the counters that holds however busy the machine is.
fn assert_alloc_cancels_out(f: &SsFigures) {
    assert_eq!(
        f.tcp_total as i64 - f.closed,
        f.tcp.total as i64,
        "tcp_total - closed != inuse: {f:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Running sockdiag.

/// `sockdiag summary --json ARGS` in the calling thread's namespace, exit status 0 or 1.
fn summary(args: &[&str]) -> (Report, Output) {
    let args = [&["summary", "--json"], args].concat();
    let out = common::sockdiag(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "sockdiag {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (parse_report(&out.stdout), out)
}

fn parse_report(stdout: &[u8]) -> Report {
    serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("JSON report: {e}\n{}", String::from_utf8_lossy(stdout)))
}

/// `sockdiag summary --json ARGS`, expected to exit 0.
fn summary_ok(args: &[&str]) -> Report {
    let (report, out) = summary(args);
    assert!(out.status.success(), "exit {}: {:?}", out.status, report.closed);
    report
}

/// Runs sockdiag with `stdin` on its standard input.
fn sockdiag_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockdiag"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sockdiag");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait sockdiag")
}

/// An error run: exit 2, nothing on stdout, exactly one stderr line `sockdiag: …`; returns it.
fn single_error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected:\n{stderr}");
    assert!(lines[0].starts_with("sockdiag: "), "{stderr}");
    lines[0].to_owned()
}

/// Netlink sockets are freed an RCU grace period after close (`netlink_release` →
/// `call_rcu`), and `sockets: used` drops only then (`__sk_free`): the `ip` of
/// [`common::enter_private_netns`] or a previous sockdiag run still counts in `Total` for a few
/// milliseconds. Wait that out before a reading that compares `Total`.
fn settle_rcu() {
    std::thread::sleep(Duration::from_millis(50));
}

/// The bookkeeping that holds whatever the machine does: the terms sum to `reported`, which is
/// ss's `closed`; `other_netns` is the sum of the namespaces listed; `close_sockets` lists
/// exactly the sockets of the `bound_inactive` and `unbound` terms.
fn assert_terms_add_up(report: &Report) {
    let c = report.closed;
    assert_eq!(c.reported, report.ss.closed);
    // An unexplained part beyond the measured drift is always a finding, and only then.
    let beyond = c.unexplained.abs() > report.consistency.drift;
    let found = report
        .findings
        .iter()
        .any(|f| matches!(f, Finding::Unexplained { .. } | Finding::Overcounted { .. }));
    assert_eq!(
        beyond, found,
        "{c:?} {:?} {:?}",
        report.consistency, report.findings
    );
    assert!(report.consistency.drift >= 0, "{:?}", report.consistency);
    let listed: u64 = report.other_netns.iter().filter_map(|o| o.tcp).sum();
    assert_eq!(listed, c.other_netns, "{:?}", report.other_netns);
    assert!(
        report.other_netns.iter().all(|o| o.netns != report.netns),
        "own netns listed as other"
    );
    let count = |kind| report.close_sockets.iter().filter(|s| s.kind == kind).count() as u64;
    assert_eq!(count(CloseKind::BoundInactive), c.bound_inactive.unwrap_or(0));
    // Null exactly where the kernel does not dump bound-inactive sockets, and a note says so.
    assert_eq!(
        c.bound_inactive.is_some(),
        common::dumps_bound_inactive(),
        "{c:?}"
    );
    if c.bound_inactive.is_none() {
        let note = |n: &String| n.contains("(< 6.8) does not dump bound-inactive");
        assert!(report.notes.iter().any(note), "{:?}", report.notes);
    }
    assert_eq!(count(CloseKind::Unbound), c.unbound);
}

// ---------------------------------------------------------------------------------------------
// Sockets with known inodes.

/// Explicit ports of the bound-inactive sockets (private namespace: nothing else binds them).
const BOUND_ONLY: &str = "127.0.0.1:6000";
const BOUND_REFUSED: &str = "127.0.0.1:6001";
/// A port nobody listens on.
const NOBODY: &str = "127.0.0.1:1";

/// A TCP_CLOSE socket sockdiag must list, as this test knows it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    kind: CloseKind,
    inode: u32,
    family: &'static str,
    local: Option<String>,
    fd: u32,
}

impl Expected {
    fn new(kind: CloseKind, fd: &OwnedFd, family: &'static str, local: Option<&str>) -> Self {
        Expected {
            kind,
            inode: common::inode(fd),
            family,
            local: local.map(str::to_owned),
            fd: common::raw_fd(fd),
        }
    }

    /// An IPv4 socket bound to `local` and never listened or connected: bound-inactive, or,
    /// before Linux 6.8 (not dumped), unbound without an address, found by the fd scan.
    fn bound(fd: &OwnedFd, local: &str) -> Self {
        if common::dumps_bound_inactive() {
            Expected::new(CloseKind::BoundInactive, fd, "inet", Some(local))
        } else {
            Expected::new(CloseKind::Unbound, fd, "inet", None)
        }
    }
}

/// The expected (bound_inactive, unbound) terms for `bound` bound-only sockets and `unbound`
/// others: before Linux 6.8, bound_inactive is null and the bound ones count as unbound.
fn bound_and_unbound(bound: u64, unbound: u64) -> (Option<u64>, u64) {
    if common::dumps_bound_inactive() {
        (Some(bound), unbound)
    } else {
        (None, bound + unbound)
    }
}

/// Checks `close_sockets` against `expected` exactly (inode, kind, family, local address), and
/// that each socket's owners include this process with the right fd.
fn assert_close_sockets(report: &Report, mut expected: Vec<Expected>) {
    let mut listed: Vec<_> = report
        .close_sockets
        .iter()
        .map(|s| (s.kind, s.inode, s.family.as_str(), s.local.clone()))
        .collect();
    listed.sort();
    expected.sort();
    let wanted: Vec<_> = expected
        .iter()
        .map(|e| (e.kind, e.inode, e.family, e.local.clone()))
        .collect();
    assert_eq!(listed, wanted, "close_sockets");
    let pid = std::process::id();
    for e in &expected {
        let socket = report
            .close_sockets
            .iter()
            .find(|s| s.inode == e.inode)
            .expect("listed");
        assert!(
            socket.owners.iter().any(|o| o.pid == pid
                && o.fd == e.fd
                && !o.comm.is_empty()
                && o.cgroup == own_cgroup()
                && o.container.is_none()),
            "inode {}: owners {:?} lack pid {pid} fd {} in our cgroup",
            e.inode,
            socket.owners,
            e.fd
        );
    }
}

/// One socket of every kind man/closed.md sorts, built in the calling thread's (private)
/// namespace and held until dropped.
#[allow(dead_code)] // the full sockets are only held open, for their effect on the counters
struct Population {
    /// `socket()` only: never dumped, counted in alloc, not in inuse.
    never_bound_v4: OwnedFd,
    never_bound_v6: OwnedFd,
    /// Bound to an explicit port and nothing else: dumped as bound-inactive (state CLOSE).
    bound_only: OwnedFd,
    /// Bound to an explicit port, connect refused: `SOCK_BINDPORT_LOCK` keeps the port, so the
    /// socket is still dumped as bound-inactive.
    bound_refused: OwnedFd,
    /// Bound to port 0, connect refused: the kernel released the autobound port, nothing
    /// dumps it any more.
    autobound_refused: OwnedFd,
    listener: TcpListener,
    listener_v6: TcpListener,
    pair: (TcpStream, TcpStream),
    /// The server side of the connection whose client became a FIN_WAIT2 minisock.
    close_wait: TcpStream,
}

impl Population {
    /// Also leaves a TIME_WAIT and a FIN_WAIT2 timewait minisock behind (60 s lifetime).
    fn build() -> Self {
        let autobound_refused = common::tcp_bound("127.0.0.1:0");
        common::refused_connect(&autobound_refused, NOBODY);
        let bound_refused = common::tcp_bound(BOUND_REFUSED);
        common::refused_connect(&bound_refused, NOBODY);
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        common::make_time_wait(&listener);
        let (close_wait, _) = common::make_fin_wait2(&listener);
        Population {
            never_bound_v4: common::tcp_socket(false),
            never_bound_v6: common::tcp_socket(true),
            bound_only: common::tcp_bound(BOUND_ONLY),
            bound_refused,
            autobound_refused,
            pair: common::connected_pair(&listener),
            listener,
            listener_v6: TcpListener::bind("[::1]:0").expect("listen on ::1"),
            close_wait,
        }
    }

    fn expected_close_sockets(&self) -> Vec<Expected> {
        use CloseKind::Unbound;
        vec![
            Expected::bound(&self.bound_only, BOUND_ONLY),
            Expected::bound(&self.bound_refused, BOUND_REFUSED),
            Expected::new(Unbound, &self.never_bound_v4, "inet", None),
            Expected::new(Unbound, &self.never_bound_v6, "inet6", None),
            Expected::new(Unbound, &self.autobound_refused, "inet", None),
        ]
    }

    /// The per-netns figures `ss -s` must print for this namespace.
    fn expected_per_netns() -> (u64, u64, [TransportRow; 5]) {
        let zero = TransportRow {
            total: 0,
            ip: 0,
            ipv6: 0,
        };
        // inuse: the two listeners, both ends of the pair and the CLOSE_WAIT end; the minisocks
        // left the hash at the handover, the TCP_CLOSE sockets never entered it.
        let tcp = TransportRow {
            total: 5,
            ip: 4,
            ipv6: 1,
        };
        // estab: CurrEstab counts ESTABLISHED (the pair) and CLOSE_WAIT.
        (3, 2, [zero, zero, tcp, tcp, zero])
    }

    /// `sockets: used` of the namespace: every socket above (the minisocks are not sockets).
    const SOCKETS: u64 = 10;
}

/// A second private network namespace with TCP sockets in it, made by a helper thread that
/// also leaves a `sleep 30` child there: sockdiag finds namespaces through the processes in
/// them (`/proc/PID/ns/net`). The child, which this test started, is killed on drop.
struct SecondNetns<T> {
    netns: u64,
    sleeper: Child,
    sockets: T,
}

impl<T: Send + 'static> SecondNetns<T> {
    fn new(build: impl FnOnce() -> T + Send + 'static) -> Self {
        std::thread::spawn(move || {
            common::enter_private_netns();
            // Spawned before the sockets exist: common's rustix sockets are not O_CLOEXEC, and
            // the child must not hold them (their only holder is this process, whose
            // /proc/PID/ns/net is neither namespace).
            let sleeper = Command::new("sleep")
                .arg("30")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn sleep");
            let sockets = build();
            SecondNetns {
                netns: common::current_netns(),
                sleeper,
                sockets,
            }
        })
        .join()
        .expect("second netns thread")
    }

    fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.sleeper.id())
    }
}

impl<T> Drop for SecondNetns<T> {
    fn drop(&mut self) {
        let _ = self.sleeper.kill();
        let _ = self.sleeper.wait();
    }
}

/// A directory unique to the test, removed on drop.
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new() -> Self {
        TempDir(tempfile::tempdir().expect("create temp dir"))
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write temp file");
        path
    }

    fn path(&self) -> &str {
        self.0.path().to_str().expect("utf-8 temp path")
    }
}

const SOCKSTAT_POPULATED: &str = include_str!("fixtures/sockstat-6.18-populated-netns.txt");
const SNMP_POPULATED: &str = include_str!("fixtures/snmp-6.18-populated-netns.txt");

/// A /proc tree with only `net/sockstat` and `net/snmp` (no sockstat6: IPv6 disabled) and no
/// process directory.
fn fake_proc(sockstat: &str) -> TempDir {
    let root = TempDir::new();
    root.write("net/sockstat", sockstat);
    root.write("net/snmp", SNMP_POPULATED);
    root
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// Every term of `closed` against the sockets built, in this namespace and in a second one.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn closed_terms_match_the_sockets_built() {
    if !common::require_root("closed_terms_match_the_sockets_built") {
        return;
    }
    // From its own thread: listener + connected pair + never-bound socket, four full TCP
    // sockets. The never-bound one is dumped by nobody and held only by this process, whose
    // /proc/PID/ns/net (the main thread's) is neither namespace: sockdiag must place it from
    // the socket itself (pidfd_getfd + SIOCGSKNS). Made first, so that its `sleep` does not
    // inherit the sockets below.
    let second = SecondNetns::new(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let pair = common::connected_pair(&listener);
        (listener, pair, common::tcp_socket(false))
    });
    common::enter_private_netns();
    let netns = common::current_netns();
    let population = Population::build();

    let (report, out) = summary(&["--check"]);

    assert_eq!(report.netns, netns);
    let c = report.closed;
    assert_eq!(c.time_wait, 2, "one TIME_WAIT and one FIN_WAIT2 minisock: {c:?}");
    // Bound-only and explicit-port refused; never-bound v4 and v6, autobound refused.
    assert_eq!((c.bound_inactive, c.unbound), bound_and_unbound(2, 3), "{c:?}");
    assert!(
        report.findings.contains(&Finding::TimewaitSplit {
            time_wait: 1,
            fin_wait2: 1
        }),
        "timewait substates: {:?}",
        report.findings
    );
    assert_eq!(report.notes.len(), report.findings.len(), "one note per finding");
    assert_close_sockets(&report, population.expected_close_sockets());

    let entry = report
        .other_netns
        .iter()
        .find(|o| o.netns == second.netns)
        .unwrap_or_else(|| panic!("netns {} missing: {:?}", second.netns, report.other_netns));
    assert_eq!(entry.tcp, Some(4), "listener, pair, never-bound: {entry:?}");
    assert_eq!(entry.name, format!("pid {} (sleep)", second.sleeper.id()));

    assert_terms_add_up(&report);
    assert!(report.processes.scanned > 0, "{:?}", report.processes);
    assert!(
        (1..=3).contains(&report.consistency.attempts),
        "{:?}",
        report.consistency
    );
    assert_eq!(per_netns(&report.ss), Population::expected_per_netns());
    assert_alloc_cancels_out(&report.ss);
    assert_eq!(report.saved_ss.as_ref().map(Vec::len), None);
    // --check: 1 exactly when something is left unexplained beyond the drift.
    assert_eq!(
        out.status.code(),
        Some(i32::from(c.unexplained.abs() > report.consistency.drift)),
        "{c:?}"
    );
}

/// The `ss` block is what a live `ss -s` prints in the same namespace.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn ss_block_equals_live_ss_s() {
    if !common::private_netns("ss_block_equals_live_ss_s") {
        return;
    }
    let _population = Population::build();

    let (mut total_checked, mut global_checked) = (false, false);
    let mut totals = Vec::new();
    for _attempt in 0..5 {
        settle_rcu();
        let before_text = common::ss(&["-s"]);
        let report = summary_ok(&[]);
        settle_rcu();
        let before = parse_ss_s(&before_text);
        let after = parse_ss_s(&common::ss(&["-s"]));

        // The test's model of ss's output is ss's output.
        assert_eq!(render_ss_s(&before), before_text);
        // Nothing but this test touches these: exact on every attempt, and as built.
        assert_eq!(per_netns(&report.ss), per_netns(&before));
        assert_eq!(per_netns(&before), Population::expected_per_netns());
        assert_alloc_cancels_out(&report.ss);
        assert_alloc_cancels_out(&before);
        assert_terms_add_up(&report);

        // Total is per netns too, but commands' netlink sockets linger in it for an RCU grace
        // period, and the `summary` of a parallel test that finds a process of this namespace
        // (sockdiag, ss) opens a sock_diag socket here for its dump: compare it when both ss
        // runs saw the population alone, and try again if sockdiag saw one socket more or less.
        // sockdiag's own sockets must not count; ss itself opens no socket.
        totals.push((before.total, report.ss.total, after.total));
        if before.total == after.total && before.total == Population::SOCKETS {
            total_checked |= report.ss.total == before.total;
        }
        // alloc and orphan are global: compare when nothing moved around the run.
        // settled says the namespace's own counters held still; drift 0 that alloc did too.
        if global(&before) == global(&after) && report.consistency.settled && report.consistency.drift == 0 {
            assert_eq!(global(&report.ss), global(&before), "{:?}", report.consistency);
            global_checked = true;
        }
        if total_checked && global_checked {
            return;
        }
    }
    assert!(
        total_checked,
        "Total (ss before, sockdiag, ss after) never {} over 5 attempts: {totals:?}",
        Population::SOCKETS
    );
    eprintln!("ss_block_equals_live_ss_s: TCP alloc kept moving; the global figures were not compared");
}

/// The human report, top-down, with more than 20 TCP_CLOSE sockets: the default shows 20 inode
/// rows and says how many more there are; --all shows every one.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn human_report_reads_top_down_and_all_shows_every_row() {
    if !common::private_netns("human_report_reads_top_down_and_all_shows_every_row") {
        return;
    }
    let netns = common::current_netns();
    let bound_only = common::tcp_bound(BOUND_ONLY);
    let never_bound: Vec<OwnedFd> = (0..25).map(|_| common::tcp_socket(false)).collect();

    let json = summary_ok(&[]);
    let text = common::sockdiag_ok(&["summary"]);
    let all = common::sockdiag_ok(&["summary", "--all"]);

    let lines: Vec<&str> = text.lines().collect();
    let find = |what: &dyn Fn(&str) -> bool, name: &str| {
        lines
            .iter()
            .position(|l| what(l))
            .unwrap_or_else(|| panic!("no {name} line in:\n{text}"))
    };
    let heading = find(
        &|l| l.starts_with(&format!("Network namespace {netns}:")),
        "heading",
    );

    // The ss block: ss's exact layout, figures of this namespace.
    let block_start = find(&|l| l.starts_with("Total: "), "Total:");
    let block = lines[block_start..block_start + 10].join("\n") + "\n";
    let figures = parse_ss_s(&block);
    assert_eq!(block, render_ss_s(&figures), "ss -s layout");
    let zero = TransportRow {
        total: 0,
        ip: 0,
        ipv6: 0,
    };
    assert_eq!(per_netns(&figures), (0, 0, [zero; 5]), "no socket in inuse here");
    assert_eq!(per_netns(&figures), per_netns(&json.ss));
    assert_alloc_cancels_out(&figures);
    // The two runs read the global counters at different times: the whole block is the JSON
    // figures rendered when TCP alloc did not move in between.
    if global(&figures) == global(&json.ss) && figures.total == json.ss.total {
        assert_eq!(block, render_ss_s(&json.ss));
    }

    // `closed N =` then its five terms, value in the second column.
    let closed_line = find(&|l| l.starts_with("closed ") && l.ends_with(" ="), "closed N =");
    assert_eq!(lines[closed_line], format!("closed {} =", figures.closed));
    // `n/a`: bound_inactive before Linux 6.8.
    let terms: Vec<(&str, Option<i64>)> = lines[closed_line + 1..closed_line + 6]
        .iter()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let value =
                (words[1] != "n/a").then(|| words[1].parse().unwrap_or_else(|_| panic!("term value: {l}")));
            (words[0], value)
        })
        .collect();
    let names: Vec<&str> = terms.iter().map(|t| t.0).collect();
    assert_eq!(
        names,
        [
            "time_wait",
            "bound_inactive",
            "unbound",
            "other_netns",
            "unexplained"
        ]
    );
    let (bound_inactive, unbound) = bound_and_unbound(1, 25);
    assert_eq!(
        &terms[..3],
        [
            ("time_wait", Some(0)),
            ("bound_inactive", bound_inactive.map(|n| n as i64)),
            ("unbound", Some(unbound as i64))
        ]
    );
    assert_eq!(
        terms.iter().filter_map(|t| t.1).sum::<i64>(),
        figures.closed,
        "terms sum to closed"
    );

    // By process: this process holds the 1 + 25.
    let by_process = find(
        &|l| l == "TCP_CLOSE sockets of this namespace, by process:",
        "by process",
    );
    let pid = std::process::id().to_string();
    let own = lines[by_process..]
        .iter()
        .find(|l| l.split_whitespace().next() == Some(pid.as_str()))
        .unwrap_or_else(|| panic!("no row for pid {pid}:\n{text}"));
    let (bound_inactive, unbound) = (bound_inactive.unwrap_or(0).to_string(), unbound.to_string());
    assert!(
        own.split_whitespace()
            .rev()
            .take(2)
            .eq([&unbound, &bound_inactive]),
        "{own}"
    );

    // Per inode: the first 20 of the 26, then the count of the rest.
    let inode_rows = |text: &str| -> Vec<u32> {
        let lines: Vec<&str> = text.lines().collect();
        let header = lines
            .iter()
            .position(|l| {
                l.split_whitespace()
                    .eq(["inode", "family", "kind", "local", "owners"])
            })
            .unwrap_or_else(|| panic!("no inode table in:\n{text}"));
        lines[header + 1..]
            .iter()
            .map_while(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    };
    let shown = inode_rows(&text);
    let every = inode_rows(&all);
    let mut expected: Vec<u32> = never_bound.iter().map(common::inode).collect();
    expected.sort_unstable();
    expected.insert(0, common::inode(&bound_only)); // bound-inactive rows first
    let dumps_bound_inactive = common::dumps_bound_inactive();
    if !dumps_bound_inactive {
        expected.sort_unstable(); // before 6.8 it is one more unbound socket
    }
    assert_eq!(
        every, expected,
        "--all: every row, bound-inactive first, then by inode"
    );
    assert_eq!(shown, expected[..20], "default: the first 20 rows");
    let more = find(&|l| l == "(6 more; --all shows every row)", "(6 more …)");
    assert!(!all.contains("--all shows every row"), "{all}");
    let row_start = format!("{} ", common::inode(&bound_only));
    let row = all
        .lines()
        .find(|l| l.trim_start().starts_with(&row_start))
        .expect("row");
    if dumps_bound_inactive {
        assert!(
            row.contains(BOUND_ONLY) && row.contains("bound_inactive"),
            "{row}"
        );
    } else {
        assert!(!row.contains(BOUND_ONLY) && row.contains("unbound"), "{row}");
    }
    assert!(
        row.contains(&format!("[{pid}] fd {}", common::raw_fd(&bound_only))),
        "{row}"
    );

    let processes = find(&|l| l.starts_with("Processes: "), "Processes:");
    let order = [heading, block_start, closed_line, by_process, more, processes];
    assert!(order.is_sorted(), "sections out of order {order:?}:\n{text}");
}

/// `--ss FILE` and `--ss -`: each figure of a saved `ss -s` next to the live one.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn saved_ss_from_a_file_and_from_stdin() {
    if !common::private_netns("saved_ss_from_a_file_and_from_stdin") {
        return;
    }
    let _population = Population::build();
    let saved_text = common::ss(&["-s"]);
    let saved = parse_ss_s(&saved_text);
    let dir = TempDir::new();
    let file = dir.write("ss-s.txt", &saved_text);

    let from_file = summary_ok(&["--ss", file.to_str().expect("utf-8")]);
    let out = sockdiag_with_stdin(&["summary", "--json", "--ss", "-"], &saved_text);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let from_stdin = parse_report(&out.stdout);

    // The figure names of the JSON are the library's one list of them.
    let figure_names: Vec<&str> = sockdiag::figures::Figure::ALL.iter().map(|f| f.name()).collect();
    let cells = |row: TransportRow| [row.total, row.ip, row.ipv6].map(|n| n as i64);
    let values = |f: &SsFigures| -> Vec<i64> {
        let mut v = vec![f.total as i64, f.tcp_total as i64, f.estab as i64, f.closed];
        v.extend([f.orphaned as i64, f.timewait as i64]);
        for row in [f.raw, f.udp, f.tcp, f.inet, f.frag] {
            v.extend(cells(row));
        }
        v
    };
    for report in [&from_file, &from_stdin] {
        // The saved figures explained on their own: closed = timewait + (alloc - hashed).
        let explained = report.saved_ss_explained.expect("saved_ss_explained");
        assert_eq!(
            explained,
            SavedExplanation {
                closed: saved.closed,
                timewait: saved.timewait as i64,
                alloc: (saved.tcp_total - saved.timewait) as i64,
                hashed: saved.tcp.total as i64,
                unhashed_or_elsewhere: (saved.tcp_total - saved.timewait) as i64 - saved.tcp.total as i64,
                consistent: true,
            }
        );
        assert_eq!(report.view, "host");
        let rows = report.saved_ss.as_ref().expect("saved_ss rows");
        let names: Vec<&str> = rows.iter().map(|r| r.figure.as_str()).collect();
        assert_eq!(names, figure_names, "one row per figure, in ss's order");
        let saved_values: Vec<i64> = rows.iter().map(|r| r.saved).collect();
        assert_eq!(saved_values, values(&saved), "saved = what ss printed");
        let live_values: Vec<i64> = rows.iter().map(|r| r.live).collect();
        assert_eq!(live_values, values(&report.ss), "live = the report's figures");
        for row in rows {
            assert_eq!(row.diff, row.live - row.saved, "{row:?}");
            // The per-netns figures of a namespace nobody else uses did not move. The global
            // ones may have; Total is compared in `ss_block_equals_live_ss_s`, which waits out
            // the netlink sockets that linger in it.
            let elsewhere = ["total", "tcp_total", "closed", "orphaned"].contains(&row.figure.as_str());
            if !elsewhere {
                assert_eq!(row.diff, 0, "{row:?}");
            }
        }
        assert_terms_add_up(report);
    }
}

/// A garbled or missing `--ss` file: exit 2 before any work, one line naming the problem.
#[test]
fn garbled_or_missing_saved_ss_is_one_error_line() {
    let garbled = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ss-s-garbled.txt");
    let line = single_error_line(&common::sockdiag(&["summary", "--ss", garbled]));
    // Line 7 of the paste is `UDP  6  4O  2`: a letter O for a zero.
    assert!(
        line.starts_with(&format!("sockdiag: --ss {garbled}: line 7: ")),
        "{line}"
    );
    assert!(line.contains("`4O`"), "{line}");

    let out = sockdiag_with_stdin(
        &["summary", "--ss", "-"],
        &std::fs::read_to_string(garbled).expect("fixture"),
    );
    let line = single_error_line(&out);
    assert!(line.starts_with("sockdiag: --ss -: line 7: "), "{line}");

    let missing = "/nonexistent/sockdiag-test/ss-s.txt";
    let line = single_error_line(&common::sockdiag(&["summary", "--ss", missing]));
    assert!(line.starts_with(&format!("sockdiag: --ss {missing}: ")), "{line}");
    assert!(line.contains("No such file"), "{line}");
}

/// `--check` exits 1 exactly when part of `closed` is unexplained. Counters from a fake /proc
/// and an empty private namespace make both outcomes deterministic: every term is then 0 (no
/// socket here, no process in the fake tree), so unexplained = reported = the fake `closed`.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn check_exits_1_iff_closed_is_unexplained() {
    if !common::private_netns("check_exits_1_iff_closed_is_unexplained") {
        return;
    }
    // closed = alloc - (inuse - tw) = 2 - (3 - 1) = 0.
    let balanced = fake_proc(
        "sockets: used 3\nTCP: inuse 3 orphan 0 tw 1 alloc 2 mem 1\nUDP: inuse 0 mem 0\nRAW: inuse 0\n\
         FRAG: inuse 0 memory 0\n",
    );
    let populated = fake_proc(SOCKSTAT_POPULATED);
    for (root, reported) in [(&balanced, 0), (&populated, 27)] {
        let (report, out) = summary(&["--check", "--proc-root", root.path()]);
        // Counters of the fake tree, terms of this empty namespace. Only namespaces named in
        // the real /run/netns (none on a test machine) could add to other_netns.
        assert_eq!(report.closed.reported, reported);
        if report.closed.other_netns == 0 {
            assert_eq!(report.closed.unexplained, reported, "{:?}", report.closed);
        }
        assert_eq!(
            out.status.code(),
            Some(i32::from(
                report.closed.unexplained.abs() > report.consistency.drift
            )),
            "{:?}",
            report.closed
        );
        // Without --check the same report exits 0.
        let (_, out) = summary(&["--proc-root", root.path()]);
        assert_eq!(out.status.code(), Some(0));
    }
}

/// `--proc-root DIR` with sockstat and snmp captured in a populated namespace and no
/// sockstat6 (IPv6 disabled): ss's figures from the files, IPv6 column 0.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn fake_proc_root_without_sockstat6() {
    if !common::private_netns("fake_proc_root_without_sockstat6") {
        return;
    }
    let root = fake_proc(SOCKSTAT_POPULATED);
    let report = summary_ok(&["--proc-root", root.path()]);

    let row = |ip| TransportRow {
        total: ip,
        ip,
        ipv6: 0,
    };
    // sockets: used 42; TCP: inuse 15 orphan 0 tw 7 alloc 35; UDP 4; RAW 1; FRAG 0; CurrEstab 20.
    // No sockstat6: every IPv6 count is 0, so closed = alloc - (inuse4 - tw).
    let expected = SsFigures {
        total: 42,
        tcp_total: 35 + 7,
        estab: 20,
        closed: 35 - (15 - 7),
        orphaned: 0,
        timewait: 7,
        raw: row(1),
        udp: row(4),
        tcp: row(15),
        inet: row(20),
        frag: row(0),
    };
    assert_eq!(report.ss, expected);
    assert_eq!(
        (
            report.processes.scanned,
            report.processes.denied,
            report.processes.vanished
        ),
        (0, 0, 0),
        "no pid directory in the fake tree"
    );
    // The counters are constant: the first census settles.
    assert_eq!(
        (
            report.consistency.attempts,
            report.consistency.settled,
            report.consistency.drift
        ),
        (1, true, 0)
    );
    // The live dump of this empty namespace finds nothing.
    let c = report.closed;
    assert_eq!((c.bound_inactive, c.unbound), bound_and_unbound(0, 0));
    assert_eq!(c.time_wait, 0);
    assert_terms_add_up(&report);
}

/// A garbled `DIR/net/sockstat`: exit 2, one line naming the file and the line.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn garbled_proc_sockstat_is_one_error_line() {
    if !common::private_netns("garbled_proc_sockstat_is_one_error_line") {
        return;
    }
    let garbled = SOCKSTAT_POPULATED.replace("alloc 35", "alloc 3S");
    assert_ne!(garbled, SOCKSTAT_POPULATED);
    let root = fake_proc(&garbled);
    for args in [&["summary"][..], &["summary", "--json"]] {
        let args = [args, &["--proc-root", root.path()]].concat();
        let line = single_error_line(&common::sockdiag(&args));
        assert!(line.contains("net/sockstat line 2: `alloc` is `3S`"), "{line}");
    }
}

/// `--netns /proc/PID/ns/net`: the summary is of that namespace, with its own terms.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn netns_flag_reads_that_namespace() {
    if !common::private_netns("netns_flag_reads_that_namespace") {
        return;
    }
    let caller = common::current_netns();
    let second = SecondNetns::new(|| {
        let bound_only = common::tcp_bound(BOUND_ONLY);
        let never_bound_v6 = common::tcp_socket(true);
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        (bound_only, never_bound_v6, listener)
    });
    let (bound_only, never_bound_v6, _listener) = &second.sockets;

    let report = summary_ok(&["--netns", &second.path()]);
    assert_eq!(report.netns, second.netns);
    assert_ne!(report.netns, caller);
    let c = report.closed;
    assert_eq!(c.time_wait, 0, "{c:?}");
    assert_eq!((c.bound_inactive, c.unbound), bound_and_unbound(1, 1), "{c:?}");
    assert_close_sockets(
        &report,
        vec![
            Expected::bound(bound_only, BOUND_ONLY),
            Expected::new(CloseKind::Unbound, never_bound_v6, "inet6", None),
        ],
    );
    assert_eq!(
        report.ss.tcp,
        TransportRow {
            total: 1,
            ip: 1,
            ipv6: 0
        },
        "the listener"
    );
    assert_eq!((report.ss.estab, report.ss.timewait), (0, 0));
    assert_terms_add_up(&report);
}

/// As an ordinary user: the dump still works, other users' fd tables are closed, and the
/// report names each missing capability and what it hides.
#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn ordinary_user_gets_a_lower_bound() {
    if !common::private_netns("ordinary_user_gets_a_lower_bound") {
        return;
    }
    let bound_only = common::tcp_bound(BOUND_ONLY);
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args([env!("CARGO_BIN_EXE_sockdiag"), "summary", "--json"])
        .output()
        .expect("run setpriv (util-linux)");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = parse_report(&out.stdout);

    assert_eq!(report.privileges.uid, 65534);
    assert!(
        report.privileges.capabilities.is_empty(),
        "{:?}",
        report.privileges
    );
    assert!(
        report.findings.contains(&Finding::MissingCapability {
            capability: "CAP_DAC_READ_SEARCH".into(),
            hides: "other_users_fd_tables".into()
        }),
        "{:?}",
        report.findings
    );
    // At least this (root) test process refused its fd table.
    assert!(report.processes.denied > 0, "{:?}", report.processes);
    assert_terms_add_up(&report);
    if !common::dumps_bound_inactive() {
        // Before 6.8 only the fd scan could find it, and its holder is closed to this user.
        assert!(report.close_sockets.is_empty(), "{:?}", report.close_sockets);
        assert!(report.closed.unexplained >= 1, "{:?}", report.closed);
        return;
    }
    // The kernel dumps the socket to anyone; who holds it is hidden.
    assert_eq!(report.closed.bound_inactive, Some(1));
    assert_eq!(report.close_sockets.len(), 1, "{:?}", report.close_sockets);
    let socket = &report.close_sockets[0];
    assert_eq!(socket.inode, common::inode(&bound_only));
    assert!(socket.owners.is_empty(), "{:?}", socket.owners);
}
