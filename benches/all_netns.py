#!/usr/bin/env python3
"""Benchmark `sockdiag summary --all-netns` against what a user runs today on a node.

    python3 benches/all_netns.py [--namespaces 100] [--sockets 1000] [--never-bound 0]
                                 [--runs 7] [--sockdiag PATH]

Must run as root. It makes --namespaces named network namespaces (`ip netns add
sockdiag-bench-N`), each with `lo` up and one holder process (`ip netns exec`) keeping
--sockets TCP sockets (ESTABLISHED pairs over 127.0.0.1, both ends held) and --never-bound
sockets never bound (a leak: each namespace then holds a socket in TCP_CLOSE, so sockdiag
dumps every one instead of counting it), then times, in alternation after one warm-up of
each, output to /dev/null:

    A  sockdiag summary --all-netns
    B  for ns in $(ip netns list | grep sockdiag-bench); do ip netns exec $ns ss -tan; done

and prints the median of each and the ratio A/B (the issue's target: <= 0.25). sockdiag
also counts every other namespace of the machine, so A does at least B's work. Every
namespace and process it made is removed at the end, also on error or Ctrl-C.

Standard library only.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

PREFIX = "sockdiag-bench-"

HOLDER = r"""
import socket, sys
pairs, never_bound = int(sys.argv[1]), int(sys.argv[2])
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(pairs)
held = [socket.socket() for _ in range(never_bound)]
for _ in range(pairs):
    c = socket.create_connection(l.getsockname()); a, _ = l.accept(); held += [c, a]
print('ready', flush=True)
sys.stdin.read()
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def make(namespaces, sockets, never_bound):
    holders = []
    for i in range(namespaces):
        name = f"{PREFIX}{i}"
        subprocess.run(["ip", "netns", "delete", name], stderr=subprocess.DEVNULL)
        run(["ip", "netns", "add", name])
        run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"])
        p = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-c", HOLDER, str(sockets // 2),
             str(never_bound)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        holders.append(p)
    for p in holders:
        if p.stdout.readline().strip() != "ready":
            raise SystemExit("a holder did not start")
    return holders


def clean(holders, namespaces):
    for p in holders:
        p.kill()
        p.wait()
    for i in range(namespaces):
        subprocess.run(["ip", "netns", "delete", f"{PREFIX}{i}"], stderr=subprocess.DEVNULL)


def timed(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {done.stderr.strip()}")
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--sockets", type=int, default=1000)
    ap.add_argument("--never-bound", type=int, default=0)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--sockdiag", default="target/release/sockdiag")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("must run as root (ip netns add)")
    for tool in ("ip", "ss"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} missing: bash .ci/setup")

    holders = []
    try:
        started = time.perf_counter()
        holders = make(args.namespaces, args.sockets, args.never_bound)
        print(f"{args.namespaces} namespaces x {args.sockets} TCP sockets "
              f"(+ {args.never_bound} never bound) built in "
              f"{time.perf_counter() - started:.1f} s")
        a = [args.sockdiag, "summary", "--all-netns"]
        b = ["sh", "-c", f"for ns in $(ip netns list | cut -d' ' -f1 | grep '^{PREFIX}'); "
             "do ip netns exec $ns ss -tan; done"]
        lines = subprocess.run(b, capture_output=True, text=True).stdout.count("\n")
        print(f"ss rows over all namespaces: {lines}")
        timed(a), timed(b)  # warm-up
        ta, tb = [], []
        for _ in range(args.runs):
            ta.append(timed(a))
            tb.append(timed(b))
        ma, mb = statistics.median(ta), statistics.median(tb)
        print(f"sockdiag summary --all-netns  median {ma * 1000:8.1f} ms")
        print(f"ip netns exec ss -tan, each   median {mb * 1000:8.1f} ms")
        print(f"ratio sockdiag/loop: {ma / mb:.3f} (target <= 0.25)")
    finally:
        clean(holders, args.namespaces)


if __name__ == "__main__":
    main()
