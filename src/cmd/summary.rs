//! `sockdiag summary`: collect → reconcile → render.
//!
//! Collection reads the counters, takes the census (the TCP dumps of the namespace read, one
//! `/proc` walk for owners and namespaces, the TCP dumps of every other namespace found) and
//! reads the counters again; if they moved, it starts over, a bounded number of times, and
//! otherwise reports the drift. Everything else is [`reconcile::reconcile`] and render.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::SummaryArgs;
use crate::collect::diag::{DiagSocket, DumpStats, Request};
use crate::collect::netns;
use crate::collect::owners::ProcScan;
use crate::collect::sockstat;
use crate::collect::sys;
use crate::model::{Family, Proto, State};
use crate::reconcile::{self, HeldTcp, NetnsSource, Observation, OtherNamespace};
use crate::render;
use crate::saved_ss;

/// Censuses taken at most while the counters keep moving.
const MAX_ATTEMPTS: u32 = 3;

pub fn run(args: &SummaryArgs, proc_root: &Path, out: &mut impl Write) -> Result<ExitCode> {
    // Bad input is reported before any work.
    let saved = args.saved_ss.as_deref().map(read_saved).transpose()?;
    if let Some(path) = args.netns.path() {
        netns::enter(&netns::open(&path)?, &path)?;
    }
    let mut obs = collect(proc_root)?;
    obs.saved_ss = saved;
    let report = reconcile::reconcile(&obs);
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        out.write_all(b"\n")?;
    } else {
        render::summary::human(out, &report, args.all)?;
    }
    Ok(if args.check && report.closed.unexplained != 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn read_saved(path: &Path) -> Result<saved_ss::SavedSs> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("--ss -: reading stdin")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("--ss {}", path.display()))?;
    }
    saved_ss::parse(&text).with_context(|| format!("--ss {}", path.display()))
}

fn collect(proc_root: &Path) -> Result<Observation> {
    let netns = netns::current()?;
    let mut diag = DiagSocket::open()?;
    let bound_inactive_dumped = diag.dumps_bound_inactive()?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let counters = sockstat::read(proc_root)?;
        let mut obs = census(&mut diag, netns, proc_root)?;
        let counters_after = sockstat::read(proc_root)?;
        if reconcile::settled(&counters, &counters_after) || attempts == MAX_ATTEMPTS {
            // The sock_diag socket is open in this namespace; a fake tree does not count it.
            obs.own_sockets = u64::from(proc_root == Path::new("/proc"));
            obs.bound_inactive_dumped = bound_inactive_dumped;
            obs.counters = counters;
            obs.counters_after = counters_after;
            obs.attempts = attempts;
            return Ok(obs);
        }
    }
}

/// What went wrong inside dumps that still succeeded.
#[derive(Default)]
struct DumpTroubles {
    interrupted: u32,
    undecodable: Vec<String>,
}

impl DumpTroubles {
    fn add(&mut self, stats: &DumpStats) {
        self.interrupted += u32::from(stats.interrupted);
        self.undecodable.extend(stats.undecodable());
    }
}

/// The TCP dumps of a namespace: both families, every state.
const TCP_DUMPS: [Request; 2] = [
    Request {
        proto: Proto::Tcp,
        family: Family::Inet,
        states: State::ALL_BITS,
    },
    Request {
        proto: Proto::Tcp,
        family: Family::Inet6,
        states: State::ALL_BITS,
    },
];

fn census(diag: &mut DiagSocket, netns: u64, proc_root: &Path) -> Result<Observation> {
    // The namespace read: keep the rows that bear on `closed`, remember every inode.
    let mut dumped: HashSet<u32> = HashSet::new();
    let mut close_rows = Vec::new();
    let mut troubles = DumpTroubles::default();
    for request in TCP_DUMPS {
        let (rows, stats) = diag.dump_all(&request)?;
        troubles.add(&stats);
        for socket in rows {
            dumped.insert(socket.inode);
            if socket.timewait || socket.state == State::CLOSE {
                close_rows.push(socket);
            }
        }
    }
    let scan = ProcScan::scan(proc_root, true)?;

    // Every other namespace a process is in, or `ip netns` named.
    let named: HashMap<u64, String> = netns::named().into_iter().collect();
    let mut others: Vec<(u64, String, PathBuf)> = named
        .iter()
        .filter(|(inode, _)| **inode != netns)
        .map(|(inode, name)| (*inode, name.clone(), Path::new(netns::NAMED_DIR).join(name)))
        .collect();
    for process in &scan.processes {
        let Some(inode) = process.netns else { continue };
        if inode != netns && !others.iter().any(|o| o.0 == inode) {
            let name = format!("pid {} ({})", process.pid, process.comm);
            others.push((inode, name, proc_root.join(format!("{}/ns/net", process.pid))));
        }
    }
    let mut other_namespaces = Vec::new();
    for (inode, name, path) in others {
        let dumped_full = dump_full_sockets(&path, &mut dumped, &mut troubles).ok();
        other_namespaces.push(OtherNamespace {
            netns: inode,
            name,
            dumped_full,
        });
    }

    // Sockets held by processes that no dump returned: the TCP ones are TCP_CLOSE sockets
    // without a port. Ask each socket which namespace it was created in.
    let mut held = Vec::new();
    for holders in scan.sockets.chunk_by(|a, b| a.inode == b.inode) {
        let inode = holders[0].inode;
        if dumped.contains(&inode) {
            continue;
        }
        let family = match holders.iter().find_map(|fd| scan.protocol(fd).ok()).as_deref() {
            Some("TCP") => Family::Inet,
            Some("TCPv6") => Family::Inet6,
            _ => continue,
        };
        let from_socket = holders
            .iter()
            .find_map(|fd| sys::socket_netns(scan.process(fd).pid, fd.fd).ok());
        let netns = match from_socket {
            Some(inode) => Some((inode, NetnsSource::Socket)),
            None => holders
                .iter()
                .find_map(|fd| scan.process(fd).netns)
                .map(|inode| (inode, NetnsSource::Process)),
        };
        held.push(HeldTcp {
            inode,
            family,
            netns,
            owners: scan.owners(inode).collect(),
        });
    }

    let close_rows = close_rows
        .into_iter()
        .map(|socket| {
            let owners = if socket.inode == 0 {
                Vec::new()
            } else {
                scan.owners(socket.inode).collect()
            };
            (socket, owners)
        })
        .collect();
    Ok(Observation {
        netns,
        close_rows,
        held,
        other_namespaces,
        processes: scan.stats,
        interrupted_dumps: troubles.interrupted,
        undecodable: troubles.undecodable,
        privileged: rustix::process::geteuid().is_root(),
        ..Observation::default()
    })
}

/// Counts the full TCP sockets of the namespace at `path` and adds their inodes to `dumped`.
fn dump_full_sockets(path: &Path, dumped: &mut HashSet<u32>, troubles: &mut DumpTroubles) -> Result<u64> {
    let file = netns::open(path)?;
    let mut diag = netns::diag_socket_in(&file, path)?;
    let mut full = 0;
    for request in TCP_DUMPS {
        let (rows, stats) = diag.dump_all(&request)?;
        troubles.add(&stats);
        for socket in rows.iter().filter(|s| reconcile::is_full_socket(s)) {
            full += 1;
            dumped.insert(socket.inode);
        }
    }
    Ok(full)
}
