//! The figures `ss -s` prints, and the one list of their names.
//!
//! `ss -s` lists no socket: it prints arithmetic on `/proc/net/sockstat`, `sockstat6` and the
//! `Tcp: CurrEstab` column of `/proc/net/snmp` (iproute2 misc/ss.c `print_summary`, the same
//! formulas from 4.17 to 7.1). [`SsFigures`] recomputes them from our [`Counters`];
//! [`Figure`] names each of the 21 numbers once, for the saved-`ss -s` reader, the comparison,
//! the renderers and the tests alike.

use serde::Serialize;

use crate::collect::sockstat::Counters;

/// One row of the transport table of `ss -s`: IPv4 and IPv6 counts and their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TransportRow {
    pub total: u64,
    pub ip: u64,
    pub ipv6: u64,
}

impl TransportRow {
    pub fn of(ip: u64, ipv6: u64) -> Self {
        TransportRow {
            total: ip.saturating_add(ipv6),
            ip,
            ipv6,
        }
    }
}

/// The figures `ss -s` prints, computed with ss's own formulas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SsFigures {
    /// `Total:` = sockets used.
    pub total: u64,
    /// `TCP:` = TCP alloc (global) + TCP tw (per netns).
    pub tcp_total: u64,
    /// `estab` = snmp CurrEstab.
    pub estab: u64,
    /// `closed` = alloc − (inuse4 + inuse6 − tw): signed, as in ss.
    pub closed: i64,
    /// `orphaned` = TCP orphan (global).
    pub orphaned: u64,
    /// `timewait` = TCP tw.
    pub timewait: u64,
    /// RAW / RAW6 inuse.
    pub raw: TransportRow,
    /// UDP / UDP6 inuse (UDPLITE is not counted).
    pub udp: TransportRow,
    /// TCP / TCP6 inuse.
    pub tcp: TransportRow,
    /// raw + udp + tcp, per column.
    pub inet: TransportRow,
    /// FRAG / FRAG6 inuse.
    pub frag: TransportRow,
}

/// ss's `closed` for these counters: `alloc − (inuse4 + inuse6 − tw)`, without overflow.
pub fn closed(c: &Counters) -> i64 {
    let closed =
        i128::from(c.tcp_alloc) - (i128::from(c.tcp_inuse) + i128::from(c.tcp6_inuse)) + i128::from(c.tcp_tw);
    i64::try_from(closed).unwrap_or(if closed < 0 { i64::MIN } else { i64::MAX })
}

impl SsFigures {
    pub fn from_counters(c: &Counters) -> Self {
        let raw = TransportRow::of(c.raw_inuse, c.raw6_inuse);
        let udp = TransportRow::of(c.udp_inuse, c.udp6_inuse);
        let tcp = TransportRow::of(c.tcp_inuse, c.tcp6_inuse);
        let inet_ip = raw.ip.saturating_add(udp.ip).saturating_add(tcp.ip);
        let inet_ipv6 = raw.ipv6.saturating_add(udp.ipv6).saturating_add(tcp.ipv6);
        SsFigures {
            total: c.sockets_used,
            tcp_total: c.tcp_alloc.saturating_add(c.tcp_tw),
            estab: c.tcp_curr_estab,
            closed: closed(c),
            orphaned: c.tcp_orphan,
            timewait: c.tcp_tw,
            raw,
            udp,
            tcp,
            inet: TransportRow::of(inet_ip, inet_ipv6),
            frag: TransportRow::of(c.frag_inuse, c.frag6_inuse),
        }
    }

    /// The value of one figure (counts beyond `i64` saturate).
    pub fn get(&self, figure: Figure) -> i64 {
        let signed = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let cell = |row: TransportRow, column: Column| {
            signed(match column {
                Column::Total => row.total,
                Column::Ip => row.ip,
                Column::Ipv6 => row.ipv6,
            })
        };
        match figure {
            Figure::Total => signed(self.total),
            Figure::TcpTotal => signed(self.tcp_total),
            Figure::Estab => signed(self.estab),
            Figure::Closed => self.closed,
            Figure::Orphaned => signed(self.orphaned),
            Figure::Timewait => signed(self.timewait),
            Figure::Transport(row, column) => cell(self.row(row), column),
        }
    }

    /// One row of the transport table.
    pub fn row(&self, row: Row) -> TransportRow {
        match row {
            Row::Raw => self.raw,
            Row::Udp => self.udp,
            Row::Tcp => self.tcp,
            Row::Inet => self.inet,
            Row::Frag => self.frag,
        }
    }
}

/// A row of the transport table, in the order ss prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Row {
    Raw,
    Udp,
    Tcp,
    Inet,
    Frag,
}

impl Row {
    pub const ALL: [Row; 5] = [Row::Raw, Row::Udp, Row::Tcp, Row::Inet, Row::Frag];

    /// ss's label of the row (`RAW`, `UDP`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Row::Raw => "RAW",
            Row::Udp => "UDP",
            Row::Tcp => "TCP",
            Row::Inet => "INET",
            Row::Frag => "FRAG",
        }
    }
}

/// A column of the transport table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    Total,
    Ip,
    Ipv6,
}

impl Column {
    pub const ALL: [Column; 3] = [Column::Total, Column::Ip, Column::Ipv6];
}

/// One number `ss -s` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Figure {
    Total,
    TcpTotal,
    Estab,
    Closed,
    Orphaned,
    Timewait,
    Transport(Row, Column),
}

impl Figure {
    /// Every figure, in the order ss prints them.
    pub const ALL: [Figure; 21] = {
        let mut all = [Figure::Total; 21];
        let head = [
            Figure::Total,
            Figure::TcpTotal,
            Figure::Estab,
            Figure::Closed,
            Figure::Orphaned,
            Figure::Timewait,
        ];
        let mut i = 0;
        while i < head.len() {
            all[i] = head[i];
            i += 1;
        }
        let mut r = 0;
        while r < Row::ALL.len() {
            let mut c = 0;
            while c < Column::ALL.len() {
                all[head.len() + r * 3 + c] = Figure::Transport(Row::ALL[r], Column::ALL[c]);
                c += 1;
            }
            r += 1;
        }
        all
    };

    /// The name of the figure in the JSON and in the notes: `total`, `tcp_total`, `estab`,
    /// `closed`, `orphaned`, `timewait`, then `raw.total`, `raw.ip`, `raw.ipv6`, and so on for
    /// `udp`, `tcp`, `inet`, `frag`.
    pub fn name(self) -> &'static str {
        const TRANSPORT: [[&str; 3]; 5] = [
            ["raw.total", "raw.ip", "raw.ipv6"],
            ["udp.total", "udp.ip", "udp.ipv6"],
            ["tcp.total", "tcp.ip", "tcp.ipv6"],
            ["inet.total", "inet.ip", "inet.ipv6"],
            ["frag.total", "frag.ip", "frag.ipv6"],
        ];
        match self {
            Figure::Total => "total",
            Figure::TcpTotal => "tcp_total",
            Figure::Estab => "estab",
            Figure::Closed => "closed",
            Figure::Orphaned => "orphaned",
            Figure::Timewait => "timewait",
            Figure::Transport(row, column) => TRANSPORT[row as usize][column as usize],
        }
    }
}

impl Serialize for Figure {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::sockstat::parse;

    const SNMP_6_18: &str = include_str!("../tests/fixtures/snmp-6.18.txt");
    /// From the article (Ubuntu 20.04, kernel 5.4, iproute2 5.5).
    const SOCKSTAT_5_4: &str = include_str!("../tests/fixtures/sockstat-5.4.txt");
    const SOCKSTAT6_5_4: &str = include_str!("../tests/fixtures/sockstat6-5.4.txt");

    #[test]
    fn every_figure_once_with_its_own_name() {
        let mut names: Vec<&str> = Figure::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(
            names[..6],
            ["total", "tcp_total", "estab", "closed", "orphaned", "timewait"]
        );
        assert_eq!(names[6..9], ["raw.total", "raw.ip", "raw.ipv6"]);
        assert_eq!(names[20], "frag.ipv6");
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 21);
    }

    #[test]
    fn get_reads_each_field() {
        let figures = SsFigures {
            udp: TransportRow {
                total: 7,
                ip: 3,
                ipv6: 4,
            },
            closed: -2,
            ..SsFigures::default()
        };
        assert_eq!(figures.get(Figure::Transport(Row::Udp, Column::Ipv6)), 4);
        assert_eq!(figures.get(Figure::Transport(Row::Udp, Column::Total)), 7);
        assert_eq!(figures.get(Figure::Closed), -2);
    }

    #[test]
    fn article_5_4_counters_give_the_articles_ss_figures() {
        // The article shows no snmp: its `estab 136` is taken as given.
        let counters = Counters {
            tcp_curr_estab: 136,
            ..parse(SOCKSTAT_5_4, Some(SOCKSTAT6_5_4), SNMP_6_18).expect("parses")
        };
        let figures = SsFigures::from_counters(&counters);
        let row = |total, ip, ipv6| TransportRow { total, ip, ipv6 };
        assert_eq!(
            figures,
            SsFigures {
                total: 400,
                tcp_total: 285,
                estab: 136,
                closed: 138,
                orphaned: 1,
                timewait: 38,
                raw: row(1, 0, 1),
                udp: row(6, 4, 2),
                tcp: row(147, 143, 4),
                inet: row(154, 147, 7),
                frag: row(0, 0, 0),
            }
        );
    }

    #[test]
    fn missing_sockstat6_means_zero_ipv6() {
        let counters = parse(SOCKSTAT_5_4, None, SNMP_6_18).expect("parses");
        assert!(!counters.has_sockstat6);
        let figures = SsFigures::from_counters(&counters);
        for row in Row::ALL {
            let cells = figures.row(row);
            assert_eq!(cells.ipv6, 0, "{row:?}");
            assert_eq!(cells.total, cells.ip, "{row:?}");
        }
        // closed = 247 - (143 + 0 - 38)
        assert_eq!(figures.closed, 142);
    }

    #[test]
    fn closed_can_be_negative() {
        let counters = Counters {
            tcp_alloc: 1,
            tcp_inuse: 5,
            tcp6_inuse: 2,
            tcp_tw: 3,
            ..Counters::default()
        };
        assert_eq!(SsFigures::from_counters(&counters).closed, -3);
    }
}
