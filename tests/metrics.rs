//! `sockdiag metrics`: the families and labels (a contract), promtool's check of stdout, of
//! the textfile and of the exporter, the exporter under load, and a real node_exporter and
//! Prometheus scraping it in the test's private network namespace.
//!
//! Needs `promtool`, `prometheus` and `prometheus-node-exporter` (Debian packages
//! `prometheus`, `prometheus-node-exporter`; `.ci/setup` installs them).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Families and their label names: the contract `sockdiag metrics` holds.
const FAMILIES: [(&str, &[&str]); 21] = [
    ("sockdiag_tcp_allocated_sockets", &["scope"]),
    ("sockdiag_tcp_orphaned_sockets", &["scope"]),
    ("sockdiag_sockets_used", &["netns", "name"]),
    ("sockdiag_tcp_inuse_sockets", &["netns", "name", "family"]),
    ("sockdiag_tcp_timewait_sockets", &["netns", "name"]),
    ("sockdiag_tcp_established_sockets", &["netns", "name"]),
    ("sockdiag_ss_closed_sockets", &["netns", "name"]),
    ("sockdiag_tcp_closed_sockets", &["netns", "name", "term"]),
    ("sockdiag_tcp_sockets", &["netns", "name", "state"]),
    ("sockdiag_tcp_timewait_minisocks", &["netns", "name", "substate"]),
    ("sockdiag_process_tcp_close_sockets", &["comm"]),
    ("sockdiag_census_duration_seconds", &[]),
    ("sockdiag_processes_scanned", &[]),
    ("sockdiag_processes_denied", &[]),
    ("sockdiag_processes_vanished", &[]),
    ("sockdiag_namespaces_found", &[]),
    ("sockdiag_namespaces_not_entered", &[]),
    ("sockdiag_consistency_attempts", &[]),
    ("sockdiag_consistency_settled", &[]),
    ("sockdiag_consistency_drift_sockets", &[]),
    ("sockdiag_build_info", &["version"]),
];

const TERMS: [&str; 5] = [
    "time_wait",
    "bound_inactive",
    "unbound",
    "other_netns",
    "unexplained",
];

/// One sample: family, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the text format as sockdiag writes it (label values unescaped).
fn parse(text: &str) -> (Vec<Sample>, Vec<(String, String)>) {
    let mut samples = Vec::new();
    let mut headers = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.splitn(3, ' ');
            let (kind, name) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            headers.push((kind.to_owned(), name.to_owned()));
            continue;
        }
        let name_end = line.find(['{', ' ']).expect("a sample");
        let name = line[..name_end].to_owned();
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            let mut key = String::new();
            loop {
                let (i, c) = chars.next().expect("unterminated labels");
                match c {
                    '}' => {
                        rest = &inner[i + 1..];
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                        let mut value = String::new();
                        loop {
                            match chars.next().expect("unterminated value").1 {
                                '"' => break,
                                '\\' => match chars.next().expect("escape").1 {
                                    'n' => value.push('\n'),
                                    other => value.push(other),
                                },
                                other => value.push(other),
                            }
                        }
                        assert!(
                            labels.insert(std::mem::take(&mut key), value).is_none(),
                            "label twice: {line}"
                        );
                    }
                    c => key.push(c),
                }
            }
        }
        let value: f64 = rest.trim().parse().expect("a value");
        samples.push((name, labels, value));
    }
    (samples, headers)
}

/// Checks the contract on an output: every family once with HELP and TYPE gauge, only those
/// families, their labels, no series twice, terms summing to the closed figure.
fn check_contract(text: &str) -> Vec<Sample> {
    let (samples, headers) = parse(text);
    let expected: BTreeSet<&str> = FAMILIES.iter().map(|(name, _)| *name).collect();
    for kind in ["HELP", "TYPE"] {
        let named: Vec<&str> = headers
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, n)| n.as_str())
            .collect();
        assert_eq!(named.len(), FAMILIES.len(), "{kind} lines:\n{text}");
        assert_eq!(named.iter().copied().collect::<BTreeSet<_>>(), expected, "{kind}");
    }
    assert!(
        text.lines()
            .filter(|l| l.starts_with("# TYPE"))
            .all(|l| l.ends_with(" gauge"))
    );
    let mut seen = BTreeSet::new();
    for (name, labels, _) in &samples {
        let (_, keys) = FAMILIES
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("unknown family {name}"));
        let mut got: Vec<&str> = labels.keys().map(String::as_str).collect();
        if *name == "sockdiag_process_tcp_close_sockets" {
            got.retain(|k| *k != "unit" && *k != "container");
        }
        let mut want = keys.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "labels of {name}");
        assert!(!labels.contains_key("pid") && !labels.contains_key("inode"));
        assert!(
            seen.insert((name.clone(), labels.clone())),
            "series twice: {name} {labels:?}"
        );
    }
    for (_, labels, closed) in samples.iter().filter(|s| s.0 == "sockdiag_ss_closed_sockets") {
        let netns = &labels["netns"];
        let terms: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.0 == "sockdiag_tcp_closed_sockets" && &s.1["netns"] == netns)
            .collect();
        let names: Vec<&str> = terms.iter().map(|s| s.1["term"].as_str()).collect();
        assert_eq!(names, TERMS, "terms of {netns}");
        let sum: f64 = terms.iter().map(|s| s.2).sum();
        assert_eq!(sum, *closed, "terms of {netns} sum to its closed figure");
    }
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
}

/// `promtool check metrics` on `text`: no error, no lint complaint.
fn promtool_check(text: &[u8]) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (apt-get install prometheus)");
    child.stdin.take().expect("stdin").write_all(text).expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A process started by a test, killed by pid and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A python3 holding `count` TCP sockets never bound, in the caller's namespace.
fn leaker(count: usize) -> Running {
    let script = format!(
        "import socket, sys\nheld = [socket.socket() for _ in range({count})]\nprint('ready', flush=True)\nsys.stdin.read()\n"
    );
    let (child, line) = common::spawn_ready(Command::new("/usr/bin/python3").args(["-c", &script]));
    assert_eq!(line.trim(), "ready");
    Running(child)
}

/// A port free on 127.0.0.1 of the caller's namespace now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port()
}

/// Waits (bounded) until something listens on `addr`.
fn wait_listening(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "{what} does not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A GET over a fresh connection: status and body.
fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    // Closed with a reset: no TIME_WAIT left on either side, so that a thousand scrapes do not
    // grow the namespace's population (and the census with it).
    rustix::net::sockopt::set_socket_linger(&stream, Some(Duration::ZERO)).expect("SO_LINGER");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    let response = String::from_utf8(response).expect("utf8");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_owned())
}

fn exporter(extra: &[&str]) -> (Running, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let listen = addr.to_string();
    let mut args = vec!["metrics", "--listen", listen.as_str()];
    args.extend_from_slice(extra);
    let child = Command::new(env!("CARGO_BIN_EXE_sockdiag"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sockdiag metrics --listen");
    let running = Running(child);
    wait_listening(addr, "sockdiag metrics --listen");
    (running, addr)
}

#[test]
fn stdout_textfile_and_exporter_pass_promtool_and_hold_the_contract() {
    if !private_netns("stdout_textfile_and_exporter_pass_promtool_and_hold_the_contract") {
        return;
    }
    let netns = current_netns().to_string();
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    make_time_wait(&listener);
    let _bound = tcp_bound("127.0.0.1:0");
    let _leak = leaker(3);

    let text = sockdiag_ok(&["metrics"]);
    promtool_check(text.as_bytes());
    let samples = check_contract(&text);
    let term = |samples: &[Sample], term: &str| {
        value(
            samples,
            "sockdiag_tcp_closed_sockets",
            &[("netns", &netns), ("term", term)],
        )
    };
    // Before Linux 6.8 the bound socket is not dumped: the fd walk finds it, as unbound.
    let unbound = if dumps_bound_inactive() { 3.0 } else { 4.0 };
    assert_eq!(term(&samples, "unbound"), Some(unbound), "{text}");
    assert_eq!(term(&samples, "time_wait"), Some(1.0), "{text}");
    assert_eq!(
        value(
            &samples,
            "sockdiag_tcp_sockets",
            &[("netns", &netns), ("state", "listen")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "sockdiag_tcp_timewait_minisocks",
            &[("netns", &netns), ("substate", "time_wait")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "sockdiag_process_tcp_close_sockets",
            &[("comm", "python3")]
        ),
        Some(3.0),
        "{text}"
    );
    // The terms that do not depend on the global alloc are summary's, exactly.
    let summary: serde_json::Value =
        serde_json::from_str(&sockdiag_ok(&["summary", "--json"])).expect("json");
    for t in ["time_wait", "unbound"] {
        assert_eq!(term(&samples, t), summary["closed"][t].as_f64(), "{t}");
    }
    if dumps_bound_inactive() {
        assert_eq!(term(&samples, "bound_inactive"), Some(1.0));
    }

    // --top 0: every holder in comm="other".
    let top0 = check_contract(&sockdiag_ok(&["metrics", "--top", "0"]));
    let holders: Vec<&Sample> = top0
        .iter()
        .filter(|s| s.0 == "sockdiag_process_tcp_close_sockets")
        .collect();
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].1["comm"], "other");
    assert!(holders[0].2 >= 4.0, "python3's 3 and our bound socket");

    // --all-netns: our namespace among the others, each with its terms.
    let all = sockdiag_ok(&["metrics", "--all-netns"]);
    promtool_check(all.as_bytes());
    let all = check_contract(&all);
    assert_eq!(term(&all, "unbound"), Some(unbound));

    // Textfile: written whole, promtool-clean; a failed census leaves it as it was.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sockdiag.prom");
    let path_arg = path.to_str().expect("utf8 path");
    sockdiag_ok(&["metrics", "--textfile", path_arg]);
    let written = std::fs::read(&path).expect("textfile");
    promtool_check(&written);
    check_contract(std::str::from_utf8(&written).expect("utf8"));
    let failed = sockdiag(&["--proc-root", "/nonexistent", "metrics", "--textfile", path_arg]);
    assert_eq!(failed.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("sockdiag: "), "{stderr}");
    assert_eq!(
        std::fs::read(&path).expect("textfile"),
        written,
        "the previous file stays"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["sockdiag.prom"], "no temporary file left");

    // The exporter: /, /metrics, and a census that fails answers 500 and serving goes on.
    let fake = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink("/proc/net", fake.path().join("net")).expect("symlink");
    let fake_arg = fake.path().to_str().expect("utf8").to_owned();
    let (_served, addr) = exporter(&["--proc-root", &fake_arg]);
    let (status, index) = http_get(addr, "/");
    assert_eq!(status, 200);
    assert!(index.contains("/metrics"), "{index}");
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    promtool_check(body.as_bytes());
    check_contract(&body);
    std::fs::remove_file(fake.path().join("net")).expect("remove");
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, 500, "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.starts_with("sockdiag: "), "{body}");
    std::os::unix::fs::symlink("/proc/net", fake.path().join("net")).expect("symlink");
    assert_eq!(http_get(addr, "/metrics").0, 200);
    assert_eq!(http_get(addr, "/nothing").0, 404);

    // The real /proc.
    let (_served, addr) = exporter(&[]);
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    promtool_check(body.as_bytes());
    let served = check_contract(&body);
    assert_eq!(term(&served, "unbound"), Some(unbound));
}

/// Percent-encodes a query for a URL.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query to Prometheus's HTTP API: each series' labels and value.
fn query(prometheus: SocketAddr, promql: &str) -> Vec<(serde_json::Value, f64)> {
    let (status, body) = http_get(prometheus, &format!("/api/v1/query?query={}", url_encode(promql)));
    assert_eq!(status, 200, "{promql}: {body}");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(doc["status"], "success", "{body}");
    doc["data"]["result"]
        .as_array()
        .expect("a vector")
        .iter()
        .map(|r| {
            let value = r["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .expect("a value");
            (r["metric"].clone(), value)
        })
        .collect()
}

/// Waits (bounded) until `promql` returns exactly `want` for one series.
fn wait_query(prometheus: SocketAddr, promql: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = query(prometheus, promql);
        if got.len() == 1 && got[0].1 == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{promql}: {got:?}, expected one series = {want}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn prometheus_scrapes_the_exporter_and_node_exporter_reads_the_textfile() {
    if !private_netns("prometheus_scrapes_the_exporter_and_node_exporter_reads_the_textfile") {
        return;
    }
    // Everything below runs in this test's namespace, on its 127.0.0.1: nothing listens in
    // the root namespace.
    let netns = current_netns().to_string();
    let _leak = leaker(4);
    let dir = tempfile::tempdir().expect("tempdir");
    let textfiles = dir.path().join("textfile");
    std::fs::create_dir(&textfiles).expect("mkdir");
    let textfile = textfiles.join("sockdiag.prom");
    sockdiag_ok(&["metrics", "--textfile", textfile.to_str().expect("utf8")]);

    let node_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let _node = Running(
        Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address={node_addr}"))
            .args(["--collector.disable-defaults", "--collector.textfile"])
            .arg(format!("--collector.textfile.directory={}", textfiles.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-node-exporter (apt-get install prometheus-node-exporter)"),
    );
    wait_listening(node_addr, "prometheus-node-exporter");
    let (_exporter, exporter_addr) = exporter(&[]);

    let prometheus_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: node\n    static_configs:\n      - targets: ['{node_addr}']\n\
             \x20 - job_name: sockdiag\n    static_configs:\n      - targets: ['{exporter_addr}']\n"
        ),
    )
    .expect("config");
    let _prometheus = Running(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={prometheus_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (apt-get install prometheus)"),
    );
    wait_listening(prometheus_addr, "prometheus");
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(prometheus_addr, "/-/ready").0 != 200 {
        assert!(Instant::now() < deadline, "prometheus is not ready");
        std::thread::sleep(Duration::from_millis(100));
    }

    for job in ["sockdiag", "node"] {
        // The leak, as its own term and under its holder.
        wait_query(
            prometheus_addr,
            &format!("sockdiag_tcp_closed_sockets{{job=\"{job}\",netns=\"{netns}\",term=\"unbound\"}}"),
            4.0,
        );
        wait_query(
            prometheus_addr,
            &format!("sum(sockdiag_process_tcp_close_sockets{{job=\"{job}\",comm=\"python3\"}})"),
            4.0,
        );
        // The terms sum exactly to the closed figure of the same scrape.
        wait_query(
            prometheus_addr,
            &format!(
                "sum by (netns) (sockdiag_tcp_closed_sockets{{job=\"{job}\",netns=\"{netns}\"}}) \
                 - on (netns) sockdiag_ss_closed_sockets{{job=\"{job}\",netns=\"{netns}\"}}"
            ),
            0.0,
        );
    }
    // And the terms that do not depend on the global alloc are summary's, at about the same
    // time (not time_wait: every HTTP connection of this test leaves one in this namespace).
    let summary: serde_json::Value =
        serde_json::from_str(&sockdiag_ok(&["summary", "--json"])).expect("json");
    for term in ["bound_inactive", "unbound"] {
        let want = summary["closed"][term].as_f64().unwrap_or(0.0);
        wait_query(
            prometheus_addr,
            &format!("sockdiag_tcp_closed_sockets{{job=\"sockdiag\",netns=\"{netns}\",term=\"{term}\"}}"),
            want,
        );
    }
    let closed = query(
        prometheus_addr,
        &format!("sum by (netns) (sockdiag_tcp_closed_sockets{{job=\"sockdiag\",netns=\"{netns}\"}})"),
    );
    assert_eq!(closed.len(), 1, "{closed:?}");
    let reported = summary["closed"]["reported"].as_f64().expect("closed");
    let drift = summary["consistency"]["drift"].as_f64().expect("drift");
    eprintln!(
        "closed: Prometheus {} / summary {reported} (drift {drift})",
        closed[0].1
    );
    assert_eq!(query(prometheus_addr, "up{job=\"sockdiag\"}")[0].1, 1.0);
}

/// VmRSS of a process, in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn exporter_under_load_stays_correct_and_flat() {
    if !private_netns("exporter_under_load_stays_correct_and_flat") {
        return;
    }
    let netns = current_netns().to_string();
    let _leak = leaker(2);
    let (exporter, addr) = exporter(&[]);
    let pid = exporter.0.id();
    let correct = |status: u16, body: &str| {
        assert_eq!(status, 200, "{body}");
        assert!(
            body.ends_with("sockdiag_build_info{version=\"0.1.0\"} 1\n"),
            "whole: {body}"
        );
        let (samples, _) = parse(body);
        assert_eq!(
            value(
                &samples,
                "sockdiag_tcp_closed_sockets",
                &[("netns", &netns), ("term", "unbound")]
            ),
            Some(2.0)
        );
    };
    let start = Instant::now();
    // VmRSS every 100 scrapes: the exporter's threads (and glibc's arenas for the census
    // threads) settle in steps of a few hundred kB; a leak grows with every scrape.
    let mut rss = Vec::new();
    for i in 1..=1000 {
        let (status, body) = http_get(addr, "/metrics");
        correct(status, &body);
        if i % 100 == 0 {
            rss.push(rss_kb(pid));
        }
    }
    let (rss_100, rss_1000) = (rss[0], rss[9]);
    let median = |part: &[u64]| {
        let mut part = part.to_vec();
        part.sort_unstable();
        part[part.len() / 2]
    };
    eprintln!(
        "1,000 scrapes in a row: {:.1} s, VmRSS (kB) every 100: {rss:?}",
        start.elapsed().as_secs_f64()
    );
    assert!(
        rss_1000 <= rss_100 + 4096,
        "RSS grew: {rss_100} kB at the 100th scrape, {rss_1000} kB at the 1,000th"
    );
    assert!(
        median(&rss[5..]) <= median(&rss[..5]) + 1024,
        "RSS keeps growing: {rss:?}"
    );

    // 8 scrapes at once, 10 times: each correct, and they share censuses.
    let mut bodies = BTreeSet::new();
    for _ in 0..10 {
        let round: Vec<(u16, String)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| http_get(addr, "/metrics")))
                .collect();
            handles.into_iter().map(|h| h.join().expect("scrape")).collect()
        });
        for (status, body) in round {
            correct(status, &body);
            bodies.insert(body);
        }
    }
    // Each census has its own duration: fewer distinct bodies than scrapes is shared censuses.
    assert!(
        bodies.len() < 40,
        "{} distinct answers to 80 scrapes",
        bodies.len()
    );
    assert!(rss_kb(pid) <= rss_100 + 4096, "RSS after the concurrent scrapes");
}

#[test]
fn alerting_rules_pass_promtool() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man/prometheus");
    for args in [
        ["check", "rules", "sockdiag-alerts.yml"],
        ["test", "rules", "sockdiag-alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run promtool (apt-get install prometheus)");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
