//! `sockdiag watch`: one JSON object per sample per line, or a screen refreshed in place (the
//! alternate screen, cleared and rewritten each sample, like `top`), and the summary of the
//! flagged processes printed on the normal screen at the end.

use std::io::{self, Write};

use serde::Serialize;

use crate::cmd::watch::Timing;
use crate::model::SysText;
use crate::reconcile::ClosedTerms;
use crate::watch::{Change, ProcessRow, Step, Tracker};

/// Switch to the alternate screen and hide the cursor.
const ENTER: &str = "\x1b[?1049h\x1b[?25l";
/// Show the cursor and return to the normal screen.
const LEAVE: &str = "\x1b[?25h\x1b[?1049l";
/// Cursor home, clear the screen.
const CLEAR: &str = "\x1b[H\x1b[2J";

/// Process rows shown on the screen at most.
const MAX_ROWS: usize = 20;

/// One line of `watch --json`: its fields are the schema the man page documents.
#[derive(Serialize)]
struct Line<'a> {
    sample: u64,
    unix_ms: u64,
    elapsed_ms: u64,
    duration_ms: u64,
    overran: bool,
    netns: u64,
    closed: &'a ClosedTerms,
    sockets: &'a Change,
    processes: &'a [ProcessRow],
}

pub fn json(out: &mut impl Write, step: &Step, timing: Timing) -> io::Result<()> {
    let line = Line {
        sample: step.sample,
        unix_ms: timing.unix_ms,
        elapsed_ms: step.at_ms,
        duration_ms: timing.duration_ms,
        overran: timing.overran,
        netns: timing.netns,
        closed: &step.closed,
        sockets: &step.sockets,
        processes: &step.processes,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

pub fn enter_screen(out: &mut impl Write) -> io::Result<()> {
    out.write_all(ENTER.as_bytes())?;
    out.flush()
}

pub fn leave_screen(out: &mut impl Write) -> io::Result<()> {
    out.write_all(LEAVE.as_bytes())?;
    out.flush()
}

/// `HH:MM:SS` UTC of a Unix time in milliseconds.
fn clock(unix_ms: u64) -> String {
    let s = unix_ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn comm(text: &SysText) -> String {
    let escaped = text.escaped();
    escaped.chars().take(16).collect()
}

fn verdict(row: &ProcessRow) -> String {
    match (row.leaking, row.rate_per_min, row.oldest_inode) {
        (true, Some(rate), Some(inode)) => format!("LEAKING {rate:.0}/min, oldest inode {inode}"),
        (true, ..) => "LEAKING".to_owned(),
        _ if row.rising > 0 => format!("rising for {}", row.rising),
        _ => String::new(),
    }
}

/// The screen of one sample, cleared and drawn from the top.
pub fn screen(out: &mut impl Write, step: &Step, timing: Timing, leak_after: u32) -> io::Result<()> {
    let c = &step.closed;
    out.write_all(CLEAR.as_bytes())?;
    // Lines end with \r\n: the terminal is left in its mode, and a bare \n after a long line
    // is enough on any tty, but \r keeps columns right if it is raw.
    write!(
        out,
        "sockdiag watch  {} UTC  sample {}  every {}s  netns {}\r\n",
        clock(timing.unix_ms),
        step.sample,
        timing.interval,
        timing.netns
    )?;
    let overran = if timing.overran {
        "  (longer than the interval: the next one starts at once)"
    } else {
        ""
    };
    write!(out, "sample took {} ms{overran}\r\n", timing.duration_ms)?;
    let bound_inactive = c.bound_inactive.map_or("?".to_owned(), |n| n.to_string());
    write!(
        out,
        "closed {} = time_wait {} + bound_inactive {} + unbound {} + other_netns {} + unexplained {}\r\n",
        c.reported, c.time_wait, bound_inactive, c.unbound, c.other_netns, c.unexplained
    )?;
    let s = &step.sockets;
    write!(
        out,
        "TCP_CLOSE sockets {}: {} opened, {} closed since the last sample\r\n",
        s.held, s.opened, s.closed
    )?;
    write!(
        out,
        "leaking: TCP_CLOSE sockets rose in each of the last {leak_after} intervals; Ctrl-C ends\r\n\r\n"
    )?;
    write!(
        out,
        "{:>8} {:<16} {:>7} {:>7} {:>7} {:>7}  VERDICT\r\n",
        "PID", "COMMAND", "HELD", "OPENED", "CLOSED", "GROWTH"
    )?;
    for row in step.processes.iter().take(MAX_ROWS) {
        write!(
            out,
            "{:>8} {:<16} {:>7} {:>7} {:>7} {:>+7}  {}\r\n",
            row.pid,
            comm(&row.comm),
            row.held,
            row.opened,
            row.closed,
            row.growth(),
            verdict(row)
        )?;
    }
    if step.processes.len() > MAX_ROWS {
        write!(
            out,
            "... and {} more processes\r\n",
            step.processes.len() - MAX_ROWS
        )?;
    }
    if step.processes.is_empty() {
        write!(out, "no process holds a TCP_CLOSE socket\r\n")?;
    }
    Ok(())
}

/// What the watch found, printed when it ends: every process flagged at some point.
pub fn final_summary(out: &mut impl Write, tracker: &Tracker) -> io::Result<()> {
    let flagged = tracker.flagged();
    writeln!(out, "sockdiag watch: {} samples", tracker.samples())?;
    if flagged.is_empty() {
        writeln!(out, "no process was flagged as leaking TCP_CLOSE sockets")?;
        return Ok(());
    }
    writeln!(out, "flagged as leaking TCP_CLOSE sockets:")?;
    for f in &flagged {
        let oldest = f.oldest_inode.map_or("?".to_owned(), |i| i.to_string());
        let state = if f.leaking {
            "still leaking"
        } else {
            "stopped rising"
        };
        writeln!(
            out,
            "  pid {} ({}) from sample {}: {:.0}/min, {} held, oldest inode {}, {}",
            f.pid,
            f.comm.escaped(),
            f.first_flagged,
            f.rate_per_min,
            f.held,
            oldest,
            state
        )?;
    }
    Ok(())
}
