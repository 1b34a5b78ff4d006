//! A saved `ss -s` output, as a user pastes it, read back into figures to compare with ours.
//!
//! `sockdiag summary --ss FILE` puts each figure of a saved `ss -s` next to the live one. The
//! saved text comes from any iproute2 and has been through terminals, chat and editors, so
//! the reader is lenient about layout and strict about figures:
//!
//! - iproute2 4.17 to 7.x (misc/ss.c `print_summary`): `Total: N`,
//!   `TCP:   N (estab N, closed N, orphaned N, timewait N)`, then the transport table
//!   `RAW`, `UDP`, `TCP`, `INET`, `FRAG`, each `Total IP IPv6`.
//! - iproute2 up to 4.16 also printed figures read from /proc/slabinfo, which 4.17 removed as
//!   long broken: `Total: N (kernel N)`, `synrecv N`, `timewait N/N`, `, ports N`, and a `*`
//!   row. They are read and dropped; of `timewait N/M` the first number is the figure
//!   (sockstat's `tw`). The old `TCP:` total was alloc + synrecv + tw, synrecv being one of
//!   those slabinfo figures (0 in every output seen).
//! - Whitespace is free (tabs and padding are often lost in a paste), CRLF line ends and a
//!   byte order mark are accepted, and blank lines and the `Transport` header are skipped.
//! - Lines before the first `Total:` line (or, without one, the first `TCP:` line) are
//!   ignored: a shell prompt, or the sockstat files cat'ed before ss ran. After it, lines that
//!   start with none of ss's labels are ignored too; a line that does start with one must
//!   parse, and must not repeat.

use std::fmt;

use std::collections::BTreeMap;

use crate::figures::{Column, Figure, Row, SsFigures, TransportRow};

/// The figures of a saved `ss -s` output: those the paste contains.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SavedSs(BTreeMap<Figure, i64>);

impl SavedSs {
    /// The saved value of a figure, if the paste has it.
    pub fn get(&self, figure: Figure) -> Option<i64> {
        self.0.get(&figure).copied()
    }

    /// Every figure the paste has, in the order ss prints them.
    pub fn figures(&self) -> impl Iterator<Item = (Figure, i64)> + '_ {
        self.0.iter().map(|(figure, value)| (*figure, *value))
    }

    fn set(&mut self, figure: Figure, value: u64) {
        self.0.insert(figure, i64::try_from(value).unwrap_or(i64::MAX));
    }

    fn set_row(&mut self, row: Row, cells: TransportRow) {
        for (column, value) in Column::ALL.into_iter().zip([cells.total, cells.ip, cells.ipv6]) {
            self.set(Figure::Transport(row, column), value);
        }
    }

    fn has(&self, figure: Figure) -> bool {
        self.0.contains_key(&figure)
    }
}

impl FromIterator<(Figure, i64)> for SavedSs {
    fn from_iter<I: IntoIterator<Item = (Figure, i64)>>(figures: I) -> Self {
        SavedSs(figures.into_iter().collect())
    }
}

/// Why a saved `ss -s` output could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavedSsError {
    /// Neither a `Total:` nor a `TCP:` line.
    NotSsOutput,
    /// A line ss would have printed otherwise.
    BadLine {
        /// 1-based, counting every line of the input.
        number: usize,
        problem: String,
        /// The line, trimmed.
        text: String,
    },
}

impl fmt::Display for SavedSsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SavedSsError::NotSsOutput => {
                write!(f, "not an ss -s output: no `Total:` or `TCP:` line")
            }
            SavedSsError::BadLine {
                number,
                problem,
                text,
            } => write!(f, "line {number}: {problem}: {text}"),
        }
    }
}

impl std::error::Error for SavedSsError {}

/// Reads a saved `ss -s` output; see the module documentation for what is accepted.
pub fn parse(text: &str) -> Result<SavedSs, SavedSsError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .collect();
    let start = first_line_labelled(&lines, "Total:")
        .or_else(|| first_line_labelled(&lines, "TCP:"))
        .ok_or(SavedSsError::NotSsOutput)?;

    let mut saved = SavedSs::default();
    for &(number, line) in &lines[start..] {
        let bad = |problem: String| SavedSsError::BadLine {
            number,
            problem,
            text: line.to_owned(),
        };
        let Some((label, rest)) = split_label(line) else {
            continue;
        };
        match label {
            "Total:" => {
                if saved.has(Figure::Total) {
                    return Err(bad("a second `Total:` line".to_owned()));
                }
                saved.set(Figure::Total, parse_total(rest).map_err(bad)?);
            }
            "TCP:" => {
                if saved.has(Figure::TcpTotal) {
                    return Err(bad("a second `TCP:` line".to_owned()));
                }
                let tcp = parse_tcp_line(rest).map_err(bad)?;
                saved.set(Figure::TcpTotal, tcp.total);
                saved.set(Figure::Estab, tcp.estab);
                saved.0.insert(Figure::Closed, tcp.closed);
                saved.set(Figure::Orphaned, tcp.orphaned);
                saved.set(Figure::Timewait, tcp.timewait);
            }
            label => {
                // The table header, the slabinfo row of iproute2 <= 4.16, anything else: skipped.
                let Some(row) = Row::ALL.into_iter().find(|row| row.label() == label) else {
                    continue;
                };
                if saved.has(Figure::Transport(row, Column::Total)) {
                    return Err(bad(format!("a second `{label}` row")));
                }
                saved.set_row(row, parse_row(rest).map_err(bad)?);
            }
        }
    }
    Ok(saved)
}

/// Index in `lines` of the first line whose first word is `label`.
fn first_line_labelled(lines: &[(usize, &str)], label: &str) -> Option<usize> {
    lines
        .iter()
        .position(|(_, line)| line.split_whitespace().next() == Some(label))
}

/// The first word of a trimmed line and the rest, trimmed; `None` for a blank line.
fn split_label(line: &str) -> Option<(&str, &str)> {
    if line.is_empty() {
        return None;
    }
    Some(
        line.split_once(char::is_whitespace)
            .map_or((line, ""), |(label, rest)| (label, rest.trim())),
    )
}

fn parse_count(what: &str, text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{what} `{text}` is not a non-negative integer"))
}

/// `N` or, up to iproute2 4.16, `N (kernel M)`.
fn parse_total(rest: &str) -> Result<u64, String> {
    let (total, kernel) = match rest.split_once(char::is_whitespace) {
        Some((total, kernel)) => (total, Some(kernel.trim())),
        None => (rest, None),
    };
    if let Some(kernel) = kernel {
        let slab_count = kernel
            .strip_prefix("(kernel")
            .and_then(|count| count.strip_suffix(')'))
            .map(str::trim);
        let Some(count) = slab_count else {
            return Err(format!("expected `(kernel N)` after the total, not `{kernel}`"));
        };
        parse_count("the kernel count", count)?;
    }
    if total.is_empty() {
        return Err("no total after `Total:`".to_owned());
    }
    parse_count("the total", total)
}

/// The figures of a `TCP:` line.
struct TcpLine {
    total: u64,
    estab: u64,
    closed: i64,
    orphaned: u64,
    timewait: u64,
}

/// `N (estab N, closed N, orphaned N, timewait N)`; up to iproute2 4.16
/// `N (estab N, closed N, orphaned N, synrecv N, timewait N/M), ports N`.
fn parse_tcp_line(rest: &str) -> Result<TcpLine, String> {
    let Some((total, figures)) = rest.split_once('(') else {
        return Err("no `(estab …, timewait …)` part: the line is cut short".to_owned());
    };
    let Some((figures, _ports)) = figures.split_once(')') else {
        return Err("the `(estab …, timewait …)` part has no `)`: the line is cut short".to_owned());
    };
    let total = total.trim();
    if total.is_empty() {
        return Err("no TCP total before `(`".to_owned());
    }
    let total = parse_count("the TCP total", total)?;

    let (mut estab, mut closed, mut orphaned, mut timewait) = (None, None, None, None);
    for item in figures.split(',').map(str::trim) {
        let Some((name, value)) = item
            .split_once(char::is_whitespace)
            .map(|(name, value)| (name, value.trim()))
        else {
            return Err(format!("`{item}` is not `name number`"));
        };
        let already = match name {
            "estab" => estab.replace(parse_count("estab", value)?).is_some(),
            "closed" => {
                let value = value
                    .parse::<i64>()
                    .map_err(|_| format!("closed `{value}` is not an integer"))?;
                closed.replace(value).is_some()
            }
            "orphaned" => orphaned.replace(parse_count("orphaned", value)?).is_some(),
            "timewait" => {
                // `N/M` up to iproute2 4.16: M was a slabinfo count.
                let sockstat_tw = value.split_once('/').map_or(value, |(tw, _slab)| tw);
                timewait.replace(parse_count("timewait", sockstat_tw)?).is_some()
            }
            // `synrecv` of iproute2 <= 4.16, or a figure of a future ss.
            _ => false,
        };
        if already {
            return Err(format!("`{name}` appears twice"));
        }
    }
    let missing = |name: &str| format!("no `{name}` figure");
    Ok(TcpLine {
        total,
        estab: estab.ok_or_else(|| missing("estab"))?,
        closed: closed.ok_or_else(|| missing("closed"))?,
        orphaned: orphaned.ok_or_else(|| missing("orphaned"))?,
        timewait: timewait.ok_or_else(|| missing("timewait"))?,
    })
}

/// `Total IP IPv6` of a transport row.
fn parse_row(rest: &str) -> Result<TransportRow, String> {
    let numbers: Vec<&str> = rest.split_whitespace().collect();
    let [total, ip, ipv6] = numbers[..] else {
        return Err(format!(
            "expected 3 numbers (Total IP IPv6), found {} words",
            numbers.len()
        ));
    };
    Ok(TransportRow {
        total: parse_count("Total", total)?,
        ip: parse_count("IP", ip)?,
        ipv6: parse_count("IPv6", ipv6)?,
    })
}

/// A saved `ss -s` explained from its own arithmetic, with nothing live: its `TCP:` total is
/// `alloc + tw` and its TCP row counts the hashed sockets (`inuse4 + inuse6`), so
/// `closed = timewait + (alloc − hashed)`, the second term being the full TCP sockets in no
/// hash table of that namespace (never bound, bound only, closed with the fd still open) or
/// in another namespace. This answers for an output pasted from another machine too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SavedExplanation {
    pub closed: i64,
    pub timewait: i64,
    /// `TCP:` total − timewait: TCP alloc when it was taken.
    pub alloc: i64,
    /// The TCP row's total: sockets in a hash table of that namespace.
    pub hashed: i64,
    /// alloc − hashed: full TCP sockets in no hash table of that namespace, or in another.
    pub unhashed_or_elsewhere: i64,
    /// Whether `closed` is indeed `timewait + alloc − hashed` (false for an edited paste, or
    /// for iproute2 <= 4.16 with a non-zero `synrecv` in its total).
    pub consistent: bool,
}

/// The explanation of `saved`, when it has the `TCP:` line and the TCP row.
pub fn explain(saved: &SavedSs) -> Option<SavedExplanation> {
    let closed = saved.get(Figure::Closed)?;
    let timewait = saved.get(Figure::Timewait)?;
    let alloc = saved.get(Figure::TcpTotal)?.saturating_sub(timewait);
    let hashed = saved.get(Figure::Transport(Row::Tcp, Column::Total))?;
    let unhashed_or_elsewhere = alloc.saturating_sub(hashed);
    Some(SavedExplanation {
        closed,
        timewait,
        alloc,
        hashed,
        unhashed_or_elsewhere,
        consistent: timewait.saturating_add(unhashed_or_elsewhere) == closed,
    })
}

/// One figure of the saved output next to the live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FigureComparison {
    pub figure: Figure,
    pub saved: i64,
    pub live: i64,
    /// live − saved.
    pub diff: i64,
}

/// The figures present in `saved`, each with its live value, in the order ss prints them.
pub fn compare(saved: &SavedSs, live: &SsFigures) -> Vec<FigureComparison> {
    saved
        .figures()
        .map(|(figure, saved)| {
            let live = live.get(figure);
            FigureComparison {
                figure,
                saved,
                live,
                diff: live.saturating_sub(saved),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::sockstat::{self, Counters};

    const SS_S_6_1_NEW_NETNS: &str = include_str!("../tests/fixtures/ss-s-6.1.txt");
    const SS_S_6_1_ROOT_NETNS: &str = include_str!("../tests/fixtures/ss-s-6.1-root-netns.txt");
    const SS_S_6_1_POPULATED: &str = include_str!("../tests/fixtures/ss-s-6.1-populated-netns.txt");
    /// The article's paste (shared/background), tabs and padding lost on the way.
    const SS_S_5_5: &str = include_str!("../tests/fixtures/ss-s-5.5.txt");
    /// Written with the printf formats of iproute2 4.16's `print_summary`.
    const SS_S_4_16: &str = include_str!("../tests/fixtures/ss-s-4.16.txt");
    const SS_S_TRUNCATED: &str = include_str!("../tests/fixtures/ss-s-truncated.txt");
    const SS_S_GARBLED: &str = include_str!("../tests/fixtures/ss-s-garbled.txt");

    const SOCKSTAT_5_4: &str = include_str!("../tests/fixtures/sockstat-5.4.txt");
    const SOCKSTAT6_5_4: &str = include_str!("../tests/fixtures/sockstat6-5.4.txt");
    const SNMP_6_18: &str = include_str!("../tests/fixtures/snmp-6.18.txt");
    const SOCKSTAT_6_18_POPULATED: &str = include_str!("../tests/fixtures/sockstat-6.18-populated-netns.txt");
    const SOCKSTAT6_6_18_POPULATED: &str =
        include_str!("../tests/fixtures/sockstat6-6.18-populated-netns.txt");
    const SNMP_6_18_POPULATED: &str = include_str!("../tests/fixtures/snmp-6.18-populated-netns.txt");

    /// A saved output with every figure, the values in the order ss prints them.
    fn every_figure(values: [i64; 21]) -> SavedSs {
        Figure::ALL.into_iter().zip(values).collect()
    }

    fn error_of(text: &str) -> SavedSsError {
        match parse(text) {
            Ok(saved) => panic!("parsed {saved:?}"),
            Err(error) => error,
        }
    }

    fn populated_figures() -> SsFigures {
        SsFigures::from_counters(
            &sockstat::parse(
                SOCKSTAT_6_18_POPULATED,
                Some(SOCKSTAT6_6_18_POPULATED),
                SNMP_6_18_POPULATED,
            )
            .expect("parses"),
        )
    }

    #[test]
    fn ss_6_1_new_netns() {
        assert_eq!(
            parse(SS_S_6_1_NEW_NETNS),
            Ok(every_figure([
                0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]))
        );
    }

    #[test]
    fn ss_6_1_root_netns() {
        let saved = parse(SS_S_6_1_ROOT_NETNS).expect("parses");
        assert_eq!(
            (saved.get(Figure::Total), saved.get(Figure::Closed)),
            (Some(11), Some(0))
        );
        let tcp = Column::ALL.map(|column| saved.get(Figure::Transport(Row::Tcp, column)));
        assert_eq!(tcp, [Some(1), Some(1), Some(0)]);
    }

    #[test]
    fn every_figure_of_a_rendered_output_reads_back() {
        let live = populated_figures();
        let saved = parse(&crate::render::ss::ss_block(&live)).expect("parses");
        let comparisons = compare(&saved, &live);
        assert_eq!(comparisons.len(), 6 + 5 * 3);
        assert!(comparisons.iter().all(|c| c.diff == 0), "{comparisons:?}");
        assert_eq!(parse(SS_S_6_1_POPULATED), Ok(saved));
    }

    #[test]
    fn article_5_5_paste_matches_its_sockstat() {
        let saved = parse(SS_S_5_5).expect("parses");
        assert_eq!(
            saved,
            every_figure([
                400, 285, 136, 138, 1, 38, 1, 0, 1, 6, 4, 2, 147, 143, 4, 154, 147, 7, 0, 0, 0
            ])
        );
        let counters = Counters {
            tcp_curr_estab: 136,
            ..sockstat::parse(SOCKSTAT_5_4, Some(SOCKSTAT6_5_4), SNMP_6_18).expect("parses")
        };
        let comparisons = compare(&saved, &SsFigures::from_counters(&counters));
        assert!(comparisons.iter().all(|c| c.diff == 0), "{comparisons:?}");
    }

    #[test]
    fn ss_4_16_slabinfo_figures_are_dropped() {
        assert_eq!(
            parse(SS_S_4_16),
            Ok(every_figure([
                246, 129, 87, 28, 4, 28, 1, 0, 1, 6, 4, 2, 101, 94, 7, 108, 98, 10, 0, 0, 0
            ]))
        );
    }

    #[test]
    fn crlf_blank_lines_prompt_and_bom_are_accepted() {
        let pasted = format!(
            "\u{feff}$ ss -s\r\n\r\n  {}\r\n\r\n$ exit\r\n",
            SS_S_6_1_POPULATED.trim().replace('\n', "\r\n\r\n   ")
        );
        assert_eq!(parse(&pasted), parse(SS_S_6_1_POPULATED));
    }

    #[test]
    fn lines_before_the_total_are_ignored() {
        // The article's first command: cat sockstat && cat sockstat6 && ss -s.
        let pasted = format!("{SOCKSTAT_5_4}---\n{SOCKSTAT6_5_4}---\n{SS_S_5_5}");
        assert_eq!(parse(&pasted), parse(SS_S_5_5));
    }

    #[test]
    fn a_paste_without_total_starts_at_tcp() {
        let saved = parse("TCP:   1 (estab 0, closed 1, orphaned 0, timewait 0)\n").expect("parses");
        assert_eq!(
            (saved.get(Figure::Total), saved.get(Figure::Closed)),
            (None, Some(1))
        );
        assert_eq!(saved.get(Figure::Transport(Row::Raw, Column::Total)), None);
    }

    #[test]
    fn negative_closed_is_read() {
        let saved =
            parse("Total: 3\nTCP:   4 (estab 0, closed -3, orphaned 0, timewait 3)\n").expect("parses");
        assert_eq!(saved.get(Figure::Closed), Some(-3));
    }

    #[test]
    fn not_an_ss_output() {
        for text in ["", "\n\n", "hello\nworld\n", "RAW 1 0 1\nUDP 1 1 0\n"] {
            assert_eq!(error_of(text), SavedSsError::NotSsOutput, "{text:?}");
        }
        assert_eq!(
            SavedSsError::NotSsOutput.to_string(),
            "not an ss -s output: no `Total:` or `TCP:` line"
        );
    }

    #[test]
    fn truncated_fixture_names_line_2() {
        assert_eq!(
            error_of(SS_S_TRUNCATED).to_string(),
            "line 2: the `(estab …, timewait …)` part has no `)`: the line is cut short: \
             TCP:   42 (estab 20, closed 20, orph"
        );
    }

    #[test]
    fn garbled_fixture_names_line_7() {
        assert_eq!(
            error_of(SS_S_GARBLED),
            SavedSsError::BadLine {
                number: 7,
                problem: "IP `4O` is not a non-negative integer".to_owned(),
                text: "UDP\t  6         4O        2".to_owned(),
            }
        );
    }

    #[test]
    fn bad_tcp_lines() {
        let cases = [
            (
                "TCP:   42",
                "no `(estab …, timewait …)` part: the line is cut short",
            ),
            (
                "TCP:   (estab 1, closed 0, orphaned 0, timewait 0)",
                "no TCP total before `(`",
            ),
            (
                "TCP:   4x (estab 1, closed 0, orphaned 0, timewait 0)",
                "the TCP total `4x` is not a non-negative integer",
            ),
            (
                "TCP:   4 (estab one, closed 0, orphaned 0, timewait 0)",
                "estab `one` is not a non-negative integer",
            ),
            (
                "TCP:   4 (estab 1, closed 0.5, orphaned 0, timewait 0)",
                "closed `0.5` is not an integer",
            ),
            (
                "TCP:   4 (estab 1, closed, orphaned 0, timewait 0)",
                "`closed` is not `name number`",
            ),
            ("TCP:   4 (estab 1, closed 0, orphaned 0)", "no `timewait` figure"),
            (
                "TCP:   4 (estab 1, estab 1, closed 0, orphaned 0, timewait 0)",
                "`estab` appears twice",
            ),
            (
                "TCP:   4 (estab 1, closed 0, orphaned 0, timewait x/0)",
                "timewait `x` is not a non-negative integer",
            ),
        ];
        for (line, problem) in cases {
            assert_eq!(
                error_of(&format!("Total: 1\n{line}\n")).to_string(),
                format!("line 2: {problem}: {line}")
            );
        }
    }

    #[test]
    fn bad_total_lines() {
        let cases = [
            ("Total:", "no total after `Total:`"),
            ("Total: many", "the total `many` is not a non-negative integer"),
            (
                "Total: 5 (kernel x)",
                "the kernel count `x` is not a non-negative integer",
            ),
            (
                "Total: 5 sockets",
                "expected `(kernel N)` after the total, not `sockets`",
            ),
        ];
        for (line, problem) in cases {
            assert_eq!(
                error_of(&format!("\n{line}\n")).to_string(),
                format!("line 2: {problem}: {line}")
            );
        }
    }

    #[test]
    fn bad_transport_rows() {
        let cases = [
            ("UDP\t  6", "expected 3 numbers (Total IP IPv6), found 1 words"),
            ("FRAG", "expected 3 numbers (Total IP IPv6), found 0 words"),
            ("TCP 1 2 3 4", "expected 3 numbers (Total IP IPv6), found 4 words"),
            ("RAW 1 0 -1", "IPv6 `-1` is not a non-negative integer"),
        ];
        for (line, problem) in cases {
            assert_eq!(
                error_of(&format!("Total: 1\n\n{line}\n")).to_string(),
                format!("line 3: {problem}: {line}")
            );
        }
    }

    #[test]
    fn duplicated_lines_and_rows() {
        let twice = format!("{SS_S_5_5}{SS_S_5_5}");
        assert_eq!(
            error_of(&twice).to_string(),
            "line 9: a second `Total:` line: Total: 400"
        );
        let udp_twice = SS_S_5_5.replace("TCP 147", "UDP 147");
        assert_eq!(
            error_of(&udp_twice).to_string(),
            "line 6: a second `UDP` row: UDP 147 143 4"
        );
        let tcp_twice = SS_S_5_5.replace(
            "Transport",
            "TCP: 1 (estab 0, closed 0, orphaned 0, timewait 0)\nTransport",
        );
        assert_eq!(
            error_of(&tcp_twice).to_string(),
            "line 3: a second `TCP:` line: TCP: 1 (estab 0, closed 0, orphaned 0, timewait 0)"
        );
    }

    #[test]
    fn the_articles_paste_explained_on_its_own() {
        // TCP: 285 (estab 136, closed 138, orphaned 1, timewait 38); TCP row 147.
        let saved = parse(SS_S_5_5).expect("parses");
        assert_eq!(
            explain(&saved),
            Some(SavedExplanation {
                closed: 138,
                timewait: 38,
                alloc: 247,
                hashed: 147,
                unhashed_or_elsewhere: 100,
                consistent: true,
            })
        );
        let edited: SavedSs = saved
            .figures()
            .map(|(f, v)| (f, if f == Figure::Closed { v + 1 } else { v }))
            .collect();
        assert_eq!(explain(&edited).map(|e| e.consistent), Some(false));
        let no_table: SavedSs = saved
            .figures()
            .filter(|(f, _)| !matches!(f, Figure::Transport(..)))
            .collect();
        assert_eq!(explain(&no_table), None);
    }

    #[test]
    fn compare_lists_only_saved_figures_in_ss_order() {
        let udp = |column| Figure::Transport(Row::Udp, column);
        let saved: SavedSs = [
            (Figure::Total, 40),
            (Figure::Closed, 25),
            (udp(Column::Total), 5),
            (udp(Column::Ip), 4),
            (udp(Column::Ipv6), 1),
        ]
        .into_iter()
        .collect();
        let live = populated_figures();
        let comparison = |figure, saved: i64, live: i64| FigureComparison {
            figure,
            saved,
            live,
            diff: live - saved,
        };
        let comparisons = compare(&saved, &live);
        assert_eq!(
            comparisons,
            vec![
                comparison(Figure::Total, 40, 42),
                comparison(Figure::Closed, 25, 20),
                comparison(udp(Column::Total), 5, 6),
                comparison(udp(Column::Ip), 4, 4),
                comparison(udp(Column::Ipv6), 1, 2),
            ]
        );
    }

    #[test]
    fn compare_names_every_figure_in_ss_order() {
        let live = populated_figures();
        let saved = parse(&crate::render::ss::ss_block(&live)).expect("parses");
        let names: Vec<&str> = compare(&saved, &live).iter().map(|c| c.figure.name()).collect();
        assert_eq!(
            names,
            [
                "total",
                "tcp_total",
                "estab",
                "closed",
                "orphaned",
                "timewait",
                "raw.total",
                "raw.ip",
                "raw.ipv6",
                "udp.total",
                "udp.ip",
                "udp.ipv6",
                "tcp.total",
                "tcp.ip",
                "tcp.ipv6",
                "inet.total",
                "inet.ip",
                "inet.ipv6",
                "frag.total",
                "frag.ip",
                "frag.ipv6",
            ]
        );
    }
}
