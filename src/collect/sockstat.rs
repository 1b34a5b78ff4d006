//! The kernel's aggregate socket counters, and the figures `ss -s` makes of them.
//!
//! `ss -s` lists no socket: it prints arithmetic on three /proc files. This module reads the
//! same files the same way, so that every figure ss prints can be recomputed, compared with a
//! saved `ss -s` output and explained term by term:
//!
//! - `net/sockstat`, written by `socket_seq_show` (net/socket.c: `sockets: used`) and
//!   `sockstat_seq_show` (net/ipv4/proc.c: the `TCP:`, `UDP:`, `UDPLITE:`, `RAW:`, `FRAG:`
//!   lines). `TCP: alloc` and `TCP: orphan` are global; everything else is per netns.
//! - `net/sockstat6`, written by `sockstat6_seq_show` (net/ipv6/proc.c). It is absent when
//!   IPv6 is disabled; ss then counts zero IPv6 sockets, and so do we.
//! - `net/snmp`, whose `Tcp:` header and value lines come from `snmp_seq_show_tcp_udp`
//!   (net/ipv4/proc.c); ss takes the `CurrEstab` column.
//!
//! Lines are found by their keyword and values by their name, never by position: kernel 7.3
//! dropped the `UDPLITE:` lines, and unknown lines and names are ignored. Every counter ss
//! uses is required, though: a missing one is an error, not a silent zero as in ss.
//!
//! The formulas are those of iproute2 misc/ss.c `print_summary` (identical from 4.17, which
//! removed the slabinfo figures, to 7.1); `get_sockstat_line` and `get_snmp_int` there are the
//! reading side. [`read_dir`] takes the directory as a parameter: `/proc/PID/net` reads the
//! counters of PID's network namespace without entering it.

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use anyhow::Context as _;

/// The kernel's aggregate socket counters of one network namespace (alloc and orphan are global).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// `sockets: used N`: sockets of every family of the netns.
    pub sockets_used: u64,
    /// `TCP: inuse`: IPv4 TCP sockets in the listening or established hash of the netns.
    pub tcp_inuse: u64,
    /// `TCP: orphan` (global): TCP sockets whose file descriptor is closed but which still live.
    pub tcp_orphan: u64,
    /// `TCP: tw`: timewait minisocks of the netns, IPv4 and IPv6 together.
    pub tcp_tw: u64,
    /// `TCP: alloc` (global, IPv4 and IPv6 together): full TCP sockets in existence.
    pub tcp_alloc: u64,
    /// `UDP: inuse`.
    pub udp_inuse: u64,
    /// `RAW: inuse`.
    pub raw_inuse: u64,
    /// `FRAG: inuse`: IPv4 reassembly queues.
    pub frag_inuse: u64,
    /// `TCP6: inuse` of sockstat6.
    pub tcp6_inuse: u64,
    /// `UDP6: inuse` of sockstat6.
    pub udp6_inuse: u64,
    /// `RAW6: inuse` of sockstat6.
    pub raw6_inuse: u64,
    /// `FRAG6: inuse` of sockstat6.
    pub frag6_inuse: u64,
    /// `CurrEstab` of the `Tcp:` lines of snmp: ESTABLISHED and CLOSE_WAIT sockets of the netns.
    pub tcp_curr_estab: u64,
    /// False when sockstat6 is absent (IPv6 disabled): the IPv6 counters are then zero.
    pub has_sockstat6: bool,
}

/// The /proc file a [`ParseError`] is about, named relative to the /proc root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcFile {
    Sockstat,
    Sockstat6,
    Snmp,
}

impl fmt::Display for ProcFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProcFile::Sockstat => "net/sockstat",
            ProcFile::Sockstat6 => "net/sockstat6",
            ProcFile::Snmp => "net/snmp",
        })
    }
}

/// What was wrong in a counter file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file has no line at all.
    EmptyFile,
    /// No line starts with this keyword (`TCP:`).
    MissingLine { keyword: &'static str },
    /// A second line starts with this keyword.
    DuplicateLine { keyword: &'static str },
    /// The keyword's line does not name this value (`alloc`).
    MissingValue {
        keyword: &'static str,
        name: &'static str,
    },
    /// The name is the last word of its line: the line was cut short.
    NameWithoutValue { name: &'static str },
    /// The value of this name does not parse as a non-negative integer.
    NotANumber { name: &'static str, value: String },
    /// The value is beyond what the kernel's signed 64-bit counters can hold (`%ld`).
    TooLarge { name: &'static str, value: u64 },
    /// The snmp `Tcp:` header line has no column of this name.
    MissingColumn { name: &'static str },
    /// The snmp `Tcp:` header line is not followed by its `Tcp:` value line.
    MissingValueLine,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::EmptyFile => write!(f, "the file is empty"),
            Problem::MissingLine { keyword } => {
                write!(f, "reached the end of the file without a `{keyword}` line")
            }
            Problem::DuplicateLine { keyword } => write!(f, "a second `{keyword}` line"),
            Problem::MissingValue { keyword, name } => {
                write!(f, "the `{keyword}` line has no `{name}` value")
            }
            Problem::NameWithoutValue { name } => {
                write!(f, "`{name}` ends the line without a value (line cut short?)")
            }
            Problem::NotANumber { name, value } => {
                write!(f, "`{name}` is `{value}`, not a non-negative integer")
            }
            Problem::TooLarge { name, value } => {
                write!(
                    f,
                    "`{name}` is {value}, beyond what a kernel counter holds (2^63 - 1)"
                )
            }
            Problem::MissingColumn { name } => {
                write!(f, "the `Tcp:` header line has no `{name}` column")
            }
            Problem::MissingValueLine => {
                write!(f, "the `Tcp:` header line is not followed by a `Tcp:` value line")
            }
        }
    }
}

/// A counter file that does not read as the kernel writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: ProcFile,
    /// 1-based line of the problem; for something missing, the line after the last one.
    pub line: usize,
    pub problem: Problem,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: {}", self.file, self.line, self.problem)
    }
}

impl std::error::Error for ParseError {}

/// Parses the text of sockstat, sockstat6 (`None` when the file is absent) and snmp.
pub fn parse(sockstat: &str, sockstat6: Option<&str>, snmp: &str) -> Result<Counters, ParseError> {
    let v4 = KeywordLines::new(ProcFile::Sockstat, sockstat)?;
    let mut counters = Counters {
        sockets_used: v4.value("sockets:", "used")?,
        tcp_inuse: v4.value("TCP:", "inuse")?,
        tcp_orphan: v4.value("TCP:", "orphan")?,
        tcp_tw: v4.value("TCP:", "tw")?,
        tcp_alloc: v4.value("TCP:", "alloc")?,
        udp_inuse: v4.value("UDP:", "inuse")?,
        raw_inuse: v4.value("RAW:", "inuse")?,
        frag_inuse: v4.value("FRAG:", "inuse")?,
        tcp_curr_estab: parse_curr_estab(snmp)?,
        ..Counters::default()
    };
    if let Some(sockstat6) = sockstat6 {
        let v6 = KeywordLines::new(ProcFile::Sockstat6, sockstat6)?;
        counters.tcp6_inuse = v6.value("TCP6:", "inuse")?;
        counters.udp6_inuse = v6.value("UDP6:", "inuse")?;
        counters.raw6_inuse = v6.value("RAW6:", "inuse")?;
        counters.frag6_inuse = v6.value("FRAG6:", "inuse")?;
        counters.has_sockstat6 = true;
    }
    Ok(counters)
}

/// Reads `sockstat`, `sockstat6` and `snmp` of the directory `net` (`/proc/net`, or
/// `/proc/thread-self/net` for the namespace of the calling thread), in that order as ss does.
///
/// The files are read one after another, so the counters are not one snapshot: sockets that
/// change state in between can make the figures disagree by a few. A missing sockstat6 is
/// IPv6 being disabled; any other failure is an error naming the path.
pub fn read_dir(net: &Path) -> anyhow::Result<Counters> {
    let sockstat = read_file(&net.join("sockstat"))?;
    let sockstat6_path = net.join("sockstat6");
    let sockstat6 = match fs::read_to_string(&sockstat6_path) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", sockstat6_path.display()));
        }
    };
    let snmp = read_file(&net.join("snmp"))?;
    parse(&sockstat, sockstat6.as_deref(), &snmp)
        .with_context(|| format!("parsing the socket counters under {}", net.display()))
}

fn read_file(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The lines of a sockstat file: a keyword (`TCP:`) then `name value` pairs.
struct KeywordLines<'a> {
    file: ProcFile,
    lines: Vec<KeywordLine<'a>>,
    line_count: usize,
}

struct KeywordLine<'a> {
    /// 1-based.
    number: usize,
    keyword: &'a str,
    /// The words after the keyword: `name value name value ...`.
    pairs: Vec<&'a str>,
}

impl<'a> KeywordLines<'a> {
    fn new(file: ProcFile, text: &'a str) -> Result<Self, ParseError> {
        let lines: Vec<KeywordLine> = text
            .lines()
            .enumerate()
            .filter_map(|(index, line)| {
                let mut words = line.split_whitespace();
                Some(KeywordLine {
                    number: index + 1,
                    keyword: words.next()?,
                    pairs: words.collect(),
                })
            })
            .collect();
        if lines.is_empty() {
            return Err(ParseError {
                file,
                line: 1,
                problem: Problem::EmptyFile,
            });
        }
        Ok(KeywordLines {
            file,
            lines,
            line_count: text.lines().count(),
        })
    }

    fn error(&self, line: usize, problem: Problem) -> ParseError {
        ParseError {
            file: self.file,
            line,
            problem,
        }
    }

    /// The value named `name` on the only line that starts with `keyword`.
    fn value(&self, keyword: &'static str, name: &'static str) -> Result<u64, ParseError> {
        let mut matching = self.lines.iter().filter(|line| line.keyword == keyword);
        let Some(line) = matching.next() else {
            return Err(self.error(self.line_count + 1, Problem::MissingLine { keyword }));
        };
        if let Some(second) = matching.next() {
            return Err(self.error(second.number, Problem::DuplicateLine { keyword }));
        }
        for pair in line.pairs.chunks(2) {
            match pair {
                [found, value] if *found == name => {
                    return parse_count(name, value).map_err(|problem| self.error(line.number, problem));
                }
                [found] if *found == name => {
                    return Err(self.error(line.number, Problem::NameWithoutValue { name }));
                }
                _ => {}
            }
        }
        Err(self.error(line.number, Problem::MissingValue { keyword, name }))
    }
}

/// `CurrEstab` of snmp: the `Tcp:` header line names the columns, the next line holds the
/// values, as `get_snmp_int` in ss.c reads them.
fn parse_curr_estab(snmp: &str) -> Result<u64, ParseError> {
    const COLUMN: &str = "CurrEstab";
    let error = |line, problem| ParseError {
        file: ProcFile::Snmp,
        line,
        problem,
    };
    let lines: Vec<&str> = snmp.lines().collect();
    if lines.iter().all(|line| line.trim().is_empty()) {
        return Err(error(1, Problem::EmptyFile));
    }
    let Some(header_index) = lines
        .iter()
        .position(|line| line.split_whitespace().next() == Some("Tcp:"))
    else {
        return Err(error(lines.len() + 1, Problem::MissingLine { keyword: "Tcp:" }));
    };
    let header_line = header_index + 1;
    let Some(column) = lines[header_index]
        .split_whitespace()
        .position(|name| name == COLUMN)
    else {
        return Err(error(header_line, Problem::MissingColumn { name: COLUMN }));
    };
    let values: Vec<&str> = match lines.get(header_index + 1) {
        Some(line) if line.split_whitespace().next() == Some("Tcp:") => line.split_whitespace().collect(),
        _ => return Err(error(header_line + 1, Problem::MissingValueLine)),
    };
    let value_line = header_line + 1;
    let Some(value) = values.get(column) else {
        return Err(error(value_line, Problem::NameWithoutValue { name: COLUMN }));
    };
    parse_count(COLUMN, value).map_err(|problem| error(value_line, problem))
}

/// A counter as the kernel prints it: a non-negative integer that fits its signed 64 bits,
/// so that no figure computed from counters can overflow.
fn parse_count(name: &'static str, text: &str) -> Result<u64, Problem> {
    let value: u64 = text.parse().map_err(|_| Problem::NotANumber {
        name,
        value: text.to_owned(),
    })?;
    if value > i64::MAX as u64 {
        return Err(Problem::TooLarge { name, value });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOCKSTAT_6_18: &str = include_str!("../../tests/fixtures/sockstat-6.18.txt");
    const SOCKSTAT6_6_18: &str = include_str!("../../tests/fixtures/sockstat6-6.18.txt");
    const SNMP_6_18: &str = include_str!("../../tests/fixtures/snmp-6.18.txt");

    const SOCKSTAT_6_18_NEW_NETNS: &str = include_str!("../../tests/fixtures/sockstat-6.18-new-netns.txt");
    const SOCKSTAT6_6_18_NEW_NETNS: &str = include_str!("../../tests/fixtures/sockstat6-6.18-new-netns.txt");
    const SNMP_6_18_NEW_NETNS: &str = include_str!("../../tests/fixtures/snmp-6.18-new-netns.txt");

    const SOCKSTAT_6_18_POPULATED: &str =
        include_str!("../../tests/fixtures/sockstat-6.18-populated-netns.txt");
    const SOCKSTAT6_6_18_POPULATED: &str =
        include_str!("../../tests/fixtures/sockstat6-6.18-populated-netns.txt");
    const SNMP_6_18_POPULATED: &str = include_str!("../../tests/fixtures/snmp-6.18-populated-netns.txt");

    /// From the article in shared/background (Ubuntu 20.04, kernel 5.4, iproute2 5.5).
    const SOCKSTAT_5_4: &str = include_str!("../../tests/fixtures/sockstat-5.4.txt");
    const SOCKSTAT6_5_4: &str = include_str!("../../tests/fixtures/sockstat6-5.4.txt");

    /// The populated 6.18 capture without its UDPLITE lines, as kernel 7.3 writes it.
    const SOCKSTAT_7_3: &str = include_str!("../../tests/fixtures/sockstat-7.3.txt");
    const SOCKSTAT6_7_3: &str = include_str!("../../tests/fixtures/sockstat6-7.3.txt");

    fn parse_error(sockstat: &str, sockstat6: Option<&str>, snmp: &str) -> ParseError {
        match parse(sockstat, sockstat6, snmp) {
            Ok(counters) => panic!("parsed {counters:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn every_fixture_parses() {
        let captures = [
            (SOCKSTAT_6_18, SOCKSTAT6_6_18, SNMP_6_18),
            (
                SOCKSTAT_6_18_NEW_NETNS,
                SOCKSTAT6_6_18_NEW_NETNS,
                SNMP_6_18_NEW_NETNS,
            ),
            (
                SOCKSTAT_6_18_POPULATED,
                SOCKSTAT6_6_18_POPULATED,
                SNMP_6_18_POPULATED,
            ),
            (SOCKSTAT_5_4, SOCKSTAT6_5_4, SNMP_6_18),
            (SOCKSTAT_7_3, SOCKSTAT6_7_3, SNMP_6_18),
        ];
        for (sockstat, sockstat6, snmp) in captures {
            let counters = parse(sockstat, Some(sockstat6), snmp).expect(sockstat);
            assert!(counters.has_sockstat6);
        }
    }

    #[test]
    fn populated_netns_counters_are_read_by_name() {
        let counters = parse(
            SOCKSTAT_6_18_POPULATED,
            Some(SOCKSTAT6_6_18_POPULATED),
            SNMP_6_18_POPULATED,
        )
        .expect("parses");
        assert_eq!(
            counters,
            Counters {
                sockets_used: 42,
                tcp_inuse: 15,
                tcp_orphan: 0,
                tcp_tw: 7,
                tcp_alloc: 35,
                udp_inuse: 4,
                raw_inuse: 1,
                frag_inuse: 0,
                tcp6_inuse: 7,
                udp6_inuse: 2,
                raw6_inuse: 1,
                frag6_inuse: 0,
                tcp_curr_estab: 20,
                has_sockstat6: true,
            }
        );
    }

    #[test]
    fn kernel_7_3_without_udplite_reads_like_6_18() {
        let with_udplite = parse(SOCKSTAT_6_18_POPULATED, Some(SOCKSTAT6_6_18_POPULATED), SNMP_6_18);
        let without_udplite = parse(SOCKSTAT_7_3, Some(SOCKSTAT6_7_3), SNMP_6_18);
        assert_eq!(with_udplite, without_udplite);
    }

    #[test]
    fn unknown_lines_and_names_are_ignored_in_any_order() {
        let sockstat = "FRAG: inuse 2 memory 0\nMPTCP: inuse 9\n\nTCP: mem 1 alloc 5 tw 1 \
                        orphan 0 inuse 3 future 7\nRAW: inuse 0\nUDP: inuse 1 mem 0\n\
                        sockets: used 10\n";
        let counters = parse(sockstat, None, SNMP_6_18).expect("parses");
        assert_eq!(
            (
                counters.tcp_alloc,
                counters.tcp_inuse,
                counters.frag_inuse,
                counters.sockets_used
            ),
            (5, 3, 2, 10)
        );
    }

    #[test]
    fn counters_beyond_the_kernels_are_refused() {
        let sockstat = SOCKSTAT_5_4.replace("inuse 143", "inuse 18446744073709551615");
        assert_eq!(
            parse_error(&sockstat, None, SNMP_6_18).to_string(),
            "net/sockstat line 2: `inuse` is 18446744073709551615, beyond what a kernel counter holds (2^63 - 1)"
        );
        let sockstat = SOCKSTAT_5_4.replace("alloc 247", "alloc 9223372036854775807");
        assert_eq!(
            parse(&sockstat, None, SNMP_6_18).map(|c| c.tcp_alloc),
            Ok(i64::MAX as u64)
        );
        let sockstat = SOCKSTAT_5_4.replace("alloc 247", "alloc 99999999999999999999");
        assert!(
            parse_error(&sockstat, None, SNMP_6_18)
                .to_string()
                .contains("not a non-negative integer")
        );
    }

    #[test]
    fn non_numeric_value_names_file_and_line() {
        let sockstat = SOCKSTAT_5_4.replace("alloc 247", "alloc 24x");
        let error = parse_error(&sockstat, None, SNMP_6_18);
        assert_eq!(
            error.to_string(),
            "net/sockstat line 2: `alloc` is `24x`, not a non-negative integer"
        );
    }

    #[test]
    fn missing_tcp_line_is_reported_at_end_of_file() {
        let sockstat = "sockets: used 1\nUDP: inuse 0 mem 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n";
        let error = parse_error(sockstat, None, SNMP_6_18);
        assert_eq!(
            error.to_string(),
            "net/sockstat line 5: reached the end of the file without a `TCP:` line"
        );
    }

    #[test]
    fn truncated_tcp_line_names_the_value_cut_off() {
        let error = parse_error("sockets: used 1\nTCP: inuse", None, SNMP_6_18);
        assert_eq!(
            error,
            ParseError {
                file: ProcFile::Sockstat,
                line: 2,
                problem: Problem::NameWithoutValue { name: "inuse" },
            }
        );
        assert_eq!(
            error.to_string(),
            "net/sockstat line 2: `inuse` ends the line without a value (line cut short?)"
        );
    }

    #[test]
    fn tcp_line_without_alloc_is_an_error() {
        let sockstat = SOCKSTAT_5_4.replace(" alloc 247", "");
        let error = parse_error(&sockstat, None, SNMP_6_18);
        assert_eq!(
            error.to_string(),
            "net/sockstat line 2: the `TCP:` line has no `alloc` value"
        );
    }

    #[test]
    fn duplicated_line_is_an_error() {
        let sockstat = format!("{SOCKSTAT_5_4}TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 0\n");
        let error = parse_error(&sockstat, None, SNMP_6_18);
        assert_eq!(error.to_string(), "net/sockstat line 7: a second `TCP:` line");
    }

    #[test]
    fn empty_files_are_errors() {
        assert_eq!(
            parse_error("", None, SNMP_6_18).to_string(),
            "net/sockstat line 1: the file is empty"
        );
        assert_eq!(
            parse_error(SOCKSTAT_5_4, Some("\n"), SNMP_6_18).to_string(),
            "net/sockstat6 line 1: the file is empty"
        );
        assert_eq!(
            parse_error(SOCKSTAT_5_4, None, "").to_string(),
            "net/snmp line 1: the file is empty"
        );
    }

    #[test]
    fn sockstat6_errors_name_sockstat6() {
        let sockstat6 = SOCKSTAT6_5_4.replace("RAW6: inuse 1", "RAW6: inuse -1");
        assert_eq!(
            parse_error(SOCKSTAT_5_4, Some(&sockstat6), SNMP_6_18).to_string(),
            "net/sockstat6 line 4: `inuse` is `-1`, not a non-negative integer"
        );
    }

    #[test]
    fn snmp_without_curr_estab_is_an_error() {
        let snmp = SNMP_6_18.replace("CurrEstab", "CurrentlyEstablished");
        assert_eq!(
            parse_error(SOCKSTAT_5_4, None, &snmp).to_string(),
            "net/snmp line 7: the `Tcp:` header line has no `CurrEstab` column"
        );
    }

    #[test]
    fn snmp_tcp_lines_must_be_complete() {
        let header = "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens \
                      AttemptFails EstabResets CurrEstab InSegs\n";
        let cases = [
            (
                "Ip: Forwarding\nIp: 1\n".to_owned(),
                "net/snmp line 3: reached the end of the file without a `Tcp:` line",
            ),
            (
                header.to_owned(),
                "net/snmp line 2: the `Tcp:` header line is not followed by a `Tcp:` value line",
            ),
            (
                format!("{header}Udp: 1 2\n"),
                "net/snmp line 2: the `Tcp:` header line is not followed by a `Tcp:` value line",
            ),
            (
                format!("{header}Tcp: 1 200 120000 -1 26 2 0 16\n"),
                "net/snmp line 2: `CurrEstab` ends the line without a value (line cut short?)",
            ),
            (
                format!("{header}Tcp: 1 200 120000 -1 26 2 0 16 many 5\n"),
                "net/snmp line 2: `CurrEstab` is `many`, not a non-negative integer",
            ),
        ];
        for (snmp, expected) in cases {
            assert_eq!(parse_error(SOCKSTAT_5_4, None, &snmp).to_string(), expected);
        }
    }

    /// A fake /proc with its `net` directory, removed on drop.
    struct FakeProc(tempfile::TempDir);

    impl FakeProc {
        fn new() -> Self {
            let root = tempfile::tempdir().expect("create fake /proc");
            fs::create_dir(root.path().join("net")).expect("create fake /proc/net");
            FakeProc(root)
        }

        fn net(&self) -> std::path::PathBuf {
            self.0.path().join("net")
        }

        fn write(&self, name: &str, text: &str) {
            fs::write(self.net().join(name), text).expect("write fake /proc file");
        }
    }

    #[test]
    fn read_tolerates_a_missing_sockstat6() {
        let proc_root = FakeProc::new();
        proc_root.write("sockstat", SOCKSTAT_5_4);
        proc_root.write("snmp", SNMP_6_18);
        let counters = read_dir(&proc_root.net()).expect("reads");
        assert!(!counters.has_sockstat6);
        assert_eq!(counters.tcp_alloc, 247);

        proc_root.write("sockstat6", SOCKSTAT6_5_4);
        let counters = read_dir(&proc_root.net()).expect("reads");
        assert!(counters.has_sockstat6);
        assert_eq!(counters.raw6_inuse, 1);
    }

    #[test]
    fn read_errors_name_the_path() {
        let proc_root = FakeProc::new();
        let error = format!("{:#}", read_dir(&proc_root.net()).expect_err("no sockstat"));
        let sockstat = proc_root.net().join("sockstat");
        assert!(
            error.starts_with(&format!("reading {}: ", sockstat.display())),
            "{error}"
        );

        // sockstat6 that exists but cannot be read is an error, unlike a missing one.
        proc_root.write("sockstat", SOCKSTAT_5_4);
        proc_root.write("snmp", SNMP_6_18);
        fs::create_dir(proc_root.net().join("sockstat6")).expect("mkdir");
        let error = format!(
            "{:#}",
            read_dir(&proc_root.net()).expect_err("sockstat6 is a dir")
        );
        let sockstat6 = proc_root.net().join("sockstat6");
        assert!(
            error.starts_with(&format!("reading {}: ", sockstat6.display())),
            "{error}"
        );

        fs::remove_dir(&sockstat6).expect("rmdir");
        proc_root.write("snmp", "Tcp: RtoAlgorithm\nTcp: 1\n");
        let error = format!("{:#}", read_dir(&proc_root.net()).expect_err("no CurrEstab"));
        assert_eq!(
            error,
            format!(
                "parsing the socket counters under {}: net/snmp line 1: \
                 the `Tcp:` header line has no `CurrEstab` column",
                proc_root.net().display()
            )
        );
    }

    #[test]
    fn read_this_machines_proc() {
        let counters = read_dir(Path::new("/proc/net")).expect("reads /proc");
        assert_eq!(counters.has_sockstat6, Path::new("/proc/net/sockstat6").exists());
    }
}
