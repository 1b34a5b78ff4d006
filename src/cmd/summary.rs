//! `sockdiag summary`: collect the host once, reconcile the namespace read, render.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::SummaryArgs;
use crate::collect::{Collector, Walk};
use crate::reconcile::{reconcile, reconcile_host};
use crate::render;
use crate::saved_ss::{self, SavedSs};

pub fn run(args: &SummaryArgs, proc_root: &Path, out: &mut impl Write) -> Result<ExitCode> {
    // Bad input is reported before any work.
    let saved = args.saved_ss.as_deref().map(read_saved).transpose()?;
    let host = Collector::open(proc_root, args.netns.path().as_deref())?.host(Walk::WhereNeeded)?;
    if args.all_netns {
        let report = reconcile_host(&host);
        if args.json {
            render::summary::host_json(out, &report)?;
        } else {
            render::summary::host_human(out, &report, args.all)?;
        }
        return Ok(exit_status(
            args.check,
            report.unexplained,
            report.consistency.drift,
        ));
    }
    let report = reconcile(&host, saved.as_ref());
    if args.json {
        render::summary::json(out, &report)?;
    } else {
        render::summary::human(out, &report, args.all)?;
    }
    Ok(exit_status(
        args.check,
        report.closed.unexplained,
        report.consistency.drift,
    ))
}

/// With `--check`, 1 when part of `closed` stays unexplained beyond the drift measured
/// meanwhile (what the notes then report as a finding); otherwise 0.
fn exit_status(check: bool, unexplained: i64, drift: i64) -> ExitCode {
    if check && unexplained.abs() > drift {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The most a saved `ss -s` may weigh: a real one is a few hundred bytes.
const MAX_SAVED_SS: u64 = 1 << 20;

/// Reads a saved `ss -s`: stdin (`-`, a pipe or a file) or a regular file, at most
/// [`MAX_SAVED_SS`] bytes. Anything else (a FIFO, a device such as `/dev/zero`, a directory)
/// is refused without blocking: the file is opened `O_NONBLOCK` and checked before reading.
fn read_saved(path: &Path) -> Result<SavedSs> {
    let what = || format!("--ss {}", path.display());
    let bytes = if path == Path::new("-") {
        read_bounded(std::io::stdin().lock()).context("--ss -: reading stdin")?
    } else {
        use rustix::fs::{FileType, Mode, OFlags};
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(std::io::Error::from)
        .with_context(what)?;
        let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd).map_err(std::io::Error::from)?.st_mode);
        anyhow::ensure!(
            kind == FileType::RegularFile,
            "{}: not a regular file (a {}): save the output of ss -s to a file, or pipe it to --ss -",
            what(),
            file_kind(kind)
        );
        read_bounded(std::fs::File::from(fd)).with_context(what)?
    };
    let text = String::from_utf8_lossy(&bytes);
    saved_ss::parse(&text).with_context(what)
}

/// Everything `reader` holds, refused past [`MAX_SAVED_SS`] bytes.
fn read_bounded(reader: impl Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(MAX_SAVED_SS + 1).read_to_end(&mut bytes)?;
    anyhow::ensure!(
        bytes.len() as u64 <= MAX_SAVED_SS,
        "larger than {} KiB: not an ss -s output",
        MAX_SAVED_SS / 1024
    );
    Ok(bytes)
}

fn file_kind(kind: rustix::fs::FileType) -> &'static str {
    use rustix::fs::FileType;
    match kind {
        FileType::Fifo => "fifo",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Directory => "directory",
        FileType::Socket => "socket",
        _ => "special file",
    }
}
