//! `collect::sockstat::parse` on arbitrary text. The input is split at 0xff bytes (never part
//! of UTF-8): `SOCKSTAT 0xff SNMP` reads sockstat6 as absent, `SOCKSTAT 0xff SOCKSTAT6 0xff
//! SNMP` as present; each part is read as lossy UTF-8.
//!
//! Beyond not panicking: counters that parse give `ss -s` figures that render and read back
//! through `saved_ss` with every one of the 21 figures equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockdiag::collect::sockstat;
use sockdiag::figures::SsFigures;
use sockdiag::render::ss::ss_block;
use sockdiag::saved_ss;

fuzz_target!(|data: &[u8]| {
    let parts: Vec<String> = data
        .split(|&b| b == 0xff)
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    let (sockstat, sockstat6, snmp) = match &parts[..] {
        [sockstat, snmp] => (sockstat, None, snmp),
        [sockstat, sockstat6, snmp, ..] => (sockstat, Some(sockstat6.as_str()), snmp),
        _ => return,
    };
    let Ok(counters) = sockstat::parse(sockstat, sockstat6, snmp) else {
        return;
    };
    assert_eq!(counters.has_sockstat6, sockstat6.is_some());
    let figures = SsFigures::from_counters(&counters);
    let saved = saved_ss::parse(&ss_block(&figures)).expect("a rendered block reads back");
    let comparisons = saved_ss::compare(&saved, &figures);
    assert_eq!(comparisons.len(), 21);
    assert!(comparisons.iter().all(|c| c.diff == 0), "{comparisons:?}");
});
