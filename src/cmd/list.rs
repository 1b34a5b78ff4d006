//! `sockdiag list`: dump → owners → rows, streamed. Nothing holds the whole listing; with
//! `-p` the owners table (a compact inode-sorted array) is built first, as ss does.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::cli::ListArgs;
use crate::collect::Collector;
use crate::collect::census::BoundInactive;
use crate::collect::diag::DiagError;
use crate::filter::{self, Filter, Services};
use crate::model::{Owner, Proto};
use crate::reconcile::Finding;
use crate::render::list::ListFormat;
use crate::render::{escape, notes};

pub fn run(args: &ListArgs, proc_root: &Path, out: &mut impl Write) -> Result<()> {
    // Bad input is reported before any work.
    let filter = if args.filter.is_empty() {
        None
    } else {
        Some(filter::parse(&args.filter, &Services::load()?)?)
    };
    let filter_states = filter.as_ref().and_then(Filter::states);
    let program = filter.as_ref().and_then(Filter::request_attribute);
    let mut collector = Collector::open(proc_root, args.netns.path().as_deref())?;
    let scan = args.processes.then(|| collector.scan(false)).transpose()?;
    let format = if args.json {
        ListFormat::Json {
            processes: args.processes,
        }
    } else {
        ListFormat::Table {
            extended: args.extended,
            processes: args.processes,
        }
    };
    format.header(out)?;
    let mut unsupported: Vec<Proto> = Vec::new();
    let mut owners: Vec<Owner> = Vec::new();
    for request in args.requests(filter_states) {
        let mut written = Ok(());
        let outcome = collector.dump(&request, program.as_deref(), |socket| {
            if written.is_err() || !filter.as_ref().is_none_or(|f| f.matches(&socket)) {
                return;
            }
            owners.clear();
            if let Some(scan) = &scan
                && socket.inode != 0
            {
                owners.extend(scan.owners(socket.inode));
            }
            written = format.row(out, &socket, &owners);
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
            Err(DiagError::Unsupported { proto }) => {
                if !unsupported.contains(&proto) {
                    unsupported.push(proto);
                    warn(&Finding::Unsupported { proto });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    out.flush()?;
    if args.wants_bound_inactive(filter_states) && collector.bound_inactive() == BoundInactive::NotDumped {
        warn(&Finding::BoundInactiveNotDumped);
    }
    if let Some(scan) = &scan
        && scan.stats.denied > 0
    {
        warn(&Finding::ProcessesDenied {
            denied: scan.stats.denied,
            total: scan.stats.denied + scan.stats.scanned + scan.stats.vanished,
        });
    }
    Ok(())
}

/// A finding on stderr that does not stop the command.
fn warn(finding: &Finding) {
    eprintln!(
        "sockdiag: {}",
        escape::for_terminal(notes::note(finding).as_bytes())
    );
}
