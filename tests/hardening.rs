//! Hostile input, end to end: names other users' processes chose, files that are not what
//! they claim, a closed stdout. Each test builds what it needs in a private network namespace
//! and checks what reaches the person reading, byte for byte.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Command, Output, Stdio};

use serde::Deserialize;

const SOCKDIAG: &str = env!("CARGO_BIN_EXE_sockdiag");
/// Debian's python3, which any uid can run (a pyenv under /root is closed to uid 65534).
const PYTHON: &str = "/usr/bin/python3";

/// The issue's hostile command name: a colour escape, a line break, a tab (12 bytes: comm
/// holds 15).
const HOSTILE_COMM: &[u8] = b"ev\x1b[31mil\nx\t";
/// The issue's hostile abstract name (after its leading NUL): a screen clear, a line break.
const HOSTILE_ABSTRACT: &[u8] = b"bad\x1b[2Jname\nline";

/// A child that names itself [`HOSTILE_COMM`], binds a unix socket to the abstract name
/// [`HOSTILE_ABSTRACT`], holds a never-bound TCP socket, says `ready` and waits. Run as
/// `user` (a `setpriv` uid) when given. Killed on drop.
struct Hostile(Child);

impl Hostile {
    fn start(uid: Option<u32>) -> Hostile {
        let script = r#"
import socket, sys
open('/proc/self/comm', 'wb').write(b'ev\x1b[31mil\nx\t')
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
u.bind(b'\0bad\x1b[2Jname\nline')
u.listen()
t = socket.socket()
print('ready', flush=True)
sys.stdin.read()
"#;
        let mut command = match uid {
            Some(uid) => {
                let mut c = Command::new("setpriv");
                c.args([
                    &format!("--reuid={uid}"),
                    &format!("--regid={uid}"),
                    "--clear-groups",
                    PYTHON,
                    "-c",
                    script,
                ]);
                c
            }
            None => {
                let mut c = Command::new(PYTHON);
                c.args(["-c", script]);
                c
            }
        };
        let (child, line) = common::spawn_ready(&mut command);
        assert_eq!(line, "ready\n", "the hostile child did not start");
        Hostile(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(args: &[&OsStr]) -> Output {
    Command::new(SOCKDIAG).args(args).output().expect("run sockdiag")
}

/// One error line on stderr, status 2, nothing on stdout; returns the line's bytes.
fn one_error_line(out: &Output) -> Vec<u8> {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let lines: Vec<&[u8]> = out
        .stderr
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{:?}", String::from_utf8_lossy(&out.stderr));
    assert!(lines[0].starts_with(b"sockdiag: "));
    lines[0].to_vec()
}

/// No escape byte, no carriage return, no other C0 control but the line ends and the tabs
/// of ss's own block layout (a hostile tab is checked in its escaped form).
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    let bad: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f)
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: raw control bytes {bad:x?} in\n{}",
        String::from_utf8_lossy(bytes)
    );
}

#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn hostile_names_reach_no_terminal_raw() {
    if !common::private_netns("hostile_names_reach_no_terminal_raw") {
        return;
    }
    let hostile = Hostile::start(Some(65534));
    let owner = format!("ev\\x1b[31mil\\nx\\t[{}] fd ", hostile.pid());

    // summary: the never-bound socket's owner, in both tables.
    let out = run(&["summary".as_ref()]);
    assert!(out.status.success());
    assert_terminal_safe("summary", &out.stdout);
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert!(text.contains(&owner), "{owner} not in\n{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().nth(1) == Some("ev\\x1b[31mil\\nx\\t")),
        "by-process row:\n{text}"
    );

    // list -xap: the abstract name and the owner, escaped, on one row.
    let out = run(&["list".as_ref(), "-xap".as_ref()]);
    assert!(out.status.success());
    assert_terminal_safe("list -xap", &out.stdout);
    let text = String::from_utf8(out.stdout).expect("utf8");
    let row = text
        .lines()
        .find(|l| l.contains("@bad\\x1b[2Jname\\nline"))
        .unwrap_or_else(|| panic!("no row for the abstract name in\n{text}"));
    assert!(
        row.contains(&format!(
            "users:((\"ev\\x1b[31mil\\nx\\t\",pid={},fd=",
            hostile.pid()
        )),
        "{row}"
    );

    // JSON stays exact: the decoded strings are the original bytes.
    #[derive(Deserialize)]
    struct Row {
        local: String,
        uid: u32,
        owners: Vec<Owner>,
    }
    #[derive(Deserialize)]
    struct Owner {
        comm: String,
    }
    let out = run(&["list".as_ref(), "-xlp".as_ref(), "--json".as_ref()]);
    assert!(out.status.success());
    let rows: Vec<Row> = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json row"))
        .collect();
    let row = rows
        .iter()
        .find(|r| r.local.as_bytes().get(1..) == Some(HOSTILE_ABSTRACT))
        .expect("the hostile listener in JSON");
    assert_eq!(row.local.as_bytes()[0], b'@');
    assert_eq!(row.owners[0].comm.as_bytes(), HOSTILE_COMM);
    // UDIAG_SHOW_UID: the kernel's own answer, not 0 (the request once sent the wrong bit).
    assert_eq!(row.uid, 65534, "uid of a socket bound by uid 65534");
}

#[test]
fn saved_ss_that_is_not_a_file_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A FIFO with no writer: opening it for reading would block forever.
    let fifo = dir.path().join("fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    for (path, kind) in [
        (fifo.as_os_str(), "a fifo"),
        (OsStr::new("/dev/zero"), "a character device"),
        (dir.path().as_os_str(), "a directory"),
    ] {
        let out = Command::new("timeout")
            .args([
                "5".as_ref(),
                SOCKDIAG.as_ref(),
                "summary".as_ref(),
                "--ss".as_ref(),
                path,
            ])
            .output()
            .expect("run");
        let line = String::from_utf8(one_error_line(&out)).expect("utf8");
        assert!(line.contains(&format!("not a regular file ({kind})")), "{line}");
    }

    // Past 1 MiB, from a file and from stdin: refused, nothing read beyond.
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'x'; 2 << 20]).expect("write");
    let out = run(&["summary".as_ref(), "--ss".as_ref(), big.as_os_str()]);
    let line = String::from_utf8(one_error_line(&out)).expect("utf8");
    assert!(line.contains("larger than 1024 KiB"), "{line}");
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("head -c 3000000 /dev/zero | {SOCKDIAG} summary --ss -"),
        ])
        .output()
        .expect("run");
    let line = String::from_utf8(one_error_line(&out)).expect("utf8");
    assert!(line.contains("larger than 1024 KiB"), "{line}");
}

#[test]
fn control_bytes_in_errors_are_escaped() {
    // A name with an escape sequence and a line break: one line, escaped.
    let out = run(&[
        "list".as_ref(),
        "--netns".as_ref(),
        OsStr::from_bytes(b"bad\x1b[2Jname\nx"),
    ]);
    let line = one_error_line(&out);
    assert_terminal_safe("--netns error", &line);
    assert!(
        String::from_utf8_lossy(&line).contains("bad\\x1b[2Jname\\nx"),
        "{}",
        String::from_utf8_lossy(&line)
    );

    // File content quoted in an error.
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = dir.path().join("e");
    std::fs::write(&saved, b"Total: 5\x1b[2J\n").expect("write");
    let out = run(&["summary".as_ref(), "--ss".as_ref(), saved.as_os_str()]);
    let line = one_error_line(&out);
    assert_terminal_safe("--ss error", &line);
    assert!(
        String::from_utf8_lossy(&line).contains("5\\x1b[2J"),
        "{}",
        String::from_utf8_lossy(&line)
    );

    // And a --proc-root whose name is hostile.
    let out = run(&[
        "summary".as_ref(),
        "--proc-root".as_ref(),
        OsStr::from_bytes(b"/nonexistent/\x1b]0;title\x07"),
    ]);
    assert_terminal_safe("--proc-root error", &one_error_line(&out));
}

#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn closed_stdout_is_an_error_but_dev_null_is_not() {
    if !common::private_netns("closed_stdout_is_an_error_but_dev_null_is_not") {
        return;
    }
    let out = Command::new("sh")
        .args(["-c", &format!("exec {SOCKDIAG} list -tan >&-")])
        .output()
        .expect("run");
    let line = String::from_utf8(one_error_line(&out)).expect("utf8");
    assert!(line.contains("standard output is closed"), "{line}");

    let status = Command::new(SOCKDIAG)
        .args(["list", "-tan"])
        .stdout(Stdio::null())
        .status()
        .expect("run");
    assert!(status.success(), "> /dev/null is a place to write");
    // Opened read-write, as Python's subprocess.DEVNULL does: still a place to write.
    let status = Command::new("sh")
        .args(["-c", &format!("exec {SOCKDIAG} list -tan 1<>/dev/null")])
        .status()
        .expect("run");
    assert!(status.success(), "1<> /dev/null is a place to write too");
}

/// `--help` and `--version` are output like any other: a closed stdout or a full device is
/// an error (exit 2, one line), not a silent success.
#[test]
fn help_and_version_fail_like_any_output() {
    for flag in ["--help", "--version"] {
        for (redirect, says) in [
            (">&-", "standard output is closed"),
            (">/dev/full", "No space left on device"),
        ] {
            let out = Command::new("sh")
                .args(["-c", &format!("exec {SOCKDIAG} {flag} {redirect}")])
                .output()
                .expect("run");
            let line = String::from_utf8(one_error_line(&out)).expect("utf8");
            assert!(line.contains(says), "{flag} {redirect}: {line}");
        }
        let out = Command::new(SOCKDIAG).arg(flag).output().expect("run");
        assert!(out.status.success() && !out.stdout.is_empty(), "{flag}");
    }
}

/// With every ephemeral port taken, the probe for bound-inactive support cannot bind: the
/// dumps go on without it (ports run out exactly when an operator looks).
#[test]
fn exhausted_ports_leave_the_census_working() {
    if !common::private_netns("exhausted_ports_leave_the_census_working") {
        return;
    }
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "40000 40001").expect("port range");
    let held: Vec<_> = ["0.0.0.0:40000", "0.0.0.0:40001"]
        .into_iter()
        .map(common::tcp_bound)
        .collect();
    for args in [
        &["list", "-ta"][..],
        &["summary"],
        &["list", "-tan", "sport", "=", ":40000"],
    ] {
        let out = common::sockdiag(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(held);
}

/// A filter that the probe socket would pass: the probe is not listed.
#[test]
fn a_filtered_listing_shows_no_probe() {
    if !common::private_netns("a_filtered_listing_shows_no_probe") {
        return;
    }
    let text = common::sockdiag_ok(&["list", "-tan", "-H", "sport", ">", ":5000"]);
    assert_eq!(text, "", "nothing of ours listens or is bound here");
}

/// Out of file descriptors is our failure, not the processes': one error line, status 2,
/// instead of every process counted as denied.
#[test]
fn out_of_descriptors_is_an_error() {
    let out = Command::new("sh")
        .args(["-c", &format!("ulimit -n 6; exec {SOCKDIAG} summary")])
        .output()
        .expect("run");
    let line = String::from_utf8(one_error_line(&out)).expect("utf8");
    assert!(line.contains("Too many open files"), "{line}");
}
