#!/usr/bin/env python3
"""Chain latency: 20 processes, each waiting on the previous one's ready_log_line.

Each process stamps the time with bash's $EPOCHREALTIME (a builtin: no fork),
then prints its ready line. An edge's latency is the gap between two
consecutive stamps: corral reading the line, matching it, deciding, forking,
plus bash starting up. The floor is a plain shell loop that starts the same
`bash -c` one after the other; corral's own share is the difference.

    python3 bench/chain.py [--corral target/release/corral] [--runs 5] [--n 20]
"""
import argparse, json, os, signal, statistics, subprocess, tempfile, time

def chain_config(n):
    procs = {}
    for i in range(n):
        p = {"command": 'echo "t $EPOCHREALTIME"; echo ready; exec sleep 300', "ready_log_line": "ready"}
        if i:
            p["depends_on"] = {f"p{i-1:02}": {"condition": "process_log_ready"}}
        procs[f"p{i:02}"] = p
    return {"processes": procs}

def run_chain(corral, n):
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "chain.json")
        with open(cfg, "w") as f:
            json.dump(chain_config(n), f)
        proc = subprocess.Popen([corral, "-q", "up", "-f", cfg], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        stamps = {}
        deadline = time.time() + 60
        for line in proc.stdout:
            name, _, rest = line.partition(" | ")
            if rest.startswith("t "):
                stamps[name.strip()] = float(rest[2:])
            if len(stamps) == n or time.time() > deadline:
                break
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        ts = [stamps[f"p{i:02}"] for i in range(n)]
        return [b - a for a, b in zip(ts, ts[1:])]

def run_floor(n):
    script = f'for i in $(seq {n}); do bash -c \'echo $EPOCHREALTIME\'; done'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    ts = [float(x) for x in out.split()]
    return [b - a for a, b in zip(ts, ts[1:])]

def ms(xs):
    return f"{statistics.median(xs) * 1000:.2f} ms (p90 {sorted(xs)[int(len(xs) * 0.9)] * 1000:.2f})"

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corral", default="target/release/corral")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=20)
    a = ap.parse_args()
    edges, floor, totals = [], [], []
    for _ in range(a.runs):
        e = run_chain(a.corral, a.n)
        edges += e
        totals.append(sum(e))
        floor += run_floor(a.n)
    overhead = statistics.median(edges) - statistics.median(floor)
    print(f"chain of {a.n}, {a.runs} runs, {os.cpu_count()} cores")
    print(f"  per edge through corral : {ms(edges)}")
    print(f"  per edge, shell loop    : {ms(floor)}  (bash fork+exec+startup: the floor)")
    print(f"  corral's own share      : {overhead * 1000:.2f} ms per edge (median difference)")
    print(f"  whole chain             : {statistics.median(totals) * 1000:.1f} ms median")

if __name__ == "__main__":
    main()
