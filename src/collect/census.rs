//! One network namespace's census: its TCP dumps between two reads of its counters, then the
//! inodes of its other sockets.
//!
//! ss's `closed` for a namespace N is `alloc − inuse4(N) − inuse6(N) + tw(N)`. Of those
//! counters, `inuse` (net/ipv4/inet_hashtables.c `inet_hash`, `__inet_hash_connect`,
//! `inet_unhash`: `sock_prot_inuse_add`) and `tw` (`inet_twsk_hashdance` and the timewait
//! death row) belong to N, and N's TCP dump sees the same sockets they count: the hashed full
//! sockets, the timewait minisocks. So N's counters settle N's dump: if `inuse4`, `inuse6` and
//! `tw` read the same before and after the dump, the dump saw what the counters counted, up
//! to sockets that came and went in between. If they moved, only this namespace's TCP dumps
//! are taken again (a bounded number of times), never the `/proc` walk or other namespaces.
//!
//! `alloc` (`tcp_sockets_allocated`) and `orphan` are global: no dump of one namespace can
//! settle them, so they are not waited for. Their movement is measured instead, by every
//! counter read of every namespace census ([`Counters::tcp_alloc`] in `before` and `after`),
//! and reported as the bound of the reconciliation (see `reconcile`).
//!
//! The UDP, RAW and UNIX dumps run after the second counter read: they bear on no counter of
//! `closed`, and serve only to tell the `/proc` walk which held inodes are not TCP, without
//! asking each socket its protocol.
//!
//! A namespace can also be *counted* ([`count`]): its counters read once, no dump. Each dump
//! walks the TCP hash tables that every namespace shares (`inet_diag_dump_icsk` locks every
//! non-empty ehash and bhash2 bucket and skips the sockets of other namespaces), so on a node
//! with a hundred namespaces the walks are nearly all of the work. A namespace none of whose
//! held TCP sockets is in TCP_CLOSE needs no walk to be explained: its hashed full sockets are
//! its `inuse4 + inuse6`, its minisocks its `tw`, and it has no held socket to itemise. What a
//! count cannot see is a bound-inactive socket that no process holds (one in flight in an
//! SCM_RIGHTS message); the reconciliation leaves such a socket in `unexplained`.

use std::path::Path;

use anyhow::Result;

use crate::collect::diag::{DiagError, DiagSocket, DumpStats, Request, probe_socket};
use crate::collect::sockstat::{self, Counters};
use crate::model::{Family, Proto, Socket, State};

/// Censuses of one namespace's TCP dumps at most while its own counters keep moving.
pub const MAX_ATTEMPTS: u32 = 3;

/// Whether the kernel dumps bound-but-inactive TCP sockets (Linux >= 6.8), once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundInactive {
    Unknown,
    Dumped,
    NotDumped,
}

/// What one namespace's census saw.
#[derive(Debug, Clone, Default)]
pub struct NamespaceCensus {
    /// Inode of the namespace.
    pub netns: u64,
    /// Whether its TCP sockets were dumped; a counted namespace ([`count`]) has only its
    /// counters, and no rows.
    pub walked: bool,
    /// The counters read just before the last TCP dumps (ss's figures come from these).
    pub before: Counters,
    /// The counters read just after them.
    pub after: Counters,
    /// Sockets sockdiag itself holds in this namespace while it reads the counters (its
    /// sock_diag socket): `sockets: used` counts them, a `ss -s` run at the same moment would
    /// not.
    pub own_sockets: u64,
    /// TCP dumps taken before the namespace's own counters held still (or we gave up).
    pub attempts: u32,
    /// Timewait minisocks and TCP_CLOSE (bound-inactive) sockets: the rows that bear on
    /// `closed`.
    pub close_rows: Vec<Socket>,
    /// Full TCP sockets (not timewait minisocks, not request socks) by state number.
    pub full_by_state: [u64; 14],
    /// Inodes of every socket the dumps returned, TCP or not (0 excluded), sorted.
    pub inodes: Vec<u32>,
    /// Dumps still interrupted (`NLM_F_DUMP_INTR`) after one retry.
    pub interrupted: u32,
    /// Dumps with messages that could not be decoded: count and first error, per dump.
    pub undecodable: Vec<String>,
    /// Protocols this kernel has no diag module for (`ENOENT`), e.g. RAW without raw_diag.
    pub unsupported: Vec<Proto>,
}

impl NamespaceCensus {
    /// Full TCP sockets of this namespace: those the dumps returned, or for a counted
    /// namespace its hashed ones (`inuse4 + inuse6`).
    pub fn full(&self) -> u64 {
        if self.walked {
            self.full_by_state.iter().sum()
        } else {
            self.before.tcp_inuse.saturating_add(self.before.tcp6_inuse)
        }
    }

    /// Its timewait minisocks: the rows the dumps returned, or for a counted namespace `tw`.
    pub fn timewait(&self) -> u64 {
        if self.walked {
            self.close_rows.iter().filter(|row| row.timewait).count() as u64
        } else {
            self.before.tcp_tw
        }
    }
}

/// A row of the dump that belongs to TCP alloc: neither a timewait minisock nor a request
/// sock (request socks are reported as SYN_RECV, `inet_req_diag_fill`).
pub fn is_full_socket(socket: &Socket) -> bool {
    !socket.timewait && socket.state != State::SYN_RECV && socket.state != State::NEW_SYN_RECV
}

/// The dumps whose inodes spare the walk a question per held socket.
const OTHER_DUMPS: [Request; 5] = [
    Request {
        proto: Proto::Udp,
        family: Family::Inet,
        states: u32::MAX,
    },
    Request {
        proto: Proto::Udp,
        family: Family::Inet6,
        states: u32::MAX,
    },
    Request {
        proto: Proto::Unix,
        family: Family::Unix,
        states: u32::MAX,
    },
    Request {
        proto: Proto::Raw,
        family: Family::Inet,
        states: u32::MAX,
    },
    Request {
        proto: Proto::Raw,
        family: Family::Inet6,
        states: u32::MAX,
    },
];

/// Takes the census of the namespace `diag` dumps. `counters` is the directory holding that
/// namespace's `sockstat`, `sockstat6` and `snmp`; `own_sockets` what sockdiag holds there.
/// Must run on a thread in that namespace when `support` is still unknown (the probe socket
/// is created in the calling thread's namespace).
pub fn take(
    diag: &mut DiagSocket,
    netns: u64,
    counters: &Path,
    own_sockets: u64,
    support: &mut BoundInactive,
) -> Result<NamespaceCensus> {
    let mut census = NamespaceCensus {
        netns,
        walked: true,
        own_sockets,
        ..NamespaceCensus::default()
    };
    loop {
        census.attempts += 1;
        census.close_rows.clear();
        census.full_by_state = [0; 14];
        census.inodes.clear();
        census.interrupted = 0;
        census.undecodable.clear();
        census.before = sockstat::read_dir(counters)?;
        let (rows, stats) = dump_tcp(diag, support)?;
        census.note(&stats);
        for socket in rows {
            census.add_tcp(socket);
        }
        census.after = sockstat::read_dir(counters)?;
        if settled(&census.before, &census.after) || census.attempts == MAX_ATTEMPTS {
            break;
        }
    }
    for request in OTHER_DUMPS {
        let mut inodes = Vec::new();
        match diag.dump(&request, |socket| inodes.push(socket.inode)) {
            Ok(stats) => census.note(&stats),
            Err(DiagError::Unsupported { proto }) => {
                if !census.unsupported.contains(&proto) {
                    census.unsupported.push(proto);
                }
            }
            Err(e) => return Err(e.into()),
        }
        census
            .inodes
            .extend(inodes.into_iter().filter(|&inode| inode != 0));
    }
    census.inodes.sort_unstable();
    census.inodes.dedup();
    Ok(census)
}

/// The counted census of a namespace (see the module docs): its counters, read once from
/// `counters`, and no dump.
pub fn count(netns: u64, counters: &Path, own_sockets: u64) -> Result<NamespaceCensus> {
    let read = sockstat::read_dir(counters)?;
    Ok(NamespaceCensus {
        netns,
        walked: false,
        before: read,
        after: read,
        own_sockets,
        ..NamespaceCensus::default()
    })
}

/// Whether the counters a namespace's dump is compared with held still: its own `inuse` and
/// `tw` (alloc is global and settles nothing here).
pub fn settled(before: &Counters, after: &Counters) -> bool {
    (before.tcp_inuse, before.tcp6_inuse, before.tcp_tw) == (after.tcp_inuse, after.tcp6_inuse, after.tcp_tw)
}

/// The namespace's TCP sockets, both families and every state in one dump, run again once if
/// interrupted (`NLM_F_DUMP_INTR`; the second outcome stands). The first dump of a collector
/// also learns whether the kernel dumps bound-inactive sockets; a bound-inactive row proves
/// it without the probe.
fn dump_tcp(
    diag: &mut DiagSocket,
    support: &mut BoundInactive,
) -> Result<(Vec<Socket>, DumpStats), DiagError> {
    let mut rows = Vec::new();
    let mut run = |diag: &mut DiagSocket, rows: &mut Vec<Socket>| -> Result<DumpStats, DiagError> {
        rows.clear();
        // No port left to bind a probe to (exhausted ports): support stays unknown, the
        // census goes on.
        let probe = match *support {
            BoundInactive::Unknown => probe_socket().ok(),
            _ => None,
        };
        let probe_inode = probe.as_ref().map(|(_, inode)| *inode);
        let mut seen = false;
        let stats = diag.dump_tcp_both_families(State::ALL_BITS, |row| {
            if Some(row.inode) == probe_inode && row.state == State::CLOSE {
                seen = true;
            } else {
                rows.push(row);
            }
        })?;
        let bound_inactive_row = || rows.iter().any(|r| !r.timewait && r.state == State::CLOSE);
        if seen || (*support == BoundInactive::Unknown && bound_inactive_row()) {
            *support = BoundInactive::Dumped;
        } else if probe.is_some() {
            *support = BoundInactive::NotDumped;
        }
        Ok(stats)
    };
    let stats = run(diag, &mut rows)?;
    if !stats.interrupted {
        return Ok((rows, stats));
    }
    let stats = run(diag, &mut rows)?;
    Ok((rows, stats))
}

impl NamespaceCensus {
    fn note(&mut self, stats: &DumpStats) {
        self.interrupted += u32::from(stats.interrupted);
        self.undecodable.extend(stats.undecodable());
    }

    fn add_tcp(&mut self, socket: Socket) {
        if socket.inode != 0 {
            self.inodes.push(socket.inode);
        }
        if is_full_socket(&socket) {
            self.full_by_state[usize::from(socket.state.0).min(13)] += 1;
        }
        if socket.timewait || socket.state == State::CLOSE {
            self.close_rows.push(socket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::diag::replay::{Answer, PORT, Replay, TIMEWAIT_FIN_WAIT2};

    /// A fake `/proc/net` with the 6.18 captures.
    fn counters_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in [
            ("sockstat", include_str!("../../tests/fixtures/sockstat-6.18.txt")),
            (
                "sockstat6",
                include_str!("../../tests/fixtures/sockstat6-6.18.txt"),
            ),
            ("snmp", include_str!("../../tests/fixtures/snmp-6.18.txt")),
        ] {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        dir
    }

    /// An ESTABLISHED full socket of inode `inode`, from the timewait capture.
    fn established(inode: u32) -> Vec<u8> {
        let mut row = TIMEWAIT_FIN_WAIT2.to_vec();
        row[1] = 1; // TCP_ESTABLISHED
        row[2] = 0; // no timer
        row[68..72].copy_from_slice(&inode.to_ne_bytes());
        row
    }

    fn take_replay(script: Vec<Answer>) -> NamespaceCensus {
        let dir = counters_dir();
        let mut diag = DiagSocket::over(Replay::new(script), PORT);
        take(&mut diag, 1, dir.path(), 0, &mut BoundInactive::NotDumped).expect("census")
    }

    fn rows(rows: Vec<Vec<u8>>, interrupted: bool) -> Answer {
        Answer::Rows { rows, interrupted }
    }

    #[test]
    fn a_dump_interrupted_once_is_taken_again() {
        let census = take_replay(vec![
            rows(vec![established(10), established(11)], true),
            // The retry of the TCP dump stands.
            rows(vec![established(10), TIMEWAIT_FIN_WAIT2.to_vec()], false),
        ]);
        assert_eq!(census.interrupted, 0);
        assert_eq!(census.full(), 1);
        assert_eq!(census.close_rows.len(), 1);
        assert_eq!(census.inodes, [10]);
    }

    #[test]
    fn a_dump_interrupted_every_time_is_counted() {
        let census = take_replay(vec![
            rows(vec![established(10), established(12)], true),
            rows(vec![established(10), established(12)], true),
        ]);
        assert_eq!(census.interrupted, 1, "the TCP dump, after its retry");
        assert_eq!(census.full(), 2);
    }

    #[test]
    fn raw_without_its_diag_module_is_noted_not_fatal() {
        let enoent = |rows| Answer::ErrorAfter { rows, errno: -2 };
        let census = take_replay(vec![
            rows(vec![established(10)], false), // tcp, both families
            rows(Vec::new(), false),            // udp
            rows(Vec::new(), false),            // udp6
            rows(Vec::new(), false),            // unix
            enoent(Vec::new()),                 // raw
            enoent(Vec::new()),                 // raw6
        ]);
        assert_eq!(census.unsupported, [Proto::Raw]);
        assert_eq!(census.full(), 1);
    }

    #[test]
    fn a_counted_namespace_is_its_counters() {
        let dir = counters_dir();
        let counted = count(7, dir.path(), 1).expect("count");
        let c = sockstat::read_dir(dir.path()).expect("counters");
        assert!(!counted.walked);
        assert_eq!((counted.before, counted.after), (c, c));
        assert_eq!(counted.full(), c.tcp_inuse + c.tcp6_inuse);
        assert_eq!(counted.timewait(), c.tcp_tw);
        assert!(counted.close_rows.is_empty() && counted.inodes.is_empty());

        // A walked one counts its rows, whatever its counters say.
        let walked = take_replay(vec![
            rows(vec![established(10), TIMEWAIT_FIN_WAIT2.to_vec()], false),
            rows(Vec::new(), false),
            rows(Vec::new(), false),
            rows(Vec::new(), false),
            rows(Vec::new(), false),
            rows(Vec::new(), false),
        ]);
        assert!(walked.walked);
        assert_eq!((walked.full(), walked.timewait()), (1, 1));
    }

    #[test]
    fn full_sockets_exclude_minisocks_and_request_socks() {
        let decode = |row: &[u8]| crate::collect::diag::decode_row(Proto::Tcp, row).expect("row");
        assert!(is_full_socket(&decode(&established(1))));
        assert!(!is_full_socket(&decode(&TIMEWAIT_FIN_WAIT2)));
        let mut request = established(0);
        request[1] = 3; // SYN_RECV: request socks are reported so
        assert!(!is_full_socket(&decode(&request)));
    }
}
