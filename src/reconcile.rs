//! The reconciliation of ss's `closed` figure: pure arithmetic on what the census observed.
//!
//! ss prints `closed = alloc − (inuse4 + inuse6 − tw)` (iproute2 misc/ss.c). For the network
//! namespace N that is read, the kernel's counting rules (net/ipv4/proc.c `sockstat_seq_show`,
//! `tcp_init_sock` / `tcp_v4_destroy_sock` for alloc, `inet_hash` / `inet_unhash` for inuse,
//! `inet_twsk_hashdance` for tw) make it:
//!
//! ```text
//! closed(N) = tw(N)                           timewait minisocks of N
//!           + bound-inactive TCP_CLOSE of N   dumpable (kernel >= 6.8)
//!           + unbound TCP_CLOSE of N          held by a process, invisible to sock_diag
//!           + full TCP sockets of other netns alloc is system-wide
//!           + unexplained                     fds in flight, kernel sockets, what we could not see
//! ```
//!
//! Nothing here does I/O: `summary` collects an [`Observation`], [`reconcile`] turns it into
//! a [`Report`], and render formats the report.

use serde::Serialize;

use crate::collect::owners::ScanStats;
use crate::collect::sockstat::{Counters, SsFigures};
use crate::model::{Family, Owner, Socket, State};
use crate::saved_ss::{self, FigureComparison, SavedSs};

/// How the namespace of a socket held by a process was learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetnsSource {
    /// From the socket itself (`pidfd_getfd` + `SIOCGSKNS`).
    Socket,
    /// From the holding process (`/proc/PID/ns/net`): the socket may have been created
    /// elsewhere and passed, or the process may have moved since.
    Process,
}

/// A TCP socket inode held by a process that no dump returned: never bound, or its port was
/// released (autobound, failed connect or closed connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldTcp {
    pub inode: u32,
    pub family: Family,
    /// The namespace it was created in, when it could be learnt.
    pub netns: Option<(u64, NetnsSource)>,
    pub owners: Vec<Owner>,
}

/// Another network namespace the census found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherNamespace {
    pub netns: u64,
    /// `/run/netns` name, or the first process found in it.
    pub name: String,
    /// Full TCP sockets its dump returned ([`is_full_socket`]); `None` if it could not be
    /// entered.
    pub dumped_full: Option<u64>,
}

/// Everything the summary observed, as plain data.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Inode of the namespace read.
    pub netns: u64,
    /// The counters read just before the census (ss's figures come from these).
    pub counters: Counters,
    /// The counters read just after it.
    pub counters_after: Counters,
    /// Sockets sockdiag itself holds in the namespace whose counters were read (its
    /// sock_diag socket): `sockets: used` counts them, a `ss -s` run at the same moment would
    /// not, so they are taken off `Total`.
    pub own_sockets: u64,
    /// How many times the census was taken before the counters settled (or we gave up).
    pub attempts: u32,
    /// The rows of N's TCP dump that bear on `closed`: timewait minisocks and TCP_CLOSE
    /// (bound-inactive) sockets, with their owners.
    pub close_rows: Vec<(Socket, Vec<Owner>)>,
    /// Whether this kernel dumps bound-inactive sockets (>= 6.8).
    pub bound_inactive_dumped: bool,
    /// TCP inodes held by processes that no dump (of N or any other namespace) returned.
    pub held: Vec<HeldTcp>,
    pub other_namespaces: Vec<OtherNamespace>,
    pub processes: ScanStats,
    /// Dumps still interrupted (`NLM_F_DUMP_INTR`) after one retry.
    pub interrupted_dumps: u32,
    /// Messages that could not be decoded, per dump: count and first error.
    pub undecodable: Vec<String>,
    /// Running with full privileges (euid 0).
    pub privileged: bool,
    /// A saved `ss -s` output to compare with the live figures (`--ss`).
    pub saved_ss: Option<SavedSs>,
}

/// A row of the dump that belongs to TCP alloc: neither a timewait minisock nor a request
/// sock (request socks are reported as SYN_RECV, `inet_req_diag_fill`).
pub fn is_full_socket(socket: &Socket) -> bool {
    !socket.timewait && socket.state != State::SYN_RECV && socket.state != State::NEW_SYN_RECV
}

// ---------------------------------------------------------------------------------------------
// The report: its field names are the JSON contract (see the man page).

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub netns: u64,
    /// The figures `ss -s` prints, from the counters read before the census.
    pub ss: SsFigures,
    pub closed: ClosedTerms,
    pub other_netns: Vec<OtherNetnsCount>,
    pub close_sockets: Vec<CloseSocket>,
    pub processes: ScanStats,
    pub consistency: Consistency,
    pub saved_ss: Option<Vec<FigureComparison>>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClosedTerms {
    pub reported: i64,
    pub time_wait: u64,
    /// `None` on kernels that do not dump bound-inactive sockets.
    pub bound_inactive: Option<u64>,
    pub unbound: u64,
    pub other_netns: u64,
    /// `reported` minus the terms above; never forced to zero.
    pub unexplained: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherNetnsCount {
    pub netns: u64,
    pub name: String,
    /// `None` when the namespace could not be entered and nothing of it is known.
    pub tcp: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseKind {
    BoundInactive,
    Unbound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloseSocket {
    pub inode: u32,
    pub family: &'static str,
    /// The bound address, for a bound-inactive socket.
    pub local: Option<String>,
    pub kind: CloseKind,
    pub owners: Vec<Owner>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Consistency {
    pub attempts: u32,
    /// The counters did not move during the last census.
    pub settled: bool,
    /// ss's `closed` computed after the census minus before it.
    pub drift: i64,
}

/// The figures that `closed` is computed from: the census is consistent with the counters
/// only if these did not move while it ran.
pub fn settled(before: &Counters, after: &Counters) -> bool {
    (
        before.tcp_alloc,
        before.tcp_inuse,
        before.tcp6_inuse,
        before.tcp_tw,
    ) == (after.tcp_alloc, after.tcp_inuse, after.tcp6_inuse, after.tcp_tw)
}

pub fn reconcile(obs: &Observation) -> Report {
    let without_own = |c: &Counters| Counters {
        sockets_used: c.sockets_used.saturating_sub(obs.own_sockets),
        ..*c
    };
    let figures = SsFigures::from_counters(&without_own(&obs.counters));
    let after = SsFigures::from_counters(&without_own(&obs.counters_after));
    let consistency = Consistency {
        attempts: obs.attempts,
        settled: settled(&obs.counters, &obs.counters_after),
        drift: after.closed - figures.closed,
    };

    let mut close_sockets = Vec::new();
    let (mut tw_time_wait, mut tw_fin_wait2, mut bound_inactive) = (0u64, 0u64, 0u64);
    for (socket, owners) in &obs.close_rows {
        if socket.timewait {
            if socket.state == State::FIN_WAIT2 {
                tw_fin_wait2 += 1
            } else {
                tw_time_wait += 1
            }
        } else if socket.state == State::CLOSE {
            bound_inactive += 1;
            close_sockets.push(CloseSocket {
                inode: socket.inode,
                family: socket.family.name(),
                local: Some(socket.local.to_string()),
                kind: CloseKind::BoundInactive,
                owners: owners.clone(),
            });
        }
    }

    let mut other: Vec<OtherNetnsCount> = obs
        .other_namespaces
        .iter()
        .map(|ns| OtherNetnsCount {
            netns: ns.netns,
            name: ns.name.clone(),
            tcp: ns.dumped_full,
        })
        .collect();
    let (mut unbound, mut unknown_netns, mut by_process) = (0u64, 0u64, 0u64);
    for held in &obs.held {
        match held.netns {
            None => unknown_netns += 1,
            Some((netns, source)) if netns == obs.netns => {
                unbound += 1;
                by_process += u64::from(source == NetnsSource::Process);
                close_sockets.push(CloseSocket {
                    inode: held.inode,
                    family: held.family.name(),
                    local: None,
                    kind: CloseKind::Unbound,
                    owners: held.owners.clone(),
                });
            }
            Some((netns, source)) => {
                by_process += u64::from(source == NetnsSource::Process);
                match other.iter_mut().find(|o| o.netns == netns) {
                    Some(o) => *o.tcp.get_or_insert(0) += 1,
                    None => other.push(OtherNetnsCount {
                        netns,
                        name: "(no process in it; found through a socket)".into(),
                        tcp: Some(1),
                    }),
                }
            }
        }
    }
    close_sockets.sort_by_key(|c| (c.kind == CloseKind::Unbound, c.inode));
    other.sort_by_key(|o| std::cmp::Reverse(o.tcp));
    let other_total: u64 = other.iter().filter_map(|o| o.tcp).sum();

    let bound_inactive = obs.bound_inactive_dumped.then_some(bound_inactive);
    let explained = tw_time_wait + tw_fin_wait2 + bound_inactive.unwrap_or(0) + unbound + other_total;
    let closed = ClosedTerms {
        reported: figures.closed,
        time_wait: tw_time_wait + tw_fin_wait2,
        bound_inactive,
        unbound,
        other_netns: other_total,
        unexplained: figures.closed - explained as i64,
    };

    let saved_ss = obs
        .saved_ss
        .as_ref()
        .map(|saved| saved_ss::compare(saved, &figures));
    let tally = Tally {
        time_wait: tw_time_wait,
        fin_wait2: tw_fin_wait2,
        unknown_netns,
        by_process,
        // From the observation: a namespace not entered may still have sockets placed in it.
        not_entered: obs
            .other_namespaces
            .iter()
            .filter(|o| o.dumped_full.is_none())
            .count(),
    };
    let notes = notes(obs, &closed, &consistency, &tally, saved_ss.as_deref());

    Report {
        netns: obs.netns,
        ss: figures,
        closed,
        other_netns: other,
        close_sockets,
        processes: obs.processes,
        consistency,
        saved_ss,
        notes,
    }
}

/// What the classification counted besides the terms, for the notes.
#[derive(Clone, Copy)]
struct Tally {
    time_wait: u64,
    fin_wait2: u64,
    /// Held sockets that could not be placed in a namespace.
    unknown_netns: u64,
    /// Held sockets placed by their holder's namespace, not their own.
    by_process: u64,
    /// Other namespaces that could not be entered.
    not_entered: usize,
}

fn notes(
    obs: &Observation,
    closed: &ClosedTerms,
    consistency: &Consistency,
    tally: &Tally,
    saved_ss: Option<&[FigureComparison]>,
) -> Vec<String> {
    let Tally {
        time_wait,
        fin_wait2,
        unknown_netns,
        by_process,
        not_entered,
    } = *tally;
    let mut notes = Vec::new();
    if closed.time_wait > 0 {
        notes.push(format!(
            "time_wait counts timewait minisocks by their timer: {time_wait} in TIME_WAIT, {fin_wait2} in FIN_WAIT2 (orphaned connections waiting for the peer's FIN)"
        ));
    }
    if !obs.bound_inactive_dumped {
        notes.push(
            "this kernel (< 6.8) does not dump bound-inactive TCP sockets: bound_inactive is null and those sockets are counted as unbound, found through the fd scan"
                .into(),
        );
    }
    if !obs.privileged {
        notes.push(
            "not running as root: other users' processes and other namespaces are closed to us, so the census is a lower bound"
                .into(),
        );
    }
    let stats = obs.processes;
    if stats.denied > 0 {
        notes.push(format!(
            "{} of {} processes could not be inspected (permission denied): sockets only they hold are in unexplained",
            stats.denied,
            stats.scanned + stats.denied + stats.vanished
        ));
    }
    if stats.vanished > 0 {
        notes.push(format!("{} process(es) exited during the scan", stats.vanished));
    }
    if not_entered > 0 {
        notes.push(format!(
            "{not_entered} other network namespace(s) could not be entered: their TCP sockets are in unexplained, but for those held by a process we could inspect"
        ));
    }
    if unknown_netns > 0 {
        notes.push(format!(
            "{unknown_netns} undumped TCP socket(s) held by processes could not be placed in a namespace: they are in unexplained"
        ));
    }
    if by_process > 0 {
        notes.push(format!(
            "the namespace of {by_process} socket(s) was taken from the process holding them (pidfd_getfd not permitted), not from the socket itself"
        ));
    }
    if obs.interrupted_dumps > 0 {
        notes.push(format!(
            "{} dump(s) were interrupted twice (NLM_F_DUMP_INTR): sockets may be missing or counted twice",
            obs.interrupted_dumps
        ));
    }
    for undecodable in &obs.undecodable {
        notes.push(format!(
            "undecodable sock_diag messages were skipped: {undecodable}"
        ));
    }
    if !consistency.settled {
        notes.push(format!(
            "the counters kept moving during {} censuses (closed drifted by {:+}): the figures hold only up to that drift",
            consistency.attempts, consistency.drift
        ));
    }
    if closed.unexplained > 0 {
        notes.push(format!(
            "{} closed socket(s) unexplained; likely causes: sockets in flight in SCM_RIGHTS messages, kernel sockets (NFS, SMB, iSCSI, MPTCP subflows), namespaces no process here can reach (TCP alloc is system-wide){}",
            closed.unexplained,
            if consistency.settled { "" } else { ", and the drift above" }
        ));
    } else if closed.unexplained < 0 {
        notes.push(format!(
            "the census found {} more socket(s) than closed reports: sockets changed state between the counter reads and the dumps, or a dump saw one twice",
            -closed.unexplained
        ));
    }
    let moved: Vec<&str> = saved_ss
        .unwrap_or_default()
        .iter()
        .filter(|f| f.diff != 0)
        .map(|f| f.figure)
        .collect();
    if !moved.is_empty() {
        notes.push(format!(
            "the saved ss -s differs from the live figures ({}): sockets changed since it was taken; the terms above explain the live ones",
            moved.join(", ")
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, Proto};

    const N: u64 = 4026532000;
    const OTHER: u64 = 4026532999;

    /// alloc 20, inuse 5 + 1, tw 3: ss prints closed = 20 - (6 - 3) = 17.
    fn counters() -> Counters {
        Counters {
            sockets_used: 30,
            tcp_inuse: 5,
            tcp6_inuse: 1,
            tcp_tw: 3,
            tcp_alloc: 20,
            tcp_curr_estab: 2,
            has_sockstat6: true,
            ..Counters::default()
        }
    }

    fn row(state: State, timewait: bool, inode: u32, local: &str) -> (Socket, Vec<Owner>) {
        let socket = Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            state,
            timewait,
            local: Endpoint::Ip(local.parse().expect("addr")),
            peer: Endpoint::Ip("0.0.0.0:0".parse().expect("addr")),
            peer_inode: 0,
            recv_q: 0,
            send_q: 0,
            uid: 0,
            inode,
            cookie: 1,
        };
        let owners = if inode == 0 {
            vec![]
        } else {
            vec![Owner {
                pid: 7,
                comm: "app".into(),
                fd: 3,
            }]
        };
        (socket, owners)
    }

    fn held(inode: u32, netns: Option<(u64, NetnsSource)>) -> HeldTcp {
        HeldTcp {
            inode,
            family: Family::Inet6,
            netns,
            owners: vec![Owner {
                pid: 8,
                comm: "leak".into(),
                fd: 9,
            }],
        }
    }

    /// Every term present: 3 timewait (2 TIME_WAIT, 1 FIN_WAIT2), 2 bound-inactive,
    /// 4 unbound, 7 in another namespace (5 dumped + 2 held) = 16 of 17.
    fn observation() -> Observation {
        Observation {
            netns: N,
            counters: counters(),
            counters_after: counters(),
            attempts: 1,
            own_sockets: 1,
            close_rows: vec![
                row(State::TIME_WAIT, true, 0, "127.0.0.1:40000"),
                row(State::TIME_WAIT, true, 0, "127.0.0.1:40001"),
                row(State::FIN_WAIT2, true, 0, "127.0.0.1:40002"),
                row(State::CLOSE, false, 501, "127.0.0.1:6000"),
                row(State::CLOSE, false, 502, "0.0.0.0:6001"),
            ],
            bound_inactive_dumped: true,
            held: vec![
                held(601, Some((N, NetnsSource::Socket))),
                held(602, Some((N, NetnsSource::Socket))),
                held(603, Some((N, NetnsSource::Socket))),
                held(604, Some((N, NetnsSource::Socket))),
                held(701, Some((OTHER, NetnsSource::Socket))),
                held(702, Some((OTHER, NetnsSource::Socket))),
            ],
            other_namespaces: vec![OtherNamespace {
                netns: OTHER,
                name: "blue".into(),
                dumped_full: Some(5),
            }],
            processes: ScanStats {
                scanned: 10,
                denied: 0,
                vanished: 0,
            },
            privileged: true,
            ..Observation::default()
        }
    }

    #[test]
    fn every_term_of_closed() {
        let report = reconcile(&observation());
        assert_eq!(
            report.closed,
            ClosedTerms {
                reported: 17,
                time_wait: 3,
                bound_inactive: Some(2),
                unbound: 4,
                other_netns: 7,
                unexplained: 1,
            }
        );
        assert_eq!(report.ss.total, 29, "sockdiag's own sock_diag socket is not ss's");
        assert_eq!(report.ss.closed, 17);
        assert_eq!(
            report.other_netns,
            [OtherNetnsCount {
                netns: OTHER,
                name: "blue".into(),
                tcp: Some(7)
            }]
        );
        let kinds: Vec<(u32, CloseKind)> = report.close_sockets.iter().map(|c| (c.inode, c.kind)).collect();
        assert_eq!(
            kinds,
            [
                (501, CloseKind::BoundInactive),
                (502, CloseKind::BoundInactive),
                (601, CloseKind::Unbound),
                (602, CloseKind::Unbound),
                (603, CloseKind::Unbound),
                (604, CloseKind::Unbound)
            ]
        );
        assert_eq!(report.close_sockets[0].local.as_deref(), Some("127.0.0.1:6000"));
        assert_eq!(report.close_sockets[2].local, None);
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("2 in TIME_WAIT, 1 in FIN_WAIT2")),
            "{:?}",
            report.notes
        );
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.starts_with("1 closed socket(s) unexplained")),
            "{:?}",
            report.notes
        );
        assert!(report.consistency.settled);
    }

    #[test]
    fn terms_always_sum_to_reported() {
        let mut obs = observation();
        obs.counters.tcp_alloc = 3; // fewer than the census found
        let c = reconcile(&obs).closed;
        let explained = c.time_wait + c.bound_inactive.unwrap_or(0) + c.unbound + c.other_netns;
        assert_eq!(explained as i64 + c.unexplained, c.reported);
        assert!(c.unexplained < 0, "never forced to zero: {c:?}");
        assert!(
            reconcile(&obs)
                .notes
                .iter()
                .any(|n| n.contains("more socket(s) than closed reports"))
        );
    }

    #[test]
    fn old_kernel_has_no_bound_inactive_term() {
        let mut obs = observation();
        obs.bound_inactive_dumped = false;
        obs.close_rows.retain(|(s, _)| s.timewait);
        // Before 6.8 those two sockets are found by the fd scan instead.
        obs.held.push(held(501, Some((N, NetnsSource::Socket))));
        obs.held.push(held(502, Some((N, NetnsSource::Socket))));
        let report = reconcile(&obs);
        assert_eq!(report.closed.bound_inactive, None);
        assert_eq!(report.closed.unbound, 6);
        assert_eq!(report.closed.unexplained, 1);
        assert!(
            report.notes.iter().any(|n| n.contains("< 6.8")),
            "{:?}",
            report.notes
        );
    }

    #[test]
    fn drift_is_reported_not_hidden() {
        let mut obs = observation();
        obs.attempts = 3;
        obs.counters_after.tcp_alloc += 4; // four sockets created elsewhere during the census
        let report = reconcile(&obs);
        assert_eq!(
            report.consistency,
            Consistency {
                attempts: 3,
                settled: false,
                drift: 4
            }
        );
        assert_eq!(
            report.closed.reported, 17,
            "the figures are those read before the census"
        );
        assert!(
            report.notes.iter().any(|n| n.contains("drifted by +4")),
            "{:?}",
            report.notes
        );
        assert!(
            settled(
                &counters(),
                &Counters {
                    sockets_used: 99,
                    ..counters()
                }
            ),
            "Total does not matter"
        );
    }

    #[test]
    fn sockets_placed_by_their_holder_or_nowhere() {
        let mut obs = observation();
        obs.held = vec![
            held(601, Some((N, NetnsSource::Process))),
            held(602, None),
            held(603, Some((4026533333, NetnsSource::Socket))),
        ];
        let report = reconcile(&obs);
        assert_eq!(report.closed.unbound, 1);
        assert_eq!(
            report.closed.other_netns, 6,
            "5 dumped in blue + 1 in a namespace without process"
        );
        assert!(
            report
                .other_netns
                .iter()
                .any(|o| o.netns == 4026533333 && o.tcp == Some(1))
        );
        let notes = report.notes.join("\n");
        assert!(
            notes.contains("namespace of 1 socket(s) was taken from the process"),
            "{notes}"
        );
        assert!(
            notes.contains("1 undumped TCP socket(s) held by processes could not be placed"),
            "{notes}"
        );
    }

    #[test]
    fn what_could_not_be_seen_is_said() {
        let mut obs = observation();
        obs.privileged = false;
        obs.processes = ScanStats {
            scanned: 4,
            denied: 6,
            vanished: 1,
        };
        obs.other_namespaces.push(OtherNamespace {
            netns: 5,
            name: "pid 9 (x)".into(),
            dumped_full: None,
        });
        obs.interrupted_dumps = 1;
        obs.undecodable = vec!["1 message(s): bad".into()];
        let report = reconcile(&obs);
        assert_eq!(
            report.other_netns.iter().find(|o| o.netns == 5).map(|o| o.tcp),
            Some(None)
        );
        let notes = report.notes.join("\n");
        for expected in [
            "not running as root",
            "6 of 11 processes could not be inspected",
            "1 process(es) exited",
            "1 other network namespace(s) could not be entered",
            "interrupted twice",
            "undecodable sock_diag messages were skipped: 1 message(s): bad",
        ] {
            assert!(notes.contains(expected), "{expected:?} not in\n{notes}");
        }
    }

    #[test]
    fn saved_ss_is_compared_with_the_printed_figures() {
        let mut obs = observation();
        obs.saved_ss = Some(SavedSs {
            total: Some(29),
            closed: Some(10),
            ..SavedSs::default()
        });
        let report = reconcile(&obs);
        let rows = report.saved_ss.expect("compared");
        assert_eq!(
            rows,
            [
                FigureComparison {
                    figure: "total",
                    saved: 29,
                    live: 29,
                    diff: 0
                },
                FigureComparison {
                    figure: "closed",
                    saved: 10,
                    live: 17,
                    diff: 7
                }
            ]
        );
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("differs from the live figures (closed)")),
            "{:?}",
            report.notes
        );
    }

    #[test]
    fn full_sockets_exclude_minisocks_and_request_socks() {
        assert!(is_full_socket(
            &row(State::ESTABLISHED, false, 1, "127.0.0.1:1").0
        ));
        assert!(is_full_socket(&row(State::CLOSE, false, 1, "127.0.0.1:1").0));
        assert!(!is_full_socket(&row(State::TIME_WAIT, true, 0, "127.0.0.1:1").0));
        assert!(!is_full_socket(&row(State::FIN_WAIT2, true, 0, "127.0.0.1:1").0));
        assert!(!is_full_socket(&row(State::SYN_RECV, false, 0, "127.0.0.1:1").0));
    }
}
