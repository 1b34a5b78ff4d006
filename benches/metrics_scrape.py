#!/usr/bin/env python3
"""What a Prometheus scrape of `sockdiag metrics --listen` costs, against `sockdiag summary`.

    python3 benches/metrics_scrape.py [--sockets 100000] [--procs 10] [--runs 7]
                                      [--sockdiag PATH]

Must run as root. It builds the population of bench.py (ESTABLISHED pairs and listeners
held by --procs workers) in a private network namespace it makes, starts the exporter on
127.0.0.1 inside it, and times in alternation, after one warm-up of each:

    A  one scrape: GET /metrics (a fresh census per scrape)
    B  sockdiag summary > /dev/null

printing the median of each and the ratio A/B (the issue's target: <= 1.1). The exporter
and the workers are stopped at the end. Standard library only.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the population and the private namespace)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url):
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as answer:
        body = answer.read()
    if b"sockdiag_tcp_closed_sockets" not in body:
        raise SystemExit("the scrape has no sockdiag_tcp_closed_sockets")
    return time.perf_counter() - start


def summary(sockdiag):
    start = time.perf_counter()
    subprocess.run([sockdiag, "summary"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sockets", type=int, default=100_000)
    ap.add_argument("--procs", type=int, default=10)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--sockdiag", default="target/release/sockdiag")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("must run as root (a private network namespace)")
    sockdiag = os.path.abspath(args.sockdiag)
    bench.raise_nofile_limit()
    bench.enter_private_netns()
    pop = bench.Population(args.sockets, args.procs)
    exporter = None
    try:
        pop.start()
        port = free_port()
        exporter = subprocess.Popen([sockdiag, "metrics", "--listen", f"127.0.0.1:{port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/metrics"
        for _ in range(100):
            try:
                scrape(url)
                break
            except OSError:
                time.sleep(0.1)
        summary(sockdiag)  # warm-up of both
        a, b = [], []
        for _ in range(args.runs):
            a.append(scrape(url))
            b.append(summary(sockdiag))
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{args.sockets} TCP sockets held by {args.procs} processes")
        print(f"scrape of sockdiag metrics --listen  median {ma * 1000:8.1f} ms")
        print(f"sockdiag summary                     median {mb * 1000:8.1f} ms")
        print(f"ratio scrape/summary: {ma / mb:.3f} (target <= 1.1)")
    finally:
        if exporter:
            exporter.kill()
            exporter.wait()
        pop.stop()


if __name__ == "__main__":
    main()
