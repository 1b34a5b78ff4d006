#!/usr/bin/env python3
"""Benchmark sockdiag against ss(8) on large TCP socket populations.

    python3 benches/bench.py [--sockets 10000,100000] [--runs 7] [--procs 10]
                             [--sockdiag PATH] [--only PAIR,...]
    python3 benches/bench.py --procs-population 2000 [--runs 5]

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
     output to /dev/null, and reports median wall and CPU time, the ratio
     sockdiag/reference, and peak RSS. The reference is ss, or for the floor-*
     pairs the bare receive-and-count program benches/floor.c (compiled here
     with gcc into a temporary directory);
  4. stops the workers, which frees the netns.

With --procs-population P it instead builds P small processes (benches/holders.c)
in a fresh private netns, each holding --procs-pairs ESTABLISHED pairs (both
ends) and --procs-unbound never-bound TCP sockets, and times `sockdiag summary`,
`sockdiag list -tanp` and `sockdiag list -tan` in alternation, reporting
summary/list-tan and list-tanp/list-tan.

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

# idiag_states masks given to the floor program: what `sockdiag list -tan` asks
# (every state 1..13) and what `sockdiag list -tn` asks (ss's connected states:
# ESTABLISHED, SYN_SENT, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING).
ALL_STATES = (1 << 14) - 2         # 0x3ffe
CONNECTED_STATES = 0xb36

# Benchmark pairs: name -> (sockdiag arguments, reference program, its arguments).
# The reference is "ss" (iproute2) or "floor" (benches/floor.c).
PAIRS = {
    "list-tn": (["list", "-tn"], "ss", ["-tn"]),
    "list-tanp": (["list", "-tanp"], "ss", ["-tanp"]),
    "summary": (["summary"], "ss", ["-tanp"]),
    "floor-tan": (["list", "-tan"], "floor", [hex(ALL_STATES)]),
    "floor-tn": (["list", "-tn"], "floor", [hex(CONNECTED_STATES)]),
}

# The process population (--procs-population): commands timed in alternation,
# and the ratios reported (numerator, denominator).
PROCS_CMDS = {
    "summary": ["summary"],
    "list-tanp": ["list", "-tanp"],
    "list-tan": ["list", "-tan"],
}
PROCS_RATIOS = [("summary", "list-tan"), ("list-tanp", "list-tan")]

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
    __slots__ = ("wall", "cpu", "rc", "peak_kib", "exact_rss", "stderr")


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
    # User + system CPU of the child and its threads (the rusage of the final
    # wait4, the one that reaped it): on a shared, loaded machine wall time
    # includes time spent waiting for a CPU, CPU time does not.
    run.cpu = ru.ru_utime + ru.ru_stime
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


def stats_of(samples):
    walls = [r.wall for r in samples]
    return {
        "median": statistics.median(walls),
        "min": min(walls),
        "max": max(walls),
        "cpu": statistics.median(r.cpu for r in samples),
        "peak_mib": max(r.peak_kib for r in samples) / 1024,
        "exact_rss": all(r.exact_rss for r in samples),
    }


def alternate(cmds, runs):
    """Run the commands of `cmds` (label -> argv) in turn, one warm-up round then
    `runs` timed rounds; return label -> stats (absent for a failed command)."""
    samples = {label: [] for label in cmds}
    failed = set()
    for i in range(runs + 1):  # round 0 is the warm-up, not recorded
        for label, argv in cmds.items():
            if label in failed:
                continue
            r = measure(argv)
            if r.rc != 0:
                explain_failure(argv, r.rc, r.stderr)
                failed.add(label)
            elif i > 0:
                samples[label].append(r)
    return {label: stats_of(s) for label, s in samples.items() if s}


def bench_pair(name, sockdiag, refs, runs):
    """Alternate sockdiag and its reference for one pair; return a result dict.

    refs: reference name ("ss", "floor") -> program path."""
    sd_args, ref, ref_args = PAIRS[name]
    cmds = {}  # insertion order = run order within a round: sockdiag, reference
    if sockdiag:
        cmds["sockdiag"] = [sockdiag] + sd_args
    cmds[ref] = [refs[ref]] + ref_args
    stats = alternate(cmds, runs)
    return {"name": name, "cmds": cmds, "ref": ref,
            "sockdiag": stats.get("sockdiag"), "other": stats.get(ref)}


def fmt_ms(sec):
    return f"{sec * 1e3:.1f}"


def fmt_ratio(a, b, key="median"):
    if not b[key]:
        return "-"
    r = a[key] / b[key]
    return f"{r:.2f}" if r >= 0.095 else f"{r:.2g}"


def describe(label, argv, st):
    shown = " ".join([label] + (argv or [])[1:])
    if not st:
        return f"{shown}: not measured"
    bound = "" if st["exact_rss"] else " (ru_maxrss, upper bound)"
    return (f"{shown}: median {fmt_ms(st['median'])} ms "
            f"(min {fmt_ms(st['min'])}, max {fmt_ms(st['max'])}), "
            f"CPU {fmt_ms(st['cpu'])} ms, peak RSS {st['peak_mib']:.1f} MiB{bound}")


def report_pair(n, res):
    sd, other, ref = res["sockdiag"], res["other"], res["ref"]
    log(f"  [{n}] {res['name']}")
    log(f"      {describe('sockdiag', res['cmds'].get('sockdiag'), sd)}")
    log(f"      {describe(ref, res['cmds'][ref], other)}")
    if sd and other:
        log(f"      ratio sockdiag/{ref} = {fmt_ratio(sd, other)} "
            f"(CPU time ratio {fmt_ratio(sd, other, 'cpu')})")


def print_table(results):
    log()
    log("Summary (medians; ratio < 1 means sockdiag is faster; ref = ss, or floor for floor-*)")
    hdr = (f"{'N':>8}  {'pair':<10} {'sockdiag ms':>11} {'ref ms':>9} {'ratio':>6} "
           f"{'cpu ratio':>9} {'sockdiag MiB':>12} {'ref MiB':>7}")
    log(hdr)
    log("-" * len(hdr))
    for n, res in results:
        sd, other = res["sockdiag"], res["other"]
        cell = lambda st, k, f: f(st[k]) if st else "-"
        ratio = fmt_ratio(sd, other) if sd and other else "-"
        cpu_ratio = fmt_ratio(sd, other, "cpu") if sd and other else "-"
        log(f"{n:>8}  {res['name']:<10} {cell(sd, 'median', fmt_ms):>11} "
            f"{cell(other, 'median', fmt_ms):>9} {ratio:>6} {cpu_ratio:>9} "
            f"{cell(sd, 'peak_mib', lambda v: f'{v:.1f}'):>12} "
            f"{cell(other, 'peak_mib', lambda v: f'{v:.1f}'):>7}")


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


def compile_helpers(names, workdir):
    """gcc benches/NAME.c -> workdir/NAME for each name; return name -> path."""
    cc = shutil.which("gcc") or shutil.which("cc") or die("gcc not found (needed for benches/*.c)")
    here = os.path.dirname(os.path.abspath(__file__))
    out = {}
    for name in names:
        src, exe = os.path.join(here, name + ".c"), os.path.join(workdir, name)
        p = subprocess.run([cc, "-O2", "-Wall", "-o", exe, src], capture_output=True, text=True)
        if p.returncode != 0:
            die(f"{cc} {src} failed:\n{p.stderr}")
        out[name] = exe
    return out


class HolderPopulation:
    """`procs` processes (benches/holders.c) in the current netns, each holding
    `pairs` ESTABLISHED pairs (both ends), `unbound` never-bound TCP sockets and
    `unix_pairs` unix socketpairs; each TCP socket is dup()ed `dups` more times."""

    def __init__(self, holders, procs, pairs, unbound, unix_pairs=0, dups=0):
        self.argv = [holders, str(procs), str(pairs), str(unbound), str(unix_pairs), str(dups)]
        self.expected = procs * (2 * pairs + unbound + 2 * unix_pairs)
        self.expected_inuse = procs * 2 * pairs
        self.proc = None

    def start(self, timeout=300):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode().strip() if r else "(timeout)"
        if not line.startswith("ready "):
            self.stop()
            die(f"holders: {line or 'exited without reporting'}")
        held = int(line.split()[2])
        if held != self.expected:
            self.stop()
            die(f"holders hold {held} sockets, expected {self.expected}")

    def stop(self):
        """EOF on the holders' stdin: it SIGKILLs its own children and reaps them."""
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # our own child, by pid
                self.proc.wait()
            self.proc = None


def check_counts(expected_inuse, expected_estab):
    inuse, estab = ss_tcp_counts()
    for _ in range(50):  # exact per-netns counts; allow a moment to settle
        if (inuse, estab) == (expected_inuse, expected_estab):
            break
        time.sleep(0.1)
        inuse, estab = ss_tcp_counts()
    if inuse != expected_inuse or estab != expected_estab:
        die(f"ss -s disagrees: expected inuse {expected_inuse}, estab {expected_estab}; "
            f"got {inuse}, {estab}")
    return inuse, estab


def run_procs_population(args, sockdiag, holders, ss):
    """The --procs-population benchmark: many small processes, few sockets each."""
    n = args.procs_population
    log()
    dups = f", each TCP descriptor dup()ed {args.procs_dups} more times" if args.procs_dups else ""
    log(f"=== {n} processes, each {args.procs_pairs} ESTABLISHED pairs (both ends held) "
        f"+ {args.procs_unbound} never-bound TCP sockets{dups} ===")
    ino = enter_private_netns()
    log(f"private netns net:[{ino}], lo up")
    pop = HolderPopulation(holders, n, args.procs_pairs, args.procs_unbound, dups=args.procs_dups)
    try:
        t0 = time.perf_counter()
        pop.start()
        built = time.perf_counter() - t0
        inuse, estab = check_counts(pop.expected_inuse, pop.expected_inuse)
        log(f"built {pop.expected} TCP sockets ({pop.expected - pop.expected_inuse} never bound) "
            f"in {n} processes in {built:.2f} s; ss -s: TCP inuse {inuse}, estab {estab}")
        cmds = {label: [sockdiag] + a for label, a in PROCS_CMDS.items()}
        if args.procs_ss:
            cmds["ss -tanp"] = [ss, "-tanp"]
        for label, argv in cmds.items():
            lines = count_lines(argv)
            shown = label if label.startswith("ss") else " ".join(["sockdiag"] + argv[1:])
            log(f"  output lines: {shown:<26} "
                f"{lines if lines is not None else 'FAILED'}")
        log(f"  timing {', '.join(cmds)} in alternation: 1 warm-up + {args.runs} rounds ...")
        stats = alternate(cmds, args.runs)
        for label, argv in cmds.items():
            log(f"      {describe('ss' if label.startswith('ss') else 'sockdiag', argv, stats.get(label))}")
        log()
        log(f"Ratios of medians, one run ({n} processes; target: each within 20x)")
        ratios = PROCS_RATIOS + ([("list-tanp", "ss -tanp"), ("ss -tanp", "list-tan")]
                                 if args.procs_ss else [])
        for a, b in ratios:
            if a in stats and b in stats:
                log(f"  {a} / {b}: wall {fmt_ratio(stats[a], stats[b])}, "
                    f"CPU {fmt_ratio(stats[a], stats[b], 'cpu')}")
            else:
                log(f"  {a} / {b}: not measured")
    finally:
        t0 = time.perf_counter()
        pop.stop()
        log(f"holders stopped and reaped in {time.perf_counter() - t0:.2f} s")


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sockets", default=None,
                    help="comma-separated population sizes, total TCP sockets (10k suffix ok); "
                         "default 10000,100000, none with --procs-population")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per command (plus one warm-up)")
    ap.add_argument("--procs", type=int, default=10, help="worker processes holding the sockets")
    ap.add_argument("--sockdiag", default=os.path.join(repo, "target/release/sockdiag"),
                    help="sockdiag binary (default: target/release/sockdiag in the repo)")
    ap.add_argument("--only", default=",".join(list(PAIRS) + list(FILTERED)),
                    help=f"comma-separated pairs among {','.join(list(PAIRS) + list(FILTERED))}")
    ap.add_argument("--procs-population", type=int, default=0, metavar="P",
                    help="also (or, without --sockets, only) the process population: "
                         "P processes holding a few sockets each")
    ap.add_argument("--procs-pairs", type=int, default=5,
                    help="ESTABLISHED pairs per process in the process population (default 5)")
    ap.add_argument("--procs-unbound", type=int, default=5,
                    help="never-bound TCP sockets per process in the process population (default 5)")
    ap.add_argument("--procs-dups", type=int, default=0, metavar="K",
                    help="dup() each TCP socket of the process population K more times: "
                         "K+1 /proc/PID/fd links per socket (cost per link vs per process)")
    ap.add_argument("--procs-ss", action="store_true",
                    help="time `ss -tanp` too in the process population (about 5 s a run)")
    args = ap.parse_args()

    if os.geteuid() != 0:
        die("must run as root (unshare(CLONE_NEWNET), ss -p over every process)")
    if args.sockets is None:
        args.sockets = "" if args.procs_population else "10000,100000"
    sizes = parse_sizes(args.sockets) if args.sockets.strip() else []
    pairs = [p.strip() for p in args.only.split(",") if p.strip()] if sizes else []
    for p in pairs:
        if p not in PAIRS and p not in FILTERED:
            die(f"unknown pair {p!r} in --only (known: {', '.join(list(PAIRS) + list(FILTERED))})")
    ss = shutil.which("ss") or die("ss not found in PATH")
    sockdiag = os.path.abspath(args.sockdiag)
    if not (os.path.isfile(sockdiag) and os.access(sockdiag, os.X_OK)):
        log(f"!! sockdiag binary not found or not executable: {sockdiag}")
        if args.procs_population:
            die("the process population measures sockdiag alone")
        log("!! (cargo build --release, or pass --sockdiag PATH); measuring the references only.")
        sockdiag = None

    nofile = raise_nofile_limit()
    log(f"sockdiag: {sockdiag or '(none)'}")
    log(f"ss:       {ss} ({subprocess.run([ss, '-V'], capture_output=True, text=True).stdout.strip()})")
    log(f"RLIMIT_NOFILE {nofile}, {os.cpu_count()} CPUs, kernel {os.uname().release}, "
        f"runs {args.runs} + 1 warm-up, pairs {','.join(pairs) or '-'}"
        + (f", process population {args.procs_population}" if args.procs_population else ""))

    # Fixed cost in every timed run (fork of this driver, execve, two ptrace
    # stops): it pushes every ratio towards 1 when the commands are short.
    floor = statistics.median(measure(["/bin/true"]).wall for _ in range(7))
    log(f"spawn overhead (fork+exec+ptrace of /bin/true): {fmt_ms(floor)} ms, "
        f"included in every time below")

    helpers_dir = tempfile.TemporaryDirectory(prefix="sockdiag-bench-")
    wanted = (["floor"] if any(PAIRS[p][1] == "floor" for p in pairs) else []) + \
             (["holders"] if args.procs_population else [])
    helpers = compile_helpers(wanted, helpers_dir.name)
    refs = {"ss": ss, **helpers}
    if "floor" in helpers:
        log(f"floor:    {helpers['floor']} (benches/floor.c, gcc -O2)")

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
            inuse, estab = check_counts(pop.expected, pop.expected_estab)
            log(f"built {pop.expected} sockets in {built:.2f} s; "
                f"ss -s: TCP inuse {inuse}, estab {estab}")

            # Output sizes, once: both sides should have done the same work.
            # ss prints one header line, floor one count; sockdiag's format is its own.
            seen = set()
            for p in [p for p in pairs if p in PAIRS]:
                sd_args, ref, ref_args = PAIRS[p]
                for side, argv in (("sockdiag", [sockdiag] + sd_args if sockdiag else None),
                                   (ref, [refs[ref]] + ref_args)):
                    if argv and tuple(argv) not in seen:
                        seen.add(tuple(argv))
                        if ref == "floor" and side == ref:
                            p_out = subprocess.run(argv, capture_output=True, text=True)
                            what = f"{p_out.stdout.strip()} messages" if p_out.returncode == 0 else "FAILED"
                            log(f"  floor count:  {' '.join([side] + argv[1:]):<22} {what}")
                            continue
                        lines = count_lines(argv)
                        shown = " ".join([side] + argv[1:])
                        log(f"  output lines: {shown:<22} "
                            f"{lines if lines is not None else 'FAILED'}")

            for p in [p for p in pairs if p in PAIRS]:
                log(f"  timing {p}: 1 warm-up + {args.runs} runs of each side ...")
                res = bench_pair(p, sockdiag, refs, args.runs)
                report_pair(n, res)
                results.append((n, res))
            for p in [p for p in pairs if p in FILTERED]:
                results.append((n, filtered_pair(n, p, sockdiag, ss, args.runs)))
        finally:
            t0 = time.perf_counter()
            pop.stop()
            log(f"workers stopped and reaped in {time.perf_counter() - t0:.2f} s")
    if results:
        print_table(results)
    if args.procs_population:
        run_procs_population(args, sockdiag, helpers["holders"], ss)
    helpers_dir.cleanup()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # workers were already reaped by main()'s finally
        log("\nbench: interrupted")
        sys.exit(130)
