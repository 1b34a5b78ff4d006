//! Shared support of the integration tests: a private network namespace per test, sockets
//! with known inodes, and the sockdiag binary run inside that namespace.
//!
//! Every `#[test]` runs on its own thread, and `unshare(CLONE_NEWNET)` moves only the calling
//! thread: sockets it creates live in the test's namespace, and the commands it spawns (which
//! inherit the thread's namespaces) run there too. Nothing touches the root namespace.
#![allow(dead_code, unsafe_code)] // each test binary uses a different part of this module

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Command, Output};

use rustix::net::{AddressFamily, SocketFlags, SocketType, ipproto};

/// Whether the test can run: root is needed for `unshare(CLONE_NEWNET)`. A test that needs
/// it carries `#[cfg_attr(not(root_tests), ignore = "needs root ...")]`: tests/common/build.rs sets
/// `root_tests` when cargo runs as root or in CI, so without root such a test is reported
/// ignored, never passed. Run anyway without root (`--include-ignored`, or `CI` set), it
/// fails here, saying why. Always `true` when it returns.
pub fn require_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    panic!(
        "{test}: needs root (unshare(CLONE_NEWNET), other users' /proc): run `cargo test` as root; without root it is reported ignored"
    );
}

/// The start of most tests: a private network namespace for the calling test thread (root
/// needed, see [`require_root`]). Always `true` when it returns.
pub fn private_netns(test: &str) -> bool {
    if !require_root(test) {
        return false;
    }
    enter_private_netns();
    true
}

/// Moves the calling test thread into a new network namespace with `lo` up.
pub fn enter_private_netns() {
    // SAFETY: CLONE_NEWNET only changes this thread's network namespace; no fd table or
    // filesystem state is unshared.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
        .expect("unshare(CLONE_NEWNET)");
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("run ip");
    assert!(status.success(), "ip link set lo up");
}

/// Whether the running kernel dumps bound-but-inactive TCP sockets (Linux >= 6.8, read from
/// `uname -r`). Before, sockdiag says so: `list` warns, `summary` reports `bound_inactive` as
/// null and finds those sockets through the fd scan, as `unbound` without an address.
pub fn dumps_bound_inactive() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let major = numbers.next().unwrap_or(0);
    let minor = numbers.next().unwrap_or(0);
    (major, minor) >= (6, 8)
}

/// Inode of the calling thread's network namespace.
pub fn current_netns() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .expect("ns")
}

/// The inode of a socket, as `fstat` gives it (modulo 2^32, as sock_diag reports it).
pub fn inode(fd: &impl AsFd) -> u32 {
    rustix::fs::fstat(fd).expect("fstat").st_ino as u32
}

pub fn raw_fd(fd: &impl AsRawFd) -> u32 {
    fd.as_raw_fd() as u32
}

/// A TCP socket created with `socket()` and nothing else.
pub fn tcp_socket(v6: bool) -> OwnedFd {
    stream_socket(v6, ipproto::TCP).expect("socket")
}

/// A stream socket of `protocol` (TCP, MPTCP), IPv4 or IPv6, created with `socket()` only,
/// close-on-exec as std's: the commands a test spawns must not hold its sockets.
pub fn stream_socket(v6: bool, protocol: rustix::net::Protocol) -> Result<OwnedFd, rustix::io::Errno> {
    let family = if v6 {
        AddressFamily::INET6
    } else {
        AddressFamily::INET
    };
    rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, Some(protocol))
}

/// A TCP socket bound to `addr` (port 0: autobound) and never used further.
pub fn tcp_bound(addr: &str) -> OwnedFd {
    let addr: SocketAddr = addr.parse().expect("addr");
    let fd = tcp_socket(addr.is_ipv6());
    rustix::net::bind(&fd, &addr).expect("bind");
    fd
}

/// A connection to a port nobody listens on: the RST puts the socket in TCP_CLOSE.
pub fn refused_connect(fd: &OwnedFd, to: &str) {
    let to: SocketAddr = to.parse().expect("addr");
    let err = rustix::net::connect(fd, &to).expect_err("nobody listens there");
    assert_eq!(err, rustix::io::Errno::CONNREFUSED);
}

/// A connected pair through `listener`: (client, accepted server side).
pub fn connected_pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

/// Leaves a TIME_WAIT minisock (substate TIME_WAIT) on the client side of a fresh pair;
/// returns the client's address. The client closes first, then the server: the client's
/// orphan goes FIN_WAIT2 -> TIME_WAIT when the server's FIN arrives, and the server, in
/// LAST_ACK, is gone once the client acks. Each step is waited for with `ss`, not a sleep
/// (a slow machine, a VM under emulation, takes longer than any fixed time): the server
/// closes only once it has the client's FIN (else both would close at once and both end
/// in TIME_WAIT), and it returns only once the server side is gone.
pub fn make_time_wait(listener: &TcpListener) -> SocketAddr {
    let (client, server) = connected_pair(listener);
    let local = client.local_addr().expect("addr");
    let server_side = format!("dst {local}");
    drop(client);
    poll_ss(&["-tanH", "state", "close-wait", &server_side], |out| {
        !out.is_empty()
    });
    drop(server);
    poll_ss(&["-tanH", &server_side], str::is_empty);
    let client_side = format!("src {local}");
    poll_ss(&["-tanH", "state", "time-wait", &client_side], |out| {
        !out.is_empty()
    });
    local
}

/// Leaves a FIN_WAIT2 timewait minisock on the client side; returns the server side, which
/// stays in CLOSE_WAIT as long as it is held, and the client's address.
///
/// Closing the client sends its FIN; the peer's ACK turns the orphan into a minisock, unless
/// the kernel handles that ACK while the socket is owned: `tcp_rcv_state_process` then keeps a
/// full orphan with a FIN_WAIT2 timer (its "bad case"), which it is for the next 60 s. `ss -o`
/// tells the two apart (`timer:(timewait` against `timer:(keepalive`); a full orphan is reset
/// and another pair made, so what the tests expect is what the namespace holds.
pub fn make_fin_wait2(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    const TRIES: usize = 10;
    for _ in 0..TRIES {
        let (client, server) = connected_pair(listener);
        let local = client.local_addr().expect("addr");
        drop(client);
        let filter = format!("src {local}");
        let row = poll_ss(&["-tanoH", "state", "fin-wait-2", &filter], |out| !out.is_empty());
        if row.contains("timer:(timewait,") {
            return (server, local);
        }
        // A full orphan: a zero linger makes close() send a RST, which ends it.
        rustix::net::sockopt::set_socket_linger(&server, Some(std::time::Duration::ZERO)).expect("SO_LINGER");
        drop(server);
        poll_ss(&["-tanH", &filter], str::is_empty);
    }
    panic!("no FIN_WAIT2 minisock in {TRIES} tries: the kernel kept full orphans");
}

/// Runs `ss ARGS` every 10 ms until `done` accepts its output, trimmed (5 s at most);
/// returns it. How the tests wait for a TCP exchange over lo, whatever the machine's speed.
pub fn poll_ss(args: &[&str], done: impl Fn(&str) -> bool) -> String {
    for _ in 0..500 {
        let out = ss(args);
        if done(out.trim()) {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("ss {args:?}: still not settled after 5 s");
}

/// Runs the sockdiag binary (in the calling thread's namespace).
pub fn sockdiag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sockdiag"))
        .args(args)
        .output()
        .expect("run sockdiag")
}

/// Runs sockdiag and expects success; returns stdout.
pub fn sockdiag_ok(args: &[&str]) -> String {
    let out = sockdiag(args);
    assert!(
        out.status.success(),
        "sockdiag {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Runs `ss` (in the calling thread's namespace) and returns stdout.
pub fn ss(args: &[&str]) -> String {
    let out = Command::new("ss")
        .args(args)
        .output()
        .expect("run ss (apt-get install iproute2)");
    assert!(
        out.status.success(),
        "ss {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Starts `command` with its stdin and stdout piped and waits for the first line it prints:
/// the helper processes of the tests say `ready` (or their facts) once their sockets exist.
pub fn spawn_ready(command: &mut Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("the first line");
    (child, line)
}
