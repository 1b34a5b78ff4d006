//! `sockdiag metrics`: the Prometheus text exposition format 0.0.4, from the same reports as
//! `summary` (one collection, reconciled; never a census of its own).
//!
//! Every family has `# HELP` and `# TYPE`, every label value goes through
//! [`escape::label_value`] / [`escape::label_value_bytes`], and each series is written once.
//! Names and labels are a contract (held by `tests/metrics.rs` and documented in the man
//! page): base units, a `sockdiag_` prefix, `_total` only for counters (there are none: each
//! figure is a gauge read at the census).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use crate::collect::HostCollection;
use crate::collect::cgroup;
use crate::figures;
use crate::model::State;
use crate::reconcile::{CloseSocket, HostReport, Report};
use crate::render::{escape, names};

/// The `term` label values of `sockdiag_tcp_closed_sockets`, in the order of the identity.
pub const TERMS: [&str; 5] = [
    "time_wait",
    "bound_inactive",
    "unbound",
    "other_netns",
    "unexplained",
];

/// The states a full TCP socket is dumped in (request socks and timewait minisocks are not
/// full sockets; a bound-inactive socket is dumped as `close`).
pub const FULL_STATES: [State; 9] = [
    State::ESTABLISHED,
    State::SYN_SENT,
    State::FIN_WAIT1,
    State::FIN_WAIT2,
    State::CLOSE,
    State::CLOSE_WAIT,
    State::LAST_ACK,
    State::LISTEN,
    State::CLOSING,
];

/// What one scrape renders: the collection, its reports and how long it took.
pub struct Scrape<'a> {
    pub host: &'a HostCollection,
    /// The report on the namespace read (as `summary`).
    pub report: &'a Report<'a>,
    /// With `--all-netns`: the report on every namespace (as `summary --all-netns`).
    pub all: Option<&'a HostReport<'a>>,
    /// Holders of TCP_CLOSE sockets given a series of their own; the rest are summed.
    pub top: usize,
    /// How long the collection took.
    pub duration: Duration,
}

/// One namespace's series.
struct NsRow {
    netns: String,
    name: String,
    sockets_used: u64,
    inuse: [u64; 2],
    timewait: u64,
    established: u64,
    closed: i64,
    /// In the order of [`TERMS`].
    terms: [i64; 5],
    full_by_state: [u64; 14],
    /// TIME_WAIT and FIN_WAIT2 timewait minisocks.
    minisocks: [u64; 2],
}

/// A family being written: its header once, then its samples.
struct Family<'w, W: Write> {
    out: &'w mut W,
    name: &'static str,
}

impl<'w, W: Write> Family<'w, W> {
    fn new(out: &'w mut W, name: &'static str, help: &str) -> io::Result<Self> {
        writeln!(out, "# HELP {name} {help}")?;
        writeln!(out, "# TYPE {name} gauge")?;
        Ok(Family { out, name })
    }

    /// A sample; label values must already be escaped.
    fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) -> io::Result<()> {
        self.out.write_all(self.name.as_bytes())?;
        if !labels.is_empty() {
            self.out.write_all(b"{")?;
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.write_all(b",")?;
                }
                write!(self.out, "{key}=\"{value}\"")?;
            }
            self.out.write_all(b"}")?;
        }
        writeln!(self.out, " {value}")
    }
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The per-namespace rows: the namespace read first (its terms exactly as `summary`
/// reports them), then with `--all-netns` every other namespace that could be entered.
fn rows(scrape: &Scrape<'_>) -> Vec<NsRow> {
    let host = scrape.host;
    let report = scrape.report;
    let closed = &report.closed;
    let mut rows = Vec::new();
    for (i, ns) in host.namespaces.iter().enumerate() {
        let Ok(census) = &ns.census else { continue };
        let mut minisocks = [0, 0];
        for row in census.close_rows.iter().filter(|row| row.timewait) {
            minisocks[usize::from(row.state == State::FIN_WAIT2)] += 1;
        }
        let c = &census.before;
        let name = names::namespace_exact(&ns.name);
        let mut row = NsRow {
            netns: ns.netns.to_string(),
            name: escape::label_value(&name).into_owned(),
            sockets_used: c.sockets_used.saturating_sub(census.own_sockets),
            inuse: [c.tcp_inuse, c.tcp6_inuse],
            timewait: c.tcp_tw,
            established: c.tcp_curr_estab,
            closed: figures::closed(c),
            terms: [0; 5],
            full_by_state: census.full_by_state,
            minisocks,
        };
        if i == 0 {
            row.sockets_used = report.ss.total;
            row.closed = report.ss.closed;
            row.terms = [
                signed(closed.time_wait),
                signed(closed.bound_inactive.unwrap_or(0)),
                signed(closed.unbound),
                signed(closed.other_netns),
                closed.unexplained,
            ];
        } else if let Some(all) = scrape.all {
            let Some(own) = all.namespaces.iter().find(|r| r.netns == ns.netns) else {
                continue;
            };
            let full = own.full_tcp.unwrap_or(own.unbound);
            let explained = [
                signed(own.time_wait.unwrap_or(0)),
                signed(own.bound_inactive.unwrap_or(0)),
                signed(own.unbound),
                signed(all.counted.saturating_sub(full)),
            ];
            let sum = explained.iter().fold(0i64, |a, b| a.saturating_add(*b));
            row.terms = [
                explained[0],
                explained[1],
                explained[2],
                explained[3],
                row.closed.saturating_sub(sum),
            ];
        } else {
            continue;
        }
        rows.push(row);
    }
    rows
}

/// A holder of TCP_CLOSE sockets as labelled: its command and its unit or container.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Holder {
    comm: String,
    /// `("unit" | "container", label)`, where the cgroup names one.
    owner: Option<(&'static str, String)>,
}

/// TCP_CLOSE sockets by holder: each process counts each socket it holds once; processes
/// with the same command and unit or container are one series.
fn holders(sockets: &[CloseSocket<'_>]) -> Vec<(Holder, u64)> {
    let mut by_pid: BTreeMap<u32, (Holder, u64)> = BTreeMap::new();
    for socket in sockets {
        let mut pids: Vec<u32> = socket.owners.iter().map(|o| o.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            let Some(owner) = socket.owners.iter().find(|o| o.pid == pid) else {
                continue;
            };
            let entry = by_pid.entry(pid).or_insert_with(|| {
                let classified = owner.cgroup.map(|path| cgroup::classify(path.as_bytes()));
                let owner_label = classified.as_ref().and_then(|c| {
                    let kind = if c.container.is_some() {
                        "container"
                    } else {
                        "unit"
                    };
                    Some((kind, escape::label_value(&c.label()?).into_owned()))
                });
                let holder = Holder {
                    comm: escape::label_value_bytes(owner.comm.as_bytes()).into_owned(),
                    owner: owner_label,
                };
                (holder, 0)
            });
            entry.1 += 1;
        }
    }
    let mut grouped: BTreeMap<Holder, u64> = BTreeMap::new();
    for (holder, count) in by_pid.into_values() {
        *grouped.entry(holder).or_default() += count;
    }
    let mut list: Vec<(Holder, u64)> = grouped.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list
}

/// The top `top` holders, and the rest summed under `comm="other"` (merged with a holder of
/// that very name and no unit, so that no series is written twice).
fn top_holders(sockets: &[CloseSocket<'_>], top: usize) -> Vec<(Holder, u64)> {
    let mut list = holders(sockets);
    let rest: u64 = list.iter().skip(top).map(|(_, count)| count).sum();
    list.truncate(top);
    let other = Holder {
        comm: "other".to_owned(),
        owner: None,
    };
    match list.iter_mut().find(|(holder, _)| *holder == other) {
        Some((_, count)) => *count += rest,
        None => list.push((other, rest)),
    }
    list
}

/// Writes every family.
pub fn write(out: &mut impl Write, scrape: &Scrape<'_>) -> io::Result<()> {
    let host = scrape.host;
    let report = scrape.report;
    let target = host.target_census();

    let mut f = Family::new(
        out,
        "sockdiag_tcp_allocated_sockets",
        "TCP alloc of /proc/net/sockstat: full TCP sockets of every network namespace.",
    )?;
    f.sample(&[("scope", "global")], target.before.tcp_alloc)?;
    let mut f = Family::new(
        out,
        "sockdiag_tcp_orphaned_sockets",
        "TCP orphan of /proc/net/sockstat: TCP sockets no process holds any more, system-wide.",
    )?;
    f.sample(&[("scope", "global")], report.ss.orphaned)?;

    let rows = rows(scrape);
    macro_rules! per_ns {
        ($name:expr, $help:expr, |$row:ident| $value:expr) => {{
            let mut f = Family::new(out, $name, $help)?;
            for $row in &rows {
                f.sample(&[("netns", &$row.netns), ("name", &$row.name)], $value)?;
            }
        }};
    }
    per_ns!(
        "sockdiag_sockets_used",
        "sockets: used of /proc/net/sockstat (ss -s Total), per network namespace.",
        |row| row.sockets_used
    );
    {
        let mut f = Family::new(
            out,
            "sockdiag_tcp_inuse_sockets",
            "TCP inuse of sockstat (inet) and sockstat6 (inet6): hashed TCP sockets, per network namespace.",
        )?;
        for row in &rows {
            for (family, value) in ["inet", "inet6"].into_iter().zip(row.inuse) {
                f.sample(
                    &[("netns", &row.netns), ("name", &row.name), ("family", family)],
                    value,
                )?;
            }
        }
    }
    per_ns!(
        "sockdiag_tcp_timewait_sockets",
        "TCP tw of /proc/net/sockstat (ss -s timewait): timewait minisocks, per network namespace.",
        |row| row.timewait
    );
    per_ns!(
        "sockdiag_tcp_established_sockets",
        "Tcp CurrEstab of /proc/net/snmp (ss -s estab), per network namespace.",
        |row| row.established
    );
    per_ns!(
        "sockdiag_ss_closed_sockets",
        "The closed figure ss -s prints in that namespace: alloc - (inuse4 + inuse6 - tw); may be negative.",
        |row| row.closed
    );
    {
        let mut f = Family::new(
            out,
            "sockdiag_tcp_closed_sockets",
            "ss -s closed split into terms (time_wait, bound_inactive, unbound, other_netns, unexplained); they sum to sockdiag_ss_closed_sockets, unexplained may be negative.",
        )?;
        for row in &rows {
            for (term, value) in TERMS.into_iter().zip(row.terms) {
                f.sample(
                    &[("netns", &row.netns), ("name", &row.name), ("term", term)],
                    value,
                )?;
            }
        }
    }
    {
        let mut f = Family::new(
            out,
            "sockdiag_tcp_sockets",
            "Full TCP sockets the dumps returned by kernel state (lower case), per network namespace; timewait minisocks are in sockdiag_tcp_timewait_minisocks.",
        )?;
        for row in &rows {
            for state in FULL_STATES {
                let value = row.full_by_state[usize::from(state.0)];
                let state = state.name().to_ascii_lowercase();
                f.sample(
                    &[("netns", &row.netns), ("name", &row.name), ("state", &state)],
                    value,
                )?;
            }
        }
    }
    {
        let mut f = Family::new(
            out,
            "sockdiag_tcp_timewait_minisocks",
            "Timewait minisocks the dumps returned by substate (time_wait, fin_wait2), per network namespace.",
        )?;
        for row in &rows {
            for (substate, value) in ["time_wait", "fin_wait2"].into_iter().zip(row.minisocks) {
                f.sample(
                    &[("netns", &row.netns), ("name", &row.name), ("substate", substate)],
                    value,
                )?;
            }
        }
    }
    {
        let sockets = scrape
            .all
            .map_or(&report.close_sockets[..], |all| &all.close_sockets[..]);
        let mut f = Family::new(
            out,
            "sockdiag_process_tcp_close_sockets",
            "TCP_CLOSE sockets (bound_inactive and unbound) held, by command and unit or container: the top holders, the rest summed in comm=\"other\".",
        )?;
        for (holder, count) in top_holders(sockets, scrape.top) {
            let mut labels = vec![("comm", holder.comm.as_str())];
            if let Some((kind, label)) = &holder.owner {
                labels.push((kind, label.as_str()));
            }
            f.sample(&labels, count)?;
        }
    }

    let stats = host.scan.stats;
    let consistency = scrape.all.map_or(report.consistency, |all| all.consistency);
    let not_entered = host.namespaces.iter().filter(|ns| ns.census.is_err()).count();
    let health: [(&'static str, &str, String); 9] = [
        (
            "sockdiag_census_duration_seconds",
            "How long the collection (the /proc walk and every census) took.",
            format!("{:.6}", scrape.duration.as_secs_f64()),
        ),
        (
            "sockdiag_processes_scanned",
            "Processes whose fd table was read.",
            stats.scanned.to_string(),
        ),
        (
            "sockdiag_processes_denied",
            "Processes whose fd table could not be read (permission): owners are a lower bound.",
            stats.denied.to_string(),
        ),
        (
            "sockdiag_processes_vanished",
            "Processes that exited during the /proc walk.",
            stats.vanished.to_string(),
        ),
        (
            "sockdiag_namespaces_found",
            "Network namespaces found (/proc/*/ns/net, /run/netns, held sockets).",
            host.namespaces.len().to_string(),
        ),
        (
            "sockdiag_namespaces_not_entered",
            "Network namespaces found but not entered: their sockets are in unexplained.",
            not_entered.to_string(),
        ),
        (
            "sockdiag_consistency_attempts",
            "TCP dumps of the namespace read before its own counters held still (3 at most).",
            consistency.attempts.to_string(),
        ),
        (
            "sockdiag_consistency_settled",
            "1 when the namespace's own inuse and tw did not move during its last dumps.",
            u8::from(consistency.settled).to_string(),
        ),
        (
            "sockdiag_consistency_drift_sockets",
            "The bound of unexplained: how far closed moved during the collection.",
            consistency.drift.to_string(),
        ),
    ];
    for (name, help, value) in health {
        Family::new(out, name, help)?.sample(&[], value)?;
    }
    Family::new(
        out,
        "sockdiag_build_info",
        "1, labelled with the version of sockdiag.",
    )?
    .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::fixture;

    fn render(host: &HostCollection, all_netns: bool, top: usize) -> String {
        let report = reconcile(host);
        let all = all_netns.then(|| crate::reconcile::reconcile_host(host));
        let mut out = Vec::new();
        write(
            &mut out,
            &Scrape {
                host,
                report: &report,
                all: all.as_ref(),
                top,
                duration: Duration::from_millis(12),
            },
        )
        .expect("write");
        String::from_utf8(out).expect("utf8")
    }

    fn reconcile(host: &HostCollection) -> Report<'_> {
        crate::reconcile::reconcile(host, None)
    }

    /// The value of the one sample whose line starts with `prefix`.
    fn sample(text: &str, prefix: &str) -> i64 {
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(prefix)).collect();
        assert_eq!(lines.len(), 1, "{prefix}: {lines:?}");
        lines[0]
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a value")
    }

    fn terms(text: &str, netns: u64) -> Vec<i64> {
        TERMS
            .iter()
            .map(|term| {
                let line = text
                    .lines()
                    .find(|l| {
                        l.starts_with(&format!("sockdiag_tcp_closed_sockets{{netns=\"{netns}\""))
                            && l.contains(&format!("term=\"{term}\""))
                    })
                    .expect("a term");
                line.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("a value")
            })
            .collect()
    }

    #[test]
    fn the_terms_are_the_reports_and_sum_to_closed() {
        let host = fixture::host();
        let text = render(&host, false, 10);
        let closed = reconcile(&host).closed;
        assert_eq!(
            terms(&text, fixture::N),
            [3, 2, 4, closed.other_netns as i64, closed.unexplained]
        );
        assert_eq!(terms(&text, fixture::N).iter().sum::<i64>(), closed.reported);
        assert!(!text.contains(&format!("netns=\"{}\"", fixture::OTHER)));
        assert_eq!(
            sample(
                &text,
                "sockdiag_tcp_timewait_minisocks{netns=\"4026532000\",name=\"initial namespace (pid 1)\",substate=\"fin_wait2\"}"
            ),
            1
        );
        assert_eq!(
            sample(&text, "sockdiag_tcp_allocated_sockets{scope=\"global\"}"),
            20
        );
        assert_eq!(sample(&text, "sockdiag_build_info{version="), 1);

        // Every namespace: each one's terms sum to its own closed figure.
        let text = render(&host, true, 10);
        for netns in [fixture::N, fixture::OTHER] {
            let closed = sample(&text, &format!("sockdiag_ss_closed_sockets{{netns=\"{netns}\""));
            assert_eq!(terms(&text, netns).iter().sum::<i64>(), closed, "{netns}");
        }
    }

    #[test]
    fn holders_are_bounded_and_labelled_by_unit_or_container() {
        let host = fixture::host();
        let text = render(&host, false, 10);
        assert_eq!(
            sample(
                &text,
                "sockdiag_process_tcp_close_sockets{comm=\"leak\",container=\"docker:3f2a1b9c04de\"}"
            ),
            4
        );
        assert_eq!(
            sample(
                &text,
                "sockdiag_process_tcp_close_sockets{comm=\"app\",unit=\"app.service\"}"
            ),
            2
        );
        assert_eq!(
            sample(&text, "sockdiag_process_tcp_close_sockets{comm=\"other\"}"),
            0
        );
        let top1 = render(&host, false, 1);
        assert_eq!(
            sample(&top1, "sockdiag_process_tcp_close_sockets{comm=\"other\"}"),
            2
        );
        assert!(!top1.contains("comm=\"app\""));
        // A process named `other` is one series with the rest.
        let mut host = fixture::host();
        host.scan.processes[0].comm = "other".into();
        host.scan.processes[0].cgroup = None;
        let text = render(&host, false, 1);
        assert_eq!(
            sample(&text, "sockdiag_process_tcp_close_sockets{comm=\"other\"}"),
            2
        );
        let text = render(&host, false, 0);
        assert_eq!(
            sample(&text, "sockdiag_process_tcp_close_sockets{comm=\"other\"}"),
            6
        );
    }

    #[test]
    fn hostile_names_stay_on_their_line() {
        let mut host = fixture::host();
        host.scan.processes[1].comm = crate::model::SysText::new(b"le\"ak\n# TYPE x counter\\\xff");
        let text = render(&host, false, 10);
        assert!(
            text.lines().all(|l| l.starts_with("# HELP sockdiag_")
                || l.starts_with("# TYPE sockdiag_")
                || l.starts_with("sockdiag_")),
            "{text}"
        );
        assert!(text.contains("comm=\"le\\\"ak\\n# TYPE x counter"), "{text}");
    }
}
