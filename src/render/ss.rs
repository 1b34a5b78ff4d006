//! The block `ss -s` prints, byte for byte, from our recomputed figures.

use crate::figures::{Row, SsFigures};

/// What `ss -s` of iproute2 4.17 to 7.1 prints for these figures, final blank line included
/// (`%-9d` columns, a tab after each row label).
pub fn ss_block(f: &SsFigures) -> String {
    let mut text = format!(
        "Total: {}\nTCP:   {} (estab {}, closed {}, orphaned {}, timewait {})\n\n\
         Transport Total     IP        IPv6\n",
        f.total, f.tcp_total, f.estab, f.closed, f.orphaned, f.timewait
    );
    for row in Row::ALL {
        let cells = f.row(row);
        text.push_str(&format!(
            "{}\t  {:<9} {:<9} {:<9}\n",
            row.label(),
            cells.total,
            cells.ip,
            cells.ipv6
        ));
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::sockstat::{Counters, parse};

    const SOCKSTAT_6_18: &str = include_str!("../../tests/fixtures/sockstat-6.18.txt");
    const SOCKSTAT6_6_18: &str = include_str!("../../tests/fixtures/sockstat6-6.18.txt");
    const SNMP_6_18: &str = include_str!("../../tests/fixtures/snmp-6.18.txt");
    const SS_S_6_1_ROOT_NETNS: &str = include_str!("../../tests/fixtures/ss-s-6.1-root-netns.txt");
    const SOCKSTAT_6_18_NEW_NETNS: &str = include_str!("../../tests/fixtures/sockstat-6.18-new-netns.txt");
    const SOCKSTAT6_6_18_NEW_NETNS: &str = include_str!("../../tests/fixtures/sockstat6-6.18-new-netns.txt");
    const SNMP_6_18_NEW_NETNS: &str = include_str!("../../tests/fixtures/snmp-6.18-new-netns.txt");
    const SS_S_6_1_NEW_NETNS: &str = include_str!("../../tests/fixtures/ss-s-6.1.txt");
    const SOCKSTAT_6_18_POPULATED: &str =
        include_str!("../../tests/fixtures/sockstat-6.18-populated-netns.txt");
    const SOCKSTAT6_6_18_POPULATED: &str =
        include_str!("../../tests/fixtures/sockstat6-6.18-populated-netns.txt");
    const SNMP_6_18_POPULATED: &str = include_str!("../../tests/fixtures/snmp-6.18-populated-netns.txt");
    const SS_S_6_1_POPULATED: &str = include_str!("../../tests/fixtures/ss-s-6.1-populated-netns.txt");

    #[test]
    fn render_matches_real_ss_6_1_output() {
        let goldens = [
            (
                SOCKSTAT_6_18_POPULATED,
                SOCKSTAT6_6_18_POPULATED,
                SNMP_6_18_POPULATED,
                SS_S_6_1_POPULATED,
            ),
            (
                SOCKSTAT_6_18_NEW_NETNS,
                SOCKSTAT6_6_18_NEW_NETNS,
                SNMP_6_18_NEW_NETNS,
                SS_S_6_1_NEW_NETNS,
            ),
            (SOCKSTAT_6_18, SOCKSTAT6_6_18, SNMP_6_18, SS_S_6_1_ROOT_NETNS),
        ];
        for (sockstat, sockstat6, snmp, ss_output) in goldens {
            let counters = parse(sockstat, Some(sockstat6), snmp).expect("parses");
            assert_eq!(ss_block(&SsFigures::from_counters(&counters)), ss_output);
        }
    }

    #[test]
    fn render_pads_like_printf() {
        let figures = SsFigures::from_counters(&Counters {
            tcp_inuse: 1_234_567_890,
            tcp_alloc: 1,
            ..Counters::default()
        });
        let rendered = ss_block(&figures);
        assert!(rendered.contains("closed -1234567889,"), "{rendered}");
        assert!(
            rendered.contains("TCP\t  1234567890 1234567890 0        \n"),
            "{rendered}"
        );
    }

    /// One capture of the VM kernels (tests/vm/record-fixtures): the three counter files and
    /// what ss 6.1 printed from them, read in one consistent snapshot.
    macro_rules! capture {
        ($kernel:literal, $suffix:literal) => {
            (
                concat!($kernel, $suffix),
                include_str!(concat!(
                    "../../tests/fixtures/sockstat-",
                    $kernel,
                    $suffix,
                    ".txt"
                )),
                include_str!(concat!(
                    "../../tests/fixtures/sockstat6-",
                    $kernel,
                    $suffix,
                    ".txt"
                )),
                include_str!(concat!(
                    "../../tests/fixtures/snmp-",
                    $kernel,
                    $suffix,
                    ".txt"
                )),
                include_str!(concat!(
                    "../../tests/fixtures/ss-s-6.1-kernel-",
                    $kernel,
                    $suffix,
                    ".txt"
                )),
            )
        };
    }

    #[test]
    fn render_matches_ss_on_the_kernels_tested() {
        for (name, sockstat, sockstat6, snmp, ss_output) in [
            capture!("6.1", ""),
            capture!("6.1", "-new-netns"),
            capture!("6.1", "-populated-netns"),
            capture!("6.12", ""),
            capture!("6.12", "-new-netns"),
            capture!("6.12", "-populated-netns"),
        ] {
            let counters = parse(sockstat, Some(sockstat6), snmp).expect(name);
            assert_eq!(
                ss_block(&SsFigures::from_counters(&counters)),
                ss_output,
                "{name}"
            );
        }
    }
}
