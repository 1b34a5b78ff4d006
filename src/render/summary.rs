//! The human report of `sockdiag summary`, read top-down: ss's figures with their scope, then
//! `closed N =` its terms, the other namespaces, the TCP_CLOSE sockets by process and per
//! inode, the comparison with a saved `ss -s`, and the notes.

use std::collections::BTreeMap;
use std::io::{self, Write};

use tabled::builder::Builder;
use tabled::settings::{Alignment, Style, object::Columns};

use serde::Serialize;

use crate::collect::owners::ScanStats;
use crate::model::SysText;
use crate::reconcile::{CloseKind, CloseSocket, Finding, HostReport, Report};
use crate::render::{escape, names, notes, ss};

/// TCP_CLOSE rows shown per inode without `--all`.
const FIRST_ROWS: usize = 20;

pub fn human(out: &mut impl Write, report: &Report<'_>, all: bool) -> io::Result<()> {
    writeln!(
        out,
        "Network namespace {}: the figures `ss -s` prints, same formulas, same counters:",
        report.netns
    )?;
    writeln!(out)?;
    out.write_all(ss::ss_block(&report.ss).as_bytes())?;
    writeln!(
        out,
        "Scope: TCP alloc and orphan count every network namespace, so the TCP total, `closed` and `orphaned`\n\
         are system-wide figures; Total, estab, timewait and the transport table belong to this namespace."
    )?;
    writeln!(out)?;

    let c = &report.closed;
    writeln!(out, "closed {} =", c.reported)?;
    let namespaces = report.other_netns.len();
    let mut terms = Builder::default();
    terms.push_record([
        "time_wait".to_owned(),
        c.time_wait.to_string(),
        "timewait minisocks of this namespace (TIME_WAIT and FIN_WAIT2)".to_owned(),
    ]);
    terms.push_record([
        "bound_inactive".to_owned(),
        c.bound_inactive.map_or("n/a".to_owned(), |n| n.to_string()),
        "bound to a port, never listened or connected (dumped by Linux >= 6.8)".to_owned(),
    ]);
    terms.push_record([
        "unbound".to_owned(),
        c.unbound.to_string(),
        "held by a process without a port: never bound, or port released".to_owned(),
    ]);
    terms.push_record([
        "other_netns".to_owned(),
        c.other_netns.to_string(),
        format!("full TCP sockets of {namespaces} other network namespace(s)"),
    ]);
    let drift = report.consistency.drift;
    terms.push_record([
        "unexplained".to_owned(),
        if drift == 0 {
            c.unexplained.to_string()
        } else {
            format!("{} ± {drift}", c.unexplained)
        },
        if drift == 0 {
            "not accounted for: see the notes".to_owned()
        } else {
            "not accounted for, ± what the counters moved meanwhile: see the notes".to_owned()
        },
    ]);
    write_table(out, terms, &[1])?;

    if !report.other_netns.is_empty() {
        writeln!(
            out,
            "\nOther network namespaces (their full TCP sockets count in TCP alloc):"
        )?;
        let mut table = Builder::default();
        table.push_record(["netns", "tcp", "name"]);
        for ns in &report.other_netns {
            table.push_record([
                ns.netns.to_string(),
                ns.tcp.map_or("?".to_owned(), |n| n.to_string()),
                names::namespace(&ns.name),
            ]);
        }
        write_table(out, table, &[1])?;
    }

    if !report.close_sockets.is_empty() {
        close_sockets(out, &report.close_sockets, all)?;
    }

    if let Some(e) = &report.saved_ss_explained {
        writeln!(out, "\nThe saved `ss -s`, explained from its own figures:")?;
        writeln!(
            out,
            " closed {} = timewait {} + {} full TCP sockets in no hash table of that namespace\n \
             (never bound, bound only, or closed with the fd still open) or in another namespace",
            e.closed, e.timewait, e.unhashed_or_elsewhere
        )?;
        writeln!(
            out,
            " (TCP alloc {} = its TCP total - timewait; {} hashed = its TCP row){}",
            e.alloc,
            e.hashed,
            if e.consistent {
                ""
            } else {
                "; its closed does not add up: an edited paste, or an old ss counting synrecv"
            }
        )?;
    }
    if let Some(saved) = &report.saved_ss {
        writeln!(
            out,
            "\nThe saved `ss -s` against the live figures (diff = live - saved):"
        )?;
        let mut table = Builder::default();
        table.push_record(["figure", "saved", "live", "diff"]);
        for row in saved {
            table.push_record([
                row.figure.name().to_owned(),
                row.saved.to_string(),
                row.live.to_string(),
                if row.diff == 0 {
                    "0".to_owned()
                } else {
                    format!("{:+}", row.diff)
                },
            ]);
        }
        write_table(out, table, &[1, 2, 3])?;
    }

    processes_and_notes(out, &report.processes, &report.findings)
}

/// The JSON document of `summary --json`: the report's fields, then `notes`, the findings
/// worded as in the human report.
pub fn json(out: &mut impl Write, report: &Report<'_>) -> io::Result<()> {
    document(out, report, &report.findings)
}

/// A report's fields, then `notes`: its findings in words.
fn document(out: &mut impl Write, report: &impl Serialize, findings: &[Finding]) -> io::Result<()> {
    #[derive(Serialize)]
    struct Document<'r, R> {
        #[serde(flatten)]
        report: &'r R,
        notes: Vec<String>,
    }
    let document = Document {
        report,
        notes: findings.iter().map(notes::note).collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}

/// The human report of `summary --all-netns`: the system-wide identity in one line, the
/// namespaces (leaks first), the TCP_CLOSE sockets by process across namespaces, the notes.
pub fn host_human(out: &mut impl Write, report: &HostReport<'_>, all: bool) -> io::Result<()> {
    let entered = report
        .namespaces
        .iter()
        .filter(|ns| ns.full_tcp.is_some())
        .count();
    let (sign, residue) = if report.unexplained < 0 {
        ('-', "counted beyond alloc")
    } else {
        ('+', "unexplained")
    };
    write!(
        out,
        "TCP alloc {} = {} in {} namespace(s) {sign} {} {residue}",
        report.alloc,
        report.counted,
        entered,
        report.unexplained.unsigned_abs()
    )?;
    if report.consistency.drift != 0 {
        write!(out, " (± {})", report.consistency.drift)?;
    }
    writeln!(out)?;
    writeln!(out)?;

    let shown = if all {
        report.namespaces.len()
    } else {
        report.namespaces.len().min(FIRST_ROWS)
    };
    let cell = |n: Option<u64>| n.map_or("?".to_owned(), |n| n.to_string());
    let mut table = Builder::default();
    table.push_record([
        "netns",
        "full_tcp",
        "time_wait",
        "bound_inactive",
        "unbound",
        "closed",
        "name",
    ]);
    for ns in &report.namespaces[..shown] {
        table.push_record([
            ns.netns.to_string(),
            cell(ns.full_tcp),
            cell(ns.time_wait),
            cell(ns.bound_inactive),
            ns.unbound.to_string(),
            ns.closed.map_or("?".to_owned(), |n| n.to_string()),
            names::namespace(&ns.name),
        ]);
    }
    write_table(out, table, &[0, 1, 2, 3, 4, 5])?;
    if shown < report.namespaces.len() {
        writeln!(
            out,
            "({} more; --all shows every row)",
            report.namespaces.len() - shown
        )?;
    }
    writeln!(
        out,
        "closed is what `ss -s` prints inside that namespace; ? where it could not be entered."
    )?;

    if !report.close_sockets.is_empty() {
        close_sockets(out, &report.close_sockets, all)?;
    }
    processes_and_notes(out, &report.processes, &report.findings)
}

/// `summary --all-netns --json`: the report's fields, then `notes`.
pub fn host_json(out: &mut impl Write, report: &HostReport<'_>) -> io::Result<()> {
    document(out, report, &report.findings)
}

fn processes_and_notes(out: &mut impl Write, p: &ScanStats, findings: &[Finding]) -> io::Result<()> {
    writeln!(
        out,
        "\nProcesses: {} inspected, {} denied, {} exited during the scan.",
        p.scanned, p.denied, p.vanished
    )?;
    if !findings.is_empty() {
        writeln!(out, "\nNotes:")?;
        for finding in findings {
            writeln!(out, "- {}", escape::for_terminal(notes::note(finding).as_bytes()))?;
        }
    }
    Ok(())
}

/// The TCP_CLOSE sockets by process, then one per inode; across namespaces (the sockets carry
/// their `netns`), with the namespace and each process's unit or container.
fn close_sockets(out: &mut impl Write, sockets: &[CloseSocket<'_>], all: bool) -> io::Result<()> {
    let across = sockets.iter().any(|s| s.netns.is_some());
    if across {
        writeln!(out, "\nTCP_CLOSE sockets of every namespace, by process:")?;
    } else {
        writeln!(out, "\nTCP_CLOSE sockets of this namespace, by process:")?;
    }
    // (pid, comm, unit or container) -> (bound_inactive, unbound)
    let mut by_process: BTreeMap<(u32, &SysText, Option<String>), (u64, u64)> = BTreeMap::new();
    let mut unowned = (0, 0);
    for socket in sockets {
        let bump = |counts: &mut (u64, u64)| match socket.kind {
            CloseKind::BoundInactive => counts.0 += 1,
            CloseKind::Unbound => counts.1 += 1,
        };
        if socket.owners.is_empty() {
            bump(&mut unowned);
        }
        for owner in &socket.owners {
            let label = across.then(|| owner.label()).flatten();
            bump(by_process.entry((owner.pid, owner.comm, label)).or_default());
        }
    }
    let mut table = Builder::default();
    let mut header = vec!["pid", "command", "bound_inactive", "unbound"];
    if across {
        header.push("unit or container");
    }
    table.push_record(header);
    let mut rows: Vec<_> = by_process.into_iter().collect();
    rows.sort_by_key(|(_, (b, u))| std::cmp::Reverse(b + u));
    for ((pid, comm, label), (bound, unbound)) in rows {
        let mut row = vec![
            pid.to_string(),
            comm.to_string(),
            bound.to_string(),
            unbound.to_string(),
        ];
        if across {
            row.push(label.map_or("-".to_owned(), |l| {
                escape::for_terminal(l.as_bytes()).into_owned()
            }));
        }
        table.push_record(row);
    }
    if unowned != (0, 0) {
        let mut row = vec![
            "-".to_owned(),
            "(no process found)".to_owned(),
            unowned.0.to_string(),
            unowned.1.to_string(),
        ];
        if across {
            row.push("-".to_owned());
        }
        table.push_record(row);
    }
    write_table(out, table, &[0, 2, 3])?;

    writeln!(out)?;
    let shown = if all {
        sockets.len()
    } else {
        sockets.len().min(FIRST_ROWS)
    };
    let mut table = Builder::default();
    let mut header = vec!["inode", "family", "kind", "local", "owners"];
    if across {
        header.insert(0, "netns");
    }
    table.push_record(header);
    for socket in &sockets[..shown] {
        let owners: Vec<String> = socket
            .owners
            .iter()
            .map(|o| match o.label() {
                Some(label) => format!(
                    "{}[{}] fd {} {}",
                    o.comm,
                    o.pid,
                    o.fd,
                    escape::for_terminal(label.as_bytes())
                ),
                None => format!("{}[{}] fd {}", o.comm, o.pid, o.fd),
            })
            .collect();
        let mut row = vec![
            socket.inode.to_string(),
            socket.family.to_owned(),
            match socket.kind {
                CloseKind::BoundInactive => "bound_inactive".to_owned(),
                CloseKind::Unbound => "unbound".to_owned(),
            },
            socket.local.clone().unwrap_or_else(|| "-".to_owned()),
            if owners.is_empty() {
                "-".to_owned()
            } else {
                owners.join(", ")
            },
        ];
        if let Some(netns) = socket.netns.filter(|_| across) {
            row.insert(0, netns.to_string());
        }
        table.push_record(row);
    }
    write_table(out, table, if across { &[0, 1] } else { &[0] })?;
    if shown < sockets.len() {
        writeln!(out, "({} more; --all shows every row)", sockets.len() - shown)?;
    }
    Ok(())
}

fn write_table(out: &mut impl Write, builder: Builder, right_aligned: &[usize]) -> io::Result<()> {
    let mut table = builder.build();
    table.with(Style::blank());
    for &column in right_aligned {
        table.modify(Columns::one(column), Alignment::right());
    }
    // Style::blank pads every cell, the last one included: trim what a terminal would not show.
    for line in table.to_string().lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{fixture, reconcile};

    /// Compares with a committed file; `UPDATE_GOLDEN=1 cargo test golden` rewrites it.
    fn golden(name: &str, actual: &[u8]) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/golden")
            .join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, actual).expect("write golden file");
        }
        let expected = std::fs::read(&path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
        assert!(
            expected == actual,
            "{name} differs from the golden file (UPDATE_GOLDEN=1 to accept):\n{}",
            String::from_utf8_lossy(actual)
        );
    }

    #[test]
    fn golden_human_and_json_of_the_fixture() {
        let host = fixture::host();
        // The article's paste: explained on its own, then compared with the fixture's figures.
        let saved =
            crate::saved_ss::parse(include_str!("../../tests/fixtures/ss-s-5.5.txt")).expect("parses");
        let report = reconcile(&host, Some(&saved));
        let mut text = Vec::new();
        human(&mut text, &report, true).expect("render");
        golden("summary.txt", &text);
        let mut json_text = Vec::new();
        json(&mut json_text, &report).expect("render");
        golden("summary.json", &json_text);

        let report = crate::reconcile::reconcile_host(&host);
        let mut text = Vec::new();
        host_human(&mut text, &report, true).expect("render");
        golden("summary-all-netns.txt", &text);
        let mut json_text = Vec::new();
        host_json(&mut json_text, &report).expect("render");
        golden("summary-all-netns.json", &json_text);
    }
}
