//! `sockdiag watch` end to end, in a private network namespace: a process leaking one
//! never-bound TCP socket every 100 ms is flagged with its rate, a steady holder never is; the
//! JSON lines hold their schema; `--pid` narrows the owners; on a terminal (tmux) the screen
//! refreshes and Ctrl-C restores it and prints the summary. Its own binary: the sockets of
//! other tests' namespaces stay out of its counts.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// One line of `watch --json`: every field, and no other (the schema of the man page).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Line {
    sample: u64,
    unix_ms: u64,
    elapsed_ms: u64,
    duration_ms: u64,
    overran: bool,
    netns: u64,
    closed: Closed,
    sockets: Sockets,
    processes: Vec<ProcessRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Closed {
    reported: i64,
    time_wait: u64,
    bound_inactive: Option<u64>,
    unbound: u64,
    other_netns: u64,
    unexplained: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Sockets {
    held: u64,
    opened: u64,
    closed: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ProcessRow {
    pid: u32,
    start_time: u64,
    comm: String,
    held: u64,
    opened: u64,
    closed: u64,
    rising: u32,
    leaking: bool,
    rate_per_min: Option<f64>,
    oldest_inode: Option<u32>,
}

/// `leak`: one never-bound TCP socket every 100 ms, kept; `steady`: 20 sockets, kept. Prints
/// `ready` once started; runs until killed.
const HOLDER: &str = r#"
import socket, sys, time
held = []
if sys.argv[1] == 'steady':
    held = [socket.socket() for _ in range(20)]
print('ready', flush=True)
start = time.time(); n = 0
while True:
    if sys.argv[1] == 'leak':
        n += 1
        held.append(socket.socket())
        time.sleep(max(0, start + n * 0.1 - time.time()))
    else:
        time.sleep(1)
"#;

struct Holder(Child);

impl Holder {
    fn start(mode: &str) -> Holder {
        let (child, line) = common::spawn_ready(Command::new("/usr/bin/python3").args(["-c", HOLDER, mode]));
        assert_eq!(line, "ready\n");
        Holder(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lines(out: &str) -> Vec<Line> {
    out.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[test]
fn a_leaker_is_flagged_with_its_rate_and_a_steady_holder_never() {
    if !common::private_netns("a_leaker_is_flagged_with_its_rate_and_a_steady_holder_never") {
        return;
    }
    let leaker = Holder::start("leak");
    let steady = Holder::start("steady");
    let leak_after = 3;
    let out = common::sockdiag_ok(&[
        "watch",
        "--interval",
        "0.5",
        "--count",
        "8",
        "--leak-after",
        "3",
        "--json",
    ]);
    let samples = lines(&out);
    assert_eq!(samples.len(), 8, "{out}");
    for (n, sample) in samples.iter().enumerate() {
        assert_eq!(sample.sample, n as u64 + 1);
        assert_eq!(sample.netns, common::current_netns());
        let steady = sample
            .processes
            .iter()
            .find(|p| p.pid == steady.pid())
            .expect("the steady holder is seen");
        assert_eq!(steady.held, 20);
        assert!(!steady.leaking, "the steady holder is never flagged: {steady:?}");
        assert_eq!((steady.opened, steady.closed), (0, 0));
    }
    let first = samples
        .iter()
        .find(|s| s.processes.iter().any(|p| p.pid == leaker.pid() && p.leaking))
        .expect("the leaker is flagged");
    // The first sample is the baseline: K rising intervals are K + 1 samples.
    assert!(
        first.sample <= leak_after + 1,
        "flagged at sample {}",
        first.sample
    );
    for sample in samples.iter().filter(|s| s.sample >= first.sample) {
        let row = sample
            .processes
            .iter()
            .find(|p| p.pid == leaker.pid())
            .expect("leaker row");
        assert!(row.leaking);
        let rate = row.rate_per_min.expect("a rate");
        assert!((rate - 600.0).abs() <= 120.0, "rate {rate}/min, truth 600/min");
        eprintln!("sample {}: rate {rate:.1}/min", sample.sample);
        assert!(row.oldest_inode.is_some());
        assert!(row.opened >= 3 && row.closed == 0, "{row:?}");
        assert_eq!(sample.processes[0].pid, leaker.pid(), "sorted by growth");
    }
    // The namespace's terms follow: the unbound term grows with the leak.
    let (a, b) = (&samples[0].closed, &samples[7].closed);
    assert!(b.unbound >= a.unbound + 25, "{a:?} -> {b:?}");
    assert!(samples[7].sockets.held >= samples[0].sockets.held + 25);
}

#[test]
fn pid_narrows_the_owners() {
    if !common::private_netns("pid_narrows_the_owners") {
        return;
    }
    let leaker = Holder::start("leak");
    let steady = Holder::start("steady");
    std::thread::sleep(Duration::from_millis(300)); // the leaker holds a few by now
    let pid = steady.pid().to_string();
    let out = common::sockdiag_ok(&["watch", "--pid", &pid, "--interval", "0.2", "--count", "2"]);
    let samples = lines(&out);
    assert_eq!(samples.len(), 2);
    for sample in &samples {
        let pids: Vec<u32> = sample.processes.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [steady.pid()], "only the pid asked for");
        assert_eq!(
            sample.closed.unbound, 20,
            "unbound counts the watched process only"
        );
        assert!(
            sample.closed.unexplained > 0,
            "the leaker's sockets are unexplained"
        );
    }
    drop(leaker);
}

/// A tmux server of its own (`-L`), killed when the test ends however it ends. The shell it
/// starts is a child of the test thread, in its namespace.
struct Tmux(String);

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg(format!("-L{}", self.0))
            .args(args)
            .output()
            .expect("run tmux (apt-get install tmux)");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pane once it shows `what` (10 s at most).
    fn capture(&self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pane = self.run(&["capture-pane", "-p", "-t", &self.0]);
            if pane.contains(what) || Instant::now() > deadline {
                return pane;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alternate_on(&self) -> String {
        self.run(&["display-message", "-p", "-t", &self.0, "#{alternate_on}"])
            .trim()
            .to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg(format!("-L{}", self.0))
            .arg("kill-server")
            .output();
    }
}

fn sample_number(pane: &str) -> Option<u64> {
    let rest = pane.split("  sample ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn on_a_terminal_the_screen_refreshes_and_ctrl_c_restores_it() {
    if !common::private_netns("on_a_terminal_the_screen_refreshes_and_ctrl_c_restores_it") {
        return;
    }
    let leaker = Holder::start("leak");
    let tmux = Tmux(format!("sockdiag-watch-{}", std::process::id()));
    let name = tmux.0.clone();
    tmux.run(&["new-session", "-d", "-s", &name, "-x", "160", "-y", "40", "sh"]);
    let command = format!(
        "{} watch --interval 0.5 --leak-after 2",
        env!("CARGO_BIN_EXE_sockdiag")
    );
    tmux.run(&["send-keys", "-t", &name, &command, "Enter"]);
    // The command line typed holds `sockdiag watch ` too: wait for the screen's own words.
    let first = tmux.capture("sample took");
    let n1 = sample_number(&first).unwrap_or_else(|| panic!("a sample number:\n{first}"));
    std::thread::sleep(Duration::from_millis(1200));
    let second = tmux.capture("LEAKING");
    let n2 = sample_number(&second).unwrap_or_else(|| panic!("a sample number:\n{second}"));
    assert!(n2 > n1, "the screen refreshed: sample {n1} then {n2}\n{second}");
    assert!(second.contains("LEAKING"), "{second}");
    assert_eq!(
        tmux.alternate_on(),
        "1",
        "the watch draws on the alternate screen"
    );
    tmux.run(&["send-keys", "-t", &name, "C-c"]);
    let end = tmux.capture("flagged as leaking");
    assert!(end.contains("flagged as leaking TCP_CLOSE sockets:"), "{end}");
    assert!(end.contains(&format!("pid {} (python3)", leaker.pid())), "{end}");
    assert_eq!(tmux.alternate_on(), "0", "the alternate screen is left");
    // The shell is back: it runs the next command.
    tmux.run(&["send-keys", "-t", &name, "echo shell-$((20+22))", "Enter"]);
    let shell = tmux.capture("shell-42");
    assert!(shell.contains("shell-42"), "{shell}");
}

/// Piped, SIGINT ends the watch after the sample under way: exit status 0, every line whole.
#[test]
fn sigint_ends_a_piped_watch_cleanly() {
    if !common::private_netns("sigint_ends_a_piped_watch_cleanly") {
        return;
    }
    let child = Command::new(env!("CARGO_BIN_EXE_sockdiag"))
        .args(["watch", "--interval", "0.2"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sockdiag");
    std::thread::sleep(Duration::from_millis(700));
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", out.status);
    let text = String::from_utf8(out.stdout).expect("utf8");
    let samples = lines(&text);
    assert!(samples.len() >= 2, "{text}");
    assert!(text.ends_with('\n'));
}
