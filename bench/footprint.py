#!/usr/bin/env python3
"""corral's own memory, part by part (issue 18, goal 3).

    python3 bench/footprint.py [--corral target/release/corral] [--runs 5] [--n 3,100,1000]

Starts `corral -q up` with N `sleep` processes, waits until every one runs (each
touches a flag file before it becomes `sleep`), lets the run settle for a second,
then reads /proc/PID/smaps of corral and of its guardian and sums each part:

  bin.text / bin.rodata / bin.data   corral's own file mappings: r-x, r-- (rodata and
                                     RELRO), rw- (data)
  lib:NAME                           each shared library (all its mappings)
  heap                               [heap] (brk)
  anon                               anonymous mappings: mmap'ed malloc chunks, other
                                     threads' arenas and stacks
  stack                              [stack] (the main thread's)
  other                              vdso, vvar and anything else
  guardian                           the guardian process, whole

Figures are medians over the runs (KiB). RSS counts a shared page once per process
that maps it; PSS divides it among them (a binary's text shared with a second corral
counts half), so PSS is what one run costs the machine beyond what is already there.

Importable (bench/peers.py does):

    breakdown(corral_exe, n, runs) -> {
        "n": n, "runs": runs,
        "parts": {part: {"rss_kb": int, "pss_kb": int}},   # corral's parts, medians
        "corral": {"rss_kb": int, "pss_kb": int},         # VmRSS and PSS of corral
        "guardian": {"rss_kb": int, "pss_kb": int},       # of its guardian (0 if none)
        "total": {"rss_kb": int, "pss_kb": int},          # corral + guardian, per run, median
        "start_s": float,                                 # launch until all N ran, median
    }

    slope(small, large) -> KiB per process between two breakdowns (total RSS).
"""
import argparse, json, os, random, shutil, signal, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# ---------- /proc ----------

def smaps(pid):
    """[(path, perms, rss_kb, pss_kb)] of every mapping of pid."""
    out, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split(None, 5)
                cur = [parts[5].strip() if len(parts) > 5 else "", parts[1], 0, 0]
                out.append(cur)
            elif first == "Rss:":
                cur[2] = int(line.split()[1])
            elif first == "Pss:":
                cur[3] = int(line.split()[1])
    return [tuple(m) for m in out]

def totals(pid):
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss

def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []

def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return []

def guardian_of(pid):
    for c in children(pid):
        argv = cmdline(c)
        if argv and (argv[0].endswith(b"corral-guard") or b"__guard" in argv[1:2]):
            return c
    return None

def part_of(path, perms, exe):
    if path == exe:
        return {"r-xp": "bin.text", "r--p": "bin.rodata"}.get(perms, "bin.data")
    if path.startswith("/") and ".so" in os.path.basename(path):
        return "lib:" + os.path.basename(path)
    if path == "":
        return "anon"
    if path in ("[heap]", "[stack]"):
        return path.strip("[]")
    return "other"

def parts(pid, exe):
    out = {}
    for path, perms, rss, pss in smaps(pid):
        p = out.setdefault(part_of(path, perms, exe), [0, 0])
        p[0] += rss
        p[1] += pss
    return out

# ---------- one run ----------

def one_run(exe, n):
    """Starts corral with n processes; returns its parts and totals once all run."""
    d = tempfile.mkdtemp(prefix="corral-footprint-")
    marker = f"1000.{random.randrange(10**6):06d}"
    procs = {f"p{i:04}": {"command": f"touch {d}/up.{i}; exec sleep {marker}"} for i in range(n)}
    config = os.path.join(d, "corral.json")
    with open(config, "w") as f:
        json.dump({"processes": procs}, f)
    t0 = time.monotonic()
    proc = subprocess.Popen([exe, "-q", "up", "-f", config, "-p", f"footprint-{os.getpid()}-{marker}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            cwd=d, start_new_session=True)
    try:
        end = t0 + 120
        while sum(1 for f in os.listdir(d) if f.startswith("up.")) < n:
            if time.monotonic() > end or proc.poll() is not None:
                raise RuntimeError(f"corral did not start {n} processes (exit {proc.poll()})")
            time.sleep(0.005)
        start_s = time.monotonic() - t0
        time.sleep(1.0)
        real = os.path.realpath(exe)
        result = {"parts": parts(proc.pid, real), "corral": totals(proc.pid), "start_s": start_s}
        g = guardian_of(proc.pid)
        result["guardian"] = totals(g) if g else (0, 0)
        return result
    finally:
        try:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)

def median(xs):
    return int(statistics.median(xs))

def breakdown(corral_exe, n, runs=5):
    """Medians over `runs` runs of corral with n processes (see the module's doc)."""
    rs = [one_run(corral_exe, n) for _ in range(runs)]
    names = sorted({k for r in rs for k in r["parts"]})
    get = lambda r, k, i: r["parts"].get(k, [0, 0])[i]
    pair = lambda f: {"rss_kb": median([f(r)[0] for r in rs]), "pss_kb": median([f(r)[1] for r in rs])}
    return {
        "n": n,
        "runs": runs,
        "parts": {k: {"rss_kb": median([get(r, k, 0) for r in rs]), "pss_kb": median([get(r, k, 1) for r in rs])} for k in names},
        "corral": pair(lambda r: r["corral"]),
        "guardian": pair(lambda r: r["guardian"]),
        "total": pair(lambda r: (r["corral"][0] + r["guardian"][0], r["corral"][1] + r["guardian"][1])),
        "start_s": statistics.median([r["start_s"] for r in rs]),
    }

def slope(small, large):
    """KiB of total RSS each process adds between two breakdowns."""
    return (large["total"]["rss_kb"] - small["total"]["rss_kb"]) / (large["n"] - small["n"])

# ---------- the table ----------

def table(results):
    ns = [r["n"] for r in results]
    names = sorted({k for r in results for k in r["parts"]}, key=lambda k: (not k.startswith("bin"), k))
    head = f"{'part (KiB, RSS/PSS)':<28}" + "".join(f"{'N=' + str(n):>18}" for n in ns)
    lines = [head, "-" * len(head)]
    cell = lambda d: f"{d['rss_kb']:>9}/{d['pss_kb']:<8}"
    for k in names:
        lines.append(f"{k:<28}" + "".join(cell(r["parts"].get(k, {"rss_kb": 0, "pss_kb": 0})) for r in results))
    for k in ("corral", "guardian", "total"):
        lines.append(f"{k:<28}" + "".join(cell(r[k]) for r in results))
    lines.append(f"{'start (s)':<28}" + "".join(f"{r['start_s']:>9.3f}{'':9}" for r in results))
    return "\n".join(lines)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corral", default=os.path.join(REPO, "target", "release", "corral"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", default="3,100,1000", help="comma-separated process counts")
    ap.add_argument("--json", action="store_true", help="print the breakdowns as JSON")
    a = ap.parse_args()
    results = [breakdown(a.corral, int(n), a.runs) for n in a.n.split(",")]
    if a.json:
        print(json.dumps(results, indent=1))
        return
    print(f"{a.corral}: medians of {a.runs} runs")
    print(table(results))
    by_n = {r["n"]: r for r in results}
    if 100 in by_n and 1000 in by_n:
        print(f"per process (N=100 to 1000): {slope(by_n[100], by_n[1000]):.1f} KiB")

if __name__ == "__main__":
    main()
