//! The command line, in ss's habits: parsed once into plain structs; every value that depends
//! on several flags is a method here, never recomputed by callers.

use std::path::PathBuf;

use std::ffi::OsStr;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};

use crate::collect::diag::Request;
use crate::model::{Family, Proto, State};

// The texts below end the long help (--help) and become sections of the man page: each block
// starts with its heading in capitals (see src/man.rs).

const AFTER_HELP: &str = "\
EXAMPLES
  sockdiag summary                  explain ss -s for this network namespace
  sockdiag summary --netns blue --all
                                    the same for `ip netns` blue, every TCP_CLOSE row
  ss -s > saved; sockdiag summary --ss saved
                                    check a saved ss -s against the live figures
  sockdiag list -tanp               every TCP socket with its owners, as ss -tanp
  sockdiag list -xa                 UNIX sockets with their inodes, as ss -xa
  sockdiag list -tn dport = :443    only the matching rows cross netlink
  sockdiag list --all-netns -tl     listeners of every network namespace
  sockdiag list -tan --json | jq -c 'select(.state == \"CLOSE\")'
                                    bound-but-inactive TCP sockets, as JSON lines

EXIT STATUS
  0  success (also when the output pipe is closed early, as in `sockdiag list | head`)
  1  `summary --check` only: part of ss's `closed` figure (with --all-netns, of TCP alloc)
     stayed unexplained beyond the drift measured meanwhile
  2  error: bad flag, unknown state, missing netns, unreadable or garbled input, netlink failure;
     one line on stderr, `sockdiag: ...`

PERMISSIONS
  The sock_diag dumps need no privilege: list without -p is complete for anyone. The rest of
  the picture needs four capabilities (measured, see tests/privileges.rs); summary names each
  one missing, with what it hides, in its notes and in the JSON privileges object:
  CAP_DAC_READ_SEARCH  open other users' /proc/PID/fd (mode 0500): owners, unbound sockets
  CAP_SYS_PTRACE       read their fd links and /proc/PID/ns/net, pidfd_getfd their sockets
  CAP_NET_ADMIN        ask a held socket its namespace (ioctl SIOCGSKNS)
  CAP_SYS_ADMIN        enter other network namespaces (setns), --netns included
  Root holds them all. To run without root, grant exactly these, to a binary only trusted
  users may execute:
    setcap cap_dac_read_search,cap_sys_ptrace,cap_net_admin,cap_sys_admin=ep /usr/bin/sockdiag
  or, in a systemd service:
    AmbientCapabilities=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_NET_ADMIN CAP_SYS_ADMIN
    CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_NET_ADMIN CAP_SYS_ADMIN

UNTRUSTED TEXT
  Command names, unix socket paths and abstract names, namespace names and anything quoted
  from a file are chosen by whoever created them. In tables, notes and errors they are shown
  escaped: \\\\ for a backslash; \\n, \\t, \\r; \\xNN for other control characters, DEL and
  bytes that are not UTF-8; \\u{XXXX} for C1 controls and invisible or reordering characters
  (bidi overrides, zero-width characters). Spaces are shown as they are. JSON keeps them
  exact (see JSON OUTPUT).

KERNEL
  Bound-but-inactive TCP sockets are dumped by Linux 6.8 and later; on older kernels list says
  it cannot show them and summary counts them through the fd scan. Without raw_diag (a RAW dump
  answers ENOENT), list reads RAW sockets from /proc/net/raw and /proc/net/raw6 of the
  namespace, as ss does, and says so once on stderr when -w or -a asked for them.";

const LIST_AFTER_HELP: &str = "\
TABLE
  Without protocol flags list shows what ss without them shows of these four: UNIX, RAW, UDP
  and TCP sockets, in that order (ss also lists netlink and packet sockets; list does not).
  Netid is tcp, udp, raw, or u_str, u_dgr, u_seq for UNIX stream, datagram and seqpacket
  sockets. Addresses print as ss prints them: port 0 as *, the IPv6 wildcard [::] as * for a
  dual-stack socket (it accepts IPv4 too) and as [::] for a v6-only one; a UNIX socket's
  local column is its name (* if none) and its inode, its peer column * and the peer's inode
  (0 if none), so the two ends of a pair match up. Ports and RAW protocols stay numeric (-n
  is implied). -H leaves out the header; -O is accepted, every row being one line already.
  --all-netns adds a first column, Netns, the namespace's inode; a namespace that cannot be
  entered is one line on stderr and the others are still listed.

FILTER
  After the options, a filter as ss(8) takes it, compiled into an inet_diag program the
  kernel runs over every socket (only matching rows cross netlink) and checked again on every
  row (UNIX sockets have no kernel filter):
    [state NAME | exclude NAME]... [EXPRESSION]
  EXPRESSION: sport|dport OP PORT, src|dst HOST, autobound, src unix:GLOB, joined by
  and (&&), or (||), not (!) and parentheses; adjacent terms are joined by and; and/or group
  left to right, as in ss. OP: = == eq, != ne neq, < lt, > gt, <= le, >= ge. PORT: :22, 22,
  :https (/etc/services), *. HOST: 10.0.0.1, 10.0.0.0/8, [::1], [2001:db8::]/32, with :PORT,
  or *. An IPv4 network also matches v4-mapped IPv6 addresses. state and exclude take the
  state names below; they win over -a and -l and add to --state. Examples:
    sockdiag list -tn dport = :443
    sockdiag list -tan '( sport = :22 or sport = :2222 )'
    sockdiag list -tn dst 10.0.0.0/8
    sockdiag list -ta state established '( dport = :https )'
  dev, fwmark and cgroup conditions are not supported (an error says so).

STATES
  --state takes kernel or ss names, case-insensitive, with '-' or '_': established, syn-sent,
  syn-recv, fin-wait-1, fin-wait-2, time-wait, close (or closed), close-wait, last-ack, listen
  (or listening), closing, bound-inactive; and the groups all and connected (all but listen
  and close). For TCP, close selects the bound-inactive sockets: they are the only TCP_CLOSE
  sockets a dump returns, and the kernel reports them with state CLOSE.
  Without -a, -l or --state, list shows the connected states as ss does (no LISTEN, CLOSE,
  SYN_RECV or TIME_WAIT).

WARNINGS
  Said once each on stderr, after the rows: RAW sockets read from /proc (with -w or -a);
  bound-inactive sockets this kernel does not dump; with -p, bound-inactive sockets that no
  process inspected holds (in flight in an SCM_RIGHTS message whose sender closed them, or
  held by a process not inspected); and processes that could not be inspected, only when one
  is in a namespace listed or its namespace could not be read (a process known to be in
  another namespace holds none of its sockets, or holds them through a namespace also
  listed).

JSON OUTPUT
  With --json, one object per socket per line:
  proto       \"tcp\" | \"udp\" | \"raw\" | \"unix\"
  type        UNIX sockets: \"stream\" | \"dgram\" | \"seqpacket\"; null for the others
  family      \"inet\" | \"inet6\" | \"unix\"
  state       the kernel's state name without TCP_: ESTABLISHED, LISTEN, CLOSE, TIME_WAIT,
              FIN_WAIT2, CLOSE_WAIT, ...; unconnected UDP, RAW and UNIX sockets are CLOSE
  timewait    true for a timewait minisock, whose state is then TIME_WAIT or FIN_WAIT2
  local       \"addr:port\", \"[v6addr]:port\", a unix path, \"@abstract\", or \"*\";
              exact, unlike the table: \"[::]:5002\", \"0.0.0.0:0\"
  peer        the same; \"*\" for unix sockets (see peer_inode)
  v6only      IPv6 sockets in LISTEN or CLOSE: IPV6_V6ONLY as the kernel reports it
              (INET_DIAG_SKV6ONLY; binding a specific IPv6 address sets it); null where the
              kernel does not say: IPv4, UNIX, connected IPv6 sockets, timewait and request
              socks, rows read from /proc
  peer_inode  inode of a unix socket's peer, or null
  recv_q, send_q, uid, inode, cookie
              as sock_diag reports them; inode 0 means no struct socket (timewait,
              request socks, orphans, children not yet accepted); cookie is 0 for
              rows read from /proc
  netns       inode of the network namespace the socket was dumped in
  source      \"netlink\" (a sock_diag dump) or \"proc\" (/proc/net/raw{,6}, RAW sockets on a
              kernel without raw_diag)
  owners      with -p only: [{pid, comm, fd, cgroup, container}], every holder of the
              socket; cgroup is the process's cgroup path, container {runtime, id, pod}
              when the path names one (docker, containerd, crio, podman, lxc), else null
  Unix names and comm are exact: valid UTF-8 as is, each backslash doubled, each byte
  that is not UTF-8 written as \\xNN.";

const SUMMARY_AFTER_HELP: &str = "\
THE RECONCILIATION
  ss prints closed = TCP alloc - (TCP inuse + TCP6 inuse - tw). summary splits it, for the
  network namespace read, into:
  time_wait       timewait minisocks of the namespace (TIME_WAIT and FIN_WAIT2 substates,
                  told apart from full sockets by their timer)
  bound_inactive  bound-but-inactive TCP sockets the dump returned (null before Linux 6.8)
  unbound         TCP sockets held by a process that no dump returns (never bound, or port
                  released after a failed connect) and created in this namespace, the
                  TCP_CLOSE subflows of MPTCP sockets included (held through the MPTCP
                  socket, listed under its inode; a note gives their count)
  other_netns     full TCP sockets of every other network namespace found through
                  /proc/*/ns/net, /run/netns and the sockets themselves (TCP alloc is
                  system-wide)
  unexplained     reported minus the terms above, never forced to zero; the notes list its
                  likely causes
  The namespace's counters are read just before and after its TCP dumps; if its own inuse
  or tw moved, only those dumps are taken again (3 times at most). TCP alloc is system-wide
  and settles nothing: its movement over the whole collection, with the namespace's own, is
  the drift, and unexplained is printed as `N ± drift`. Within the drift it is no finding.

EVERY NAMESPACE (--all-netns)
  Every network namespace found (/proc/*/ns/net, /run/netns, /run/docker/netns, and the
  namespaces held sockets report), each entered once: the identity TCP alloc = the full TCP
  sockets of every namespace + unexplained, then one row per namespace, leaks (unbound)
  first: full_tcp (hashed, bound-inactive and unbound together), time_wait, bound_inactive,
  unbound, and closed as `ss -s` run inside it prints it; ? where it could not be entered.
  Every held TCP socket is asked its state first: a namespace none of whose held sockets is
  in TCP_CLOSE is counted from its own counters (inuse, tw) instead of dumped (finding
  counted), which spares the walk of the hash tables all namespaces share.
  A namespace is named by its /run/netns name, else the container or unit of a process in
  it, else the initial namespace (pid 1), else its lowest pid. JSON: {alloc, counted,
  unexplained, namespaces: [{netns, name, full_tcp, time_wait, bound_inactive, unbound,
  closed, dumped}], close_sockets (each with netns), processes, consistency, findings,
  notes}; dumped is false for a namespace counted from its counters.

IN A CONTAINER
  Run in a child PID namespace or a user namespace (a container, rootless or not), sockdiag
  cannot see the processes of the host and of other containers, while TCP alloc counts
  their sockets: the residue is said to be theirs (finding container_view), view is
  \"container\", and `sockdiag summary --all-netns` run on the host lists them.

JSON OUTPUT
  With --json, one document:
  netns          inode of the network namespace read
  view           \"host\" or \"container\"
  ss             {total, tcp_total, estab, closed, orphaned, timewait, raw, udp, tcp, inet,
                 frag}, the transport rows as {total, ip, ipv6}
  closed         {reported, time_wait, bound_inactive, unbound, other_netns, unexplained}
  other_netns    [{netns, name, tcp}]; tcp is null for a namespace that could not be entered
  close_sockets  [{inode, family, local, kind, owners}], kind \"bound_inactive\" or
                 \"unbound\": every TCP_CLOSE socket of the namespace; owners as
                 [{pid, comm, fd, cgroup, container}], container {runtime, id, pod} or null
  processes      {scanned, denied, vanished}
  privileges     {uid, capabilities, missing: [{capability, hides}]}: the capabilities above
                 held (effective set), and for each one missing what it hides:
                 other_users_fd_tables, other_users_fd_links, socket_namespaces,
                 other_namespaces
  consistency    {attempts, settled, drift}: dumps taken, whether the namespace's own
                 counters held still, and the bound of unexplained (never negative)
  saved_ss       with --ss: [{figure, saved, live, diff}], diff = live - saved; else null
  saved_ss_explained
                 with --ss: {closed, timewait, alloc, hashed, unhashed_or_elsewhere,
                 consistent}: the saved figures explained from their own arithmetic
  findings       [{kind, ...}]: what the reader must know, as data; kind is one of
                 timewait_split {time_wait, fin_wait2}, bound_inactive_not_dumped,
                 missing_capability {capability, hides},
                 processes_denied {denied, total},
                 processes_vanished {count}, namespaces_not_entered {count}, counted {count},
                 unplaced {count}, placed_by_holder {count}, changed_since_dump {count},
                 closed_during_walk {count}, unowned_bound_inactive {count},
                 mptcp_subflows {unbound, bound_inactive, unasked},
                 interrupted_dumps {count}, undecodable {detail}, unsupported {proto},
                 unsettled {attempts}, unexplained {count, drift}, container_view {hidden, drift},
                 overcounted {count, drift}, saved_ss_differs {figures}
  notes          [string]: the findings in words, one each, as the human report says them

  Text from the system (command names, namespace names) is exact in JSON: valid UTF-8 as
  is, each backslash doubled, each byte that is not UTF-8 written as \\xNN.";

/// List the sockets behind the numbers `ss -s` prints, and reconcile them.
///
/// `ss -s` computes its `closed` figure from /proc/net/sockstat (TCP alloc minus the hashed
/// sockets plus timewait) and lists nothing: it mixes timewait sockets, sockets created and
/// never used, sockets bound and never used, sockets closed by an error whose fd is still
/// open, and every TCP socket of every other network namespace. sockdiag enumerates them:
/// `summary` explains that figure term by term, with the owning processes of each TCP_CLOSE
/// socket; `list` is a fast, scriptable ss-like listing from NETLINK_SOCK_DIAG dumps that
/// also shows bound-but-inactive TCP sockets (Linux 6.8 and later).
#[derive(Debug, Parser)]
#[command(name = "sockdiag", version, after_long_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Root of the proc filesystem (tests point it at a fake tree).
    #[arg(long, global = true, hide = true, default_value = "/proc")]
    pub proc_root: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List sockets one per line, like ss, from NETLINK_SOCK_DIAG dumps.
    #[command(after_long_help = LIST_AFTER_HELP)]
    List(ListArgs),
    /// Explain every socket behind `ss -s`, reconciling its `closed` figure term by term.
    #[command(after_long_help = SUMMARY_AFTER_HELP)]
    Summary(SummaryArgs),
    /// Print a shell completion script, generated from this command line.
    #[command(after_long_help = COMPLETIONS_AFTER_HELP)]
    Completions(CompletionsArgs),
    /// Take the census of summary every interval: who opens and closes TCP_CLOSE sockets,
    /// and which process leaks them.
    #[command(after_long_help = WATCH_AFTER_HELP)]
    Watch(WatchArgs),
    /// The summary's figures and terms as Prometheus metrics: stdout, a textfile for
    /// node_exporter, or an HTTP exporter.
    #[command(after_long_help = METRICS_AFTER_HELP)]
    Metrics(MetricsArgs),
}

const WATCH_AFTER_HELP: &str = "\
SAMPLES
  Every --interval, the census of summary (one collection, the same netlink socket kept):
  per process (pid and start time, so a reused pid is another process) the TCP_CLOSE sockets
  it holds (unbound and bound-inactive), how many it opened and closed since the previous
  sample (by inode), and the terms of closed. A sample taken longer than the interval says
  so (overran) and the next one starts at once.

LEAKS
  A process whose held TCP_CLOSE sockets rose in each of the last K intervals (--leak-after
  K, so at K + 1 samples at the earliest) is flagged leaking, with its rate (sockets per
  minute over those K intervals) and the inode it has held longest; the flag clears when the
  count stops rising. Ctrl-C ends the watch with a summary of every process flagged.

--pid
  Only the fd directories of those processes are read: a watch of one service costs far
  less than a full census. The namespace's census (reported, time_wait, bound_inactive) is
  still whole; owners, unbound and other_netns are those of these processes only, so
  unexplained also holds every other process's unbound sockets.

OUTPUT
  On a terminal, one screen refreshed in place. Piped or with --json, one object per sample
  per line: {sample, unix_ms, elapsed_ms, duration_ms, overran, netns, closed {reported,
  time_wait, bound_inactive, unbound, other_netns, unexplained}, sockets {held, opened,
  closed}, processes: [{pid, start_time, comm, held, opened, closed, rising, leaking,
  rate_per_min, oldest_inode}]}; rate_per_min and oldest_inode are null unless leaking.";

/// `sockdiag watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Seconds between samples.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = parse_interval)]
    pub interval: f64,
    /// Stop after N samples (default: until interrupted).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Flag a process whose TCP_CLOSE sockets rose in each of the last K intervals.
    #[arg(long, value_name = "K", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub leak_after: u32,
    /// Watch only this process (repeatable): only its fd directory is read.
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// One JSON object per sample per line (the default when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub netns: NetnsArg,
}

fn parse_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.01..=86_400.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!("invalid interval '{text}': seconds, from 0.01 to 86400")),
    }
}

const METRICS_AFTER_HELP: &str = "\
METRIC FAMILIES
  Prometheus text format 0.0.4; every family is a gauge read at the census, in base units.
  Per namespace series carry netns (the inode) and name (as summary --all-netns names it).
  sockdiag_tcp_allocated_sockets{scope=\"global\"}    TCP alloc (every namespace)
  sockdiag_tcp_orphaned_sockets{scope=\"global\"}     TCP orphan (ss -s orphaned)
  sockdiag_sockets_used{netns,name}                  sockets: used (ss -s Total)
  sockdiag_tcp_inuse_sockets{netns,name,family}      TCP inuse; family inet or inet6
  sockdiag_tcp_timewait_sockets{netns,name}          TCP tw (ss -s timewait)
  sockdiag_tcp_established_sockets{netns,name}       Tcp CurrEstab (ss -s estab)
  sockdiag_ss_closed_sockets{netns,name}             the closed figure ss -s prints there
  sockdiag_tcp_closed_sockets{netns,name,term}       its terms: time_wait, bound_inactive,
                                                     unbound, other_netns, unexplained; they
                                                     sum to sockdiag_ss_closed_sockets, and
                                                     unexplained may be negative
  sockdiag_tcp_sockets{netns,name,state}             full TCP sockets dumped, by kernel state
                                                     (established, syn_sent, fin_wait1,
                                                     fin_wait2, close, close_wait, last_ack,
                                                     listen, closing; close is bound-inactive)
  sockdiag_tcp_timewait_minisocks{netns,name,substate}
                                                     timewait minisocks: time_wait, fin_wait2
  sockdiag_process_tcp_close_sockets{comm,unit|container}
                                                     TCP_CLOSE sockets held (bound_inactive
                                                     and unbound), by command and, where the
                                                     cgroup names one, unit or container: the
                                                     --top holders, the rest in comm=\"other\";
                                                     never a pid or an inode
  sockdiag_census_duration_seconds                   how long the collection took
  sockdiag_processes_scanned, sockdiag_processes_denied, sockdiag_processes_vanished
  sockdiag_namespaces_found, sockdiag_namespaces_not_entered
  sockdiag_consistency_attempts, sockdiag_consistency_settled (0 or 1),
  sockdiag_consistency_drift_sockets                 the bound of unexplained
  sockdiag_build_info{version}                       1
  Without --all-netns the per namespace series are those of the namespace read (its terms
  exactly as summary reports them); with it, every namespace entered.

MODES
  stdout (default), --textfile PATH (written to a temporary file in the same directory,
  then renamed: node_exporter's textfile collector reads *.prom files; on a failed census
  the previous file stays and the status is 2), or --listen ADDR: an HTTP exporter serving
  /metrics with a fresh census per scrape, one census at a time (concurrent scrapes share
  the one running), at most 30 s per request (503 after); a failed census answers 500 with
  the error line and the exporter keeps serving. --listen alone binds 127.0.0.1:9977. It
  runs until killed.";

const COMPLETIONS_AFTER_HELP: &str = "\
INSTALL
  The Debian package installs all three. By hand:
  bash  sockdiag completions bash > /usr/share/bash-completion/completions/sockdiag
  zsh   sockdiag completions zsh > /usr/share/zsh/vendor-completions/_sockdiag
  fish  sockdiag completions fish > /usr/share/fish/vendor_completions.d/sockdiag.fish
  Flags, subcommands and --state names complete; --netns completes file paths.";

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Write the metrics atomically to this file (node_exporter's textfile collector reads
    /// *.prom files) instead of stdout.
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath, conflicts_with = "listen")]
    pub textfile: Option<PathBuf>,
    /// Serve /metrics over HTTP on this address until killed; without one, on loopback
    /// 127.0.0.1:9977.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9977")]
    pub listen: Option<String>,
    /// Holders of TCP_CLOSE sockets given a series of their own; the rest are summed.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Series for every network namespace of the host, not only the one read.
    #[arg(long, conflicts_with = "netns")]
    pub all_netns: bool,
    #[command(flatten)]
    pub netns: NetnsArg,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells whose completion scripts the package installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// TCP sockets.
    #[arg(short = 't', long)]
    pub tcp: bool,
    /// UDP sockets.
    #[arg(short = 'u', long)]
    pub udp: bool,
    /// UNIX domain sockets.
    #[arg(short = 'x', long)]
    pub unix: bool,
    /// RAW sockets (from /proc/net/raw and raw6 where the kernel has no raw_diag).
    #[arg(short = 'w', long)]
    pub raw: bool,
    /// IPv4 sockets only.
    #[arg(short = '4', long, conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// IPv6 sockets only.
    #[arg(short = '6', long)]
    pub ipv6: bool,
    /// Every socket the kernel dumps: listening, TIME_WAIT, bound-inactive included.
    #[arg(short = 'a', long, conflicts_with = "listening")]
    pub all: bool,
    /// Listening sockets only (for UDP, RAW and UNIX: unconnected ones too, as ss does).
    #[arg(short = 'l', long)]
    pub listening: bool,
    /// Only sockets in this state (repeatable); see STATES below.
    #[arg(long = "state", value_name = "NAME", value_parser = StateParser, hide_possible_values = true)]
    pub state: Vec<StateMask>,
    /// Show the owning processes: pid, command, fd (every owner of a shared socket).
    #[arg(short = 'p', long)]
    pub processes: bool,
    /// Show uid, inode and socket cookie.
    #[arg(short = 'e', long)]
    pub extended: bool,
    /// Accepted for ss compatibility: sockdiag never resolves names.
    #[arg(short = 'n', long)]
    pub numeric: bool,
    /// One JSON object per socket per line.
    #[arg(long)]
    pub json: bool,
    /// No header line, as ss -H.
    #[arg(short = 'H', long)]
    pub no_header: bool,
    /// Accepted for ss compatibility: every socket is always one line.
    #[arg(short = 'O', long)]
    pub oneline: bool,
    #[command(flatten)]
    pub netns: NetnsArg,
    /// Every socket of every network namespace found (/run/netns, /run/docker/netns, the
    /// namespaces of all processes), one dump per namespace, with a Netns column (a `netns`
    /// field in JSON).
    #[arg(long, conflicts_with = "netns")]
    pub all_netns: bool,
    /// A filter as ss takes it, after the options: `dport = :443`, `dst 10.0.0.0/8`,
    /// `state established '( sport = :22 or sport = :2222 )'`; see FILTER below.
    #[arg(value_name = "FILTER", trailing_var_arg = true, allow_hyphen_values = true)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Show every TCP_CLOSE socket, not only the first rows.
    #[arg(long)]
    pub all: bool,
    /// Exit with status 1 when part of `closed` stays unexplained beyond the drift.
    #[arg(long)]
    pub check: bool,
    /// A saved `ss -s` output to check against the live figures (`-` for stdin).
    #[arg(long = "ss", value_name = "FILE")]
    pub saved_ss: Option<PathBuf>,
    /// One JSON document.
    #[arg(long)]
    pub json: bool,
    /// Every network namespace of the host, each with its own terms, and the system-wide
    /// identity TCP alloc = the full TCP sockets of every namespace + unexplained.
    #[arg(long, conflicts_with_all = ["netns", "saved_ss"])]
    pub all_netns: bool,
    #[command(flatten)]
    pub netns: NetnsArg,
}

#[derive(Debug, Args)]
pub struct NetnsArg {
    /// Network namespace to read: a name under /run/netns, or a path such as /proc/PID/ns/net.
    #[arg(long = "netns", value_name = "NAME|PATH", value_hint = ValueHint::AnyPath)]
    pub netns: Option<String>,
}

impl NetnsArg {
    /// The namespace file to enter, if any.
    pub fn path(&self) -> Option<PathBuf> {
        let arg = self.netns.as_deref()?;
        Some(if arg.contains('/') {
            PathBuf::from(arg)
        } else {
            PathBuf::from("/run/netns").join(arg)
        })
    }
}

/// A set of kernel states as an `idiag_states` bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateMask(pub u32);

/// ss's default: connected states, without SYN_RECV and TIME_WAIT (`SS_CONN` in misc/ss.c).
const CONNECTED: [State; 7] = [
    State::ESTABLISHED,
    State::SYN_SENT,
    State::FIN_WAIT1,
    State::FIN_WAIT2,
    State::CLOSE_WAIT,
    State::LAST_ACK,
    State::CLOSING,
];

fn mask(states: &[State]) -> u32 {
    states.iter().fold(0, |m, s| m | s.bit())
}

/// The `--state` names offered to shell completion, in the kernel's order, then the groups
/// (every spelling [`parse_state`] accepts is still accepted).
const STATE_NAMES: [&str; 14] = [
    "established",
    "syn-sent",
    "syn-recv",
    "fin-wait-1",
    "fin-wait-2",
    "time-wait",
    "close",
    "close-wait",
    "last-ack",
    "listen",
    "closing",
    "bound-inactive",
    "connected",
    "all",
];

/// `--state`: parsed by [`parse_state`] (its errors unchanged), with [`STATE_NAMES`] as the
/// possible values clap_complete writes into the completion scripts.
#[derive(Debug, Clone, Copy)]
struct StateParser;

impl TypedValueParser for StateParser {
    type Value = StateMask;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<StateMask, clap::Error> {
        TypedValueParser::parse_ref(&parse_state, cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(STATE_NAMES.into_iter().map(PossibleValue::new)))
    }
}

fn parse_state(name: &str) -> Result<StateMask, String> {
    let key = name.to_ascii_lowercase().replace('-', "_");
    let states: &[State] = match key.as_str() {
        "established" | "estab" => &[State::ESTABLISHED],
        "syn_sent" => &[State::SYN_SENT],
        "syn_recv" | "new_syn_recv" => &[State::SYN_RECV],
        "fin_wait1" | "fin_wait_1" => &[State::FIN_WAIT1],
        "fin_wait2" | "fin_wait_2" => &[State::FIN_WAIT2],
        "time_wait" => &[State::TIME_WAIT],
        "close" | "closed" | "unconn" => &[State::CLOSE, State::BOUND_INACTIVE],
        "close_wait" => &[State::CLOSE_WAIT],
        "last_ack" => &[State::LAST_ACK],
        "listen" | "listening" => &[State::LISTEN],
        "closing" => &[State::CLOSING],
        "bound_inactive" => &[State::BOUND_INACTIVE],
        "connected" => &CONNECTED[..],
        "all" => return Ok(StateMask(State::ALL_BITS)),
        _ => return Err(format!("unknown state '{name}' (see --help for the names)")),
    };
    let mut bits = mask(states);
    if key == "connected" {
        bits |= State::SYN_RECV.bit() | State::TIME_WAIT.bit();
    }
    Ok(StateMask(bits))
}

impl ListArgs {
    /// The protocols to dump, in ss's order (unix, raw, udp, tcp): those named, or all
    /// four as ss without a protocol flag (only the IP ones with -4/-6).
    pub fn protocols(&self) -> Vec<Proto> {
        let named: Vec<Proto> = [
            (self.unix, Proto::Unix),
            (self.raw, Proto::Raw),
            (self.udp, Proto::Udp),
            (self.tcp, Proto::Tcp),
        ]
        .into_iter()
        .filter_map(|(on, proto)| on.then_some(proto))
        .collect();
        match (named.is_empty(), self.ipv4 || self.ipv6) {
            (false, _) => named,
            (true, true) => vec![Proto::Raw, Proto::Udp, Proto::Tcp],
            (true, false) => vec![Proto::Unix, Proto::Raw, Proto::Udp, Proto::Tcp],
        }
    }

    /// The IP families to dump for TCP, UDP and RAW.
    pub fn families(&self) -> Vec<Family> {
        match (self.ipv4, self.ipv6) {
            (true, false) => vec![Family::Inet],
            (false, true) => vec![Family::Inet6],
            _ => vec![Family::Inet, Family::Inet6],
        }
    }

    /// The state mask asked of the kernel for `proto`. States named (`--state`, or the
    /// filter's `state`/`exclude` words, `filter_states`) win over `-a` and `-l`, as ss's
    /// state filter does; both kinds together select their union.
    pub fn states(&self, proto: Proto, filter_states: Option<u32>) -> u32 {
        if !self.state.is_empty() || filter_states.is_some() {
            self.state.iter().fold(filter_states.unwrap_or(0), |m, s| m | s.0)
        } else if self.all {
            State::ALL_BITS
        } else if self.listening && proto == Proto::Tcp {
            State::LISTEN.bit()
        } else if self.listening {
            State::LISTEN.bit() | State::CLOSE.bit()
        } else {
            mask(&CONNECTED)
        }
    }

    /// Every dump to run, in output order.
    pub fn requests(&self, filter_states: Option<u32>) -> Vec<Request> {
        let families = self.families();
        self.protocols()
            .into_iter()
            .flat_map(|proto| {
                let states = self.states(proto, filter_states);
                let families = if proto == Proto::Unix {
                    vec![Family::Unix]
                } else {
                    families.clone()
                };
                families.into_iter().map(move |family| Request {
                    proto,
                    family,
                    states,
                })
            })
            .collect()
    }

    /// Whether the TCP dumps ask for bound-inactive sockets, which older kernels ignore.
    pub fn wants_bound_inactive(&self, filter_states: Option<u32>) -> bool {
        self.protocols().contains(&Proto::Tcp)
            && self.states(Proto::Tcp, filter_states) & State::BOUND_INACTIVE.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn list(args: &[&str]) -> ListArgs {
        let cli = Cli::try_parse_from([&["sockdiag", "list"], args].concat()).expect("parses");
        match cli.command {
            Command::List(list) => list,
            _ => panic!("not list"),
        }
    }

    #[test]
    fn default_is_every_protocol_in_connected_states() {
        let args = list(&[]);
        assert_eq!(
            args.protocols(),
            [Proto::Unix, Proto::Raw, Proto::Udp, Proto::Tcp]
        );
        assert_eq!(
            args.states(Proto::Tcp, None),
            1 << 1 | 1 << 2 | 1 << 4 | 1 << 5 | 1 << 8 | 1 << 9 | 1 << 11
        );
        assert!(!args.wants_bound_inactive(None));
    }

    #[test]
    fn combined_short_flags_like_ss() {
        let args = list(&["-tanp"]);
        assert_eq!(args.protocols(), [Proto::Tcp]);
        assert!(args.processes && args.numeric);
        assert_eq!(args.states(Proto::Tcp, None), State::ALL_BITS);
        assert!(args.wants_bound_inactive(None));
        assert_eq!(args.requests(None).len(), 2);
    }

    #[test]
    fn listening_means_unconnected_too_except_for_tcp() {
        let args = list(&["-tul4"]);
        assert_eq!(args.states(Proto::Tcp, None), State::LISTEN.bit());
        assert_eq!(
            args.states(Proto::Udp, None),
            State::LISTEN.bit() | State::CLOSE.bit()
        );
        assert_eq!(args.families(), [Family::Inet]);
    }

    #[test]
    fn state_names_kernel_and_ss_spelling() {
        for (name, bits) in [
            ("time_wait", 1 << 6),
            ("TIME-WAIT", 1 << 6),
            ("established", 1 << 1),
            ("bound-inactive", 1 << 13),
            ("Bound_Inactive", 1 << 13),
            ("fin-wait-2", 1 << 5),
            ("FIN_WAIT2", 1 << 5),
            ("close", 1 << 7 | 1 << 13),
            ("listening", 1 << 10),
        ] {
            assert_eq!(parse_state(name), Ok(StateMask(bits)), "{name}");
        }
        let args = list(&["-t", "--state", "listen", "--state", "time-wait"]);
        assert_eq!(args.states(Proto::Tcp, None), 1 << 10 | 1 << 6);
    }

    #[test]
    fn every_completed_state_name_parses() {
        for name in STATE_NAMES {
            assert!(parse_state(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn unknown_state_is_an_error() {
        let err = Cli::try_parse_from(["sockdiag", "list", "--state", "bogus"]).expect_err("rejected");
        assert!(err.to_string().contains("unknown state 'bogus'"), "{err}");
    }

    #[test]
    fn netns_name_or_path() {
        let arg = |s: &str| {
            NetnsArg {
                netns: Some(s.into()),
            }
            .path()
        };
        assert_eq!(arg("blue"), Some(PathBuf::from("/run/netns/blue")));
        assert_eq!(arg("/proc/1/ns/net"), Some(PathBuf::from("/proc/1/ns/net")));
    }
}
