//! Least privilege, measured: one population built by root, summarised as root, as uid 65534
//! without capabilities, and as uid 65534 with the documented ambient capabilities
//! (`CAP_DAC_READ_SEARCH`, `CAP_SYS_PTRACE`, `CAP_NET_ADMIN`, `CAP_SYS_ADMIN`, through
//! `setpriv`). The last must equal the root run term for term and owner for owner; the second
//! must say what it could not see.
//!
//! The population, every part needing one of the capabilities:
//! - in the test's private namespace: a listener, an established pair, a socket bound and
//!   never used (dumped to anyone), two sockets never bound (found only through `/proc/PID/fd`
//!   of this root process, and placed only by `pidfd_getfd` + `SIOCGSKNS`: this process's own
//!   `/proc/PID/ns/net` is the host's, not the test thread's);
//! - a namespace named with `ip netns add` (entered with `setns`), holding a listener and a
//!   socket never bound that this process holds (placed only by `SIOCGSKNS`);
//! - a namespace that only a `sleep` in it reveals (`/proc/PID/ns/net`);
//! - a namespace that no process is in and no file names: only a socket held here reveals it.
//!
//! Only the test's own namespaces are compared: the rest of the machine moves meanwhile.

mod common;

use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The capabilities the README and the man page document for a run without root.
const DOCUMENTED: &str = "+dac_read_search,+sys_ptrace,+net_admin,+sys_admin";

#[test]
fn documented_capabilities_see_what_root_sees() {
    if !common::private_netns("documented_capabilities_see_what_root_sees") {
        return;
    }
    let population = Population::new();

    let root = summary(&[]);
    let none = summary(&["--inh-caps=-all"]);
    let inh = format!("--inh-caps={DOCUMENTED}");
    let amb = format!("--ambient-caps={DOCUMENTED}");
    let capable = summary(&[&inh, &amb]);

    // Root sees the whole population.
    let seen = population.view(&root);
    let terms = if root["closed"]["bound_inactive"].is_null() {
        serde_json::json!([0, null, 3]) // Linux < 6.8: the bound socket is found as unbound
    } else {
        serde_json::json!([0, 1, 2])
    };
    assert_eq!(seen["terms"], terms, "{seen:#}");
    assert!(
        seen["close_sockets"].as_array().is_some_and(|rows| rows
            .iter()
            .all(|row| row[3].as_array().is_some_and(|o| !o.is_empty()))),
        "every TCP_CLOSE socket has its owner: {seen:#}"
    );
    assert_eq!(seen["named"], serde_json::json!([population.named.name, 2]));
    assert_eq!(seen["process_only"][1], 0, "entered, empty: {seen:#}");
    assert_eq!(seen["socket_only"][1], 1, "{seen:#}");
    assert_eq!(root["privileges"]["missing"], serde_json::json!([]));

    // The documented capabilities: the same picture, owner for owner.
    assert_eq!(population.view(&capable), seen, "with {DOCUMENTED}");
    assert_eq!(capable["privileges"]["uid"], 65534);
    assert_eq!(capable["privileges"]["missing"], serde_json::json!([]));
    assert_eq!(
        capable["privileges"]["capabilities"],
        serde_json::json!([
            "CAP_DAC_READ_SEARCH",
            "CAP_SYS_PTRACE",
            "CAP_NET_ADMIN",
            "CAP_SYS_ADMIN"
        ])
    );

    // No capability: the dump still shows the bound socket, nothing else of the population;
    // each missing capability is named with what it hides.
    let blind = population.view(&none);
    assert_eq!(blind["terms"][2], 0, "{blind:#}");
    assert_eq!(blind["named"], serde_json::json!([population.named.name, null]));
    assert_eq!(blind["process_only"], Value::Null, "{blind:#}");
    assert_eq!(blind["socket_only"], Value::Null, "{blind:#}");
    let missing: Vec<(&str, &str)> = none["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == "missing_capability")
        .map(|f| {
            (
                f["capability"].as_str().expect("name"),
                f["hides"].as_str().expect("hides"),
            )
        })
        .collect();
    assert_eq!(
        missing,
        [
            ("CAP_DAC_READ_SEARCH", "other_users_fd_tables"),
            ("CAP_SYS_PTRACE", "other_users_fd_links"),
            ("CAP_NET_ADMIN", "socket_namespaces"),
            ("CAP_SYS_ADMIN", "other_namespaces"),
        ]
    );
    let notes = none["notes"].as_array().expect("notes");
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .is_some_and(|n| n.starts_with("without CAP_SYS_ADMIN, "))),
        "{notes:?}"
    );
    assert!(none["processes"]["denied"].as_u64().is_some_and(|d| d > 0));
}

/// `sockdiag summary --json` in the test thread's namespace, as root (no `setpriv` flags) or
/// as uid 65534 with those flags.
fn summary(caps: &[&str]) -> Value {
    let bin = env!("CARGO_BIN_EXE_sockdiag");
    let out = if caps.is_empty() {
        common::sockdiag(&["summary", "--json"])
    } else {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(caps)
            .args([bin, "summary", "--json"])
            .output()
            .expect("run setpriv (util-linux)")
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{caps:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// The sockets and namespaces of the test, kept open until it ends.
struct Population {
    _sockets: Vec<OwnedFd>,
    _listener: TcpListener,
    _pair: (std::net::TcpStream, std::net::TcpStream),
    named: NamedNetns,
    named_netns: u64,
    _sleeper: Sleeper,
    sleeper_netns: u64,
    socket_only_netns: u64,
}

impl Population {
    fn new() -> Population {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let pair = common::connected_pair(&listener);
        let mut sockets = vec![
            common::tcp_bound("127.0.0.1:0"),
            common::tcp_socket(false),
            common::tcp_socket(true),
        ];

        let named = NamedNetns::new();
        let (named_netns, in_named) = named.within(|| {
            let listener = TcpListener::bind("0.0.0.0:0").expect("listen in the named netns");
            (
                common::current_netns(),
                vec![OwnedFd::from(listener), common::tcp_socket(false)],
            )
        });
        sockets.extend(in_named);

        let sleeper = Sleeper::new();
        let sleeper_netns = std::fs::metadata(format!("/proc/{}/ns/net", sleeper.0.id()))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .expect("sleeper's netns");

        let (socket_only_netns, hidden) = std::thread::spawn(|| {
            common::enter_private_netns(); // only this short-lived thread moves
            (common::current_netns(), common::tcp_socket(false))
        })
        .join()
        .expect("socket-only netns thread");
        sockets.push(hidden);

        Population {
            _sockets: sockets,
            _listener: listener,
            _pair: pair,
            named,
            named_netns,
            _sleeper: sleeper,
            sleeper_netns,
            socket_only_netns,
        }
    }

    /// What a report says of this population: the terms of the test's namespace, its
    /// TCP_CLOSE sockets with their owners, and the other namespaces of the test as
    /// `[name, tcp]` (null when absent).
    fn view(&self, report: &Value) -> Value {
        let closed = &report["closed"];
        let mut close_sockets: Vec<Value> = report["close_sockets"]
            .as_array()
            .expect("close_sockets")
            .iter()
            .map(|c| {
                let mut owners: Vec<Value> = c["owners"].as_array().expect("owners").clone();
                owners.sort_by_key(|o| (o["pid"].as_u64(), o["fd"].as_u64()));
                serde_json::json!([c["inode"], c["kind"], c["local"], owners])
            })
            .collect();
        close_sockets.sort_by_key(|c| c[0].as_u64());
        let netns = |inode: u64| {
            report["other_netns"]
                .as_array()
                .expect("other_netns")
                .iter()
                .find(|o| o["netns"] == inode)
                .map_or(Value::Null, |o| serde_json::json!([o["name"], o["tcp"]]))
        };
        serde_json::json!({
            "terms": [closed["time_wait"], closed["bound_inactive"], closed["unbound"]],
            "ss": [report["ss"]["estab"], report["ss"]["timewait"], report["ss"]["tcp"]],
            "close_sockets": close_sockets,
            "named": netns(self.named_netns),
            "process_only": netns(self.sleeper_netns),
            "socket_only": netns(self.socket_only_netns),
        })
    }
}

/// A namespace made with `ip netns add`, deleted on drop.
struct NamedNetns {
    name: String,
}

impl NamedNetns {
    fn new() -> NamedNetns {
        let name = format!("sockdiag-privileges-{}", std::process::id());
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip");
        assert!(status.success(), "ip netns add {name}");
        NamedNetns { name }
    }

    /// Runs `work` on a thread inside the namespace.
    fn within<R: Send + 'static>(&self, work: impl FnOnce() -> R + Send + 'static) -> R {
        let file = std::fs::File::open(format!("/run/netns/{}", self.name)).expect("open named netns");
        std::thread::spawn(move || {
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns");
            work()
        })
        .join()
        .expect("named netns thread")
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// A `sleep` in a namespace of its own, which only its `/proc/PID/ns/net` reveals.
struct Sleeper(Child);

impl Sleeper {
    fn new() -> Sleeper {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn unshare -n sleep");
        // Wait until `unshare` has moved and exec'd: its namespace differs from ours.
        let ours = common::current_netns();
        for _ in 0..100 {
            let theirs = std::fs::metadata(format!("/proc/{}/ns/net", child.id()))
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.id())).unwrap_or_default();
            if theirs.is_ok_and(|ns| ns != ours) && comm.trim() == "sleep" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Sleeper(child)
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
