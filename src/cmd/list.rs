//! `sockdiag list`: dump → owners → rows, streamed. Nothing holds the whole listing; with
//! `-p` the owners table (a compact inode-sorted array) is built first, as ss does.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::cli::ListArgs;
use crate::collect::diag::{DiagError, DiagSocket};
use crate::collect::netns;
use crate::collect::owners::ProcScan;
use crate::model::{Owner, Proto};
use crate::render::list::ListFormat;

pub fn run(args: &ListArgs, proc_root: &Path, out: &mut impl Write) -> Result<()> {
    if let Some(path) = args.netns.path() {
        netns::enter(&netns::open(&path)?, &path)?;
    }
    let mut diag = DiagSocket::open()?;
    if args.wants_bound_inactive() && !diag.dumps_bound_inactive()? {
        warn("this kernel (< 6.8) does not dump bound-inactive TCP sockets: they are not listed");
    }
    let scan = if args.processes {
        Some(ProcScan::scan(proc_root, false)?)
    } else {
        None
    };
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
    for request in args.requests() {
        let mut written = Ok(());
        let outcome = diag.dump(&request, |socket| {
            if written.is_err() {
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
                    warn(&format!(
                        "the {} {} dump was interrupted (NLM_F_DUMP_INTR): sockets may be missing or repeated",
                        request.family.name(),
                        request.proto.name()
                    ));
                }
                if let Some(undecodable) = stats.undecodable() {
                    warn(&format!(
                        "undecodable sock_diag messages were skipped: {undecodable}"
                    ));
                }
            }
            Err(e @ DiagError::Unsupported { proto, .. }) => {
                if !unsupported.contains(&proto) {
                    unsupported.push(proto);
                    warn(&format!("{e}: not supported, skipped"));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    out.flush()?;
    if let Some(scan) = &scan
        && scan.stats.denied > 0
    {
        let why = if rustix::process::geteuid().is_root() {
            "refused even to root: another user namespace, or a protected process"
        } else {
            "run as root to see them all"
        };
        warn(&format!(
            "{} of {} processes could not be inspected (permission denied): owners are a lower bound; {why}",
            scan.stats.denied,
            scan.stats.denied + scan.stats.scanned
        ));
    }
    Ok(())
}

/// A notice on stderr that does not stop the command.
pub fn warn(message: &str) {
    eprintln!("sockdiag: {message}");
}
