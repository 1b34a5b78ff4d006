//! Properties that hold for every input, checked on generated ones (proptest): where a
//! statement about all inputs says more than examples, and a smallest failing case (proptest
//! shrinks) says more than a fuzzer's crash file. Pure functions only: no root needed.
//!
//! - `ss -s` round trip: the block rendered from any counters reads back with all 21 figures
//!   equal.
//! - netlink decoding never panics, on any bytes and on well-framed messages with any payload.
//! - reconciliation: the terms of `closed` always sum to `reported`, and a finding is raised
//!   exactly when `unexplained` lies beyond the drift.

use std::net::{Ipv4Addr, SocketAddr};

use proptest::prelude::*;

use sockdiag::collect::census::{BoundInactive, NamespaceCensus};
use sockdiag::collect::diag::{Frame, decode_row, frames};
use sockdiag::collect::owners::{ProcScan, Process, ScanStats, SocketFd};
use sockdiag::collect::privileges::Privileges;
use sockdiag::collect::sockstat::Counters;
use sockdiag::collect::{HeldTcp, HostCollection, MptcpSeen, Namespace, NamespaceName, Placement, View};
use sockdiag::figures::SsFigures;
use sockdiag::model::{Endpoint, Family, Proto, Socket, State};
use sockdiag::reconcile::{Finding, reconcile};
use sockdiag::render::ss::ss_block;
use sockdiag::saved_ss;

// ---------------------------------------------------------------------------------------------
// (a) rendering then reading an `ss -s` block gives back every figure.

/// A counter value: mostly small, often at the edges of the range.
fn counter(max: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0..1_000u64,
        2 => 0..=max,
        1 => Just(max),
        1 => Just(max / 2),
        1 => Just(max / 3),
    ]
}

fn counters(max: u64) -> impl Strategy<Value = Counters> {
    (proptest::collection::vec(counter(max), 13), any::<bool>()).prop_map(|(v, has_sockstat6)| {
        // Without sockstat6 (IPv6 disabled) the IPv6 counters read zero.
        let v6 = |value: u64| if has_sockstat6 { value } else { 0 };
        Counters {
            sockets_used: v[0],
            tcp_inuse: v[1],
            tcp_orphan: v[2],
            tcp_tw: v[3],
            tcp_alloc: v[4],
            udp_inuse: v[5],
            raw_inuse: v[6],
            frag_inuse: v[7],
            tcp6_inuse: v6(v[8]),
            udp6_inuse: v6(v[9]),
            raw6_inuse: v6(v[10]),
            frag6_inuse: v6(v[11]),
            tcp_curr_estab: v[12],
            has_sockstat6,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Counters within i64 (as /proc writes them in practice); sums that pass i64::MAX
    /// saturate on both sides alike.
    #[test]
    fn ss_block_reads_back_every_figure(counters in counters(i64::MAX as u64)) {
        let figures = SsFigures::from_counters(&counters);
        let text = ss_block(&figures);
        let saved = saved_ss::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        let comparisons = saved_ss::compare(&saved, &figures);
        prop_assert_eq!(comparisons.len(), 21);
        prop_assert!(comparisons.iter().all(|c| c.diff == 0), "{:?}\n{}", comparisons, text);
    }
}

// ---------------------------------------------------------------------------------------------
// (b) decoding never panics.

const PROTOS: [Proto; 4] = [Proto::Tcp, Proto::Udp, Proto::Raw, Proto::Unix];

fn decode_all(datagram: &[u8], port: u32, seq: u32) {
    if let Ok((messages, _)) = frames(datagram, port, seq) {
        for message in messages {
            if let Frame::Row(payload) = message {
                for proto in PROTOS {
                    if let Ok(row) = decode_row(proto, payload) {
                        // Showing a decoded row must not panic either.
                        let _ = format!("{} {} {}", row.state, row.local, row.peer);
                    }
                }
            }
        }
    }
}

/// One `nlmsghdr` (host order) around `payload`, with a length that may lie.
fn message(kind: u16, flags: u16, seq: u32, port: u32, length: Option<u32>, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let length = length.unwrap_or(16 + payload.len() as u32);
    bytes.extend_from_slice(&length.to_ne_bytes());
    bytes.extend_from_slice(&kind.to_ne_bytes());
    bytes.extend_from_slice(&flags.to_ne_bytes());
    bytes.extend_from_slice(&seq.to_ne_bytes());
    bytes.extend_from_slice(&port.to_ne_bytes());
    bytes.extend_from_slice(payload);
    while bytes.len() % 4 != 0 {
        bytes.push(0);
    }
    bytes
}

/// A well-framed message of a dump answer with any payload: SOCK_DIAG_BY_FAMILY (20) most
/// often, NLMSG_DONE (3), NLMSG_ERROR (2) or another type.
fn framed_message() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![6 => Just(20u16), 1 => Just(3u16), 1 => Just(2u16), 1 => any::<u16>()],
        any::<u16>(),
        prop_oneof![4 => Just(None), 1 => any::<u32>().prop_map(Some)],
        proptest::collection::vec(any::<u8>(), 0..160),
    )
        .prop_map(|(kind, flags, length, payload)| message(kind, flags, 1, 42, length, &payload))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn decoding_any_bytes_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        port in prop_oneof![Just(0u32), any::<u32>()],
        seq in prop_oneof![Just(0u32), any::<u32>()],
    ) {
        decode_all(&bytes, port, seq);
    }

    #[test]
    fn decoding_framed_messages_never_panics(
        messages in proptest::collection::vec(framed_message(), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let datagram = messages.concat();
        decode_all(&datagram, 42, 1);
        // And the same datagram cut short anywhere.
        decode_all(&datagram[..cut.index(datagram.len() + 1)], 42, 1);
    }
}

// ---------------------------------------------------------------------------------------------
// (c) the reconciliation's terms always sum to `reported`.

const TARGET: u64 = 4026531840;
const OTHERS: [u64; 3] = [4026532001, 4026532002, 4026532003];
/// A namespace that no census knows, revealed only by a held socket.
const SOCKET_ONLY: u64 = 4026532999;

fn netns() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(TARGET),
        Just(OTHERS[0]),
        Just(OTHERS[1]),
        Just(OTHERS[2]),
        Just(SOCKET_ONLY)
    ]
}

fn state() -> impl Strategy<Value = State> {
    prop_oneof![
        Just(State::TIME_WAIT),
        Just(State::FIN_WAIT2),
        Just(State::CLOSE),
        Just(State::ESTABLISHED),
        (0u8..16).prop_map(State),
    ]
}

/// A row of a dump that bears on `closed`, or one that does not.
fn close_row() -> impl Strategy<Value = Socket> {
    (state(), any::<bool>(), 0u32..64, any::<u16>()).prop_map(|(state, timewait, inode, port)| Socket {
        proto: Proto::Tcp,
        family: Family::Inet,
        state,
        timewait,
        local: Endpoint::Ip(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
        peer: Endpoint::Unnamed,
        peer_inode: 0,
        recv_q: 0,
        send_q: 0,
        uid: 0,
        inode,
        cookie: 0,
        unix_type: None,
        v6only: None,
    })
}

/// Socket counts a census or a walk can see: real sockets, so far below 2^32 each.
fn census(netns: u64, max_counter: u64) -> impl Strategy<Value = NamespaceCensus> {
    (
        counters(max_counter),
        counters(max_counter),
        0u64..3,
        1u32..4,
        proptest::collection::vec(close_row(), 0..24),
        proptest::collection::vec(prop_oneof![3 => 0u64..50, 1 => 0..u64::from(u32::MAX)], 14),
        0u32..3,
        any::<bool>(),
    )
        .prop_map(
            move |(before, after, own_sockets, attempts, close_rows, full, interrupted, walked)| {
                NamespaceCensus {
                    netns,
                    walked,
                    before,
                    after,
                    own_sockets,
                    attempts,
                    close_rows,
                    full_by_state: full.try_into().expect("14 states"),
                    interrupted,
                    ..NamespaceCensus::default()
                }
            },
        )
}

fn placement() -> impl Strategy<Value = Placement> {
    prop_oneof![
        4 => (netns(), state()).prop_map(|(netns, state)| Placement::Socket { netns, state }),
        1 => netns().prop_map(|netns| Placement::Process { netns }),
        1 => Just(Placement::Unknown),
    ]
}

fn held() -> impl Strategy<Value = HeldTcp> {
    (0u32..64, any::<bool>(), placement()).prop_map(|(inode, v6, placement)| HeldTcp {
        inode,
        family: if v6 { Family::Inet6 } else { Family::Inet },
        placement,
        mptcp: false,
    })
}

/// A `/proc` walk: up to 3 processes holding sockets of the same inodes as the rows.
fn scan() -> impl Strategy<Value = ProcScan> {
    (
        proptest::collection::vec((1u32..100_000, any::<bool>()), 0..4),
        proptest::collection::vec((0u32..64, any::<prop::sample::Index>(), 0u32..1024), 0..16),
        (0u32..100, 0u32..5, 0u32..5),
    )
        .prop_map(|(processes, fds, (scanned, denied, vanished))| {
            let mut scan = ProcScan::default();
            scan.processes = processes
                .iter()
                .map(|&(pid, kernel_thread)| Process {
                    pid,
                    comm: "p".into(),
                    netns: Some(TARGET),
                    kernel_thread,
                    start_time: None,
                    cgroup: None,
                })
                .collect();
            if !scan.processes.is_empty() {
                scan.sockets = fds
                    .iter()
                    .map(|(inode, process, fd)| SocketFd {
                        inode: *inode,
                        process: process.index(scan.processes.len()) as u32,
                        fd: *fd,
                    })
                    .collect();
                scan.sockets.sort_by_key(|s| s.inode);
            }
            scan.stats = ScanStats {
                scanned,
                denied,
                vanished,
            };
            scan
        })
}

/// Any collection: the target first, then up to 3 other namespaces (entered or not).
fn host(max_counter: u64) -> impl Strategy<Value = HostCollection> {
    (
        census(TARGET, max_counter),
        proptest::collection::vec(
            prop_oneof![
                3 => (0usize..3).prop_flat_map(move |i| census(OTHERS[i], max_counter)).prop_map(Ok),
                1 => Just(Err("setns: EPERM".to_owned())),
            ],
            0..4,
        ),
        proptest::collection::vec(held(), 0..24),
        scan(),
        0u64..4,
        prop_oneof![
            Just(BoundInactive::Dumped),
            Just(BoundInactive::NotDumped),
            Just(BoundInactive::Unknown)
        ],
        any::<bool>(),
    )
        .prop_map(
            |(target, others, held, scan, closed_during_walk, bound_inactive, privileged)| {
                let mut namespaces = vec![Namespace {
                    netns: TARGET,
                    name: NamespaceName::Initial,
                    census: Ok(target),
                }];
                for (i, census) in others.into_iter().enumerate() {
                    let netns = census.as_ref().map_or(OTHERS[i % 3] + 100, |c| c.netns);
                    if namespaces.iter().all(|ns| ns.netns != netns) {
                        namespaces.push(Namespace {
                            netns,
                            name: NamespaceName::Named("ns".into()),
                            census,
                        });
                    }
                }
                let alloc = namespaces[0].census.as_ref().map_or(0, |c| c.before.tcp_alloc);
                HostCollection {
                    target: TARGET,
                    namespaces,
                    scan,
                    held,
                    closed_during_walk,
                    bound_inactive,
                    alloc_window: [alloc, alloc],
                    mptcp: MptcpSeen::default(),
                    privileges: if privileged {
                        Privileges::full()
                    } else {
                        Privileges::from_set(65534, rustix::thread::CapabilitySet::empty())
                    },
                    view: View::Host,
                }
            },
        )
}

/// What must hold of any report:
///
/// - `unexplained` is `reported − explained` clamped to i64: the terms sum to `reported`
///   exactly (`explained + unexplained == reported`) whenever that difference fits in i64.
///   It does not only at the bottom edge: counters that make ss's `closed` saturate at
///   i64::MIN (inuse near u64::MAX) leave `unexplained` saturated at i64::MIN, and the sum
///   then exceeds `reported` by what was cut off. `explained` counts sockets and, for a
///   counted namespace, its `inuse` counters: past i64::MAX only with counters no kernel
///   writes, where the reconciliation takes it as i64::MAX.
/// - `drift` is never negative.
/// - `Finding::Unexplained` is raised iff `unexplained > drift`, `Finding::Overcounted` iff
///   `unexplained < −drift`, each once, with the count and drift of the report; so one of
///   them is raised iff |unexplained| > drift.
fn check_report(host: &HostCollection) -> Result<(), TestCaseError> {
    let report = reconcile(host, None);
    let c = report.closed;
    let explained = i128::from(c.explained()).min(i128::from(i64::MAX));
    let difference = i128::from(c.reported) - explained;
    let clamped = difference.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    prop_assert_eq!(i128::from(c.unexplained), clamped, "{:?}", c);
    if difference == clamped {
        prop_assert_eq!(explained as i64 + c.unexplained, c.reported, "{:?}", c);
    } else {
        prop_assert_eq!(c.unexplained, i64::MIN, "{:?}", c);
    }

    let drift = report.consistency.drift;
    prop_assert!(drift >= 0, "negative drift {drift}");
    let unexplained: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::Unexplained { .. }))
        .collect();
    let overcounted: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::Overcounted { .. }))
        .collect();
    if c.unexplained > drift {
        prop_assert_eq!(
            unexplained,
            [&Finding::Unexplained {
                count: c.unexplained,
                drift
            }]
        );
    } else {
        prop_assert!(unexplained.is_empty(), "{:?} within drift {}", c, drift);
    }
    if c.unexplained < -drift {
        prop_assert_eq!(
            overcounted,
            [&Finding::Overcounted {
                count: c.unexplained.saturating_neg(),
                drift
            }]
        );
    } else {
        prop_assert!(overcounted.is_empty(), "{:?} within drift {}", c, drift);
    }
    let beyond = u128::from(c.unexplained.unsigned_abs()) > u128::from(drift.unsigned_abs());
    let raised = report
        .findings
        .iter()
        .any(|f| matches!(f, Finding::Unexplained { .. } | Finding::Overcounted { .. }));
    prop_assert_eq!(raised, beyond, "{:?} drift {}", c, drift);
    Ok(())
}

proptest! {
    // Each case builds a whole collection: 1,000 and 500 cases take about 3 s and 1.5 s of
    // CPU in a debug build.
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    /// Counters as /proc writes them on a real host (below 2^32).
    #[test]
    fn closed_terms_sum_to_reported(host in host(u64::from(u32::MAX))) {
        check_report(&host)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Counters anywhere in u64 (a broken or hostile /proc): `reported` clamps at the i64
    /// bounds and the drift saturates; the properties above still hold as stated.
    #[test]
    fn closed_terms_at_the_bounds(host in host(u64::MAX)) {
        check_report(&host)?;
    }
}
