//! The cgroup reader: `collect::cgroup::parse_proc_cgroup` on arbitrary bytes, then
//! `classify` of the path it chose (and of the raw input too, which reaches `classify` with
//! any bytes) and `label`. Beyond not panicking: a chosen path is absolute and without NUL, a
//! unit is one component of the path, and a label is non-empty printable ASCII unless it
//! names an LXC container (whose name is any UTF-8, as the module docs say).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockdiag::collect::cgroup::{Runtime, classify, parse_proc_cgroup};

fn check(path: &[u8]) {
    let classified = classify(path);
    if let Some(unit) = classified.unit {
        assert!(
            path.split(|&b| b == b'/').any(|c| c == unit.as_bytes()),
            "{unit:?} is no component of {path:?}"
        );
    }
    if let Some(label) = classified.label() {
        // The module docs: printable ASCII, but for an LXC name (any UTF-8, escaped when shown).
        let lxc = [&classified.container, &classified.monitor]
            .into_iter()
            .flatten()
            .any(|c| c.runtime == Runtime::Lxc);
        assert!(!label.is_empty(), "empty label of {path:?}");
        assert!(
            lxc || label.bytes().all(|b| (b' '..=b'~').contains(&b)),
            "{label:?} of {path:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(path) = parse_proc_cgroup(data) {
        assert_eq!(path.first(), Some(&b'/'), "{path:?}");
        assert!(!path.contains(&0), "{path:?}");
        check(&path);
    }
    check(data);
});
