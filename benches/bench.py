#!/usr/bin/env python3
"""Benchmark sockdiag against ss(8) on large TCP socket populations.

    python3 benches/bench.py [--sockets 10000,100000] [--runs 7] [--procs 10]
                             [--sockdiag PATH] [--only list-tn,list-tanp,summary]

Must run as root. Everything happens in a private network namespace that this
script creates with unshare(CLONE_NEWNET) (a fresh one per population size);
nothing is created in, connected to or signalled in the root netns. For each
population size N it:

  1. builds N TCP sockets on 127.0.0.0/8, spread over --procs worker processes
     (the open-files limit is 20,000 per process here): a couple of listeners
     per worker and, for the rest, ESTABLISHED pairs (client + accepted server
     side), both ends held open by the same worker;
  2. checks with `ss -s` that the netns holds exactly that many TCP sockets;
  3. times each pair of commands in alternation (warm-up A, B, then A,B,A,B...),
     output to /dev/null, and reports median wall time, the ratio
     sockdiag/ss, and peak RSS;
  4. stops the workers, which frees the netns.

Standard library only (Python >= 3.9; 3.11 has no os.unshare, hence ctypes).
"""

import argparse
import ctypes
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# ---------------------------------------------------------------------------
# Constants

CLONE_NEWNET = 0x40000000          # <linux/sched.h>
PR_SET_PDEATHSIG = 1               # <linux/prctl.h>
IP_BIND_ADDRESS_NO_PORT = 24       # <linux/in.h>; not exported by Python 3.11

PTRACE_TRACEME = 0                 # <linux/ptrace.h>
PTRACE_CONT = 7
PTRACE_SETOPTIONS = 0x4200
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACEEXIT = 0x40
PTRACE_O_EXITKILL = 0x100000
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_EXIT = 6

# Socket population layout. Listeners sit below ip_local_port_range (which we
# widen to 1024-65535), so they can never collide with an ephemeral port.
LISTENERS_PER_WORKER = 2
LISTEN_PORT_BASE = 100             # worker i listens on 100+2i, 101+2i
LISTEN_ADDR = "127.0.0.1"
SRC_ADDR_BASE = 10                 # worker i connects from 127.0.0.(10+i)
MAX_SOCKETS_PER_WORKER = 19000     # RLIMIT_NOFILE is 20,000 here; keep slack

# Sysctls written inside the private netns (all are per netns).
NETNS_SYSCTLS = {
    "net/ipv4/ip_local_port_range": "1024 65535",
    # listen() backlog is capped by somaxconn. Workers accept right after each
    # connect so the queue never holds more than one child, but a larger cap
    # costs nothing and keeps a future batched build from dropping SYNs
    # (a dropped SYN costs a 1 s retransmit).
    "net/core/somaxconn": "65535",
    "net/ipv4/tcp_max_syn_backlog": "65535",
}

# Benchmark pairs: name -> (sockdiag arguments, ss arguments).
PAIRS = {
    "list-tn": (["list", "-tn"], ["-tn"]),
    "list-tanp": (["list", "-tanp"], ["-tanp"]),
    "summary": (["summary"], ["-tanp"]),
}

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


def log(msg=""):
    print(msg, flush=True)


def die(msg):
    log(f"bench: error: {msg}")
    sys.exit(1)


# ---------------------------------------------------------------------------
# Private network namespace


def netns_inode():
    return os.stat("/proc/self/ns/net").st_ino


def enter_private_netns():
    """Move this process (and so every child it forks later) into a new netns.

    Called once per population size: the previous netns is freed by the kernel
    as soon as its last process (our old workers) is gone, TIME_WAIT minisocks
    included, so each population starts from an empty namespace.
    """
    before = netns_inode()
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        die(f"unshare(CLONE_NEWNET): {os.strerror(err)} (run as root)")
    if netns_inode() == before:  # never go on in the root netns
        die("unshare(CLONE_NEWNET) returned 0 but the netns did not change")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # /proc/sys/net resolves to the netns of the process opening the file.
    for key, value in NETNS_SYSCTLS.items():
        path = "/proc/sys/" + key
        with open(path, "w") as f:
            f.write(value)
        with open(path) as f:
            got = " ".join(f.read().split())
        if got != value:
            die(f"{path}: wrote {value!r}, reads {got!r}")
    return netns_inode()


def raise_nofile_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---------------------------------------------------------------------------
# Socket population


def worker_main(idx, nconn, driver_pid, ready_w, ctl_r):
    """Body of one forked worker. Never returns: always ends in os._exit().

    Builds LISTENERS_PER_WORKER listeners and `nconn` connected pairs, reports
    "ok IDX COUNT" (or "err IDX MSG") on the ready pipe, then blocks reading the
    control pipe until the driver closes it (or dies: EOF as well, and
    PR_SET_PDEATHSIG kills us anyway).
    """
    status = 0
    try:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != driver_pid:  # driver died before prctl
            os._exit(1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles ^C
        src = f"127.0.0.{SRC_ADDR_BASE + idx}"
        listeners = []
        for j in range(LISTENERS_PER_WORKER):
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((LISTEN_ADDR, LISTEN_PORT_BASE + LISTENERS_PER_WORKER * idx + j))
            ls.listen(65535)
            listeners.append(ls)
        held = []
        for k in range(nconn):
            ls = listeners[k % len(listeners)]
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # Pin the source address but let connect() pick the port, so the
            # kernel chooses it knowing the full 4-tuple (no bind() port
            # reservation, which would burn one port per socket).
            c.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            c.bind((src, 0))
            # On loopback the whole handshake runs in softirq context before
            # connect() returns (lo's xmit feeds netif_rx, drained on
            # local_bh_enable): connect never sleeps and the child is already
            # in the accept queue, so one connect + one accept per pair is as
            # fast as batching and the queue never holds more than one child.
            c.connect(ls.getsockname())
            s, _ = ls.accept()
            held.append(c)
            held.append(s)
        msg = f"ok {idx} {len(listeners) + len(held)}\n"
    except BaseException as e:  # report anything, never unwind into the driver
        msg = f"err {idx} {type(e).__name__}: {e}\n"
        status = 1
    try:
        os.write(ready_w, msg.encode())
        if status == 0:
            os.read(ctl_r, 1)  # park until EOF
    finally:
        os._exit(status)


class Population:
    """N TCP sockets held by forked workers in the current netns."""

    def __init__(self, total, procs):
        self.procs = procs
        conns = (total - procs * LISTENERS_PER_WORKER) // 2
        if conns < 0:
            die(f"--sockets {total} is below {procs * LISTENERS_PER_WORKER} listeners")
        self.per_worker = [conns // procs + (1 if i < conns % procs else 0) for i in range(procs)]
        self.expected = procs * LISTENERS_PER_WORKER + 2 * conns
        self.expected_estab = 2 * conns
        self.pids = []
        self.ctl_w = None

    def start(self):
        """Fork the workers and wait until all report their sockets built."""
        ready_r, ready_w = os.pipe()
        ctl_r, self.ctl_w = os.pipe()
        driver = os.getpid()
        sys.stdout.flush()
        for idx, nconn in enumerate(self.per_worker):
            pid = os.fork()
            if pid == 0:
                os.close(ready_r)
                os.close(self.ctl_w)
                worker_main(idx, nconn, driver, ready_w, ctl_r)
            self.pids.append(pid)
        os.close(ready_w)
        os.close(ctl_r)
        try:
            self._wait_ready(ready_r)
        finally:
            os.close(ready_r)

    def _wait_ready(self, ready_r, timeout=300):
        buf, done, held = b"", set(), 0
        deadline = time.monotonic() + timeout
        while len(done) < self.procs:
            if time.monotonic() > deadline:
                die(f"workers not ready after {timeout} s")
            r, _, _ = select.select([ready_r], [], [], 1.0)
            if r:
                chunk = os.read(ready_r, 4096)
                if not chunk:
                    die("all workers exited before reporting")
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    kind, idx, rest = line.decode().split(" ", 2)
                    if kind != "ok":
                        die(f"worker {idx}: {rest}")
                    done.add(int(idx))
                    held += int(rest)
            for i, pid in enumerate(self.pids):  # a worker killed (OOM...)?
                if i not in done and os.waitpid(pid, os.WNOHANG)[0] == pid:
                    self.pids[i] = None
                    die(f"worker {i} (pid {pid}) died while building")
        if held != self.expected:
            die(f"workers hold {held} sockets, expected {self.expected}")

    def stop(self):
        """Close the control pipe (workers exit on EOF) and reap them all."""
        if self.ctl_w is not None:
            os.close(self.ctl_w)
            self.ctl_w = None
        deadline = time.monotonic() + 30
        for i, pid in enumerate(self.pids):
            if pid is None:
                continue
            while os.waitpid(pid, os.WNOHANG)[0] != pid:
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)  # our own child, by pid
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
            self.pids[i] = None


def ss_tcp_counts():
    """(TCP inuse, estab) of the current netns, as `ss -s` prints them.

    inuse is the TCP row of the transport table (sockstat inuse, per netns);
    the "TCP:" line is alloc + tw with a *global* alloc, useless here.
    """
    out = subprocess.run(["ss", "-s"], capture_output=True, text=True, check=True).stdout
    inuse = estab = None
    for line in out.splitlines():
        fields = line.split()
        if fields[:1] == ["TCP"]:
            inuse = int(fields[1])
        elif fields[:1] == ["TCP:"] and "estab" in line:
            estab = int(line.split("estab", 1)[1].split(",")[0])
    if inuse is None or estab is None:
        die(f"cannot parse `ss -s` output:\n{out}")
    return inuse, estab


# ---------------------------------------------------------------------------
# Measuring one command


class Run:
    __slots__ = ("wall", "rc", "peak_kib", "exact_rss", "stderr")


def read_vmhwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def measure(argv):
    """Run argv (absolute path) with stdout to /dev/null; return a Run.

    Wall time is perf_counter() from before fork() to after the last wait4().

    Peak RSS: ru_maxrss from wait4() is NOT the peak of the program alone.
    The kernel keeps it per process (signal->maxrss) across execve(), and
    exec_mmap() folds in the high-water mark of the mm being replaced: after
    fork() that is the copy of this Python driver (~10 MiB), after vfork()/
    posix_spawn() the driver's own peak. So the child is traced
    (PTRACE_TRACEME) and stopped at PTRACE_EVENT_EXIT, where its post-exec mm
    is still intact, and VmHWM is read from /proc/PID/status. If ptrace is
    unavailable, ru_maxrss is used and flagged as an upper bound.

    The fixed cost (fork of this ~10 MiB driver, execve, the ptrace stops) is
    ~2 ms on a small VM; main() measures it once on /bin/true and prints it.
    """
    errf = tempfile.TemporaryFile()
    devnull = os.open(os.devnull, os.O_WRONLY)
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(devnull, 1)
            os.dup2(errf.fileno(), 2)
            libc.ptrace(PTRACE_TRACEME, 0, None, None)  # failure -> no stops
            os.execv(argv[0], argv)
        except OSError as e:
            os.write(2, f"execv {argv[0]}: {e}\n".encode())
        finally:
            os._exit(127)
    os.close(devnull)
    run = Run()
    run.peak_kib, run.exact_rss = None, False
    traced = False
    while True:
        _, status, ru = os.wait4(pid, 0)
        if not os.WIFSTOPPED(status):
            break
        sig, event = os.WSTOPSIG(status), status >> 16
        if event == PTRACE_EVENT_EXIT:
            run.peak_kib, run.exact_rss = read_vmhwm_kib(pid), True
            sig = 0
        elif event == PTRACE_EVENT_EXEC:  # a later execve() (wrapper scripts)
            sig = 0
        elif sig == signal.SIGTRAP and not traced:  # the stop after execve()
            opts = PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL
            libc.ptrace(PTRACE_SETOPTIONS, pid, None, ctypes.c_void_p(opts))
            traced, sig = True, 0
        # Resume; a real signal (signal-delivery-stop) is passed on to the child.
        libc.ptrace(PTRACE_CONT, pid, None, ctypes.c_void_p(sig))
    run.wall = time.perf_counter() - t0
    run.rc = os.waitstatus_to_exitcode(status)
    if run.peak_kib is None:
        run.peak_kib = ru.ru_maxrss
    errf.seek(0)
    run.stderr = errf.read().decode(errors="replace")
    errf.close()
    return run


def die_with_parent():
    """preexec_fn: SIGKILL the child if the driver dies (kept across execve)."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def count_lines(argv):
    """Line count of argv's stdout (one untimed run), or None if it failed."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       preexec_fn=die_with_parent)
    if p.returncode != 0:
        return None
    return p.stdout.count(b"\n")


def explain_failure(argv, rc, stderr):
    log(f"  !! `{' '.join(argv)}` exited with {rc}; no more runs of it for this pair.")
    lines = stderr.strip().splitlines()
    for line in lines[:20]:
        log(f"  !!   {line}")
    if len(lines) > 20:
        log(f"  !!   ... ({len(lines) - 20} more lines)")
    if not lines:
        log("  !!   (no stderr)")


# ---------------------------------------------------------------------------
# Benchmark driver


def bench_pair(name, sockdiag, ss, runs):
    """Alternate sockdiag and ss runs for one pair; return a result dict."""
    sd_args, ss_args = PAIRS[name]
    cmds = {}  # insertion order = run order within a round: sockdiag, ss
    if sockdiag:
        cmds["sockdiag"] = [sockdiag] + sd_args
    cmds["ss"] = [ss] + ss_args
    samples = {side: [] for side in cmds}
    failed = set()
    for i in range(runs + 1):  # round 0 is the warm-up, not recorded
        for side, argv in cmds.items():
            if side in failed:
                continue
            r = measure(argv)
            if r.rc != 0:
                explain_failure(argv, r.rc, r.stderr)
                failed.add(side)
            elif i > 0:
                samples[side].append(r)
    res = {"name": name, "cmds": cmds}
    for side in ("sockdiag", "ss"):
        s = samples.get(side)
        if s:
            walls = [r.wall for r in s]
            res[side] = {
                "median": statistics.median(walls),
                "min": min(walls),
                "max": max(walls),
                "peak_mib": max(r.peak_kib for r in s) / 1024,
                "exact_rss": all(r.exact_rss for r in s),
            }
    return res


def fmt_ms(sec):
    return f"{sec * 1e3:.1f}"


def fmt_ratio(sd, ss):
    r = sd["median"] / ss["median"]
    return f"{r:.2f}" if r >= 0.095 else f"{r:.2g}"


def report_pair(n, res):
    sd, ss = res.get("sockdiag"), res.get("ss")

    def side(label, argv, st):
        if not st:
            return f"{' '.join([label] + (argv or [])[1:])}: not measured"
        bound = "" if st["exact_rss"] else " (ru_maxrss, upper bound)"
        return (f"{' '.join([label] + argv[1:])}: median {fmt_ms(st['median'])} ms "
                f"(min {fmt_ms(st['min'])}, max {fmt_ms(st['max'])}), "
                f"peak RSS {st['peak_mib']:.1f} MiB{bound}")

    log(f"  [{n}] {res['name']}")
    log(f"      {side('sockdiag', res['cmds'].get('sockdiag'), sd)}")
    log(f"      {side('ss', res['cmds']['ss'], ss)}")
    if sd and ss:
        log(f"      ratio sockdiag/ss = {fmt_ratio(sd, ss)}")


def print_table(results):
    log()
    log("Summary (medians; ratio < 1 means sockdiag is faster)")
    hdr = f"{'N':>8}  {'pair':<10} {'sockdiag ms':>11} {'ss ms':>9} {'ratio':>6} {'sockdiag MiB':>12} {'ss MiB':>7}"
    log(hdr)
    log("-" * len(hdr))
    for n, res in results:
        sd, ss = res.get("sockdiag"), res.get("ss")
        cell = lambda st, k, f: f(st[k]) if st else "-"
        ratio = fmt_ratio(sd, ss) if sd and ss else "-"
        log(f"{n:>8}  {res['name']:<10} {cell(sd, 'median', fmt_ms):>11} "
            f"{cell(ss, 'median', fmt_ms):>9} {ratio:>6} "
            f"{cell(sd, 'peak_mib', lambda v: f'{v:.1f}'):>12} "
            f"{cell(ss, 'peak_mib', lambda v: f'{v:.1f}'):>7}")


# ---------------------------------------------------------------------------
# Filtered pair (issue 10): the filter runs in the kernel, so only the
# matching rows cross netlink. After the standard pairs, the driver adds a
# listener on 127.0.0.1:443 and FILTER_PAIRS connections to it (the clients'
# dport is 443), times `list -tn dport = :443` against `ss -tn dport = :443`,
# and counts the bytes each command receives from netlink (strace), filtered
# and unfiltered. Kept apart from the standard pairs to ease merges.
# ---------------------------------------------------------------------------

FILTER_PORT = 443
FILTER_PAIRS = 1000
FILTERED = {
    "list-dport443": (["list", "-tn", "dport", "=", f":{FILTER_PORT}"],
                      ["-tn", "dport", "=", f":{FILTER_PORT}"]),
}
# Unfiltered counterparts, for the netlink byte counts only.
UNFILTERED = {"list-dport443": (["list", "-tn"], ["-tn"])}


def netlink_bytes(argv):
    """(bytes, calls): what `argv` received from netlink sockets, summed from
    strace's recvfrom/recvmsg return values (fds annotated with -yy). ss peeks
    at each datagram first (MSG_PEEK|MSG_TRUNC, to size its buffer): those
    calls read nothing and are not counted."""
    strace = shutil.which("strace")
    if not strace:
        return None
    # /dev/null opened write-only: sockdiag takes an O_RDWR /dev/null on fd 1 (what
    # subprocess.DEVNULL opens) for a closed stdout, as the runtime leaves it.
    with tempfile.NamedTemporaryFile(prefix="bench-strace-", mode="r") as trace, \
            open(os.devnull, "w") as null:
        subprocess.run([strace, "-f", "-yy", "-qq", "-e", "trace=recvfrom,recvmsg",
                        "-o", trace.name] + argv,
                       stdout=null, stderr=null, check=False)
        total = calls = 0
        for line in trace:
            if "NETLINK" not in line or "MSG_PEEK" in line:
                continue
            ret = line.rstrip().rsplit("= ", 1)
            if len(ret) == 2 and ret[1].split()[0].isdigit():
                total += int(ret[1].split()[0])
                calls += 1
        return total, calls


def filtered_pair(n, name, sockdiag, ss, runs):
    """Adds the :443 connections, times the filtered pair, counts netlink bytes."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LISTEN_ADDR, FILTER_PORT))
    listener.listen(FILTER_PAIRS)
    held = [listener]
    try:
        for _ in range(FILTER_PAIRS):
            c = socket.create_connection((LISTEN_ADDR, FILTER_PORT))
            s, _ = listener.accept()
            held += [c, s]
        log(f"  {name}: + {FILTER_PAIRS} connections to {LISTEN_ADDR}:{FILTER_PORT} "
            f"(their clients match)")
        for side, argv in (("sockdiag", [sockdiag] + FILTERED[name][0] if sockdiag else None),
                           ("ss", [ss] + FILTERED[name][1])):
            if argv:
                log(f"  output lines: {' '.join([side] + argv[1:]):<32} {count_lines(argv)}")
        for side, i in (("sockdiag", 0), ("ss", 1)):
            if side == "sockdiag" and not sockdiag:
                continue
            binary = sockdiag if side == "sockdiag" else ss
            got = [netlink_bytes([binary] + table[name][i]) for table in (FILTERED, UNFILTERED)]
            if None in got:
                log("  netlink bytes: strace not found, not measured")
                break
            (fb, fc), (ub, uc) = got
            log(f"  netlink bytes received, {side}: filtered {fb} in {fc} recv calls, "
                f"unfiltered {ub} in {uc} ({fb / ub:.4f} of it)" if ub else
                f"  netlink bytes received, {side}: filtered {fb}, unfiltered {ub}")
        log(f"  timing {name}: 1 warm-up + {runs} runs of each side ...")
        PAIRS[name] = FILTERED[name]  # bench_pair reads the arguments from PAIRS
        try:
            res = bench_pair(name, sockdiag, ss, runs)
        finally:
            del PAIRS[name]
        report_pair(n, res)
        return res
    finally:
        for sock in held:
            sock.close()


def parse_sizes(text):
    sizes = []
    for tok in text.split(","):
        tok = tok.strip().lower()
        mult = 1000 if tok.endswith("k") else 1
        sizes.append(int(tok.rstrip("k")) * mult)
    return sizes


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sockets", default="10000,100000",
                    help="comma-separated population sizes, total TCP sockets (10k suffix ok)")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per command (plus one warm-up)")
    ap.add_argument("--procs", type=int, default=10, help="worker processes holding the sockets")
    ap.add_argument("--sockdiag", default=os.path.join(repo, "target/release/sockdiag"),
                    help="sockdiag binary (default: target/release/sockdiag in the repo)")
    ap.add_argument("--only", default=",".join(list(PAIRS) + list(FILTERED)),
                    help=f"comma-separated pairs among {','.join(list(PAIRS) + list(FILTERED))}")
    args = ap.parse_args()

    if os.geteuid() != 0:
        die("must run as root (unshare(CLONE_NEWNET), ss -p over every process)")
    sizes = parse_sizes(args.sockets)
    pairs = [p.strip() for p in args.only.split(",") if p.strip()]
    for p in pairs:
        if p not in PAIRS and p not in FILTERED:
            die(f"unknown pair {p!r} in --only (known: {', '.join(list(PAIRS) + list(FILTERED))})")
    ss = shutil.which("ss") or die("ss not found in PATH")
    sockdiag = os.path.abspath(args.sockdiag)
    if not (os.path.isfile(sockdiag) and os.access(sockdiag, os.X_OK)):
        log(f"!! sockdiag binary not found or not executable: {sockdiag}")
        log("!! (cargo build --release, or pass --sockdiag PATH); measuring ss only.")
        sockdiag = None

    nofile = raise_nofile_limit()
    log(f"sockdiag: {sockdiag or '(none)'}")
    log(f"ss:       {ss} ({subprocess.run([ss, '-V'], capture_output=True, text=True).stdout.strip()})")
    log(f"RLIMIT_NOFILE {nofile}, {os.cpu_count()} CPUs, kernel {os.uname().release}, "
        f"runs {args.runs} + 1 warm-up, pairs {','.join(pairs)}")

    # Fixed cost in every timed run (fork of this driver, execve, two ptrace
    # stops): it pushes every ratio towards 1 when the commands are short.
    floor = statistics.median(measure(["/bin/true"]).wall for _ in range(7))
    log(f"spawn overhead (fork+exec+ptrace of /bin/true): {fmt_ms(floor)} ms, "
        f"included in every time below")

    results = []
    for n in sizes:
        per_proc = min(MAX_SOCKETS_PER_WORKER, nofile - 100)
        procs = max(args.procs, -(-n // per_proc))
        if procs != args.procs:
            log(f"note: {n} sockets need {procs} workers at <= {per_proc} fds each")
        log()
        log(f"=== N = {n} TCP sockets, {procs} workers ===")
        ino = enter_private_netns()
        log(f"private netns net:[{ino}], lo up, {NETNS_SYSCTLS['net/ipv4/ip_local_port_range']!r} ports")
        pop = Population(n, procs)
        try:
            t0 = time.perf_counter()
            pop.start()
            built = time.perf_counter() - t0
            inuse, estab = ss_tcp_counts()
            for _ in range(50):  # exact per-netns counts; allow a moment to settle
                if (inuse, estab) == (pop.expected, pop.expected_estab):
                    break
                time.sleep(0.1)
                inuse, estab = ss_tcp_counts()
            log(f"built {pop.expected} sockets in {built:.2f} s; "
                f"ss -s: TCP inuse {inuse}, estab {estab}")
            if inuse != pop.expected or estab != pop.expected_estab:
                die(f"ss -s disagrees: expected inuse {pop.expected}, estab {pop.expected_estab}")

            # Output sizes, once: both sides should have done the same work.
            # ss prints one header line; sockdiag's format is its own.
            seen = set()
            for p in [p for p in pairs if p in PAIRS]:
                for side, argv in (("sockdiag", [sockdiag] + PAIRS[p][0] if sockdiag else None),
                                   ("ss", [ss] + PAIRS[p][1])):
                    if argv and tuple(argv) not in seen:
                        seen.add(tuple(argv))
                        lines = count_lines(argv)
                        shown = " ".join([side] + argv[1:])
                        log(f"  output lines: {shown:<22} "
                            f"{lines if lines is not None else 'FAILED'}")

            for p in [p for p in pairs if p in PAIRS]:
                log(f"  timing {p}: 1 warm-up + {args.runs} runs of each side ...")
                res = bench_pair(p, sockdiag, ss, args.runs)
                report_pair(n, res)
                results.append((n, res))
            for p in [p for p in pairs if p in FILTERED]:
                results.append((n, filtered_pair(n, p, sockdiag, ss, args.runs)))
        finally:
            t0 = time.perf_counter()
            pop.stop()
            log(f"workers stopped and reaped in {time.perf_counter() - t0:.2f} s")
    print_table(results)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # workers were already reaped by main()'s finally
        log("\nbench: interrupted")
        sys.exit(130)
