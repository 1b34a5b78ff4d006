//! The reconciliation of ss's `closed` figure: pure arithmetic on what the collection saw.
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
//! (MPTCP subflows are TCP sockets of these terms; see [MPTCP](#mptcp).)
//!
//! `unexplained` is what is left, never forced to zero, and comes with its bound: the
//! counters are read one after another while sockets come and go, so the terms hold only up
//! to the movement measured during the collection ([`Consistency::drift`]): the spread of the
//! global `alloc` over every counter read, plus how much N's own `inuse − tw` moved across
//! its dump. An `unexplained` within that bound is not a finding.
//!
//! # MPTCP
//!
//! An MPTCP socket (`socket(AF_INET[6], SOCK_STREAM, IPPROTO_MPTCP = 262)`, net/mptcp) is
//! not counted by `TCP: alloc`; its subflows are full TCP sockets, which are (+1 each at
//! `tcp_init_sock`). The first subflow is created on first need by `__mptcp_nmpc_sk` (bind,
//! listen, connect, and the socket options that must reach it: `SO_REUSEADDR`,
//! `SO_BINDTODEVICE`, `TCP_FASTOPEN`..., and `getsockopt(TCP_INFO)` through
//! `mptcp_getsockopt_first_sf_only`), through `mptcp_subflow_create_socket`: a kernel socket
//! (one more in `sockets: used`) with no descriptor, whose inode is set to the MPTCP
//! socket's, so that the TCP dumps list it under that inode and its holders. What each term
//! does with it, per MPTCP socket, measured in a private namespace on Linux 6.18 (alloc is
//! the subflows': `tests/mptcp.rs` pins each row):
//!
//! ```text
//! MPTCP socket               alloc inuse  TCP dump (ss -tan)         ss -M    term
//! created only                 0     0    -                          -        none
//! created, then SO_REUSEADDR  +1     0    - (TCP_CLOSE, unhashed)    -        unbound
//! bound                       +1     0    CLOSE (bit 13), its inode  -        bound_inactive
//! listening                   +1    +1    LISTEN, its inode          LISTEN   none
//! connected, and accepted     +2    +2    2 ESTAB, their inodes      2 ESTAB  none
//! connect refused (v4, v6)    +1     0    - (port released)          -        unbound
//! fallen back to TCP, reset   +1     0    -                          -        unbound
//! closed by the application   +1    +1    ESTAB, former inode        orphan   none
//! closed and torn down         0     0    TIME_WAIT minisock         -        time_wait
//! ```
//!
//! `system.sockprotoname` of the MPTCP socket's descriptor is `MPTCP` or `MPTCPv6`, never
//! `TCP`, so the fd walk asks it (`pidfd_getfd`, `SIOCGSKNS`: the subflows are in the MPTCP
//! socket's namespace) for its subflows with `getsockopt(SOL_MPTCP, MPTCP_TCPINFO)`
//! (`mptcp_getsockopt_tcpinfo`, which walks the subflow list and creates nothing), never
//! with `TCP_INFO`, which would create the first subflow and so move `alloc` by asking. A
//! socket fallen back to plain TCP answers SOL_MPTCP with EOPNOTSUPP (`__mptcp_tcp_fallback`
//! hands every option to its one subflow): `TCP_INFO` then reads that existing subflow.
//! Each subflow in TCP_CLOSE of an MPTCP socket no dump returned is an unbound TCP socket
//! held through the MPTCP socket, and counted in `unbound` (or `other_netns`); a bound one
//! is a dumped bound-inactive row. [`Finding::MptcpSubflows`] names both shares with their
//! counts, so none of it is left in `unexplained` under a generic cause.
//!
//! `mptcp_diag` is not used: `mptcp_diag_dump` walks the token table
//! (`mptcp_token_iter_next`: connecting, connected and orphaned MPTCP sockets) and, through
//! `mptcp_diag_dump_listeners`, the listening subflows; the created, bound and refused MPTCP
//! sockets, whose subflows are the ones in `closed`, have no token and are in neither (ss
//! `-M` shows none of them). Its protocol (262) does not fit `sdiag_protocol` (u8): a request
//! carries it in the `INET_DIAG_REQ_PROTOCOL` u32 attribute (`inet_diag_get_protocol`).
//! Orphaned MPTCP connections (closed by the application, still tearing down) keep their
//! subflows hashed, dumped under the former inode, and in `inuse`: they cancel out of
//! `closed`. A subflow in TCP_CLOSE that no descriptor reaches stays in `unexplained`: from
//! reading `__mptcp_close_ssk` (not measured), an orphaned connection's first subflow may be
//! kept, disconnected, until its MPTCP socket is destroyed (`net.mptcp.close_timeout`).
//!
//! Nothing here does I/O: a command collects a [`HostCollection`], [`reconcile`] turns it
//! into a [`Report`] whose [`Finding`]s are data, and `render` words them.

use serde::Serialize;

use crate::collect::census::{BoundInactive, NamespaceCensus};
use crate::collect::owners::ScanStats;
use std::collections::BTreeMap;

use crate::collect::privileges::{Capability, Hidden, Privileges};
use crate::collect::sockstat::Counters;
use crate::collect::{HeldTcp, HostCollection, NamespaceName, Placement, View};
use crate::figures::{self, Figure, SsFigures};
use crate::model::{Owner, Proto, State};
use crate::saved_ss::{self, FigureComparison, SavedExplanation, SavedSs};

// ---------------------------------------------------------------------------------------------
// The report: its field names are the JSON contract (see the man page).

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report<'a> {
    pub netns: u64,
    /// `host`, or `container` when run where the host's processes cannot be seen.
    pub view: View,
    /// The figures `ss -s` prints, from the counters read before the target's dumps.
    pub ss: SsFigures,
    pub closed: ClosedTerms,
    pub other_netns: Vec<OtherNetnsCount>,
    pub close_sockets: Vec<CloseSocket<'a>>,
    pub processes: ScanStats,
    /// Our uid, the capabilities held and what each missing one hides.
    pub privileges: &'a Privileges,
    pub consistency: Consistency,
    pub saved_ss: Option<Vec<FigureComparison>>,
    /// With `--ss`: the saved figures explained from their own arithmetic.
    pub saved_ss_explained: Option<SavedExplanation>,
    pub findings: Vec<Finding>,
}

/// The report of `summary --all-netns`: its field names are the JSON contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostReport<'a> {
    /// TCP alloc (system-wide), from the counters read before the target's dumps.
    pub alloc: u64,
    /// Full TCP sockets counted in every namespace found (a namespace not entered counts its
    /// held sockets only).
    pub counted: u64,
    /// alloc − counted; never forced to zero.
    pub unexplained: i64,
    /// Sorted by unbound (leaks) first, then by closed.
    pub namespaces: Vec<NamespaceRow>,
    /// Every TCP_CLOSE socket of every namespace, each with its `netns`.
    pub close_sockets: Vec<CloseSocket<'a>>,
    pub processes: ScanStats,
    pub consistency: Consistency,
    pub findings: Vec<Finding>,
}

/// One namespace of `summary --all-netns`: `None` where it could not be entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceRow {
    pub netns: u64,
    #[serde(serialize_with = "crate::render::names::serialize_namespace")]
    pub name: NamespaceName,
    /// Its full TCP sockets: hashed, bound-inactive and unbound together.
    pub full_tcp: Option<u64>,
    pub time_wait: Option<u64>,
    pub bound_inactive: Option<u64>,
    pub unbound: u64,
    /// The `closed` figure `ss -s` run inside it prints (its own inuse and tw, the global
    /// alloc when its counters were read).
    pub closed: Option<i64>,
    /// Whether its TCP sockets were dumped; false when it was counted from its counters
    /// (see `collect::census`) or could not be entered.
    pub dumped: bool,
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

impl ClosedTerms {
    /// The sum of the terms that name sockets.
    pub fn explained(&self) -> u64 {
        self.time_wait
            .saturating_add(self.bound_inactive.unwrap_or(0))
            .saturating_add(self.unbound)
            .saturating_add(self.other_netns)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherNetnsCount {
    pub netns: u64,
    #[serde(serialize_with = "crate::render::names::serialize_namespace")]
    pub name: NamespaceName,
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
pub struct CloseSocket<'a> {
    pub inode: u32,
    pub family: &'static str,
    /// The bound address, for a bound-inactive socket.
    pub local: Option<String>,
    pub kind: CloseKind,
    /// The namespace, in the `--all-netns` report only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<u64>,
    pub owners: Vec<Owner<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Consistency {
    /// TCP dumps of the namespace read before its own counters held still.
    pub attempts: u32,
    /// The namespace's own `inuse` and `tw` did not move during its last dumps.
    pub settled: bool,
    /// The bound of `unexplained`: how far `closed` moved during the collection (the spread
    /// of alloc over every counter read, plus the namespace's own movement). Never negative.
    pub drift: i64,
}

/// Something the reader must know to trust the figures, as data; `render` words it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// The timewait term by substate.
    TimewaitSplit { time_wait: u64, fin_wait2: u64 },
    /// Linux < 6.8: bound-inactive sockets are not dumped; the fd scan finds them as unbound.
    BoundInactiveNotDumped,
    /// A capability the full picture needs is not held: the part it hides is missing.
    MissingCapability { capability: Capability, hides: Hidden },
    /// Processes whose fd table could not be read.
    ProcessesDenied { denied: u32, total: u32 },
    /// Processes that exited during the walk.
    ProcessesVanished { count: u32 },
    /// Namespaces found but not entered: their TCP sockets are in unexplained, but for those
    /// held by a process we could inspect.
    NamespacesNotEntered { count: u32 },
    /// Namespaces counted, not walked: no held socket of theirs is in TCP_CLOSE, so their
    /// rows are their own counters and their TCP sockets were not dumped (see
    /// `collect::census`).
    Counted { count: u32 },
    /// Held TCP sockets no dump returned whose namespace could not be learnt.
    Unplaced { count: u64 },
    /// Held TCP sockets placed by their holder's namespace, not their own.
    PlacedByHolder { count: u64 },
    /// Held TCP sockets no dump returned that were no longer in TCP_CLOSE when asked: they
    /// changed (connected, listening, closed) between the question and their namespace's dump.
    ChangedSinceDump { count: u64 },
    /// Held TCP sockets found by the walk and closed before they could be asked anything.
    ClosedDuringWalk { count: u64 },
    /// Bound-inactive sockets that no inspected process holds: in flight in an SCM_RIGHTS
    /// message, or held by a process not inspected.
    UnownedBoundInactive { count: u64 },
    /// The MPTCP share of the terms: subflows of MPTCP sockets (kernel TCP sockets held
    /// through the MPTCP socket) counted in `unbound` and in `bound_inactive`, and held MPTCP
    /// sockets that could not be asked for their subflows (their share is in unexplained).
    MptcpSubflows {
        unbound: u64,
        bound_inactive: u64,
        unasked: u64,
    },
    /// Dumps still interrupted (`NLM_F_DUMP_INTR`) after one retry.
    InterruptedDumps { count: u32 },
    /// Messages a dump could not decode.
    Undecodable { detail: String },
    /// A protocol without a diag module in this kernel.
    Unsupported { proto: Proto },
    /// The namespace's own counters kept moving across all its dumps.
    Unsettled { attempts: u32 },
    /// Part of `closed` that no term names, beyond the drift.
    Unexplained { count: i64, drift: i64 },
    /// Run from inside a container: this part of `closed` is the TCP sockets of the host and
    /// of the other containers (alloc is system-wide), which cannot be itemised from here.
    ContainerView { hidden: i64, drift: i64 },
    /// The census named more sockets than `closed` counts, beyond the drift.
    Overcounted { count: i64, drift: i64 },
    /// Figures of a saved `ss -s` that differ from the live ones.
    SavedSsDiffers { figures: Vec<Figure> },
}

/// The report on the namespace a collection read, with the saved `ss -s` to compare.
pub fn reconcile<'a>(host: &'a HostCollection, saved: Option<&SavedSs>) -> Report<'a> {
    let target = host.target_census();
    let without_own = |c: &Counters| Counters {
        sockets_used: c.sockets_used.saturating_sub(target.own_sockets),
        ..*c
    };
    let figures = SsFigures::from_counters(&without_own(&target.before));
    let held = sort_held(host);
    let terms = terms_of(host, Some(target), host.target, held.of(host.target), false);

    let mut other: Vec<OtherNetnsCount> = host.namespaces[1..]
        .iter()
        .map(|ns| OtherNetnsCount {
            netns: ns.netns,
            name: ns.name.clone(),
            tcp: ns.census.as_ref().ok().map(NamespaceCensus::full),
        })
        .collect();
    for (&netns, sockets) in held.by_netns.iter().filter(|(netns, _)| **netns != host.target) {
        let count = sockets.len() as u64;
        match other.iter_mut().find(|o| o.netns == netns) {
            Some(o) => {
                let tcp = o.tcp.get_or_insert(0);
                *tcp = tcp.saturating_add(count);
            }
            None => other.push(OtherNetnsCount {
                netns,
                name: NamespaceName::SocketOnly,
                tcp: Some(count),
            }),
        }
    }
    other.sort_by_key(|o| std::cmp::Reverse(o.tcp));
    let other_total = other.iter().filter_map(|o| o.tcp).fold(0, u64::saturating_add);

    let drift = drift(host, held.changed);
    let consistency = Consistency {
        attempts: target.attempts,
        settled: crate::collect::census::settled(&target.before, &target.after),
        drift,
    };
    let mut closed = ClosedTerms {
        reported: figures.closed,
        time_wait: terms.time_wait + terms.fin_wait2,
        bound_inactive: (host.bound_inactive != BoundInactive::NotDumped).then_some(terms.bound_inactive),
        unbound: terms.unbound,
        other_netns: other_total,
        unexplained: 0,
    };
    closed.unexplained = figures
        .closed
        .saturating_sub(i64::try_from(closed.explained()).unwrap_or(i64::MAX));

    let saved_ss = saved.map(|saved| saved_ss::compare(saved, &figures));
    let mut findings = Vec::new();
    if closed.time_wait > 0 {
        findings.push(Finding::TimewaitSplit {
            time_wait: terms.time_wait,
            fin_wait2: terms.fin_wait2,
        });
    }
    findings.extend(collection_findings(host, &held, terms.unowned));
    findings.extend(mptcp_finding(
        host,
        terms.mptcp_unbound,
        terms.mptcp_bound_inactive,
    ));
    if !consistency.settled {
        findings.push(Finding::Unsettled {
            attempts: consistency.attempts,
        });
    }
    findings.extend(residue(host.view, closed.unexplained, drift));
    let moved: Vec<Figure> = saved_ss
        .iter()
        .flatten()
        .filter(|f| f.diff != 0)
        .map(|f| f.figure)
        .collect();
    if !moved.is_empty() {
        findings.push(Finding::SavedSsDiffers { figures: moved });
    }

    Report {
        netns: host.target,
        view: host.view,
        ss: figures,
        closed,
        other_netns: other,
        close_sockets: terms.close_sockets,
        processes: host.scan.stats,
        privileges: &host.privileges,
        consistency,
        saved_ss_explained: saved.and_then(saved_ss::explain),
        saved_ss,
        findings,
    }
}

/// `sockdiag summary --all-netns`: every namespace with its own terms, and the system-wide
/// identity `alloc = Σ full_tcp + unexplained` that only this view can check.
pub fn reconcile_host(host: &HostCollection) -> HostReport<'_> {
    let target = host.target_census();
    let held = sort_held(host);
    let mut close_sockets = Vec::new();
    let mut unowned = 0;
    let (mut mptcp_unbound, mut mptcp_bound_inactive) = (0, 0);
    let mut namespaces: Vec<NamespaceRow> = Vec::new();
    let mut netns_seen: Vec<u64> = host.namespaces.iter().map(|ns| ns.netns).collect();
    netns_seen.extend(
        held.by_netns
            .keys()
            .filter(|n| !host.namespaces.iter().any(|ns| ns.netns == **n)),
    );
    for netns in netns_seen {
        let found = host.namespaces.iter().find(|ns| ns.netns == netns);
        let census = found.and_then(|ns| ns.census.as_ref().ok());
        let terms = terms_of(host, census, netns, held.of(netns), true);
        unowned += terms.unowned;
        mptcp_unbound += terms.mptcp_unbound;
        mptcp_bound_inactive += terms.mptcp_bound_inactive;
        let bound_inactive =
            (host.bound_inactive != BoundInactive::NotDumped).then_some(terms.bound_inactive);
        namespaces.push(NamespaceRow {
            netns,
            name: found.map_or(NamespaceName::SocketOnly, |ns| ns.name.clone()),
            full_tcp: census.map(|c| c.full().saturating_add(terms.unbound)),
            time_wait: census.map(NamespaceCensus::timewait),
            bound_inactive: census.and(bound_inactive),
            unbound: terms.unbound,
            closed: census.map(|c| figures::closed(&c.before)),
            dumped: census.is_some_and(|c| c.walked),
        });
        close_sockets.extend(terms.close_sockets);
    }
    namespaces.sort_by_key(|row| {
        (
            std::cmp::Reverse(row.unbound),
            std::cmp::Reverse(row.closed),
            row.netns,
        )
    });
    close_sockets.sort_by_key(|c| (c.netns, c.kind == CloseKind::Unbound, c.inode));

    let alloc = target.before.tcp_alloc;
    let counted: u64 = namespaces
        .iter()
        .map(|row| row.full_tcp.unwrap_or(row.unbound))
        .fold(0, u64::saturating_add);
    let unexplained = i64::try_from(alloc)
        .unwrap_or(i64::MAX)
        .saturating_sub(i64::try_from(counted).unwrap_or(i64::MAX));
    let drift = drift(host, held.changed);
    let consistency = Consistency {
        attempts: target.attempts,
        settled: crate::collect::census::settled(&target.before, &target.after),
        drift,
    };
    let mut findings = collection_findings(host, &held, unowned);
    findings.extend(mptcp_finding(host, mptcp_unbound, mptcp_bound_inactive));
    findings.extend(residue(host.view, unexplained, drift));
    HostReport {
        alloc,
        counted,
        unexplained,
        namespaces,
        close_sockets,
        processes: host.scan.stats,
        consistency,
        findings,
    }
}

/// The held TCP sockets no dump returned, sorted by where they belong.
struct Held<'h> {
    /// Those still in TCP_CLOSE (or of unknown state), by the namespace they were placed in.
    by_netns: BTreeMap<u64, Vec<&'h HeldTcp>>,
    unplaced: u64,
    by_holder: u64,
    /// Out of TCP_CLOSE when asked: changed since the dump, counted in no term.
    changed: u64,
}

impl<'h> Held<'h> {
    fn of(&self, netns: u64) -> &[&'h HeldTcp] {
        self.by_netns.get(&netns).map_or(&[], Vec::as_slice)
    }
}

fn sort_held(host: &HostCollection) -> Held<'_> {
    let mut held = Held {
        by_netns: BTreeMap::new(),
        unplaced: 0,
        by_holder: 0,
        changed: 0,
    };
    for socket in &host.held {
        if let Placement::Socket { state, .. } = socket.placement
            && state != State::CLOSE
        {
            held.changed += 1;
            continue;
        }
        held.by_holder += u64::from(matches!(socket.placement, Placement::Process { .. }));
        match socket.placement.netns() {
            None => held.unplaced += 1,
            Some(netns) => held.by_netns.entry(netns).or_default().push(socket),
        }
    }
    held
}

/// The sockets of one namespace that bear on `closed`.
struct Terms<'a> {
    time_wait: u64,
    fin_wait2: u64,
    bound_inactive: u64,
    unbound: u64,
    /// Bound-inactive sockets that no inspected process holds.
    unowned: u64,
    /// Of `unbound` and `bound_inactive`, the subflows of MPTCP sockets.
    mptcp_unbound: u64,
    mptcp_bound_inactive: u64,
    /// Every TCP_CLOSE socket, with its owners.
    close_sockets: Vec<CloseSocket<'a>>,
}

/// Sorts out one namespace's timewait and TCP_CLOSE sockets: its census rows and the held
/// sockets placed in it. `with_netns` tags each TCP_CLOSE socket with the namespace.
fn terms_of<'a>(
    host: &'a HostCollection,
    census: Option<&'a NamespaceCensus>,
    netns: u64,
    held: &[&'a HeldTcp],
    with_netns: bool,
) -> Terms<'a> {
    let owners = |inode: u32| -> Vec<Owner<'a>> {
        if inode == 0 {
            Vec::new()
        } else {
            host.scan.owners(inode).collect()
        }
    };
    let tag = with_netns.then_some(netns);
    let mut terms = Terms {
        time_wait: 0,
        fin_wait2: 0,
        bound_inactive: 0,
        unbound: held.len() as u64,
        unowned: 0,
        mptcp_unbound: held.iter().filter(|socket| socket.mptcp).count() as u64,
        mptcp_bound_inactive: 0,
        close_sockets: Vec::new(),
    };
    for socket in census.map_or(&[][..], |c| &c.close_rows[..]) {
        if socket.timewait {
            if socket.state == State::FIN_WAIT2 {
                terms.fin_wait2 += 1
            } else {
                terms.time_wait += 1
            }
        } else if socket.state == State::CLOSE {
            terms.bound_inactive += 1;
            terms.mptcp_bound_inactive +=
                u64::from(host.mptcp.bound_inactive.binary_search(&socket.inode).is_ok());
            let owners = owners(socket.inode);
            terms.unowned += u64::from(owners.is_empty());
            terms.close_sockets.push(CloseSocket {
                inode: socket.inode,
                family: socket.family.name(),
                local: Some(socket.local.to_string()),
                kind: CloseKind::BoundInactive,
                netns: tag,
                owners,
            });
        }
    }
    terms.close_sockets.extend(held.iter().map(|socket| CloseSocket {
        inode: socket.inode,
        family: socket.family.name(),
        local: None,
        kind: CloseKind::Unbound,
        netns: tag,
        owners: owners(socket.inode),
    }));
    terms
        .close_sockets
        .sort_by_key(|c| (c.kind == CloseKind::Unbound, c.inode));
    terms
}

/// The MPTCP share of the terms, if there is one: subflows counted in `unbound` and in
/// `bound_inactive`, and the MPTCP sockets that could not be asked.
fn mptcp_finding(host: &HostCollection, unbound: u64, bound_inactive: u64) -> Option<Finding> {
    let unasked = host.mptcp.unasked;
    (unbound + bound_inactive + unasked > 0).then_some(Finding::MptcpSubflows {
        unbound,
        bound_inactive,
        unasked,
    })
}

/// What the collection could not see or saw change, for any view of it.
fn collection_findings(host: &HostCollection, held: &Held<'_>, unowned: u64) -> Vec<Finding> {
    let mut findings = Vec::new();
    if host.bound_inactive == BoundInactive::NotDumped {
        findings.push(Finding::BoundInactiveNotDumped);
    }
    for missing in &host.privileges.missing {
        findings.push(Finding::MissingCapability {
            capability: missing.capability,
            hides: missing.hides,
        });
    }
    let stats = host.scan.stats;
    if stats.denied > 0 {
        findings.push(Finding::ProcessesDenied {
            denied: stats.denied,
            total: stats.scanned + stats.denied + stats.vanished,
        });
    }
    if stats.vanished > 0 {
        findings.push(Finding::ProcessesVanished {
            count: stats.vanished,
        });
    }
    let not_entered = host.namespaces.iter().filter(|ns| ns.census.is_err()).count();
    if not_entered > 0 {
        findings.push(Finding::NamespacesNotEntered {
            count: u32::try_from(not_entered).unwrap_or(u32::MAX),
        });
    }
    let counted = host
        .namespaces
        .iter()
        .filter(|ns| ns.census.as_ref().is_ok_and(|c| !c.walked))
        .count();
    if counted > 0 {
        findings.push(Finding::Counted {
            count: u32::try_from(counted).unwrap_or(u32::MAX),
        });
    }
    for (count, finding) in [
        (held.unplaced, Finding::Unplaced { count: held.unplaced }),
        (
            held.by_holder,
            Finding::PlacedByHolder {
                count: held.by_holder,
            },
        ),
        (held.changed, Finding::ChangedSinceDump { count: held.changed }),
        (
            host.closed_during_walk,
            Finding::ClosedDuringWalk {
                count: host.closed_during_walk,
            },
        ),
        (unowned, Finding::UnownedBoundInactive { count: unowned }),
    ] {
        if count > 0 {
            findings.push(finding);
        }
    }
    let censuses = host.namespaces.iter().filter_map(|ns| ns.census.as_ref().ok());
    let interrupted: u32 = censuses.clone().map(|c| c.interrupted).sum();
    if interrupted > 0 {
        findings.push(Finding::InterruptedDumps { count: interrupted });
    }
    for detail in censuses.flat_map(|c| c.undecodable.iter()) {
        findings.push(Finding::Undecodable {
            detail: detail.clone(),
        });
    }
    findings
}

/// What to say of the unexplained residue: from inside a container, that it is the sockets of
/// the host and the other containers, which cannot be itemised from there; on the host,
/// nothing within the drift, and beyond it its likely causes, or that the census counted too
/// many.
fn residue(view: View, unexplained: i64, drift: i64) -> Option<Finding> {
    if view == View::Container && unexplained > 0 {
        // From inside, every other socket of the host moves alloc: the drift is theirs too.
        Some(Finding::ContainerView {
            hidden: unexplained,
            drift,
        })
    } else if unexplained > drift {
        Some(Finding::Unexplained {
            count: unexplained,
            drift,
        })
    } else if unexplained < -drift {
        Some(Finding::Overcounted {
            count: unexplained.saturating_neg(),
            drift,
        })
    } else {
        None
    }
}

/// How far `closed` of the target may have moved while the collection ran: the spread of
/// the global alloc over every counter read (at the start and the end of the collection and
/// around each namespace's dumps), the movement of every namespace's own `inuse4 + inuse6 −
/// tw` across its dumps, and each held socket seen to change during the collection (closed
/// before it could be asked, or out of TCP_CLOSE since the dump).
fn drift(host: &HostCollection, changed: u64) -> i64 {
    let censuses = host.namespaces.iter().filter_map(|ns| ns.census.as_ref().ok());
    let allocs = censuses
        .clone()
        .flat_map(|c| [c.before.tcp_alloc, c.after.tcp_alloc])
        .chain(host.alloc_window);
    let (low, high) = allocs.fold((u64::MAX, 0), |(low, high), a| (low.min(a), high.max(a)));
    let spread = i64::try_from(high.saturating_sub(low)).unwrap_or(i64::MAX);
    // How much each namespace's own `inuse − tw` moved across its dumps: sockets of a busy
    // namespace changing state while its dump ran (alloc may hold still meanwhile).
    let own = |c: &Counters| figures::closed(&Counters { tcp_alloc: 0, ..*c });
    let moved = censuses
        .map(|c| own(&c.after).saturating_sub(own(&c.before)).saturating_abs())
        .fold(0i64, i64::saturating_add);
    let seen_changing = i64::try_from(host.closed_during_walk.saturating_add(changed)).unwrap_or(i64::MAX);
    spread.saturating_add(moved).saturating_add(seen_changing)
}

/// A collection with every term present, shared by the reconciliation's tests and the
/// renderers' golden files.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::collect::census::NamespaceCensus;
    use crate::collect::owners::{ProcScan, Process, SocketFd};
    use crate::collect::sockstat::Counters;
    use crate::collect::{HeldTcp, MptcpSeen, Namespace};
    use crate::model::{Endpoint, Family, Socket};

    pub const N: u64 = 4026532000;
    pub const OTHER: u64 = 4026532999;

    /// alloc 20, inuse 5 + 1, tw 3: ss prints closed = 20 - (6 - 3) = 17.
    pub fn counters() -> Counters {
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

    pub fn row(state: State, timewait: bool, inode: u32, local: &str) -> Socket {
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            state,
            timewait,
            local: Endpoint::Ip(local.parse().expect("addr")),
            peer: Endpoint::Ip("0.0.0.0:0".parse().expect("addr")),
            unix_type: None,
            v6only: None,
            peer_inode: 0,
            recv_q: 0,
            send_q: 0,
            uid: 0,
            inode,
            cookie: 1,
        }
    }

    pub fn held(inode: u32, placement: Placement) -> HeldTcp {
        HeldTcp {
            inode,
            family: Family::Inet6,
            placement,
            mptcp: false,
        }
    }

    pub fn unbound_in(netns: u64) -> Placement {
        Placement::Socket {
            netns,
            state: State::CLOSE,
        }
    }

    /// pid 7 `app` holds the bound-inactive 501 and 502 on fds 3 and 4; pid 8 `leak` holds
    /// every held socket on fd 9.
    pub fn scan(held: &[u32]) -> ProcScan {
        let mut sockets = vec![
            SocketFd {
                inode: 501,
                process: 0,
                fd: 3,
            },
            SocketFd {
                inode: 502,
                process: 0,
                fd: 4,
            },
        ];
        sockets.extend(held.iter().map(|&inode| SocketFd {
            inode,
            process: 1,
            fd: 9,
        }));
        sockets.sort_by_key(|s| s.inode);
        let mut scan = ProcScan::default();
        scan.sockets = sockets;
        scan.processes = vec![
            Process {
                pid: 7,
                comm: "app".into(),
                netns: Some(N),
                kernel_thread: false,
                start_time: None,
                cgroup: Some("/system.slice/app.service".into()),
            },
            Process {
                pid: 8,
                comm: "leak".into(),
                netns: Some(N),
                kernel_thread: false,
                start_time: None,
                cgroup: Some(
                    "/system.slice/docker-3f2a1b9c04de5b6a7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b.scope"
                        .into(),
                ),
            },
        ];
        scan.stats = ScanStats {
            scanned: 10,
            denied: 0,
            vanished: 0,
        };
        scan
    }

    /// Every term present: 3 timewait (2 TIME_WAIT, 1 FIN_WAIT2), 2 bound-inactive,
    /// 4 unbound, 7 in another namespace (5 dumped + 2 held) = 16 of 17.
    pub fn host() -> HostCollection {
        let target = NamespaceCensus {
            netns: N,
            walked: true,
            before: counters(),
            after: counters(),
            own_sockets: 1,
            attempts: 1,
            close_rows: vec![
                row(State::TIME_WAIT, true, 0, "127.0.0.1:40000"),
                row(State::TIME_WAIT, true, 0, "127.0.0.1:40001"),
                row(State::FIN_WAIT2, true, 0, "127.0.0.1:40002"),
                row(State::CLOSE, false, 501, "127.0.0.1:6000"),
                row(State::CLOSE, false, 502, "0.0.0.0:6001"),
            ],
            ..NamespaceCensus::default()
        };
        // inuse 5 + 1 hashed, and the two bound-inactive sockets: full sockets dumped.
        let mut target = target;
        target.full_by_state[State::ESTABLISHED.0 as usize] = 6;
        target.full_by_state[State::CLOSE.0 as usize] = 2;
        let mut blue = NamespaceCensus {
            netns: OTHER,
            walked: true,
            before: counters(),
            after: counters(),
            ..NamespaceCensus::default()
        };
        blue.full_by_state[State::ESTABLISHED.0 as usize] = 5;
        let held = vec![
            held(601, unbound_in(N)),
            held(602, unbound_in(N)),
            held(603, unbound_in(N)),
            held(604, unbound_in(N)),
            held(701, unbound_in(OTHER)),
            held(702, unbound_in(OTHER)),
        ];
        HostCollection {
            target: N,
            namespaces: vec![
                Namespace {
                    netns: N,
                    name: NamespaceName::Initial,
                    census: Ok(target),
                },
                Namespace {
                    netns: OTHER,
                    name: NamespaceName::Named("blue".into()),
                    census: Ok(blue),
                },
            ],
            scan: scan(&held.iter().map(|h| h.inode).collect::<Vec<_>>()),
            held,
            closed_during_walk: 0,
            alloc_window: [20, 20],
            bound_inactive: BoundInactive::Dumped,
            mptcp: MptcpSeen::default(),
            privileges: Privileges::full(),
            view: View::Host,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;
    use crate::collect::census::NamespaceCensus;
    use crate::collect::{MptcpSeen, Namespace};
    use crate::model::SysText;

    fn target(host: &mut HostCollection) -> &mut NamespaceCensus {
        host.namespaces[0].census.as_mut().expect("target census")
    }

    #[test]
    fn every_term_of_closed() {
        let host = host();
        let report = reconcile(&host, None);
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
        assert_eq!(
            report.other_netns,
            [OtherNetnsCount {
                netns: OTHER,
                name: NamespaceName::Named("blue".into()),
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
        assert_eq!(
            report.close_sockets[0].owners,
            [Owner {
                pid: 7,
                comm: &SysText::from("app"),
                fd: 3,
                cgroup: Some(&SysText::from("/system.slice/app.service"))
            }]
        );
        assert_eq!(report.close_sockets[2].local, None);
        assert_eq!(report.close_sockets[2].owners[0].comm.as_bytes(), b"leak");
        assert_eq!(
            report.findings,
            [
                Finding::TimewaitSplit {
                    time_wait: 2,
                    fin_wait2: 1
                },
                Finding::Unexplained { count: 1, drift: 0 }
            ]
        );
        assert_eq!(
            report.consistency,
            Consistency {
                attempts: 1,
                settled: true,
                drift: 0
            }
        );
    }

    #[test]
    fn terms_always_sum_to_reported() {
        let mut host = host();
        target(&mut host).before.tcp_alloc = 3; // fewer than the census found
        let report = reconcile(&host, None);
        let c = report.closed;
        assert_eq!(c.explained() as i64 + c.unexplained, c.reported);
        assert_eq!(c.unexplained, -16, "never forced to zero: {c:?}");
        // alloc moved from 3 to 20 during the collection: that is the bound.
        assert_eq!(report.consistency.drift, 17);
        assert!(
            !report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Overcounted { .. }))
        );
        target(&mut host).after.tcp_alloc = 3;
        host.namespaces[1].census.as_mut().expect("blue").before.tcp_alloc = 3;
        host.namespaces[1].census.as_mut().expect("blue").after.tcp_alloc = 3;
        host.alloc_window = [3, 3];
        let report = reconcile(&host, None);
        assert_eq!(report.consistency.drift, 0);
        assert!(
            report
                .findings
                .contains(&Finding::Overcounted { count: 16, drift: 0 })
        );
    }

    #[test]
    fn old_kernel_has_no_bound_inactive_term() {
        let mut host = host();
        host.bound_inactive = BoundInactive::NotDumped;
        target(&mut host).close_rows.retain(|s| s.timewait);
        // Before 6.8 those two sockets are found by the fd scan instead.
        host.held.push(held(501, unbound_in(N)));
        host.held.push(held(502, unbound_in(N)));
        let report = reconcile(&host, None);
        assert_eq!(report.closed.bound_inactive, None);
        assert_eq!(report.closed.unbound, 6);
        assert_eq!(report.closed.unexplained, 1);
        assert!(report.findings.contains(&Finding::BoundInactiveNotDumped));
    }

    #[test]
    fn drift_bounds_unexplained() {
        let mut host = host();
        target(&mut host).attempts = 3;
        target(&mut host).after.tcp_alloc += 4; // four sockets created elsewhere meanwhile
        target(&mut host).after.tcp_tw += 1; // and one timewait here
        let report = reconcile(&host, None);
        assert_eq!(
            report.consistency,
            Consistency {
                attempts: 3,
                settled: false,
                drift: 5
            }
        );
        assert_eq!(
            report.closed.reported, 17,
            "the figures are those read before the dumps"
        );
        assert_eq!(report.closed.unexplained, 1);
        assert!(
            !report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Unexplained { .. })),
            "1 within a drift of 5 is no finding: {:?}",
            report.findings
        );
        assert!(report.findings.contains(&Finding::Unsettled { attempts: 3 }));
    }

    #[test]
    fn held_sockets_placed_by_holder_nowhere_or_changed() {
        let mut host = host();
        host.held = vec![
            held(601, Placement::Process { netns: N }),
            held(602, Placement::Unknown),
            held(603, unbound_in(4026533333)),
            held(
                604,
                Placement::Socket {
                    netns: N,
                    state: State::ESTABLISHED,
                },
            ),
        ];
        host.closed_during_walk = 2;
        let report = reconcile(&host, None);
        assert_eq!(report.closed.unbound, 1);
        assert_eq!(
            report.closed.other_netns, 6,
            "5 dumped in blue + 1 in a namespace without process"
        );
        assert!(
            report
                .other_netns
                .iter()
                .any(|o| o.netns == 4026533333 && o.tcp == Some(1) && o.name == NamespaceName::SocketOnly)
        );
        for expected in [
            Finding::Unplaced { count: 1 },
            Finding::PlacedByHolder { count: 1 },
            Finding::ChangedSinceDump { count: 1 },
            Finding::ClosedDuringWalk { count: 2 },
        ] {
            assert!(
                report.findings.contains(&expected),
                "{expected:?}: {:?}",
                report.findings
            );
        }
    }

    #[test]
    fn mptcp_subflows_are_named_in_their_terms() {
        let mut host = host();
        // 603 and 604 are TCP_CLOSE first subflows of MPTCP sockets; 702 one of another
        // namespace; 501 (bound-inactive) is the subflow of a bound MPTCP socket.
        for h in host
            .held
            .iter_mut()
            .filter(|h| [603, 604, 702].contains(&h.inode))
        {
            h.mptcp = true;
        }
        host.mptcp = MptcpSeen {
            bound_inactive: vec![501],
            unasked: 2,
        };
        let report = reconcile(&host, None);
        assert_eq!(report.closed.unbound, 4, "a subflow is an unbound TCP socket");
        assert_eq!(report.closed.other_netns, 7);
        assert_eq!(report.closed.unexplained, 1);
        assert!(
            report.findings.contains(&Finding::MptcpSubflows {
                unbound: 2,
                bound_inactive: 1,
                unasked: 2
            }),
            "{:?}",
            report.findings
        );
        // --all-netns: the share of every namespace.
        let all = reconcile_host(&host);
        assert!(
            all.findings.contains(&Finding::MptcpSubflows {
                unbound: 3,
                bound_inactive: 1,
                unasked: 2
            }),
            "{:?}",
            all.findings
        );
        let plain_host = super::fixture::host();
        let plain = reconcile(&plain_host, None);
        assert!(
            !plain
                .findings
                .iter()
                .any(|f| matches!(f, Finding::MptcpSubflows { .. }))
        );
    }

    #[test]
    fn what_could_not_be_seen_is_found() {
        let mut host = host();
        host.privileges = Privileges::from_set(65534, rustix::thread::CapabilitySet::SYS_PTRACE);
        host.scan.stats = ScanStats {
            scanned: 4,
            denied: 6,
            vanished: 1,
        };
        host.scan.sockets.retain(|s| s.inode != 502);
        host.namespaces.push(Namespace {
            netns: 5,
            name: NamespaceName::Process {
                pid: 9,
                comm: "x".into(),
            },
            census: Err("setns: EPERM".into()),
        });
        target(&mut host).interrupted = 1;
        target(&mut host).undecodable = vec!["1 message(s), the first: bad".into()];
        let report = reconcile(&host, None);
        assert_eq!(
            report.other_netns.iter().find(|o| o.netns == 5).map(|o| o.tcp),
            Some(None)
        );
        for expected in [
            Finding::MissingCapability {
                capability: Capability::SysAdmin,
                hides: Hidden::OtherNamespaces,
            },
            Finding::ProcessesDenied { denied: 6, total: 11 },
            Finding::ProcessesVanished { count: 1 },
            Finding::NamespacesNotEntered { count: 1 },
            Finding::UnownedBoundInactive { count: 1 },
            Finding::InterruptedDumps { count: 1 },
            Finding::Undecodable {
                detail: "1 message(s), the first: bad".into(),
            },
        ] {
            assert!(
                report.findings.contains(&expected),
                "{expected:?}: {:?}",
                report.findings
            );
        }
    }

    #[test]
    fn every_namespace_and_the_system_wide_identity() {
        let host = host();
        let report = reconcile_host(&host);
        assert_eq!((report.alloc, report.counted, report.unexplained), (20, 19, 1));
        assert_eq!(
            report.namespaces,
            [
                NamespaceRow {
                    netns: N,
                    name: NamespaceName::Initial,
                    full_tcp: Some(12),
                    time_wait: Some(3),
                    bound_inactive: Some(2),
                    unbound: 4,
                    closed: Some(17),
                    dumped: true,
                },
                NamespaceRow {
                    netns: OTHER,
                    name: NamespaceName::Named("blue".into()),
                    full_tcp: Some(7),
                    time_wait: Some(0),
                    bound_inactive: Some(0),
                    unbound: 2,
                    closed: Some(17),
                    dumped: true,
                },
            ]
        );
        let tagged: Vec<(Option<u64>, u32)> =
            report.close_sockets.iter().map(|c| (c.netns, c.inode)).collect();
        assert_eq!(
            tagged,
            [
                (Some(N), 501),
                (Some(N), 502),
                (Some(N), 601),
                (Some(N), 602),
                (Some(N), 603),
                (Some(N), 604),
                (Some(OTHER), 701),
                (Some(OTHER), 702)
            ]
        );
        assert!(
            report
                .findings
                .contains(&Finding::Unexplained { count: 1, drift: 0 })
        );
    }

    #[test]
    fn a_counted_namespace_is_its_counters() {
        let mut host = host();
        let green = Counters {
            tcp_inuse: 4,
            tcp6_inuse: 1,
            tcp_tw: 2,
            ..counters()
        };
        host.namespaces.push(Namespace {
            netns: 4026533000,
            name: NamespaceName::Named("green".into()),
            census: Ok(NamespaceCensus {
                netns: 4026533000,
                before: green,
                after: green,
                ..NamespaceCensus::default()
            }),
        });
        let report = reconcile_host(&host);
        let row = report
            .namespaces
            .iter()
            .find(|ns| ns.netns == 4026533000)
            .expect("green");
        // Its hashed sockets and minisocks are its counters; closed as ss prints it there.
        assert_eq!(
            (
                row.full_tcp,
                row.time_wait,
                row.bound_inactive,
                row.unbound,
                row.closed
            ),
            (Some(5), Some(2), Some(0), 0, Some(20 - 5 + 2))
        );
        assert!(!row.dumped);
        assert_eq!(report.counted, 19 + 5);
        assert!(report.findings.contains(&Finding::Counted { count: 1 }));
        let plain = reconcile(&host, None);
        assert_eq!(plain.closed.other_netns, 7 + 5);
    }

    #[test]
    fn a_namespace_not_entered_counts_its_held_sockets_only() {
        let mut host = host();
        host.namespaces[1].census = Err("setns: Operation not permitted".into());
        let report = reconcile_host(&host);
        let blue = report
            .namespaces
            .iter()
            .find(|ns| ns.netns == OTHER)
            .expect("blue");
        assert_eq!((blue.full_tcp, blue.unbound, blue.closed), (None, 2, None));
        assert_eq!((report.counted, report.unexplained), (14, 6));
        assert!(
            report
                .findings
                .contains(&Finding::NamespacesNotEntered { count: 1 })
        );
    }

    #[test]
    fn from_inside_a_container_the_residue_is_the_host() {
        let mut host = host();
        host.view = View::Container;
        let report = reconcile(&host, None);
        assert_eq!(report.view, View::Container);
        assert_eq!(report.closed.unexplained, 1, "still the measured residue");
        assert!(
            report
                .findings
                .contains(&Finding::ContainerView { hidden: 1, drift: 0 })
        );
        assert!(
            !report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Unexplained { .. }))
        );
    }

    #[test]
    fn saved_ss_is_compared_with_the_printed_figures() {
        let host = host();
        let saved: SavedSs = [(Figure::Total, 29), (Figure::Closed, 10)].into_iter().collect();
        let report = reconcile(&host, Some(&saved));
        let rows = report.saved_ss.expect("compared");
        assert_eq!(
            rows,
            [
                FigureComparison {
                    figure: Figure::Total,
                    saved: 29,
                    live: 29,
                    diff: 0
                },
                FigureComparison {
                    figure: Figure::Closed,
                    saved: 10,
                    live: 17,
                    diff: 7
                }
            ]
        );
        assert!(report.findings.contains(&Finding::SavedSsDiffers {
            figures: vec![Figure::Closed]
        }));
    }
}
