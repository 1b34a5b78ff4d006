//! `sockdiag list`: dump → owners → rows, streamed. Nothing holds the whole listing; with
//! `-p` the owners table (a compact inode-sorted array) is built first, as ss does. With
//! `--all-netns`, the same for every namespace found, one after the other, each dumped by a
//! sock_diag socket opened inside it.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::cli::ListArgs;
use crate::collect::census::BoundInactive;
use crate::collect::diag::{DiagError, Request};
use crate::collect::owners::ProcScan;
use crate::collect::{self, Collector};
use crate::filter::{self, Filter, Services};
use crate::model::{Owner, Proto, Socket, State};
use crate::reconcile::Finding;
use crate::render::list::{ListFormat, RowContext, Source};
use crate::render::{escape, names, notes};

/// What one run learnt along the way, said on stderr once at the end (or once at all).
#[derive(Default)]
struct Tally {
    unsupported: Vec<Proto>,
    raw_from_proc: bool,
    bound_inactive_not_dumped: bool,
    /// TCP rows in CLOSE (bound-inactive) with an inode and no owner found (`-p` only).
    unowned_bound_inactive: u64,
    /// The namespaces listed.
    listed: Vec<u64>,
}

/// What every namespace's listing shares.
struct Plan<'a> {
    args: &'a ListArgs,
    requests: Vec<Request>,
    filter: Option<Filter>,
    program: Option<Vec<u8>>,
    format: ListFormat,
}

pub fn run(args: &ListArgs, proc_root: &Path, out: &mut impl Write) -> Result<()> {
    // Bad input is reported before any work.
    let filter = if args.filter.is_empty() {
        None
    } else {
        Some(filter::parse(&args.filter, &Services::load()?)?)
    };
    let filter_states = filter.as_ref().and_then(Filter::states);
    let plan = Plan {
        args,
        requests: args.requests(filter_states),
        program: filter.as_ref().and_then(Filter::request_attribute),
        filter,
        format: if args.json {
            ListFormat::Json {
                processes: args.processes,
            }
        } else {
            ListFormat::Table {
                extended: args.extended,
                processes: args.processes,
                netns: args.all_netns,
            }
        },
    };
    let mut tally = Tally::default();
    let scan = if args.all_netns {
        let scan = ProcScan::scan(proc_root, true)?;
        if !args.no_header {
            plan.format.header(out)?;
        }
        // Our own namespace first (no process but us need be in it), then every other found.
        let mut own = Collector::open(proc_root, None)?;
        list_namespace(&plan, &mut own, args.processes.then_some(&scan), &mut tally, out)?;
        for (inode, name, path) in collect::discover(&scan, proc_root) {
            if tally.listed.contains(&inode) {
                continue;
            }
            // A namespace whose every process exited meanwhile, or one we may not enter.
            let mut collector = match Collector::open(proc_root, Some(&path)) {
                Ok(collector) if collector.netns() == inode => collector,
                Ok(_) => continue, // the process left and its pid was reused: listed elsewhere
                Err(e) => {
                    eprintln!(
                        "sockdiag: netns {inode} ({}): not listed: {}",
                        names::namespace(&name),
                        escape::for_terminal(format!("{e:#}").as_bytes())
                    );
                    continue;
                }
            };
            let listed = list_namespace(
                &plan,
                &mut collector,
                args.processes.then_some(&scan),
                &mut tally,
                out,
            );
            // A dump that fails in one namespace ends its listing, not the others'; an
            // error writing the output ends everything.
            match listed {
                Err(e) if e.downcast_ref::<DiagError>().is_some() => eprintln!(
                    "sockdiag: netns {inode} ({}): listing cut short: {}",
                    names::namespace(&name),
                    escape::for_terminal(format!("{e:#}").as_bytes())
                ),
                other => other?,
            }
        }
        args.processes.then_some(scan)
    } else {
        let mut collector = Collector::open(proc_root, args.netns.path().as_deref())?;
        let scan = args.processes.then(|| collector.scan(false)).transpose()?;
        if !args.no_header {
            plan.format.header(out)?;
        }
        list_namespace(&plan, &mut collector, scan.as_ref(), &mut tally, out)?;
        scan
    };
    out.flush()?;

    if tally.raw_from_proc && (args.raw || args.all) {
        warn_text(
            "raw sockets: this kernel has no raw_diag, so they were read from /proc/net/raw and /proc/net/raw6 (no cookie, filter applied here)",
        );
    }
    if tally.bound_inactive_not_dumped {
        warn(&Finding::BoundInactiveNotDumped);
    }
    if tally.unowned_bound_inactive > 0 {
        warn(&Finding::UnownedBoundInactive {
            count: tally.unowned_bound_inactive,
        });
    }
    if let Some(scan) = &scan
        && scan.stats.denied > 0
    {
        denied_note(scan, &tally.listed);
    }
    Ok(())
}

/// Whether a row is in the states a request asked for. A bound-inactive socket comes back with
/// state CLOSE for the request bit 13.
fn asked(request: &Request, socket: &Socket) -> bool {
    let bound_inactive = socket.proto == Proto::Tcp && !socket.timewait && socket.state == State::CLOSE;
    request.states & socket.state.bit() != 0
        || (bound_inactive && request.states & State::BOUND_INACTIVE.bit() != 0)
}

/// Every dump of one namespace, streamed to `out`.
fn list_namespace<W: Write>(
    plan: &Plan,
    collector: &mut Collector,
    scan: Option<&ProcScan>,
    tally: &mut Tally,
    out: &mut W,
) -> Result<()> {
    let netns = collector.netns();
    tally.listed.push(netns);
    let mut owners: Vec<Owner> = Vec::new();
    let mut unowned = 0;
    let mut emit = |source: Source, socket: Socket, out: &mut W| -> std::io::Result<()> {
        if !plan.filter.as_ref().is_none_or(|f| f.matches(&socket)) {
            return Ok(());
        }
        owners.clear();
        if let Some(scan) = scan
            && socket.inode != 0
        {
            owners.extend(scan.owners(socket.inode));
            if owners.is_empty() && socket.proto == Proto::Tcp && socket.state == State::CLOSE {
                unowned += 1;
            }
        }
        let context = RowContext { netns, source };
        plan.format.row(out, context, &socket, &owners)
    };
    for request in &plan.requests {
        let mut written = Ok(());
        let outcome = collector.dump(request, plan.program.as_deref(), |socket| {
            // raw_diag answers every raw socket whatever the states asked (raw_diag_dump
            // reads no idiag_states): the rows are held to the request's states here.
            if written.is_ok() && asked(request, &socket) {
                written = emit(Source::Netlink, socket, out);
            }
        });
        written?;
        match outcome {
            Ok(stats) => {
                if stats.interrupted {
                    warn(&Finding::InterruptedDumps { count: 1 });
                }
                if let Some(detail) = stats.undecodable() {
                    warn(&Finding::Undecodable { detail });
                }
            }
            Err(DiagError::Unsupported { proto: Proto::Raw }) => {
                tally.raw_from_proc = true;
                for socket in collector.raw_from_proc(request.family)? {
                    if asked(request, &socket) {
                        emit(Source::Proc, socket, out)?;
                    }
                }
            }
            Err(DiagError::Unsupported { proto }) => {
                if !tally.unsupported.contains(&proto) {
                    tally.unsupported.push(proto);
                    warn(&Finding::Unsupported { proto });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let filter_states = plan.filter.as_ref().and_then(Filter::states);
    if plan.args.wants_bound_inactive(filter_states) && collector.bound_inactive() == BoundInactive::NotDumped
    {
        tally.bound_inactive_not_dumped = true;
    }
    tally.unowned_bound_inactive += unowned;
    Ok(())
}

/// The processes `-p` could not inspect, said only when they matter: when one is in a
/// namespace listed, or in one we could not tell (`/proc/PID/ns/net` refused too). Processes
/// known to be in other namespaces hold no socket of these, whatever they hold.
fn denied_note(scan: &ProcScan, listed: &[u64]) {
    let denied = &scan.denied;
    let total = scan.stats.denied + scan.stats.scanned + scan.stats.vanished;
    if let Some(note) = denied_words(denied, listed, scan.stats.denied, total) {
        warn_text(&note);
    }
}

/// The words of [`denied_note`] for the processes `denied` (pid, namespace if readable), or
/// `None` when none of them can hold a socket of the namespaces `listed`. `counted` is the
/// walk's count of them; `total` the processes walked.
fn denied_words(denied: &[(u32, Option<u64>)], listed: &[u64], counted: u32, total: u32) -> Option<String> {
    let matters = |netns: &Option<u64>| netns.is_none_or(|n| listed.contains(&n));
    let here = denied
        .iter()
        .filter(|(_, netns)| netns.is_some_and(|n| listed.contains(&n)))
        .count();
    let unknown = denied.iter().filter(|(_, netns)| netns.is_none()).count();
    if here + unknown == 0 {
        return None;
    }
    let pids: Vec<String> = denied
        .iter()
        .filter(|(_, netns)| matters(netns))
        .map(|(pid, _)| pid.to_string())
        .collect();
    let shown = if pids.len() > 5 {
        format!("{}, ...", pids[..5].join(", "))
    } else {
        pids.join(", ")
    };
    Some(format!(
        "{} of {total} processes could not be inspected (permission denied) and may hold sockets listed here ({here} in a namespace listed, {unknown} in a namespace that could not be read; pid {shown}): sockets only they hold show no owner",
        // The second walk may meet processes started since the first: never more than it.
        (here + unknown).min(counted as usize),
    ))
}

/// A finding on stderr that does not stop the command.
fn warn(finding: &Finding) {
    warn_text(&notes::note(finding));
}

fn warn_text(text: &str) {
    eprintln!("sockdiag: {}", escape::for_terminal(text.as_bytes()));
}

#[cfg(test)]
mod tests {
    use super::denied_words;

    #[test]
    fn denied_processes_are_said_only_when_they_may_hold_listed_sockets() {
        let listed = [4026531840];
        // Elsewhere only: quiet.
        assert_eq!(denied_words(&[(812, Some(4026532001))], &listed, 1, 73), None);
        assert_eq!(denied_words(&[], &listed, 1, 73), None, "gone since the walk");
        // In a namespace listed, or in one unknown: said, with the pids.
        assert_eq!(
            denied_words(
                &[(812, Some(4026531840)), (9, Some(1)), (77, None)],
                &listed,
                3,
                73
            )
            .as_deref(),
            Some(
                "2 of 73 processes could not be inspected (permission denied) and may hold sockets listed here (1 in a namespace listed, 1 in a namespace that could not be read; pid 812, 77): sockets only they hold show no owner"
            )
        );
        let many: Vec<(u32, Option<u64>)> = (1..=7).map(|pid| (pid, None)).collect();
        let words = denied_words(&many, &listed, 6, 80).expect("said");
        assert!(
            words.starts_with("6 of 80 ") && words.contains("pid 1, 2, 3, 4, 5, ...)"),
            "{words}"
        );
    }
}
