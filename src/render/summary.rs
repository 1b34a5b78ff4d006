//! The human report of `sockdiag summary`, read top-down: ss's figures with their scope, then
//! `closed N =` its terms, the other namespaces, the TCP_CLOSE sockets by process and per
//! inode, the comparison with a saved `ss -s`, and the notes.

use std::collections::BTreeMap;
use std::io::{self, Write};

use tabled::builder::Builder;
use tabled::settings::{Alignment, Style, object::Columns};

use serde::Serialize;

use crate::model::SysText;
use crate::reconcile::{CloseKind, CloseSocket, Report};
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

    let p = &report.processes;
    writeln!(
        out,
        "\nProcesses: {} inspected, {} denied, {} exited during the scan.",
        p.scanned, p.denied, p.vanished
    )?;
    if !report.findings.is_empty() {
        writeln!(out, "\nNotes:")?;
        for finding in &report.findings {
            writeln!(out, "- {}", escape::for_terminal(notes::note(finding).as_bytes()))?;
        }
    }
    Ok(())
}

/// The JSON document of `summary --json`: the report's fields, then `notes`, the findings
/// worded as in the human report.
pub fn json(out: &mut impl Write, report: &Report<'_>) -> io::Result<()> {
    #[derive(Serialize)]
    struct Document<'r, 'a> {
        #[serde(flatten)]
        report: &'r Report<'a>,
        notes: Vec<String>,
    }
    let document = Document {
        report,
        notes: report.findings.iter().map(notes::note).collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}

fn close_sockets(out: &mut impl Write, sockets: &[CloseSocket<'_>], all: bool) -> io::Result<()> {
    writeln!(out, "\nTCP_CLOSE sockets of this namespace, by process:")?;
    // (pid, comm) -> (bound_inactive, unbound)
    let mut by_process: BTreeMap<(u32, &SysText), (u64, u64)> = BTreeMap::new();
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
            bump(by_process.entry((owner.pid, owner.comm)).or_default());
        }
    }
    let mut table = Builder::default();
    table.push_record(["pid", "command", "bound_inactive", "unbound"]);
    let mut rows: Vec<_> = by_process.into_iter().collect();
    rows.sort_by_key(|(_, (b, u))| std::cmp::Reverse(b + u));
    for ((pid, comm), (bound, unbound)) in rows {
        table.push_record([
            pid.to_string(),
            comm.to_string(),
            bound.to_string(),
            unbound.to_string(),
        ]);
    }
    if unowned != (0, 0) {
        table.push_record([
            "-".to_owned(),
            "(no process found)".to_owned(),
            unowned.0.to_string(),
            unowned.1.to_string(),
        ]);
    }
    write_table(out, table, &[0, 2, 3])?;

    writeln!(out)?;
    let shown = if all {
        sockets.len()
    } else {
        sockets.len().min(FIRST_ROWS)
    };
    let mut table = Builder::default();
    table.push_record(["inode", "family", "kind", "local", "owners"]);
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
        table.push_record([
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
        ]);
    }
    write_table(out, table, &[0])?;
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
    use crate::figures::Figure;
    use crate::reconcile::{fixture, reconcile};
    use crate::saved_ss::SavedSs;

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
        let saved: SavedSs = [(Figure::Total, 29), (Figure::Closed, 10)].into_iter().collect();
        let report = reconcile(&host, Some(&saved));
        let mut text = Vec::new();
        human(&mut text, &report, true).expect("render");
        golden("summary.txt", &text);
        let mut json_text = Vec::new();
        json(&mut json_text, &report).expect("render");
        golden("summary.json", &json_text);
    }
}
