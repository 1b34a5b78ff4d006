//! Collection: the one way any command learns about the system, and the only code that talks
//! to the kernel (netlink, `/proc`, `/run/netns`, `pidfd_getfd`).
//!
//! - [`diag`]: `SOCK_DIAG_BY_FAMILY` dumps over a `NETLINK_SOCK_DIAG` socket, decoded at once
//!   into our own [`Socket`](crate::model::Socket) rows.
//! - [`sockstat`]: the counters `ss -s` prints arithmetic on.
//! - [`census`]: one namespace's census, its TCP dumps between two reads of its own counters.
//! - [`owners`]: one walk over `/proc/PID/fd`, for owners and each process's namespace.
//! - [`procnet`]: RAW sockets from `/proc/net/raw{,6}` where the kernel has no raw_diag.
//! - [`netns`]: finding namespaces and working inside one from a short-lived thread.
//! - [`sys`]: what a held socket says about itself (`pidfd_getfd`, `SIOCGSKNS`, `TCP_INFO`).
//! - [`privileges`]: the capabilities held, and what each missing one hides.
//!
//! A [`Collector`] holds what outlives one run: the sock_diag socket of the namespace it
//! reads and what the kernel was found to support. `list` streams dumps through it;
//! `summary` asks it for a [`HostCollection`]: one `/proc` walk, every namespace found, the
//! census of each taken once, and the place of every held TCP socket no dump returned.
//!
//! Order and consistency: the walk comes first and takes long; it touches no counter. Each
//! namespace's census then reads its counters, dumps its TCP sockets and reads them again,
//! retrying only those dumps while that namespace's own `inuse`/`tw` move (see [`census`]).
//! Last, each held TCP socket that no dump returned is asked for its namespace and its state
//! now: one still in TCP_CLOSE is a socket without a port (never bound, or port released);
//! one in another state changed between the dump and the question and is counted apart; one
//! whose descriptor is gone was closed during the collection.
//!
//! `summary` and `watch` ([`Walk::WhereNeeded`]) ask before the other namespaces' censuses: every
//! held socket the target's dumps did not return, so that only the namespaces holding one in
//! TCP_CLOSE are dumped and the others counted (see [`census`]). A socket asked then and found
//! hashed in a counted namespace is in that namespace's `inuse`; in a dumped one, the dump
//! returns it, or it changed after the question.
//!
//! MPTCP: an MPTCP socket (`IPPROTO_MPTCP`, `system.sockprotoname` `MPTCP` or `MPTCPv6`) is
//! not a TCP socket and `TCP: alloc` does not count it; its subflows are TCP sockets, which
//! it does (+1 at `tcp_init_sock` of each). The first subflow is created only when needed
//! (`__mptcp_nmpc_sk`: bind, listen, connect, or an option it must carry) by
//! `mptcp_subflow_create_socket`, a kernel socket with no descriptor of its own whose inode
//! is set to the MPTCP socket's: a dump that returns a subflow returns the MPTCP socket's
//! inode, and its owners are the MPTCP socket's holders. Bound, the subflow is dumped as
//! bound-inactive; listening or connected, it is hashed and dumped like any TCP socket, and
//! counted in its term. Never bound
//! (an option set or asked for) or after a refused connect, it is in TCP_CLOSE, unhashed, in
//! `alloc` and in no dump: a held MPTCP socket no dump returned is asked for its subflows
//! (`MPTCP_TCPINFO`, see [`sys`]), and each one in TCP_CLOSE is held like an unbound TCP
//! socket ([`HeldTcp::mptcp`]).

pub mod census;
pub mod cgroup;
pub mod diag;
pub mod netns;
pub mod owners;
pub mod privileges;
pub mod procnet;
pub mod sockstat;
pub mod sys;

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rustix::io::Errno;

use crate::model::{Family, State, SysText};
use census::{BoundInactive, NamespaceCensus};
use diag::{DiagError, DiagSocket, DumpStats, Request};
use owners::ProcScan;

/// Whether an error is ours running out of descriptors (`EMFILE`, `ENFILE`): never a fact
/// about a process or a namespace, so the collection stops with it instead of reporting a
/// socket unplaced or a namespace not entered.
fn out_of_descriptors(error: &anyhow::Error) -> bool {
    let errno = |e: &(dyn std::error::Error + 'static)| {
        e.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .or_else(|| e.downcast_ref::<Errno>().map(|e| e.raw_os_error()))
            .or_else(|| e.downcast_ref::<DiagError>().and_then(DiagError::errno))
    };
    error
        .chain()
        .any(|e| matches!(errno(e), Some(libc::EMFILE | libc::ENFILE)))
}

/// Raises the soft limit on open descriptors to the hard one, as far as allowed: the
/// censuses and the questions to held sockets hold a few descriptors per thread and one per
/// namespace known only through a socket, which a soft limit of 1024 can fall short of on a
/// large node. What is still short is an error ([`descriptors_exhausted`]), never a guess.
fn raise_descriptor_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        // Refused (a sandbox), the soft limit stays: nothing else depends on it.
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        );
    }
}

/// The error a collection stops with when it runs out of descriptors while doing `what`.
fn descriptors_exhausted(what: &str, error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("out of file descriptors ({error}) while {what}: raise the limit (ulimit -n)")
}

/// Threads that take namespace censuses or ask held sockets at once, at most.
const MAX_WORKERS: usize = 4;

/// One thread per core, up to [`MAX_WORKERS`].
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WORKERS))
}

/// Which namespaces besides the target a host collection dumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Every one: each census has its rows (the metrics' sockets by state and namespace).
    Every,
    /// Only those where a held socket must be itemised; the others are counted (see
    /// [`census`]). Every held socket no dump of the target returned is asked first, in
    /// parallel; a namespace is walked when one of them in TCP_CLOSE belongs to it, or a
    /// process in it could not be inspected, as far as its namespace is known.
    WhereNeeded,
}

/// How a namespace found is entered: by the path that named it, or by a descriptor a held
/// socket gave (`SIOCGSKNS`).
enum NamespaceFile {
    Path(PathBuf),
    Open(File),
}

impl NamespaceFile {
    /// Runs `work` with the namespace's file, opening it first when it is a path.
    fn with<R>(&self, work: impl FnOnce(&File) -> Result<R>) -> Result<R> {
        match self {
            NamespaceFile::Path(path) => work(&netns::open(path)?),
            NamespaceFile::Open(file) => work(file),
        }
    }
}

/// What a command keeps between samples: the sock_diag socket of the namespace it reads, that
/// namespace's file (when it is not our own) and the kernel's bound-inactive support.
pub struct Collector {
    proc_root: PathBuf,
    /// The namespace read, when it is not the caller's (`--netns`).
    target_file: Option<File>,
    target: u64,
    diag: DiagSocket,
    support: BoundInactive,
}

/// How a namespace is named for a person: the most telling name found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceName {
    /// A file under `/run/netns` (`ip netns`, CNI).
    Named(SysText),
    /// A file under `/run/docker/netns` (a Docker sandbox).
    Docker(SysText),
    /// The namespace of pid 1.
    Initial,
    /// The container (`docker:3f2a1b9c04de`, `k8s:…`) or, failing that, the systemd unit of
    /// the lowest pid in it that has one (see [`cgroup::Classified::label`]).
    Owned {
        label: String,
        container: bool,
        pid: u32,
        comm: SysText,
    },
    /// The lowest pid in it that is not a kernel thread (or, failing that, the lowest pid).
    Process { pid: u32, comm: SysText },
    /// The namespace read, when no file names it and no process in it could be inspected
    /// (sockdiag leaves itself out of the walk; run as an ordinary user, the others may be
    /// closed to it).
    Target,
    /// No process is in it and no file names it: only a socket created there was found.
    SocketOnly,
}

/// A namespace found, and its census or why there is none.
#[derive(Debug)]
pub struct Namespace {
    pub netns: u64,
    pub name: NamespaceName,
    pub census: Result<NamespaceCensus, String>,
}

/// Where a held TCP socket that no dump returned belongs, and how that was learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The socket said so itself (`SIOCGSKNS`), with its TCP state when asked.
    Socket { netns: u64, state: State },
    /// Taken from a holder's `/proc/PID/ns/net` (`pidfd_getfd` not permitted): the socket
    /// may have been created elsewhere and passed; its state is unknown.
    Process { netns: u64 },
    /// Neither could be learnt.
    Unknown,
}

impl Placement {
    pub fn netns(self) -> Option<u64> {
        match self {
            Placement::Socket { netns, .. } | Placement::Process { netns } => Some(netns),
            Placement::Unknown => None,
        }
    }
}

/// A TCP socket held by a process that no dump of any namespace returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldTcp {
    pub inode: u32,
    pub family: Family,
    pub placement: Placement,
    /// A subflow of an MPTCP socket, held through it (and sharing its inode).
    pub mptcp: bool,
}

/// What the collection learnt of MPTCP sockets beside their subflows in [`HostCollection::held`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MptcpSeen {
    /// Inodes of the bound-inactive rows of every census that are the first subflow of an
    /// MPTCP socket (a holder's descriptor of that inode is an MPTCP socket), sorted.
    pub bound_inactive: Vec<u32>,
    /// Held MPTCP sockets no dump returned that could not be asked for their subflows (0 or
    /// more of which are in TCP_CLOSE).
    pub unasked: u64,
}

/// Where sockdiag runs from: the host, or a container (a child PID namespace or a user
/// namespace), from where the processes and namespaces of the host and of other containers
/// cannot be seen, while TCP alloc still counts their sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    Host,
    Container,
}

/// The inodes of the initial PID and user namespaces, fixed by the kernel
/// (`PROC_PID_INIT_INO` 0xEFFFFFFC, `PROC_USER_INIT_INO` 0xEFFFFFFD, include/linux/proc_ns.h).
const INITIAL_PID_NS: u64 = 0xEFFF_FFFC;
const INITIAL_USER_NS: u64 = 0xEFFF_FFFD;

/// The view of the calling process, from the inodes of its own PID and user namespaces
/// (`/proc/self/ns/pid`, `/proc/self/ns/user`, which even a `--mount-proc` container shows).
pub fn view() -> View {
    let inode = |path: &str| {
        std::fs::metadata(path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok()
    };
    let initial = inode("/proc/self/ns/pid") == Some(INITIAL_PID_NS)
        && inode("/proc/self/ns/user") == Some(INITIAL_USER_NS);
    if initial { View::Host } else { View::Container }
}

/// Everything one collection of the host saw.
#[derive(Debug)]
pub struct HostCollection {
    /// The namespace whose `ss -s` is explained (the caller's, or `--netns`).
    pub target: u64,
    /// Every namespace found; the target first.
    pub namespaces: Vec<Namespace>,
    pub scan: ProcScan,
    pub held: Vec<HeldTcp>,
    /// Held TCP sockets found by the walk whose descriptor was closed before it could be
    /// asked anything: they came and went during the collection.
    pub closed_during_walk: u64,
    pub bound_inactive: BoundInactive,
    /// The global TCP alloc read at the start and at the end of the whole collection (the
    /// censuses read it too): how much it moves while the terms are measured.
    pub alloc_window: [u64; 2],
    pub mptcp: MptcpSeen,
    /// Our uid and capabilities, read before the walk, and what each missing one hides.
    pub privileges: privileges::Privileges,
    pub view: View,
}

impl HostCollection {
    /// The census of the target namespace, which a collection always has.
    pub fn target_census(&self) -> &NamespaceCensus {
        match self.namespaces.first().map(|ns| &ns.census) {
            Some(Ok(census)) => census,
            _ => unreachable!("a HostCollection starts with the target's census"),
        }
    }
}

impl Collector {
    /// A collector for the namespace `netns` (a `/run/netns` name's path or a namespace file)
    /// or, without one, the caller's.
    pub fn open(proc_root: &Path, netns: Option<&Path>) -> Result<Collector> {
        raise_descriptor_limit();
        let (target_file, target) = match netns {
            Some(path) => {
                let file = netns::open(path)?;
                let inode = netns::inode(&file)?;
                (Some(file), inode)
            }
            None => (None, netns::current()?),
        };
        let diag =
            netns::within(target_file.as_ref(), || Ok(DiagSocket::open()?)).with_context(|| match netns {
                Some(path) => format!("cannot enter netns {}", path.display()),
                None => "netlink sock_diag".to_owned(),
            })?;
        Ok(Collector {
            proc_root: proc_root.to_owned(),
            target_file,
            target,
            diag,
            support: BoundInactive::Unknown,
        })
    }

    /// Inode of the namespace read.
    pub fn netns(&self) -> u64 {
        self.target
    }

    /// What the kernel was found to support so far.
    pub fn bound_inactive(&self) -> BoundInactive {
        self.support
    }

    /// Runs one dump of the namespace read, streaming its rows; `filter` is a kernel filter
    /// program's request attribute. The first IPv4 TCP dump that asks for bound-inactive
    /// sockets also learns whether the kernel dumps them: riding on that dump (a probe socket
    /// bound meanwhile) when it is unfiltered, with a dump of its own otherwise (a filter may
    /// hide the probe).
    pub fn dump(
        &mut self,
        request: &Request,
        filter: Option<&[u8]>,
        on_row: impl FnMut(crate::model::Socket),
    ) -> Result<DumpStats, DiagError> {
        let wants = request.proto == crate::model::Proto::Tcp
            && request.family == Family::Inet
            && request.states & State::BOUND_INACTIVE.bit() != 0;
        if !(wants && self.support == BoundInactive::Unknown) {
            return self.diag.dump_filtered(request, filter, on_row);
        }
        // Without a probe (no port left to bind it to: the ports are exhausted, which is when
        // an operator looks) support stays unknown and the dump goes on.
        let Ok((probe, inode)) = netns::within(self.target_file.as_ref(), || Ok(diag::probe_socket()?))
        else {
            return self.diag.dump_filtered(request, filter, on_row);
        };
        let (stats, seen) = match filter {
            None => self.diag.dump_probing(request, inode, on_row)?,
            Some(filter) => {
                // A filter may hide the probe: it gets a dump of its own, and is closed before
                // the filtered dump, which must not list it.
                let probe_request = Request {
                    states: State::BOUND_INACTIVE.bit(),
                    ..*request
                };
                let (_, seen) = self.diag.dump_probing(&probe_request, inode, drop)?;
                drop(probe);
                (self.diag.dump_filtered(request, Some(filter), on_row)?, seen)
            }
        };
        self.support = if seen {
            BoundInactive::Dumped
        } else {
            BoundInactive::NotDumped
        };
        Ok(stats)
    }

    /// The RAW sockets of the namespace read, from `/proc/net/raw` or `/proc/net/raw6`
    /// (`family`), read from a thread inside it: for a kernel without raw_diag.
    pub fn raw_from_proc(&self, family: Family) -> Result<Vec<crate::model::Socket>> {
        let file = if family == Family::Inet6 { "raw6" } else { "raw" };
        let path = self.proc_root.join("thread-self/net").join(file);
        let text = netns::within(self.target_file.as_ref(), || {
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))
        })?;
        procnet::parse(&text, family).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// One walk over `/proc` for owners (and, with `with_netns`, each process's namespace).
    pub fn scan(&self, with_netns: bool) -> std::io::Result<ProcScan> {
        ProcScan::scan(&self.proc_root, with_netns)
    }

    /// The census of the namespace read, taken from inside it.
    fn target_census(&mut self) -> Result<NamespaceCensus> {
        // Entered from a thread, the namespace's counters are that thread's.
        let counters = match self.target_file {
            Some(_) => self.proc_root.join("thread-self/net"),
            None => self.proc_root.join("net"),
        };
        // Our sock_diag socket is open there; a fake /proc tree (tests) does not count it.
        let own = u64::from(self.proc_root == Path::new("/proc"));
        let (target, diag, support) = (self.target, &mut self.diag, &mut self.support);
        netns::within(self.target_file.as_ref(), || {
            census::take(diag, target, &counters, own, support)
        })
    }

    /// The whole host: one `/proc` walk, every namespace found and its census, the place of
    /// every held TCP socket that no dump returned. `walk` says which namespaces other than
    /// the target are dumped.
    pub fn host(&mut self, walk: Walk) -> Result<HostCollection> {
        self.collect(None, walk)
    }

    /// The collection of [`Collector::host`] narrowed to the processes `pids` (`watch
    /// --pid`): only their fd directories are read, and no other namespace is looked for
    /// (the target's census is whole; the namespaces their held sockets reveal are counted).
    /// Owners, `unbound` and `other_netns` are then those of these processes only.
    pub fn host_of(&mut self, pids: &[u32]) -> Result<HostCollection> {
        self.collect(Some(pids), Walk::Every)
    }

    fn collect(&mut self, pids: Option<&[u32]>, walk: Walk) -> Result<HostCollection> {
        let privileges = privileges::Privileges::current();
        let alloc = || sockstat::read_dir(&self.proc_root.join("net")).map(|c| c.tcp_alloc);
        let alloc_first = alloc()?;
        let scan = match pids {
            Some(pids) => ProcScan::scan_pids(&self.proc_root, pids, true)?,
            None => self.scan(true)?,
        };
        let target = self.target_census()?;
        let mut namespaces = vec![Namespace {
            netns: self.target,
            name: NamespaceName::Target,
            census: Ok(target),
        }];
        let mut files: Vec<Option<NamespaceFile>> = vec![None];
        let found = match pids {
            Some(_) => Vec::new(),
            None => discover(&scan, &self.proc_root),
        };
        for (inode, name, path) in found {
            match namespaces.iter().position(|ns| ns.netns == inode) {
                Some(i) => {
                    if rank(&name) < rank(&namespaces[i].name) {
                        namespaces[i].name = name;
                    }
                }
                None => {
                    namespaces.push(Namespace {
                        netns: inode,
                        name,
                        census: Err(String::new()),
                    });
                    files.push(Some(NamespaceFile::Path(path)));
                }
            }
        }
        // Counting where no walk is needed asks every held socket first (see [`Walk`]).
        let early = match walk {
            Walk::WhereNeeded => Some(place_held(&scan, &namespaces)?),
            Walk::Every => None,
        };
        let to_walk = early.as_ref().map(|placed| namespaces_to_walk(&scan, placed));
        let early = early.map(|mut placed| {
            for (inode, fd) in placed.revealed.drain(..) {
                namespaces.push(Namespace {
                    netns: inode,
                    name: NamespaceName::SocketOnly,
                    census: Err(String::new()),
                });
                files.push(Some(NamespaceFile::Open(fd)));
            }
            placed
        });
        let thread_counters = self.proc_root.join("thread-self/net");
        take_censuses(
            &mut namespaces,
            &files,
            to_walk.as_deref(),
            &thread_counters,
            self.support,
        )?;
        let mut placed = match early {
            Some(placed) => placed,
            None => place_held(&scan, &namespaces)?,
        };
        for (inode, file) in placed.revealed.drain(..) {
            let census = census_in(&file, inode, &thread_counters, &mut self.support);
            if let Err(e) = &census
                && out_of_descriptors(e)
            {
                return Err(descriptors_exhausted("entering the namespaces", format!("{e:#}")));
            }
            namespaces.push(Namespace {
                netns: inode,
                name: NamespaceName::SocketOnly,
                census: census.map_err(|e| format!("{e:#}")),
            });
        }
        drop_counted_or_dumped(&mut placed.held, &namespaces);
        let alloc_last = sockstat::read_dir(&self.proc_root.join("net"))?.tcp_alloc;
        let mptcp = MptcpSeen {
            bound_inactive: mptcp_bound_inactive(&scan, &namespaces),
            unasked: placed.unasked,
        };
        Ok(HostCollection {
            target: self.target,
            namespaces,
            scan,
            held: placed.held,
            closed_during_walk: placed.closed,
            bound_inactive: self.support,
            alloc_window: [alloc_first, alloc_last],
            mptcp,
            privileges,
            view: view(),
        })
    }
}

/// Takes the census of every namespace but the first (the target's, taken already), each
/// entered through its file: dumped where `to_walk` (sorted) names it or there is no
/// `to_walk`, counted otherwise. Each namespace's dump walks the kernel's hash tables, which
/// all namespaces share: on a node with many namespaces that walk is most of the work, so
/// the censuses run one thread per core. The kernel's `support` is known from the target's.
fn take_censuses(
    namespaces: &mut [Namespace],
    files: &[Option<NamespaceFile>],
    to_walk: Option<&[u64]>,
    counters: &Path,
    support: BoundInactive,
) -> Result<()> {
    let work: Vec<(&mut Namespace, &NamespaceFile)> = namespaces
        .iter_mut()
        .zip(files)
        .skip(1)
        .filter_map(|(ns, file)| Some((ns, file.as_ref()?)))
        .collect();
    let work = std::sync::Mutex::new(work);
    let exhausted = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers() {
            scope.spawn(|| {
                while let Some((ns, file)) = work.lock().map_or(None, |mut work| work.pop()) {
                    let walked = to_walk.is_none_or(|walk| walk.binary_search(&ns.netns).is_ok());
                    let mut support = support;
                    let census = file.with(|file| {
                        if walked {
                            census_in(file, ns.netns, counters, &mut support)
                        } else {
                            netns::within(Some(file), || census::count(ns.netns, counters, 0))
                        }
                    });
                    if let Err(e) = &census
                        && out_of_descriptors(e)
                        && let Ok(mut first) = exhausted.lock()
                    {
                        first.get_or_insert_with(|| format!("{e:#}"));
                    }
                    ns.census = census.map_err(|e| format!("{e:#}"));
                }
            });
        }
    });
    match exhausted.into_inner().ok().flatten() {
        Some(e) => Err(descriptors_exhausted("entering the namespaces", e)),
        None => Ok(()),
    }
}

/// Keeps of the held sockets asked only those that bear on a term: not those a dump
/// returned, nor those asked before the counted census of their namespace and found out of
/// TCP_CLOSE (hashed, they are in that namespace's `inuse`).
fn drop_counted_or_dumped(held: &mut Vec<HeldTcp>, namespaces: &[Namespace]) {
    let dumped = dumped_inodes(namespaces);
    let mut counted: Vec<u64> = namespaces
        .iter()
        .filter(|ns| ns.census.as_ref().is_ok_and(|c| !c.walked))
        .map(|ns| ns.netns)
        .collect();
    counted.sort_unstable();
    held.retain(|h| {
        let hashed_in_counted = match h.placement {
            Placement::Socket { netns, state } => {
                state != State::CLOSE && counted.binary_search(&netns).is_ok()
            }
            _ => false,
        };
        dumped.binary_search(&h.inode).is_err() && !hashed_in_counted
    });
}

/// The inodes every census so far returned, sorted: a socket inode names one socket on the
/// host (sockfs numbers them all), so one list serves every namespace.
fn dumped_inodes(namespaces: &[Namespace]) -> Vec<u32> {
    let mut inodes: Vec<u32> = namespaces
        .iter()
        .filter_map(|ns| ns.census.as_ref().ok())
        .flat_map(|c| c.inodes.iter().copied())
        .collect();
    inodes.sort_unstable();
    inodes.dedup();
    inodes
}

/// The census of the namespace of `file`, from a thread inside it, with a sock_diag socket
/// of its own.
fn census_in(
    file: &File,
    inode: u64,
    counters: &Path,
    support: &mut BoundInactive,
) -> Result<NamespaceCensus> {
    netns::within(Some(file), || {
        let mut diag = DiagSocket::open()?;
        census::take(&mut diag, inode, counters, 1, support)
    })
}

/// How telling a name is; lower wins: the name an operator gave, the container, Docker's
/// sandbox, the initial namespace, a unit, a process, the namespace read.
fn rank(name: &NamespaceName) -> u8 {
    match name {
        NamespaceName::Named(_) => 0,
        NamespaceName::Owned { container: true, .. } => 1,
        NamespaceName::Docker(_) => 2,
        NamespaceName::Initial => 3,
        NamespaceName::Owned { container: false, .. } => 4,
        NamespaceName::Process { .. } => 5,
        NamespaceName::Target => 6,
        NamespaceName::SocketOnly => 7,
    }
}

/// Every namespace a file names or a process is in, with its best name and a path to enter
/// it by: bind mounts first, then processes in pid order (kernel threads last).
pub fn discover(scan: &ProcScan, proc_root: &Path) -> Vec<(u64, NamespaceName, PathBuf)> {
    let mut found: Vec<(u64, NamespaceName, PathBuf)> = netns::bind_mounts()
        .into_iter()
        .map(|mount| {
            let name = if mount.docker {
                NamespaceName::Docker(mount.name)
            } else {
                NamespaceName::Named(mount.name)
            };
            (mount.inode, name, mount.path)
        })
        .collect();
    let mut processes: Vec<_> = scan.processes.iter().collect();
    processes.sort_by_key(|p| (p.kernel_thread, p.pid));
    for process in processes {
        let Some(inode) = process.netns else { continue };
        let classified = process
            .cgroup
            .as_ref()
            .map(|path| cgroup::classify(path.as_bytes()));
        let label = classified.as_ref().and_then(cgroup::Classified::label);
        let name = match label {
            _ if process.pid == 1 => NamespaceName::Initial,
            Some(label) => NamespaceName::Owned {
                label,
                container: classified.is_some_and(|c| c.container.is_some()),
                pid: process.pid,
                comm: process.comm.clone(),
            },
            None => NamespaceName::Process {
                pid: process.pid,
                comm: process.comm.clone(),
            },
        };
        match found.iter_mut().find(|(known, ..)| *known == inode) {
            Some(entry) => {
                if rank(&name) < rank(&entry.1) {
                    entry.1 = name;
                }
            }
            None => found.push((inode, name, proc_root.join(format!("{}/ns/net", process.pid)))),
        }
    }
    found
}

/// The inodes of the bound-inactive rows of every census that are the first subflow of an
/// MPTCP socket: a holder of the inode holds it through an MPTCP socket. Asked only of the
/// few bound-inactive rows.
fn mptcp_bound_inactive(scan: &ProcScan, namespaces: &[Namespace]) -> Vec<u32> {
    let mptcp = |inode: u32| {
        scan.sockets_of(inode)
            .any(|fd| scan.protocol(fd).is_ok_and(|p| p.starts_with("MPTCP")))
    };
    let mut inodes: Vec<u32> = namespaces
        .iter()
        .filter_map(|ns| ns.census.as_ref().ok())
        .flat_map(|c| c.close_rows.iter())
        .filter(|row| !row.timewait && row.state == State::CLOSE && row.inode != 0)
        .map(|row| row.inode)
        .filter(|&inode| mptcp(inode))
        .collect();
    inodes.sort_unstable();
    inodes
}

/// What asking the held sockets no dump returned found.
#[derive(Default)]
struct Placed {
    held: Vec<HeldTcp>,
    /// Held TCP sockets closed before they could be asked.
    closed: u64,
    /// The namespaces only such a socket revealed, with a descriptor to enter each.
    revealed: Vec<(u64, File)>,
    /// Held MPTCP sockets that could not be asked for their subflows.
    unasked: u64,
    /// The namespaces of the holders of sockets closed before they could be asked: what
    /// they held there is not known.
    vanished_in: Vec<u64>,
    /// Asking stopped: this process ran out of descriptors.
    exhausted: Option<Errno>,
}

/// Places every held TCP socket that no census so far returned, and the TCP_CLOSE subflows
/// of every such MPTCP socket: each is asked its protocol, state and namespace (see [`sys`]),
/// by as many threads as censuses run, each holding one pidfd per process it asks.
fn place_held(scan: &ProcScan, namespaces: &[Namespace]) -> Result<Placed> {
    let dumped = dumped_inodes(namespaces);
    let dumped = |inode: u32| dumped.binary_search(&inode).is_ok();
    // By holder, so that each thread holds one pidfd at a time whatever the processes.
    let mut undumped: Vec<&[owners::SocketFd]> = scan
        .sockets
        .chunk_by(|a, b| a.inode == b.inode)
        .filter(|holders| !dumped(holders[0].inode))
        .collect();
    undumped.sort_by_key(|holders| holders[0].process);
    let known: Vec<u64> = namespaces.iter().map(|ns| ns.netns).collect();
    let share = undumped.len().div_ceil(workers()).max(1);
    let parts: Vec<Placed> = std::thread::scope(|scope| {
        let asking: Vec<_> = undumped
            .chunks(share)
            .map(|part| scope.spawn(|| place_part(scan, part, &known)))
            .collect();
        asking
            .into_iter()
            .map(|thread| thread.join().unwrap_or_default())
            .collect()
    });
    let mut placed = Placed::default();
    for part in parts {
        if let Some(e) = part.exhausted {
            return Err(descriptors_exhausted("asking the held sockets", e));
        }
        placed.held.extend(part.held);
        placed.closed += part.closed;
        placed.unasked += part.unasked;
        placed.vanished_in.extend(part.vanished_in);
        for (inode, fd) in part.revealed {
            if !placed.revealed.iter().any(|(seen, _)| *seen == inode) {
                placed.revealed.push((inode, fd));
            }
        }
    }
    Ok(placed)
}

/// [`place_held`] for one share of the sockets, each given with its holders, sorted by first
/// holder; `known` the namespaces found so far (a descriptor is kept of the others only).
fn place_part(scan: &ProcScan, sockets: &[&[owners::SocketFd]], known: &[u64]) -> Placed {
    // The pidfd of the last process asked: one open at a time.
    let mut pidfd: Option<(u32, Result<std::os::fd::OwnedFd, Errno>)> = None;
    let mut placed = Placed::default();
    for holders in sockets {
        let inode = holders[0].inode;
        let mut answer = None;
        let mut gone = true;
        let mut by_holder = None;
        for fd in *holders {
            let process = scan.process(fd);
            let current = match pidfd.take() {
                Some((index, open)) if index == fd.process => (index, open),
                _ => (fd.process, sys::pidfd(process.pid)),
            };
            let asked = match &pidfd.insert(current).1 {
                Ok(open) => sys::held_socket(open, fd.fd, inode),
                Err(e) => Err(*e),
            };
            match asked {
                Ok(held) => {
                    answer = Some(held);
                    break;
                }
                Err(Errno::BADF | Errno::SRCH | Errno::NOENT) => {}
                Err(e @ (Errno::MFILE | Errno::NFILE)) => {
                    placed.exhausted = Some(e);
                    return placed;
                }
                Err(_) => {
                    gone = false;
                    by_holder = by_holder.or(process.netns);
                }
            }
        }
        if answer.is_none() && gone {
            placed.vanished_in.extend(scan.process(&holders[0]).netns);
        }
        let (family, mptcp, netns_inode, netns, states) = match answer {
            Some(sys::Held::Other) => continue,
            Some(sys::Held::Tcp(socket)) => (
                socket.family,
                false,
                socket.netns_inode,
                socket.netns,
                vec![socket.state],
            ),
            Some(sys::Held::Mptcp(socket)) => (
                socket.family,
                true,
                socket.netns_inode,
                socket.netns,
                socket.subflows,
            ),
            None => {
                // Not asked: the protocol from the file's `system.sockprotoname`, which needs
                // no ptrace rights over the holder.
                let protocol = holders.iter().find_map(|fd| scan.protocol(fd).ok());
                let family = match protocol.as_deref().map(str::as_bytes).and_then(sys::tcp_kind) {
                    Some((family, false)) => family,
                    // Its subflows are unknown: none is counted, and the finding says so.
                    Some((_, true)) if !gone => {
                        placed.unasked += 1;
                        continue;
                    }
                    _ => continue,
                };
                if gone {
                    placed.closed += 1;
                } else {
                    placed.held.push(HeldTcp {
                        inode,
                        family,
                        placement: by_holder.map_or(Placement::Unknown, |netns| Placement::Process { netns }),
                        mptcp: false,
                    });
                }
                continue;
            }
        };
        // A subflow no dump returned is unhashed: TCP_CLOSE, or changed since the dump.
        for state in states {
            placed.held.push(HeldTcp {
                inode,
                family,
                placement: Placement::Socket {
                    netns: netns_inode,
                    state: State(state),
                },
                mptcp,
            });
        }
        if !known.contains(&netns_inode) && !placed.revealed.iter().any(|(seen, _)| *seen == netns_inode) {
            placed.revealed.push((netns_inode, File::from(netns)));
        }
    }
    placed
}

/// The namespaces a [`Walk::WhereNeeded`] collection must walk, from what asking the held
/// sockets found: those holding a held socket in TCP_CLOSE (bound-inactive or unbound: only a
/// dump tells which), and those of the holders of a socket that could not be asked or was
/// closed before it could be, and of the processes that could not be inspected, as far as
/// their namespace is known. What is not
/// known (an unplaced socket, a denied process whose namespace is hidden too) stays with the
/// findings that say so: its sockets are in unexplained, walked or not.
fn namespaces_to_walk(scan: &ProcScan, placed: &Placed) -> Vec<u64> {
    let mut walk: Vec<u64> = placed
        .held
        .iter()
        .filter_map(|socket| match socket.placement {
            Placement::Socket { netns, state } => (state == State::CLOSE).then_some(netns),
            Placement::Process { netns } => Some(netns),
            Placement::Unknown => None,
        })
        .chain(scan.denied.iter().filter_map(|(_, netns)| *netns))
        .chain(placed.vanished_in.iter().copied())
        .collect();
    walk.sort_unstable();
    walk.dedup();
    walk
}
