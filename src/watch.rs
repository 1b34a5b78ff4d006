//! `sockdiag watch`, the pure part: a state machine fed one sample at a time (the TCP_CLOSE
//! sockets of the namespace and who holds each), which says per sample what each process
//! opened and closed, and which processes leak.
//!
//! A process is known by its pid and its start time (field 22 of `/proc/PID/stat`): a pid
//! reused by a new process is another process. A socket is known by its inode. Per interval,
//! a process's `opened` are the inodes it holds now and did not hold at the previous sample,
//! its `closed` those it held then and no longer holds (set differences, not the net count).
//!
//! Verdict: a process whose count of held TCP_CLOSE sockets rose in every one of the last K
//! intervals (`--leak-after K`) is leaking, with its rate (sockets per minute over those K
//! intervals) and its oldest still-held inode; the flag clears at the first interval where
//! the count does not rise. A process first seen after the first sample rose from 0. The
//! first sample is the baseline: a verdict needs K + 1 samples.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::model::SysText;
use crate::reconcile::ClosedTerms;

/// A process: its pid and its start time, in clock ticks since boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ProcessId {
    pub pid: u32,
    pub start_time: u64,
}

/// A process holding TCP_CLOSE sockets, as one sample saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub id: ProcessId,
    pub comm: SysText,
    /// The inodes of the TCP_CLOSE sockets it holds (unbound and bound-inactive).
    pub inodes: Vec<u32>,
}

/// One sample, as the tracker is fed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// When the sample was taken, in milliseconds since the watch started.
    pub at_ms: u64,
    /// The terms of `closed` of the namespace read.
    pub closed: ClosedTerms,
    /// Every TCP_CLOSE socket of the namespace, held or not.
    pub inodes: Vec<u32>,
    pub holders: Vec<Holder>,
}

/// Sockets held, and how many came and went since the previous sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Change {
    pub held: u64,
    pub opened: u64,
    pub closed: u64,
}

/// One process in one sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessRow {
    pub pid: u32,
    pub start_time: u64,
    pub comm: SysText,
    pub held: u64,
    pub opened: u64,
    pub closed: u64,
    /// Intervals in a row in which its count rose.
    pub rising: u32,
    pub leaking: bool,
    /// Sockets per minute over the last K intervals, while leaking.
    pub rate_per_min: Option<f64>,
    /// The inode it has held longest (first seen earliest), while leaking.
    pub oldest_inode: Option<u32>,
}

impl ProcessRow {
    /// Held now minus held at the previous sample.
    pub fn growth(&self) -> i64 {
        self.opened as i64 - self.closed as i64
    }
}

/// What the tracker says of one sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// 1 for the first sample.
    pub sample: u64,
    pub at_ms: u64,
    pub closed: ClosedTerms,
    /// Every TCP_CLOSE socket of the namespace.
    pub sockets: Change,
    /// Every process holding TCP_CLOSE sockets now or at the previous sample (then with
    /// `held` 0: it closed them all, or exited), by growth then held, largest first.
    pub processes: Vec<ProcessRow>,
}

/// A process that was flagged as leaking at some point of the watch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flagged {
    pub pid: u32,
    pub start_time: u64,
    pub comm: SysText,
    /// The sample at which it was first flagged.
    pub first_flagged: u64,
    /// Still leaking at the last sample.
    pub leaking: bool,
    /// Held at the last sample it was seen.
    pub held: u64,
    /// The rate and oldest inode when last flagged.
    pub rate_per_min: f64,
    pub oldest_inode: Option<u32>,
}

#[derive(Debug)]
struct Track {
    comm: SysText,
    /// Inode → the sample it was first seen held in.
    inodes: BTreeMap<u32, u64>,
    /// (at_ms, held) of the last K + 1 samples at most.
    history: VecDeque<(u64, u64)>,
    rising: u32,
}

/// The state machine: feed it [`Observation`]s in order with [`Tracker::step`].
#[derive(Debug)]
pub struct Tracker {
    leak_after: u32,
    sample: u64,
    last_at_ms: u64,
    inodes: Vec<u32>,
    tracks: HashMap<ProcessId, Track>,
    flagged: BTreeMap<ProcessId, Flagged>,
}

impl Tracker {
    /// A tracker flagging after `leak_after` rising intervals (at least 1).
    pub fn new(leak_after: u32) -> Tracker {
        Tracker {
            leak_after: leak_after.max(1),
            sample: 0,
            last_at_ms: 0,
            inodes: Vec::new(),
            tracks: HashMap::new(),
            flagged: BTreeMap::new(),
        }
    }

    /// Takes one sample; returns what it says.
    pub fn step(&mut self, observation: Observation) -> Step {
        self.sample += 1;
        let sample = self.sample;
        let first = sample == 1;
        let at_ms = observation.at_ms;
        let window = self.leak_after as usize + 1;

        let mut inodes = observation.inodes;
        inodes.sort_unstable();
        inodes.dedup();
        let sockets = if first {
            Change {
                held: inodes.len() as u64,
                ..Change::default()
            }
        } else {
            set_change(&self.inodes, &inodes)
        };
        self.inodes = inodes;

        let mut rows = Vec::new();
        let mut seen = Vec::with_capacity(observation.holders.len());
        for holder in observation.holders {
            let mut now = holder.inodes;
            now.sort_unstable();
            now.dedup();
            let held = now.len() as u64;
            let track = self.tracks.entry(holder.id).or_insert_with(|| {
                let mut history = VecDeque::new();
                if !first {
                    history.push_back((self.last_at_ms, 0)); // it held none then
                }
                Track {
                    comm: holder.comm.clone(),
                    inodes: BTreeMap::new(),
                    history,
                    rising: 0,
                }
            });
            track.comm = holder.comm;
            let before: Vec<u32> = track.inodes.keys().copied().collect();
            let change = if first {
                Change {
                    held,
                    ..Change::default()
                }
            } else {
                set_change(&before, &now)
            };
            track.inodes.retain(|inode, _| now.binary_search(inode).is_ok());
            for &inode in &now {
                track.inodes.entry(inode).or_insert(sample);
            }
            let previous = track.history.back().map(|&(_, held)| held);
            track.rising = match previous {
                Some(previous) if held > previous => track.rising + 1,
                _ => 0,
            };
            track.history.push_back((at_ms, held));
            while track.history.len() > window {
                track.history.pop_front();
            }
            seen.push(holder.id);
            rows.push(self.row(holder.id, change, sample));
        }

        // Those held before and not now: they closed everything, or exited.
        let gone: Vec<ProcessId> = self
            .tracks
            .keys()
            .filter(|id| !seen.contains(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(track) = self.tracks.remove(&id) {
                rows.push(ProcessRow {
                    pid: id.pid,
                    start_time: id.start_time,
                    comm: track.comm,
                    held: 0,
                    opened: 0,
                    closed: track.inodes.len() as u64,
                    rising: 0,
                    leaking: false,
                    rate_per_min: None,
                    oldest_inode: None,
                });
            }
            if let Some(flag) = self.flagged.get_mut(&id) {
                flag.leaking = false;
                flag.held = 0;
            }
        }
        rows.sort_by(|a, b| {
            b.growth()
                .cmp(&a.growth())
                .then(b.held.cmp(&a.held))
                .then((a.pid, a.start_time).cmp(&(b.pid, b.start_time)))
        });
        self.last_at_ms = at_ms;
        Step {
            sample,
            at_ms,
            closed: observation.closed,
            sockets,
            processes: rows,
        }
    }

    /// The row of a tracked process after this sample, and its verdict recorded.
    fn row(&mut self, id: ProcessId, change: Change, sample: u64) -> ProcessRow {
        let track = &self.tracks[&id];
        let leaking = track.rising >= self.leak_after;
        let (rate_per_min, oldest_inode) = if leaking {
            let (&(t0, h0), &(t1, h1)) = (
                track.history.front().unwrap_or(&(0, 0)),
                track.history.back().unwrap_or(&(0, 0)),
            );
            let rate = if t1 > t0 {
                (h1.saturating_sub(h0)) as f64 * 60_000.0 / (t1 - t0) as f64
            } else {
                0.0
            };
            let oldest = track
                .inodes
                .iter()
                .min_by_key(|&(inode, first)| (*first, *inode))
                .map(|(&inode, _)| inode);
            (Some(rate), oldest)
        } else {
            (None, None)
        };
        let row = ProcessRow {
            pid: id.pid,
            start_time: id.start_time,
            comm: track.comm.clone(),
            held: change.held,
            opened: change.opened,
            closed: change.closed,
            rising: track.rising,
            leaking,
            rate_per_min,
            oldest_inode,
        };
        match self.flagged.get_mut(&id) {
            Some(flag) => {
                flag.leaking = leaking;
                flag.held = row.held;
                if let Some(rate) = rate_per_min {
                    flag.rate_per_min = rate;
                    flag.oldest_inode = oldest_inode;
                }
            }
            None if leaking => {
                self.flagged.insert(
                    id,
                    Flagged {
                        pid: id.pid,
                        start_time: id.start_time,
                        comm: row.comm.clone(),
                        first_flagged: sample,
                        leaking,
                        held: row.held,
                        rate_per_min: rate_per_min.unwrap_or(0.0),
                        oldest_inode,
                    },
                );
            }
            None => {}
        }
        row
    }

    /// Every process flagged at some point, by pid.
    pub fn flagged(&self) -> Vec<Flagged> {
        self.flagged.values().cloned().collect()
    }

    /// Samples taken so far.
    pub fn samples(&self) -> u64 {
        self.sample
    }
}

/// Held now, and the set differences of two sorted inode lists.
fn set_change(before: &[u32], now: &[u32]) -> Change {
    let opened = now.iter().filter(|i| before.binary_search(i).is_err()).count();
    let closed = before.iter().filter(|i| now.binary_search(i).is_err()).count();
    Change {
        held: now.len() as u64,
        opened: opened as u64,
        closed: closed as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> ClosedTerms {
        ClosedTerms {
            reported: 0,
            time_wait: 0,
            bound_inactive: Some(0),
            unbound: 0,
            other_netns: 0,
            unexplained: 0,
        }
    }

    fn holder(pid: u32, start_time: u64, comm: &str, inodes: impl IntoIterator<Item = u32>) -> Holder {
        Holder {
            id: ProcessId { pid, start_time },
            comm: comm.into(),
            inodes: inodes.into_iter().collect(),
        }
    }

    fn observe(at_ms: u64, holders: Vec<Holder>) -> Observation {
        let inodes = holders.iter().flat_map(|h| h.inodes.clone()).collect();
        Observation {
            at_ms,
            closed: terms(),
            inodes,
            holders,
        }
    }

    fn row(step: &Step, pid: u32) -> &ProcessRow {
        step.processes.iter().find(|r| r.pid == pid).expect("row")
    }

    /// A steady holder of 10 sockets (pid 10) and a leaker opening 5 per second (pid 20),
    /// one sample a second: the leaker is flagged at sample K + 1 with 300/min, the holder never.
    #[test]
    fn a_leaker_beside_a_steady_holder() {
        let mut tracker = Tracker::new(3);
        let mut flagged_at = None;
        for n in 0..8u32 {
            let steps = tracker.step(observe(
                u64::from(n) * 1000,
                vec![
                    holder(10, 500, "steady", 1..=10),
                    holder(20, 600, "leaker", 1000..1000 + 5 * (n + 1)),
                ],
            ));
            let steady = row(&steps, 10);
            assert!(!steady.leaking);
            assert_eq!((steady.held, steady.opened, steady.closed), (10, 0, 0));
            let leaker = row(&steps, 20);
            if n > 0 {
                assert_eq!((leaker.opened, leaker.closed), (5, 0));
                assert_eq!(steps.processes[0].pid, 20, "sorted by growth");
                assert_eq!(steps.sockets.opened, 5);
            }
            if leaker.leaking && flagged_at.is_none() {
                flagged_at = Some(steps.sample);
                assert_eq!(leaker.rate_per_min, Some(300.0));
                assert_eq!(leaker.oldest_inode, Some(1000));
            }
        }
        assert_eq!(flagged_at, Some(4));
        let flagged = tracker.flagged();
        assert_eq!(flagged.len(), 1);
        assert_eq!((flagged[0].pid, flagged[0].leaking), (20, true));
    }

    /// Opened and closed are set differences: a holder that swaps sockets keeps its count and
    /// is never flagged, though it opens some every interval.
    #[test]
    fn churn_is_opened_and_closed_not_growth() {
        let mut tracker = Tracker::new(2);
        for n in 0..6u32 {
            let step = tracker.step(observe(
                u64::from(n) * 500,
                vec![holder(7, 1, "churn", n * 3..n * 3 + 6)],
            ));
            let r = row(&step, 7);
            assert_eq!(r.held, 6);
            if n > 0 {
                assert_eq!((r.opened, r.closed), (3, 3));
            }
            assert!(!r.leaking);
        }
        assert!(tracker.flagged().is_empty());
    }

    /// The flag clears when the count stops rising, and the flagged list keeps it.
    #[test]
    fn the_flag_clears_when_the_count_stops_rising() {
        let mut tracker = Tracker::new(2);
        let counts = [1u32, 2, 3, 4, 4, 5];
        let mut leaking = Vec::new();
        for (n, count) in counts.into_iter().enumerate() {
            let step = tracker.step(observe(n as u64 * 1000, vec![holder(5, 9, "x", 0..count)]));
            leaking.push(row(&step, 5).leaking);
        }
        assert_eq!(leaking, [false, false, true, true, false, false]);
        let flagged = tracker.flagged();
        assert_eq!((flagged[0].first_flagged, flagged[0].leaking), (3, false));
        assert_eq!(flagged[0].rate_per_min, 60.0);
    }

    /// A pid reused by a new process (another start time) is another process: the old one
    /// closed everything, the new one starts from zero and inherits no rising streak.
    #[test]
    fn a_reused_pid_is_another_process() {
        let mut tracker = Tracker::new(3);
        for n in 0..4u32 {
            tracker.step(observe(
                u64::from(n) * 1000,
                vec![holder(42, 100, "old", 0..n + 1)],
            ));
        }
        assert!(tracker.flagged()[0].leaking, "the old process leaked");
        // The same pid, started later, holding 2 sockets of its own.
        let step = tracker.step(observe(4000, vec![holder(42, 999, "new", [500, 501])]));
        let old = step
            .processes
            .iter()
            .find(|r| r.start_time == 100)
            .expect("old row");
        assert_eq!((old.held, old.closed, old.leaking), (0, 4, false));
        let new = step
            .processes
            .iter()
            .find(|r| r.start_time == 999)
            .expect("new row");
        assert_eq!((new.held, new.opened, new.closed, new.rising), (2, 2, 0, 1));
        assert!(!new.leaking);
        let flagged = tracker.flagged();
        assert_eq!(flagged.len(), 1);
        assert_eq!((flagged[0].start_time, flagged[0].leaking), (100, false));
        // Two more rises of the new process: still not a leak with K = 3, then it is.
        tracker.step(observe(5000, vec![holder(42, 999, "new", 500..503)]));
        let step = tracker.step(observe(6000, vec![holder(42, 999, "new", 500..504)]));
        let new = row(&step, 42);
        assert!(new.leaking && new.start_time == 999);
        // From 0 at 3000 ms to 4 at 6000 ms.
        assert_eq!(new.rate_per_min, Some(80.0));
        assert_eq!(tracker.flagged().len(), 2);
    }
}
