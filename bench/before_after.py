#!/usr/bin/env python3
"""Two corral builds on the same workloads, interleaved run by run, medians.

    python3 bench/before_after.py BEFORE_EXE AFTER_EXE [--runs 5]

For a change that must not regress (a restructuring): footprint of the runner
plus its helpers with 3 / 100 / 1,000 processes, start of 100, shutdown of 100
(the workloads and measurements of bench/peers.py). Runs alternate between the
two builds so that a noisy machine disturbs both alike; the table gives the
median of each and the ratio after/before. A benchmark, not a test.
"""
import argparse, os, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    runners = {"before": peers.Corral(os.path.abspath(a.before)), "after": peers.Corral(os.path.abspath(a.after))}
    rows = {}
    def add(row, who, v):
        rows.setdefault(row, {}).setdefault(who, []).append(v)
    for i in range(a.runs):
        for who, r in (runners.items() if i % 2 == 0 else reversed(list(runners.items()))):
            for n in (3, 100, 1000):
                up, mem = peers.run_start_footprint(r, n)
                add(f"memory, {n} processes (MB)", who, (mem or 0) / 1024)
                if n == 100:
                    add("start of 100 (ms)", who, (up or 0) * 1000)
            add("shutdown of 100 (ms)", who, peers.run_shutdown(r) * 1000)
        print(f"run {i + 1}/{a.runs} done", file=sys.stderr)
    print(f"| measure (median of {a.runs}) | before | after | after/before |")
    print("|---|---|---|---|")
    for row, by in rows.items():
        b, f = statistics.median(by["before"]), statistics.median(by["after"])
        print(f"| {row} | {b:.1f} | {f:.1f} | {f / b:.2f} |")

if __name__ == "__main__":
    main()
