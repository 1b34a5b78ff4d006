//! `sockdiag watch`: the census of `summary` every interval, through one [`Collector`] kept
//! for the whole watch, fed to the pure [`Tracker`]; rendered as a screen refreshed in place
//! on a terminal, else one JSON object per sample per line.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::cli::WatchArgs;
use crate::collect::{Collector, Walk};
use crate::reconcile::reconcile;
use crate::render;
use crate::watch::{Holder, Observation, ProcessId, Tracker};

/// How often a wait between samples looks whether it was interrupted.
const POLL: Duration = Duration::from_millis(20);

/// What the renderer is told of a sample besides the tracker's step.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub unix_ms: u64,
    pub duration_ms: u64,
    /// The sample took longer than the interval: the next one starts at once.
    pub overran: bool,
    pub interval: f64,
    pub netns: u64,
}

pub fn run(args: &WatchArgs, proc_root: &Path, out: &mut impl Write) -> Result<()> {
    let mut collector = Collector::open(proc_root, args.netns.path().as_deref())?;
    // SIGINT and SIGTERM end the watch after the sample under way (with the summary on a
    // terminal, whose state is restored): a flag the loop looks at.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing a signal handler")?;
    }
    let screen = !args.json && std::io::stdout().is_terminal();
    if !screen {
        return watch(args, &mut collector, &stop, out, |out, step, timing| {
            render::watch::json(out, step, timing)?;
            out.flush()
        })
        .map(drop);
    }
    render::watch::enter_screen(out)?;
    let outcome = watch(args, &mut collector, &stop, out, |out, step, timing| {
        render::watch::screen(out, step, timing, args.leak_after)?;
        out.flush()
    });
    // The terminal is restored whatever happened, then the summary is printed on it.
    render::watch::leave_screen(out)?;
    let tracker = outcome?;
    render::watch::final_summary(out, &tracker)?;
    Ok(())
}

/// The sampling loop: until `--count` samples are taken or `stop` is set.
fn watch<W: Write>(
    args: &WatchArgs,
    collector: &mut Collector,
    stop: &AtomicBool,
    out: &mut W,
    mut emit: impl FnMut(&mut W, &crate::watch::Step, Timing) -> std::io::Result<()>,
) -> Result<Tracker> {
    let mut tracker = Tracker::new(args.leak_after);
    let interval = Duration::from_secs_f64(args.interval);
    let start = Instant::now();
    let mut next = start;
    loop {
        let began = Instant::now();
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let observation = sample(collector, &args.pids, began.duration_since(start))?;
        let duration = began.elapsed();
        let overran = duration > interval;
        let step = tracker.step(observation);
        let timing = Timing {
            unix_ms,
            duration_ms: duration.as_millis() as u64,
            overran,
            interval: args.interval,
            netns: collector.netns(),
        };
        emit(out, &step, timing)?;
        if args.count.is_some_and(|count| tracker.samples() >= count) || stop.load(Ordering::Relaxed) {
            break;
        }
        // The next sample is due one interval after this one began; one that overran is
        // followed at once, and the schedule starts again from there (no pile-up).
        next += interval;
        let now = Instant::now();
        if next <= now {
            next = now;
        }
        while !stop.load(Ordering::Relaxed) {
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(POLL));
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(tracker)
}

/// One census, as `summary` takes it, turned into what the tracker is fed: every TCP_CLOSE
/// socket of the namespace and, per holder (pid and start time), the inodes it holds.
fn sample(collector: &mut Collector, pids: &[u32], at: Duration) -> Result<Observation> {
    let host = if pids.is_empty() {
        collector.host(Walk::WhereNeeded)?
    } else {
        collector.host_of(pids)?
    };
    let report = reconcile(&host, None);
    let start_times: HashMap<u32, u64> = host
        .scan
        .processes
        .iter()
        .map(|p| (p.pid, p.start_time.unwrap_or(0)))
        .collect();
    let mut holders: HashMap<ProcessId, Holder> = HashMap::new();
    for socket in &report.close_sockets {
        for owner in &socket.owners {
            let id = ProcessId {
                pid: owner.pid,
                start_time: start_times.get(&owner.pid).copied().unwrap_or(0),
            };
            holders
                .entry(id)
                .or_insert_with(|| Holder {
                    id,
                    comm: owner.comm.clone(),
                    inodes: Vec::new(),
                })
                .inodes
                .push(socket.inode);
        }
    }
    let mut holders: Vec<Holder> = holders.into_values().collect();
    holders.sort_by_key(|h| h.id);
    Ok(Observation {
        at_ms: at.as_millis() as u64,
        closed: report.closed,
        inodes: report.close_sockets.iter().map(|s| s.inode).collect(),
        holders,
    })
}
