//! MPTCP sockets in every state, in a private network namespace, against `sockdiag summary`:
//! the terms of `closed` still sum exactly to `reported`, the MPTCP share is named
//! (`findings` kind `mptcp_subflows`) and is not left in `unexplained` beyond the drift.
//!
//! Each step pins one fact of `collect` (module docs) on this kernel:
//!
//! | state of the MPTCP socket                 | its first subflow               | term        |
//! |-------------------------------------------|---------------------------------|-------------|
//! | created only                              | none yet: nothing counted       | none        |
//! | created, then a socket option (SO_REUSEADDR) | created, TCP_CLOSE, unhashed | unbound     |
//! | bound                                     | bound-inactive, dumped          | bound_inactive |
//! | connect refused (IPv4, IPv6)              | TCP_CLOSE, port released        | unbound     |
//! | listening, connected, accepted            | hashed (inuse): cancels out     | none        |
//! | fallen back to TCP, then reset            | TCP_CLOSE, asked via TCP_INFO   | unbound     |
//! | connected, closed by the application      | orphan: still hashed            | none        |
//! | closed                                    | freed with it                   | none        |
//!
//! One test, steps in order: every step checks the whole namespace, and sockets of a
//! concurrent test of this binary would be other namespaces' sockets moving `alloc`.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::net::ipproto;
use serde_json::Value;

/// The MPTCP share a step expects in the namespace's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Share {
    unbound: u64,
    bound_inactive: u64,
}

/// An MPTCP socket, or why there is none: MPTCP not built (`EPROTONOSUPPORT`), or
/// `net.mptcp.enabled = 0` in this namespace (`ENOPROTOOPT`).
fn mptcp_socket(v6: bool) -> Result<OwnedFd, rustix::io::Errno> {
    common::stream_socket(v6, ipproto::MPTCP)
}

fn mptcp(v6: bool) -> OwnedFd {
    mptcp_socket(v6).expect("MPTCP socket")
}

/// Whether MPTCP can be tested here; outside CI its absence is a skip that says so, in CI a
/// failure (CI's kernel is this project's machine kernel, which has MPTCP).
fn require_mptcp(test: &str) -> bool {
    let Err(errno) = mptcp_socket(false) else {
        return true;
    };
    let reason = format!(
        "MPTCP is not available on this kernel ({}): socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) failed: {errno}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {reason}");
    }
    eprintln!("SKIPPED {test}: {reason}");
    false
}

/// `sockdiag summary --json` in this namespace (exit 0 or 1).
fn summary() -> Value {
    let out = common::sockdiag(&["summary", "--json"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "sockdiag summary: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// The terms sum exactly to `reported`, which is ss's `closed`. Returns whether
/// `unexplained` is within the drift.
fn terms_sum(report: &Value) -> bool {
    let c = &report["closed"];
    let explained: i64 = ["time_wait", "bound_inactive", "unbound", "other_netns"]
        .iter()
        .map(|term| c[term].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(explained + int(&c["unexplained"]), int(&c["reported"]), "{c}");
    assert_eq!(int(&c["reported"]), int(&report["ss"]["closed"]), "{c}");
    int(&c["unexplained"]).abs() <= int(&report["consistency"]["drift"])
}

/// A summary whose `unexplained` is within the drift: `alloc` is global, and sockets other
/// programs create or free between two counter reads are no term of this namespace. A few
/// tries ride out a busy machine; an MPTCP share left in `unexplained` fails every one.
fn summary_within_drift(step: &str) -> Value {
    let mut report = summary();
    for _ in 0..3 {
        if terms_sum(&report) {
            return report;
        }
        std::thread::sleep(Duration::from_millis(200));
        report = summary();
    }
    panic!(
        "{step}: unexplained beyond the drift: {} {}\nnotes: {}",
        report["closed"], report["consistency"], report["notes"]
    );
}

/// The `mptcp_subflows` finding, as the share it names (none: zero).
fn named_share(report: &Value) -> Share {
    let findings = report["findings"].as_array().expect("findings");
    let mut found = findings.iter().filter(|f| f["kind"] == "mptcp_subflows");
    let Some(f) = found.next() else {
        return Share::default();
    };
    assert!(found.next().is_none(), "one mptcp_subflows finding: {findings:?}");
    assert_eq!(f["unasked"], 0, "root can ask every MPTCP socket: {f}");
    let share = Share {
        unbound: f["unbound"].as_u64().expect("unbound"),
        bound_inactive: f["bound_inactive"].as_u64().expect("bound_inactive"),
    };
    assert!(share != Share::default(), "no finding for an empty share: {f}");
    let note = report["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .any(|n| n.contains("MPTCP socket"));
    assert!(note, "the share is worded in the notes: {}", report["notes"]);
    share
}

/// The close_sockets row of `inode`: (kind, family, local), with this process as an owner.
fn close_row(report: &Value, inode: u32) -> Option<(String, String, Option<String>)> {
    let rows = report["close_sockets"].as_array().expect("close_sockets");
    let mut found = rows.iter().filter(|r| r["inode"] == inode);
    let row = found.next()?;
    assert!(found.next().is_none(), "one row per subflow: {rows:?}");
    let pid = u64::from(std::process::id());
    assert!(
        row["owners"]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o["pid"] == pid)),
        "the MPTCP socket's holder owns its subflow: {row}"
    );
    Some((
        row["kind"].as_str().expect("kind").to_owned(),
        row["family"].as_str().expect("family").to_owned(),
        row["local"].as_str().map(str::to_owned),
    ))
}

/// Waits until `sockets: used` of this thread's namespace is `expected` and says whether it
/// got there. Only this test's sockets are in its private namespace, but the netlink sockets
/// of the commands it ran (`ip`, sockdiag) linger in the count for an RCU grace period.
fn sockets_used_reaches(expected: u64) -> Result<(), u64> {
    let read = || {
        let text = std::fs::read_to_string("/proc/thread-self/net/sockstat").expect("sockstat");
        let used = text
            .lines()
            .find_map(|l| l.strip_prefix("sockets: used "))
            .expect("sockets: used");
        used.trim().parse::<u64>().expect("number")
    };
    let mut used = read();
    for _ in 0..100 {
        if used == expected {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(30));
        used = read();
    }
    Err(used)
}

/// A term of `closed`; `bound_inactive` is null before Linux 6.8 (no such dump), read as 0.
fn term(report: &Value, name: &str) -> i64 {
    match &report["closed"][name] {
        Value::Null if name == "bound_inactive" => 0,
        value => int(value),
    }
}

#[test]
fn mptcp_sockets_in_every_state() {
    const TEST: &str = "mptcp_sockets_in_every_state";
    if !common::private_netns(TEST) || !require_mptcp(TEST) {
        return;
    }
    let base = summary_within_drift("empty namespace");
    assert_eq!(named_share(&base), Share::default());
    let (unbound0, bound0) = (term(&base, "unbound"), term(&base, "bound_inactive"));
    assert_eq!(sockets_used_reaches(0), Ok(()), "an empty namespace");

    // Created only: no subflow yet (`__mptcp_nmpc_sk` runs at the first need), so nothing
    // in TCP alloc: one struct socket, no term. Asking it (MPTCP_TCPINFO) creates none: a
    // second summary still sees one socket.
    let created = mptcp(false);
    let report = summary_within_drift("created");
    if named_share(&report).unbound == 1 {
        // Kernels before the first subflow was made lazily (6.1 here) create it at socket():
        // a TCP socket in TCP_CLOSE from the start, in alloc, held through the MPTCP socket,
        // which sockdiag counts as unbound and names; the states below are those of a kernel
        // that creates it at the first need (6.18 here), checked there.
        assert_eq!(term(&report, "unbound"), unbound0 + 1);
        assert_eq!(
            close_row(&report, common::inode(&created)).map(|r| r.0),
            Some("unbound".to_owned())
        );
        eprintln!(
            "{TEST}: this kernel creates an MPTCP socket's first subflow at socket(): \
             its share is named and the terms sum; the per-state walk needs a kernel with lazy subflows"
        );
        return;
    }
    assert_eq!(named_share(&report), Share::default());
    assert_eq!(close_row(&report, common::inode(&created)), None);
    assert_eq!(sockets_used_reaches(1), Ok(()), "the MPTCP socket alone");
    let report = summary_within_drift("created, asked again");
    assert_eq!(sockets_used_reaches(1), Ok(()), "sockdiag created no subflow");
    assert_eq!(term(&report, "unbound"), unbound0);

    // A socket option the first subflow must carry creates it: a TCP socket in TCP_CLOSE,
    // unhashed, in alloc, in no dump, held through the MPTCP socket: unbound.
    let with_option = mptcp(false);
    rustix::net::sockopt::set_socket_reuseaddr(&with_option, true).expect("SO_REUSEADDR");
    let report = summary_within_drift("created with an option");
    assert_eq!(
        sockets_used_reaches(3),
        Ok(()),
        "a subflow is a kernel struct socket of the namespace"
    );
    assert_eq!(
        named_share(&report),
        Share {
            unbound: 1,
            bound_inactive: 0
        }
    );
    assert_eq!(term(&report, "unbound"), unbound0 + 1);
    assert_eq!(
        int(&report["ss"]["tcp"]["ip"]),
        0,
        "an unhashed subflow is not in inuse"
    );
    assert_eq!(
        close_row(&report, common::inode(&with_option)),
        Some(("unbound".into(), "inet".into(), None)),
        "listed under the MPTCP socket's inode"
    );

    // Bound: the subflow is bound-inactive, dumped (bit 13) under the MPTCP socket's inode.
    let bound = mptcp(false);
    let at: SocketAddr = "127.0.0.1:7100".parse().expect("addr");
    rustix::net::bind(&bound, &at).expect("bind");
    let report = summary_within_drift("bound");
    let bound_inactive_dumped = !report["closed"]["bound_inactive"].is_null();
    let expected = if bound_inactive_dumped {
        assert_eq!(term(&report, "bound_inactive"), bound0 + 1);
        assert_eq!(
            close_row(&report, common::inode(&bound)),
            Some((
                "bound_inactive".into(),
                "inet".into(),
                Some("127.0.0.1:7100".into())
            ))
        );
        Share {
            unbound: 1,
            bound_inactive: 1,
        }
    } else {
        // Before 6.8 no dump returns it: the fd walk finds it as unbound.
        Share {
            unbound: 2,
            bound_inactive: 0,
        }
    };
    assert_eq!(named_share(&report), expected);

    // A refused connect (IPv6): the subflow is back in TCP_CLOSE, its port released: unbound.
    let refused = mptcp(true);
    let nobody: SocketAddr = "[::1]:1".parse().expect("addr");
    assert_eq!(
        rustix::net::connect(&refused, &nobody),
        Err(rustix::io::Errno::CONNREFUSED)
    );
    let refused4 = mptcp(false);
    let nobody4: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    assert_eq!(
        rustix::net::connect(&refused4, &nobody4),
        Err(rustix::io::Errno::CONNREFUSED)
    );
    let report = summary_within_drift("refused");
    let expected = Share {
        unbound: expected.unbound + 2,
        ..expected
    };
    assert_eq!(
        close_row(&report, common::inode(&refused4)),
        Some(("unbound".into(), "inet".into(), None))
    );
    assert_eq!(named_share(&report), expected);
    assert_eq!(
        close_row(&report, common::inode(&refused)),
        Some(("unbound".into(), "inet6".into(), None))
    );

    // --all-netns sees the same share in this namespace (and whatever other namespaces hold).
    let out = common::sockdiag(&["summary", "--all-netns", "--json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let all: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let host_share = all["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["kind"] == "mptcp_subflows")
        .unwrap_or_else(|| panic!("--all-netns names the MPTCP share: {}", all["findings"]));
    assert!(
        host_share["unbound"].as_u64() >= Some(expected.unbound)
            && host_share["bound_inactive"].as_u64() >= Some(expected.bound_inactive),
        "{host_share} covers {expected:?}"
    );

    // Listening, connected, accepted: each subflow is hashed, in inuse as in alloc: in no
    // term, and the share named stays what it was.
    let listener = mptcp(false);
    let port: SocketAddr = "127.0.0.1:7101".parse().expect("addr");
    rustix::net::bind(&listener, &port).expect("bind");
    rustix::net::listen(&listener, 8).expect("listen");
    let client = mptcp(false);
    rustix::net::connect(&client, &port).expect("connect");
    let accepted = rustix::net::accept(&listener).expect("accept");
    let report = summary_within_drift("connected");
    assert_eq!(named_share(&report), expected);
    for fd in [&listener, &client, &accepted] {
        assert_eq!(close_row(&report, common::inode(fd)), None);
    }
    assert_eq!(
        int(&report["ss"]["tcp"]["ip"]),
        3,
        "TCP inuse: the listener's and both connected subflows"
    );

    // A plain TCP client: the accepted MPTCP socket falls back to TCP (SOL_MPTCP options go to
    // its one subflow, EOPNOTSUPP); reset, that subflow is TCP_CLOSE and unhashed: unbound.
    let tcp_client = TcpStream::connect(port).expect("connect");
    let fallen_back = rustix::net::accept(&listener).expect("accept");
    rustix::net::sockopt::set_socket_linger(&tcp_client, Some(Duration::ZERO)).expect("linger");
    drop(tcp_client); // RST
    std::thread::sleep(Duration::from_millis(100));
    let report = summary_within_drift("fallen back, reset");
    let expected = Share {
        unbound: expected.unbound + 1,
        ..expected
    };
    assert_eq!(named_share(&report), expected);
    assert_eq!(
        close_row(&report, common::inode(&fallen_back)),
        Some(("unbound".into(), "inet".into(), None))
    );

    assert_eq!(int(&report["ss"]["tcp"]["ip"]), 3, "the reset subflow left inuse");

    // The client closed first: an orphaned MPTCP connection (ss -M: FIN-WAIT-2, inode 0)
    // whose subflow is still ESTABLISHED, hashed and dumped under its former inode: in inuse
    // as in alloc, no term.
    drop(client);
    std::thread::sleep(Duration::from_millis(100));
    let report = summary_within_drift("orphaned");
    assert_eq!(named_share(&report), expected);
    assert_eq!(
        int(&report["ss"]["tcp"]["ip"]),
        3,
        "the orphan's subflow is still hashed"
    );

    // Closed: every subflow goes with its MPTCP socket (the connected ones through the usual
    // TCP teardown: a timewait minisock, in time_wait).
    drop((created, with_option, bound, refused, refused4, fallen_back));
    drop((accepted, listener));
    std::thread::sleep(Duration::from_millis(200));
    let report = summary_within_drift("closed");
    assert_eq!(int(&report["ss"]["tcp"]["ip"]), 0);
    assert_eq!(int(&report["ss"]["tcp"]["ipv6"]), 0);
    assert_eq!(sockets_used_reaches(0), Ok(()), "every subflow freed");
    assert_eq!(named_share(&report), Share::default());
    assert_eq!(term(&report, "unbound"), unbound0);
    assert_eq!(term(&report, "bound_inactive"), bound0);
}
