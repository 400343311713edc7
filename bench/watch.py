#!/usr/bin/env python3
"""File watching at scale: a tree of 100,000 files (1,000 directories of 100).

Measures, with and without `watch` on the tree (same process otherwise):
start-up (launch until the process prints), corral's resident memory once
running, and the CPU time corral uses over a quiet period (nothing changes).

    python3 bench/watch.py [--corral target/release/corral] [--files 100000] [--quiet-seconds 10]
"""
import argparse, json, os, signal, subprocess, tempfile, time

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def run(corral, root, watch, quiet):
    cfg = {"processes": {"app": {"command": "echo started; exec sleep 600"}}}
    if watch:
        cfg["processes"]["app"]["watch"] = {"paths": ["tree"], "gitignore": True}
    path = os.path.join(root, "bench.json")
    json.dump(cfg, open(path, "w"))
    start = time.monotonic()
    p = subprocess.Popen([corral, "-q", "up", "-f", path, "-p", "watchbench"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if "started" in line:
            break
    startup = time.monotonic() - start
    time.sleep(1)
    rss = rss_kb(p.pid)
    before = cpu_seconds(p.pid)
    time.sleep(quiet)
    idle_cpu = cpu_seconds(p.pid) - before
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    return startup, rss, idle_cpu

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corral", default="target/release/corral")
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--quiet-seconds", type=float, default=10)
    a = ap.parse_args()
    corral = os.path.abspath(a.corral)
    with tempfile.TemporaryDirectory() as root:
        per_dir = 100
        t0 = time.monotonic()
        for d in range(a.files // per_dir):
            sub = os.path.join(root, "tree", f"d{d:04}")
            os.makedirs(sub)
            for f in range(per_dir):
                open(os.path.join(sub, f"f{f:03}.txt"), "w").close()
        print(f"tree: {a.files} files in {a.files // per_dir} directories (made in {time.monotonic() - t0:.1f}s)")
        base = run(corral, root, False, a.quiet_seconds)
        watched = run(corral, root, True, a.quiet_seconds)
    print(f"{'':24}{'start-up':>12}{'corral RSS':>14}{'CPU while quiet':>18}")
    for name, (s, r, c) in [("without watch", base), ("watching the tree", watched)]:
        print(f"{name:24}{s * 1000:>10.0f}ms{r / 1024:>12.1f}MB{c * 1000:>15.0f}ms")
    print(f"watch cost: +{(watched[0] - base[0]) * 1000:.0f} ms start-up, +{(watched[1] - base[1]) / 1024:.1f} MB, {watched[2] * 1000:.0f} ms CPU in {a.quiet_seconds:.0f} s of quiet")

if __name__ == "__main__":
    main()
