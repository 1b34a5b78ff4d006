//! `summary --all-netns` and the view from inside a container, against namespaces with known
//! populations: one named with `ip netns add` and held only by its bind mount, holding a
//! TIME_WAIT; one whose process sits in a cgroup with a Docker-shaped name; one with leaked
//! never-bound sockets; one kept alive only by a socket created there and held by a process
//! of another namespace. Every namespace, cgroup and file made here is removed on drop.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde::Deserialize;

const SOCKDIAG: &str = env!("CARGO_BIN_EXE_sockdiag");
const PYTHON: &str = "/usr/bin/python3";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostReport {
    alloc: u64,
    counted: u64,
    unexplained: i64,
    namespaces: Vec<Row>,
    close_sockets: Vec<CloseSocket>,
    processes: serde_json::Value,
    consistency: Consistency,
    findings: Vec<serde_json::Value>,
    notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    netns: u64,
    name: String,
    full_tcp: Option<u64>,
    time_wait: Option<u64>,
    bound_inactive: Option<u64>,
    unbound: u64,
    closed: Option<i64>,
    dumped: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseSocket {
    inode: u32,
    family: String,
    local: Option<String>,
    kind: String,
    netns: u64,
    owners: Vec<Owner>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Owner {
    pid: u32,
    comm: String,
    fd: u32,
    cgroup: Option<String>,
    container: Option<Container>,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Container {
    runtime: String,
    id: String,
    #[serde(default)]
    pod: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Consistency {
    drift: i64,
}

/// A Python child that runs `body` (with `socket`, `os`, `sys` imported and `ready(**info)` to
/// report), then waits for its stdin to close. Killed on drop.
struct Holder {
    child: Child,
    info: serde_json::Value,
}

impl Holder {
    fn start(prefix: &[&str], body: &str) -> Holder {
        let script = format!(
            "import json, os, socket, sys, subprocess\n\
             def ready(**info):\n    print(json.dumps(info), flush=True)\n\
             def ino(s):\n    return os.fstat(s.fileno()).st_ino & 0xffffffff\n\
             {body}\n\
             sys.stdin.read()\n"
        );
        let (program, args) = prefix.split_first().map_or((PYTHON, &[][..]), |(p, a)| (*p, a));
        let mut command = Command::new(program);
        command.args(args);
        if !prefix.is_empty() {
            command.arg(PYTHON);
        }
        let (child, line) = common::spawn_ready(command.args(["-c", &script]));
        let info = serde_json::from_str(&line).unwrap_or_else(|_| panic!("holder said {line:?}"));
        Holder { child, info }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn netns(&self) -> u64 {
        std::fs::metadata(format!("/proc/{}/ns/net", self.pid()))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .expect("holder's netns")
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A named namespace (`ip netns add`), deleted on drop.
struct NamedNetns(String);

impl NamedNetns {
    fn add() -> NamedNetns {
        let name = format!("sockdiag-test-{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "delete", &name])
            .stderr(Stdio::null())
            .status();
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("ip netns add");
        assert!(ok.success());
        NamedNetns(name)
    }

    fn inode(&self) -> u64 {
        std::fs::metadata(format!("/run/netns/{}", self.0))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .expect("netns file")
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.0]).status();
    }
}

/// A cgroup with a Docker-shaped name, in the hierarchy `/proc/PID/cgroup` is read from
/// (`name=systemd` on a v1 or hybrid host, the unified one otherwise), removed on drop.
struct DockerCgroup {
    dir: PathBuf,
    id: String,
    /// `system.slice`, when this test made it.
    made_parent: Option<PathBuf>,
}

impl DockerCgroup {
    fn create() -> DockerCgroup {
        let id = format!("{:0>64x}", 0x3f2a_1b9c_04de_u64 + u64::from(std::process::id()));
        let base = [
            "/sys/fs/cgroup/systemd",
            "/sys/fs/cgroup/unified",
            "/sys/fs/cgroup",
        ]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.procs").exists())
        .expect("a cgroup hierarchy");
        let parent = base.join("system.slice");
        let made_parent = (!parent.exists()).then(|| parent.clone());
        let dir = parent.join(format!("docker-{id}.scope"));
        std::fs::create_dir_all(&dir).expect("mkdir cgroup");
        DockerCgroup { dir, id, made_parent }
    }

    fn adopt(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).expect("move into the cgroup");
    }
}

impl Drop for DockerCgroup {
    fn drop(&mut self) {
        // The processes in it are gone by now (holders drop first); a cgroup leaves by rmdir.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if let Some(parent) = &self.made_parent {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn all_netns() -> HostReport {
    let out = Command::new(SOCKDIAG)
        .args(["summary", "--all-netns", "--json"])
        .output()
        .expect("run sockdiag");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn every_namespace_with_its_own_terms() {
    if !common::require_root("every_namespace_with_its_own_terms") {
        return;
    }
    // The named namespace: a TIME_WAIT left by a process that has exited.
    let named = NamedNetns::add();
    let status = Command::new("ip")
        .args(["netns", "exec", &named.0, "sh", "-c"])
        .arg(format!(
            "ip link set lo up && {PYTHON} -c \"import socket; l = socket.socket(); \
             l.bind(('127.0.0.1', 7000)); l.listen(); c = socket.create_connection(('127.0.0.1', 7000)); \
             a, _ = l.accept(); c.close(); a.close()\""
        ))
        .status()
        .expect("ip netns exec");
    assert!(status.success());

    // The Docker-shaped one: a listener, an established pair and one never-bound socket.
    let cgroup = DockerCgroup::create();
    let docker = Holder::start(
        &["unshare", "-n"],
        "subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)\n\
         l = socket.socket(); l.bind(('127.0.0.1', 8000)); l.listen()\n\
         c = socket.create_connection(('127.0.0.1', 8000)); a, _ = l.accept()\n\
         n = socket.socket()\n\
         ready(never_bound=ino(n))",
    );
    cgroup.adopt(docker.pid());

    // A steady one: a listener and an established pair, nothing in TCP_CLOSE, so it is
    // counted from its counters: its hashed sockets, asked first, are no finding.
    let steady = Holder::start(
        &["unshare", "-n"],
        "subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)\n\
         l = socket.socket(); l.bind(('127.0.0.1', 8100)); l.listen()\n\
         c = socket.create_connection(('127.0.0.1', 8100)); a, _ = l.accept()\n\
         ready()",
    );

    // The leaking one: three never-bound sockets.
    let leak = Holder::start(
        &["unshare", "-n"],
        "s = [socket.socket() for _ in range(3)]\nready(inodes=[ino(x) for x in s])",
    );

    // A socket created in a namespace that only it keeps alive, held by a process elsewhere:
    // the creator passes it over a unix socket and exits.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pass.sock");
    let receiver = Holder::start(
        &["unshare", "-n"],
        &format!(
            "u = socket.socket(socket.AF_UNIX); u.bind({path:?}); u.listen()\n\
             creator = subprocess.Popen(['unshare', '-n', sys.executable, '-c', \
             'import socket; s = socket.socket(); u = socket.socket(socket.AF_UNIX); u.connect({path:?}); socket.send_fds(u, [b\"x\"], [s.fileno()])'])\n\
             c, _ = u.accept(); _, fds, _, _ = socket.recv_fds(c, 1, 1)\n\
             s = socket.socket(fileno=fds[0])\n\
             creator.wait()\n\
             ready(passed=ino(s), home=os.fstat(s.fileno()).st_ino)",
            path = path.to_str().expect("utf-8 path")
        ),
    );
    // The creator has exited (and been reaped): its namespace lives on through the passed
    // socket only.
    let passed = receiver.info["passed"].as_u64().expect("inode") as u32;

    let report = all_netns();
    let row = |netns: u64| -> &Row {
        report
            .namespaces
            .iter()
            .find(|r| r.netns == netns)
            .unwrap_or_else(|| panic!("netns {netns} missing: {:#?}", report.namespaces))
    };

    let named_row = row(named.inode());
    assert_eq!(named_row.name, named.0);
    assert_eq!(
        (
            named_row.full_tcp,
            named_row.time_wait,
            named_row.bound_inactive,
            named_row.unbound
        ),
        // bound_inactive is null before Linux 6.8, which dumps no such socket.
        (Some(0), Some(1), common::dumps_bound_inactive().then_some(0), 0),
        "{named_row:?}"
    );

    let docker_row = row(docker.netns());
    assert_eq!(
        (docker_row.full_tcp, docker_row.time_wait, docker_row.unbound),
        (Some(4), Some(0), 1),
        "listener, pair, never-bound: {docker_row:?}"
    );
    assert!(
        docker_row
            .name
            .starts_with(&format!("docker:{} (pid ", &cgroup.id[..12])),
        "{docker_row:?}"
    );
    let never_bound = docker.info["never_bound"].as_u64().expect("inode") as u32;
    let socket = report
        .close_sockets
        .iter()
        .find(|s| s.inode == never_bound)
        .expect("the docker namespace's never-bound socket");
    assert_eq!(
        (
            socket.kind.as_str(),
            socket.netns,
            socket.family.as_str(),
            socket.local.as_deref()
        ),
        ("unbound", docker.netns(), "inet", None)
    );
    let owner = &socket.owners[0];
    assert_eq!(
        (owner.pid, owner.comm.as_str(), owner.fd > 2),
        (docker.pid(), "python3", true)
    );
    assert!(
        owner
            .cgroup
            .as_deref()
            .is_some_and(|c| c.ends_with(&format!("docker-{}.scope", cgroup.id)))
    );
    assert_eq!(
        owner.container,
        Some(Container {
            runtime: "docker".into(),
            id: cgroup.id.clone(),
            pod: None
        })
    );

    let leak_row = row(leak.netns());
    assert_eq!(
        (leak_row.full_tcp, leak_row.unbound),
        (Some(3), 3),
        "{leak_row:?}"
    );
    let leaked: Vec<u32> = report
        .close_sockets
        .iter()
        .filter(|s| s.netns == leak.netns())
        .map(|s| s.inode)
        .collect();
    let mut expected: Vec<u32> = leak.info["inodes"]
        .as_array()
        .expect("inodes")
        .iter()
        .map(|i| i.as_u64().expect("inode") as u32)
        .collect();
    expected.sort_unstable();
    assert_eq!(leaked, expected);

    // The passed socket is placed where it was created, not with its holder.
    let socket = report
        .close_sockets
        .iter()
        .find(|s| s.inode == passed)
        .expect("the passed socket");
    assert_ne!(socket.netns, receiver.netns(), "placed by its holder");
    let home = row(socket.netns);
    assert_eq!(home.name, "(no process in it; found through a socket)");
    assert_eq!((home.full_tcp, home.unbound), (Some(1), 1), "{home:?}");
    assert_eq!(row(receiver.netns()).unbound, 0);

    // Dumped where a held socket is in TCP_CLOSE; counted from their counters elsewhere.
    for (netns, dumped) in [
        (named.inode(), false),
        (docker.netns(), true),
        (leak.netns(), true),
        (home.netns, true),
        (receiver.netns(), false),
        (steady.netns(), false),
    ] {
        assert_eq!(row(netns).dumped, dumped, "{:?}", row(netns));
    }
    let steady_row = row(steady.netns());
    assert_eq!(
        (steady_row.full_tcp, steady_row.time_wait, steady_row.unbound),
        (Some(3), Some(0), 0),
        "{steady_row:?}"
    );
    // closed as ss prints it there: alloc − its 3 hashed sockets, alloc read meanwhile.
    let closed = steady_row.closed.expect("entered");
    assert!(
        (closed - (report.alloc as i64 - 3)).abs() <= report.consistency.drift,
        "{steady_row:?}, alloc {}, drift {}",
        report.alloc,
        report.consistency.drift
    );
    assert!(
        !report.findings.iter().any(|f| f["kind"] == "changed_since_dump"),
        "{:?}",
        report.findings
    );
    assert!(
        report.findings.iter().any(|f| f["kind"] == "counted"),
        "{:?}",
        report.findings
    );

    // Leaks first.
    let unbound: Vec<u64> = report.namespaces.iter().map(|r| r.unbound).collect();
    assert!(unbound.windows(2).all(|w| w[0] >= w[1]), "{unbound:?}");

    // The system-wide identity, through the report's own bookkeeping.
    let counted: u64 = report
        .namespaces
        .iter()
        .map(|r| r.full_tcp.unwrap_or(r.unbound))
        .sum();
    assert_eq!(counted, report.counted);
    assert_eq!(report.alloc as i64 - report.counted as i64, report.unexplained);
    let beyond = report.unexplained.abs() > report.consistency.drift;
    let found = report
        .findings
        .iter()
        .any(|f| matches!(f["kind"].as_str(), Some("unexplained" | "overcounted")));
    assert_eq!(beyond, found, "{:?} {:?}", report.unexplained, report.findings);
    assert_eq!(report.notes.len(), report.findings.len());
    assert!(report.processes["scanned"].as_u64().is_some_and(|n| n > 0));

    // And the human form: the identity line first.
    let text = common::sockdiag_ok(&["summary", "--all-netns", "--all"]);
    assert!(text.starts_with("TCP alloc "), "{text}");
    assert!(text.contains(&named.0), "{text}");

    drop((docker, steady, leak, receiver));
}

/// More namespaces than a small descriptor limit allows open at once, each with a process
/// holding a never-bound socket: the held sockets are asked one pidfd at a time per thread,
/// and a namespace descriptor is kept only for a namespace not found yet, so every socket is
/// still placed by itself and every namespace dumped; below what that needs, the run stops
/// with one line instead of guessing.
#[test]
fn many_namespaces_under_a_small_descriptor_limit() {
    if !common::require_root("many_namespaces_under_a_small_descriptor_limit") {
        return;
    }
    const CHILDREN: usize = 24;
    // One Python process forks the children (cheap under emulation), each in a namespace of
    // its own (unshare(CLONE_NEWNET)); they end when the test closes their shared stdin.
    let parent = Holder::start(
        &[],
        &format!(
            "import ctypes\n\
             libc = ctypes.CDLL(None, use_errno=True)\n\
             kids = []\n\
             for _ in range({CHILDREN}):\n    \
                 r, w = os.pipe()\n    \
                 pid = os.fork()\n    \
                 if pid == 0:\n        \
                     if libc.unshare(0x40000000) != 0: os._exit(1)\n        \
                     s = socket.socket()\n        \
                     os.write(w, str(ino(s)).encode()); os.close(w)\n        \
                     sys.stdin.read(); os._exit(0)\n    \
                 os.close(w); kids.append([pid, int(os.read(r, 32))]); os.close(r)\n\
             ready(kids=kids)"
        ),
    );
    let kids: Vec<(u32, u32)> = parent.info["kids"]
        .as_array()
        .expect("kids")
        .iter()
        .map(|k| {
            (
                k[0].as_u64().expect("pid") as u32,
                k[1].as_u64().expect("inode") as u32,
            )
        })
        .collect();
    assert_eq!(kids.len(), CHILDREN);
    // Enough descriptors: every child's row right (each namespace entered and dumped, each
    // socket placed by itself). Too few: one line saying so and exit 2, never a socket placed
    // by its holder or a namespace "not entered" for want of descriptors. (Other tests of this
    // file run meanwhile: only the children's rows are checked.)
    let mut failed = Vec::new();
    for limit in [8, 12, 16, 20, 24, 32] {
        let out = Command::new("sh")
            .args([
                "-c",
                &format!("ulimit -n {limit} && exec {SOCKDIAG} summary --all-netns --json"),
            ])
            .output()
            .expect("run sockdiag");
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "ulimit -n {limit}: {stderr}");
            assert!(out.stdout.is_empty() && stderr.lines().count() == 1, "{stderr}");
            assert!(
                stderr.contains("out of file descriptors") && stderr.contains("raise the limit"),
                "ulimit -n {limit}: {stderr}"
            );
            failed.push(limit);
            continue;
        }
        let report: HostReport = serde_json::from_slice(&out.stdout).expect("JSON report");
        for &(pid, inode) in &kids {
            let netns = std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
                .expect("child's netns");
            let row = report
                .namespaces
                .iter()
                .find(|r| r.netns == netns)
                .expect("its row");
            assert_eq!((row.unbound, row.dumped), (1, true), "ulimit -n {limit}: {row:?}");
            assert!(
                report
                    .close_sockets
                    .iter()
                    .any(|s| s.inode == inode && s.netns == netns && s.kind == "unbound"),
                "ulimit -n {limit}: socket {inode} of pid {pid}"
            );
        }
    }
    assert!(failed.contains(&8), "8 descriptors cannot be enough: {failed:?}");
    assert!(
        !failed.contains(&32),
        "32 descriptors are enough here: {failed:?}"
    );
    drop(parent);
}

#[test]
fn all_netns_and_netns_conflict() {
    let out = common::sockdiag(&["summary", "--all-netns", "--netns", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--all-netns") && err.contains("--netns"), "{err}");
}

/// In a container (`unshare -n -p -f --mount-proc`) holding 3 never-bound sockets, with TCP
/// sockets outside it: the view says so, the residue is named as the host's, and nothing
/// outside is claimed as itemised.
#[test]
fn the_view_from_inside_a_container() {
    if !common::private_netns("the_view_from_inside_a_container") {
        return;
    }
    // Outside the container: five never-bound sockets in the test's own namespace.
    let _outside: Vec<_> = (0..5).map(|_| common::tcp_socket(false)).collect();
    let inside = Holder::start(
        &["unshare", "-n", "-p", "-f", "--mount-proc"],
        &format!(
            "s = [socket.socket() for _ in range(3)]\n\
             r = subprocess.run([{SOCKDIAG:?}, 'summary', '--json'], capture_output=True, text=True)\n\
             ready(code=r.returncode, report=r.stdout, stderr=r.stderr, inodes=[ino(x) for x in s])"
        ),
    );
    assert_eq!(inside.info["code"], 0, "{}", inside.info["stderr"]);
    let report: serde_json::Value =
        serde_json::from_str(inside.info["report"].as_str().expect("report")).expect("JSON");
    assert_eq!(report["view"], "container");
    assert_eq!(report["closed"]["unbound"], 3);
    let listed: Vec<u64> = report["close_sockets"]
        .as_array()
        .expect("close_sockets")
        .iter()
        .map(|s| s["inode"].as_u64().expect("inode"))
        .collect();
    let mut expected: Vec<u64> = inside.info["inodes"]
        .as_array()
        .expect("inodes")
        .iter()
        .map(|i| i.as_u64().expect("inode"))
        .collect();
    expected.sort_unstable();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort_unstable();
    assert_eq!(
        listed_sorted, expected,
        "only the container's own sockets are itemised"
    );
    let hidden = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["kind"] == "container_view")
        .and_then(|f| f["hidden"].as_i64())
        .unwrap_or_else(|| panic!("no container_view finding: {report:#}"));
    assert!(hidden >= 5, "the 5 outside at least: {hidden}");
    assert_eq!(report["closed"]["unexplained"].as_i64(), Some(hidden));
    assert!(
        report["notes"].as_array().expect("notes").iter().any(|n| n
            .as_str()
            .is_some_and(|n| n.contains("sockdiag summary --all-netns"))),
        "{report:#}"
    );
}
