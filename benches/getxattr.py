#!/usr/bin/env python3
"""Count the getxattr calls of `sockdiag summary --json` next to many unix sockets.

    python3 benches/getxattr.py [--unix-pairs 9000] [--unbound 5] [--sockdiag PATH]

Must run as root. In a fresh private network namespace (unshare(CLONE_NEWNET),
as bench.py does) one process (benches/holders.c, compiled with gcc into a
temporary directory) holds --unix-pairs socketpair(AF_UNIX, SOCK_STREAM) pairs
(18,000 unix sockets by default) and --unbound never-bound TCP sockets. Then

    strace -f -c -e trace=getxattr,lgetxattr,fgetxattr sockdiag summary --json

runs in that namespace and the calls are counted. `summary` walks the /proc of
the whole host, so sockets of other processes on the machine count too: the
figure is an upper bound for this population. Standard library only; needs strace.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (same directory)

SYSCALLS = ("getxattr", "lgetxattr", "fgetxattr")


def parse_strace_summary(text):
    """syscall -> (calls, errors) from an `strace -c` table."""
    counts = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 5 and f[-1] in SYSCALLS and f[3].isdigit():
            errors = int(f[4]) if len(f) == 6 and f[4].isdigit() else 0
            counts[f[-1]] = (int(f[3]), errors)
    return counts


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unix-pairs", type=int, default=9000, help="unix socketpairs held (default 9000)")
    ap.add_argument("--unbound", type=int, default=5, help="never-bound TCP sockets held (default 5)")
    ap.add_argument("--sockdiag", default=os.path.join(repo, "target/release/sockdiag"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        bench.die("must run as root")
    strace = shutil.which("strace") or bench.die("strace not found (apt-get install strace)")
    sockdiag = os.path.abspath(args.sockdiag)
    if not os.access(sockdiag, os.X_OK):
        bench.die(f"sockdiag binary not found: {sockdiag} (cargo build --release)")
    bench.raise_nofile_limit()
    with tempfile.TemporaryDirectory(prefix="sockdiag-getxattr-") as tmp:
        holders = bench.compile_helpers(["holders"], tmp)["holders"]
        ino = bench.enter_private_netns()
        pop = bench.HolderPopulation(holders, 1, 0, args.unbound, args.unix_pairs)
        try:
            pop.start()
            unix = bench.count_lines(["ss", "-xa"]) - 1  # header line
            bench.log(f"private netns net:[{ino}]: 1 process holding {2 * args.unix_pairs} unix "
                      f"sockets ({args.unix_pairs} pairs; ss -xa lists {unix} in this netns) and "
                      f"{args.unbound} never-bound TCP sockets")
            out = os.path.join(tmp, "strace.txt")
            argv = [strace, "-f", "-c", "-o", out, "-e", "trace=" + ",".join(SYSCALLS),
                    sockdiag, "summary", "--json"]
            p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if p.returncode != 0:
                bench.die(f"`{' '.join(argv)}` exited with {p.returncode}:\n{p.stderr}")
            with open(out) as f:
                table = f.read()
        finally:
            pop.stop()
    counts = parse_strace_summary(table)
    bench.log(f"$ {' '.join(['strace'] + argv[1:3] + argv[5:7] + ['sockdiag', 'summary', '--json'])}")
    for line in table.rstrip().splitlines():
        bench.log(f"  {line}")
    total = sum(c for c, _ in counts.values())
    errors = sum(e for _, e in counts.values())
    bench.log(f"getxattr-family calls: {total} ({errors} failed); target < 100")


if __name__ == "__main__":
    main()
