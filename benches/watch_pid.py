#!/usr/bin/env python3
"""What `sockdiag watch --pid` saves: one sample of one process vs a full-census sample.

    python3 benches/watch_pid.py [--sockets 100000] [--procs 10] [--runs 7]
                                 [--sockdiag PATH]

Must run as root. In a private network namespace (unshare(CLONE_NEWNET) through
ctypes; nothing touches the root netns) it starts --procs worker processes
holding --sockets never-bound TCP sockets between them (the TCP_CLOSE sockets a
leak leaves: no dump returns them, the fd walk finds them and each is asked its
namespace and state), then times, in alternation after one warm-up of each,

    sockdiag watch --count 1 --json              (the full census)
    sockdiag watch --count 1 --json --pid P      (P: one worker)

and prints the median wall time of each, the median sample cost the tool itself
reports (duration_ms), and the ratios pid/full (target <= 0.2).

Standard library only.
"""

import argparse
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000

WORKER = r"""
import resource, socket, sys
n = int(sys.argv[1])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(n + 100, hard), hard))
held = [socket.socket() for _ in range(n)]
print('ready', flush=True)
sys.stdin.read()
"""


def unshare_net():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        sys.exit(f"unshare(CLONE_NEWNET): {os.strerror(err)} (run as root)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def sample(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    line = json.loads(out.splitlines()[0])
    return wall, line["duration_ms"], line


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=100_000)
    parser.add_argument("--procs", type=int, default=10)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sockdiag", default="target/release/sockdiag")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("must run as root")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    unshare_net()
    per = args.sockets // args.procs
    workers = []
    try:
        for _ in range(args.procs):
            w = subprocess.Popen(
                ["/usr/bin/python3", "-c", WORKER, str(per)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert w.stdout.readline() == "ready\n"
            workers.append(w)
        target = workers[0].pid
        full = [args.sockdiag, "watch", "--count", "1", "--json"]
        pid = full + ["--pid", str(target)]
        # Same work seen? The full census sees every worker, --pid one.
        _, _, line = sample(full)
        print(f"{per * args.procs} never-bound TCP sockets, {args.procs} processes of {per}")
        print(f"full: {len(line['processes'])} holders, unbound {line['closed']['unbound']}")
        _, _, line = sample(pid)
        print(f"--pid {target}: {len(line['processes'])} holder, unbound {line['closed']['unbound']}")
        results = {"full": [], "pid": []}
        for _ in range(args.runs):
            results["full"].append(sample(full)[:2])
            results["pid"].append(sample(pid)[:2])
        med = {}
        for name, runs in results.items():
            wall = statistics.median(w for w, _ in runs)
            cost = statistics.median(d for _, d in runs)
            med[name] = (wall, cost)
            print(f"{name:>5}: median wall {wall * 1000:8.1f} ms, median sample cost {cost:6d} ms "
                  f"({args.runs} runs)")
        print(f"ratio pid/full: wall {med['pid'][0] / med['full'][0]:.3f}, "
              f"sample cost {med['pid'][1] / max(med['full'][1], 1):.3f} (target <= 0.2)")
    finally:
        for w in workers:
            w.stdin.close()
            w.wait()


if __name__ == "__main__":
    main()
