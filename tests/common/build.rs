//! Whether the integration tests that need root will run: `cfg(root_tests)` is set when
//! cargo runs as root (euid 0) or in CI (`CI` set; CI runs as root). Those tests carry
//! `#[cfg_attr(not(root_tests), ignore = "needs root ...")]`, so without root plain
//! `cargo test` reports them as ignored, never as passed; with root they run. A test asked
//! for anyway (`-- --include-ignored`) without root fails, saying why (tests/common/mod.rs).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(root_tests)");
    // Re-run when the user may have changed (sudo sets these) or CI is set.
    for var in ["CI", "USER", "SUDO_UID", "HOME"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=tests/common/build.rs");
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .map(|uids| uids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if root || std::env::var_os("CI").is_some() {
        println!("cargo::rustc-cfg=root_tests");
    }
}
