#!/usr/bin/env python3
"""corral against peer process runners, on the same workloads, in one run.

    python3 bench/peers.py [--quick] [--runs 5] [--corral target/release/corral] [--before OLD_CORRAL]

Installs what it needs once into bench/.peers/ (a venv with honcho, circus,
supervisor and matplotlib from PyPI; mprocs from crates.io), then measures:

  start      launch until all N processes run (N = 3, 100, 1000); a shell loop
             starting the same N `sh -c` commands is the floor (every runner,
             corral included, is configured to start `sh -c COMMAND`)
  footprint  resident memory of the runner plus every helper process it adds,
             and corral's per-part breakdown (bench/footprint.py)
  shutdown   SIGTERM to the runner until all 100 processes are gone
  orphans    processes left 3 s after SIGTERM, SIGINT, SIGKILL of the runner,
             with grandchildren (one of them setsid'd) in the mix
  idle       CPU time runner + helpers use over a quiet period, 100 processes
  logs       one process writing lines through the runner to a file, against
             writing them directly; lines lost; for corral also 100 processes
             writing at once (bench/logs.py)
  chain      20 processes each waiting for the previous one's readiness (corral only)

Start and memory are medians of --runs runs (default 5), interleaved runner by
runner so that the machine's noise spreads evenly; the Python peers, which take
seconds at N = 1,000, run once there. With --before, an older corral build runs
as one more runner in the same run (the before/after table). Results go to
docs/benchmarks.md (between the peers markers), with ratios to the floor and to
corral (the machine is noisy: compare within one run), and docs/benchmarks.png.
"""
import argparse, json, os, random, shutil, signal, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PEERS = os.path.join(HERE, ".peers")
VENV = os.path.join(PEERS, "venv")
BIN = lambda name: os.path.join(VENV, "bin", name)
MPROCS = os.path.join(PEERS, "cargo", "bin", "mprocs")

def install():
    if not os.path.exists(BIN("honcho")):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([BIN("pip"), "install", "-q", "honcho", "circus", "supervisor", "matplotlib"], check=True)
    if not os.path.exists(MPROCS):
        subprocess.run(["cargo", "install", "mprocs", "--locked", "--root", os.path.join(PEERS, "cargo")], check=True)

# ---------- /proc ----------

def stat(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return {"state": fields[0], "ppid": int(fields[1]), "utime": int(fields[11]), "stime": int(fields[12])}
    except (OSError, IndexError):
        return None

def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""

def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]

def live_marked(marker):
    return [p for p in pids() if marker in cmdline(p) and (stat(p) or {}).get("state") not in (None, "Z", "X")]

def descendants(root):
    children = {}
    for p in pids():
        s = stat(p)
        if s:
            children.setdefault(s["ppid"], []).append(p)
    out, stack = [], [root]
    while stack:
        for c in children.get(stack.pop(), []):
            out.append(c)
            stack.append(c)
    return out

def rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def supervisor_pids(run, marker):
    """The runner and every helper it added: its process tree minus the workload."""
    tree = [run.pid] + descendants(run.pid)
    return [p for p in tree if marker not in cmdline(p) and (stat(p) or {}).get("state") not in (None, "Z")]

def cpu_ticks(ps):
    return sum((stat(p) or {"utime": 0, "stime": 0})["utime"] + (stat(p) or {"utime": 0, "stime": 0})["stime"] for p in ps)

def kill_marked(marker):
    for p in live_marked(marker):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass

# ---------- runners ----------

def workload(n, d, marker, grandchildren=False):
    """Shell commands: each touches its flag file, then becomes `sleep MARKER`."""
    extra = f"sleep {marker} & setsid sleep {marker} & " if grandchildren else ""
    return [f"touch {d}/up.{i}; {extra}exec sleep {marker}" for i in range(n)]

class Runner:
    tty = False
    prints_output = False  # its processes' output comes out on its stdout
    def __init__(self, name): self.name = name
    def files(self, cmds, d, logfile=None): return {}
    def argv(self, d): raise NotImplementedError

class Corral(Runner):
    prints_output = True
    def __init__(self, exe, name="corral"): super().__init__(name); self.exe = exe
    def files(self, cmds, d, logfile=None):
        procs = {f"p{i:04}": {"command": c} for i, c in enumerate(cmds)}
        # The same shell as every peer and the floor (corral's default is bash).
        return {"corral.json": json.dumps({"shell": {"shell_command": "sh"}, "processes": procs})}
    def argv(self, d): return [self.exe, "-q", "up", "-f", os.path.join(d, "corral.json"), "-p", "bench"]

class Honcho(Runner):
    prints_output = True
    def __init__(self): super().__init__("honcho")
    def files(self, cmds, d, logfile=None): return {"Procfile": "".join(f"p{i:04}: {c}\n" for i, c in enumerate(cmds))}
    def argv(self, d): return [BIN("honcho"), "-f", os.path.join(d, "Procfile"), "start"]

class Circus(Runner):
    def __init__(self): super().__init__("circus")
    def files(self, cmds, d, logfile=None):
        ini = [f"[circus]\nendpoint = ipc://{d}/ctl.sock\npubsub_endpoint = ipc://{d}/pub.sock\nstatsd = False\n"]
        for i, c in enumerate(cmds):
            ini.append(f"[watcher:p{i:04}]\ncmd = /bin/sh\nargs = -c \"{c}\"\nwarmup_delay = 0\n")
            if logfile:
                ini.append(f"stdout_stream.class = FileStream\nstdout_stream.filename = {logfile}\n")
        return {"circus.ini": "\n".join(ini)}
    def argv(self, d): return [BIN("circusd"), os.path.join(d, "circus.ini")]

class Supervisord(Runner):
    def __init__(self): super().__init__("supervisord")
    def files(self, cmds, d, logfile=None):
        conf = [f"[supervisord]\nnodaemon=true\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\nminfds=1024\nminprocs=200\n"]
        for i, c in enumerate(cmds):
            conf.append(f"[program:p{i:04}]\ncommand=/bin/sh -c \"{c}\"\nautorestart=false\nstartsecs=0\n")
            if logfile:
                conf.append(f"stdout_logfile={logfile}\nstdout_logfile_maxbytes=0\n")
        return {"supervisord.conf": "\n".join(conf)}
    def argv(self, d): return [BIN("supervisord"), "-n", "-c", os.path.join(d, "supervisord.conf")]

class Mprocs(Runner):
    tty = True
    def __init__(self): super().__init__("mprocs")
    def files(self, cmds, d, logfile=None):
        return {"mprocs.json": json.dumps({"procs": {f"p{i:04}": {"shell": c} for i, c in enumerate(cmds)}})}
    def argv(self, d): return [MPROCS, "--config", os.path.join(d, "mprocs.json")]

class Floor(Runner):
    def __init__(self): super().__init__("shell loop (floor)")
    def files(self, cmds, d, logfile=None):
        return {"floor.sh": "".join(f"sh -c '{c}' &\n" for c in cmds) + "wait\n"}
    def argv(self, d): return ["bash", os.path.join(d, "floor.sh")]

class Trial:
    """One runner on one workload, in a directory of its own. `make_cmds(dir)`
    builds the workload; with `capture`, the runner's output goes to `dir/captured.log`
    (stdout for runners that print, their own log settings for the others)."""
    def __init__(self, runner, make_cmds, capture=False):
        self.runner = runner
        self.d = tempfile.mkdtemp(prefix="peers-")
        cmds = make_cmds(self.d)
        self.n = len(cmds)
        self.logfile = os.path.join(self.d, "captured.log")
        to_stdout = capture and runner.prints_output
        for name, text in runner.files(cmds, self.d, self.logfile if capture and not to_stdout else None).items():
            open(os.path.join(self.d, name), "w").write(text)
        argv = runner.argv(self.d)
        if runner.tty:
            # mprocs is a TUI: give it a terminal; the runner is script's child.
            argv = ["script", "-qfc", " ".join(argv), "/dev/null"]
        self.out = open(self.logfile, "wb") if to_stdout else subprocess.DEVNULL
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=self.d, stdout=self.out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        if runner.tty:
            for _ in range(200):
                kids = descendants(self.proc.pid)
                if kids:
                    self.pid = kids[0]
                    break
                time.sleep(0.01)

    def wait_up(self, timeout=120):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if sum(1 for f in os.listdir(self.d) if f.startswith("up.")) >= self.n:
                return time.monotonic() - self.t0
            time.sleep(0.002)
        return None

    def signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except OSError:
            pass

    def close(self, marker):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        kill_marked(marker)
        for p in [self.pid] + descendants(self.pid):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.out is not subprocess.DEVNULL:
            self.out.close()
        shutil.rmtree(self.d, ignore_errors=True)

def new_marker():
    return f"1000.{random.randrange(10**6):06d}"

# ---------- measurements ----------

def start_and_footprint(runner, n):
    marker = new_marker()
    t = Trial(runner, lambda d: workload(n, d, marker))
    up = t.wait_up()
    time.sleep(1.0)
    mem = sum(rss_kb(p) for p in supervisor_pids(t, marker)) if up is not None else None
    return t, marker, up, mem

def run_start_footprint(runner, n):
    t, marker, up, mem = start_and_footprint(runner, n)
    t.close(marker)
    return up, mem

def run_shutdown(runner, n=100):
    t, marker, up, _ = start_and_footprint(runner, n)
    if up is None:
        t.close(marker)
        return None
    start = time.monotonic()
    t.signal(signal.SIGTERM)
    gone = float("inf")  # still there after the window: reported as such
    while time.monotonic() - start < 15:
        if not live_marked(marker):
            gone = time.monotonic() - start
            break
        time.sleep(0.002)
    t.close(marker)
    return gone

def run_orphans(runner, sig):
    marker = new_marker()
    t = Trial(runner, lambda d: workload(3, d, marker, grandchildren=True))
    if t.wait_up() is None:
        t.close(marker)
        return None
    time.sleep(0.5)
    t.signal(sig)
    time.sleep(3)
    left = len(live_marked(marker))
    t.close(marker)
    return left

def run_idle(runner, seconds, n=100):
    t, marker, up, _ = start_and_footprint(runner, n)
    if up is None:
        t.close(marker)
        return None
    ps = supervisor_pids(t, marker)
    before = cpu_ticks(ps)
    time.sleep(seconds)
    used = (cpu_ticks(ps) - before) / os.sysconf("SC_CLK_TCK")
    t.close(marker)
    return used

LINE = "0123456789 the quick brown fox jumps over the lazy dog 0123456789"

def run_logs(runner, mb):
    """Seconds until every line is in the captured output, lines lost, lines written."""
    n = mb * 1024 * 1024 // (len(LINE) + 1)
    marker = new_marker()
    t = Trial(runner, lambda d: [f"touch {d}/up.0; yes '{LINE}' | head -n {n}; exec sleep {marker}"], capture=True)
    # Watch the file grow (cheap); count its lines once it has been still for a second.
    start, last_size, last_growth = time.monotonic(), -1, time.monotonic()
    while time.monotonic() - start < 300:
        size = os.path.getsize(t.logfile) if os.path.exists(t.logfile) else 0
        if size != last_size:
            last_size, last_growth = size, time.monotonic()
        elif size > 0 and time.monotonic() - last_growth > 1.0:
            break
        time.sleep(0.05)
    got = count_lines_with(t.logfile, LINE.encode())
    elapsed = (last_growth - start) if got >= n else None
    t.close(marker)
    return elapsed, n - got, n

def count_lines_with(path, needle):
    """Complete lines of `path` containing `needle` (lines may span read chunks)."""
    count, tail = 0, b""
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                count += sum(1 for l in lines if needle in l)
    except OSError:
        return 0
    return count

def direct_write(mb):
    n = mb * 1024 * 1024 // (len(LINE) + 1)
    with tempfile.TemporaryDirectory() as d:
        start = time.monotonic()
        subprocess.run(["bash", "-c", f"yes '{LINE}' | head -n {n} > {d}/direct"], check=True)
        return time.monotonic() - start

# ---------- report ----------

def fmt(v, unit):
    if v is None:
        return "n/a"
    if v == float("inf"):
        return "> 15 s"
    if unit == "s":
        return f"{v * 1000:.0f} ms" if v < 10 else f"{v:.1f} s"
    if unit == "MB":
        return f"{v / 1024:.1f} MB"
    if unit == "n":
        return str(v)
    return f"{v:.2f}"

def ratio(v, base):
    if v is None or base in (None, 0) or v == float("inf"):
        return ""
    return f" ({v / base:.1f}×)"

def median(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corral", default=os.path.join(REPO, "target/release/corral"))
    ap.add_argument("--before", help="an older corral build, run as one more runner (before/after)")
    ap.add_argument("--quick", action="store_true", help="N up to 100, 10 s idle, 64 MB of logs")
    ap.add_argument("--runs", type=int, default=5, help="runs per start, memory and logs measurement (medians)")
    ap.add_argument("--log-mb", type=int)
    ap.add_argument("--idle-seconds", type=float)
    ap.add_argument("--json", help="also write every raw figure to this file")
    ap.add_argument("--report-from", help="write docs/benchmarks.md from a --json file of an earlier run instead of measuring")
    a = ap.parse_args()
    if a.report_from:
        return report_from(a)
    install()
    sys.path.insert(0, HERE)
    import chain, footprint, logs
    sizes = [3, 100] if a.quick else [3, 100, 1000]
    idle_s = a.idle_seconds or (10 if a.quick else 30)
    log_mb = a.log_mb or (64 if a.quick else 256)
    corral = Corral(os.path.abspath(a.corral))
    corrals = [corral] + ([Corral(os.path.abspath(a.before), "corral before")] if a.before else [])
    runners = corrals + [Honcho(), Circus(), Supervisord(), Mprocs()]
    floor = Floor()
    res = {r.name: {} for r in runners + [floor]}
    raw = {r.name: {} for r in runners + [floor]}
    # honcho adds a Python worker and a shell per process (1.75 GB of helpers at 100):
    # 1000 would exhaust this machine.
    skip = {("honcho", 1000)}
    for n in sizes:
        for run in range(a.runs):
            for r in [floor] + runners:
                if (r.name, n) in skip or (n >= 1000 and run > 0 and r not in corrals + [floor, runners[-1]]):
                    continue
                up, mem = run_start_footprint(r, n)
                raw[r.name].setdefault(f"start{n}", []).append(up)
                if r is not floor:
                    raw[r.name].setdefault(f"mem{n}", []).append(mem)
                print(f"start {n:5} run {run + 1} {r.name:20} {fmt(up, 's'):>10} {fmt(mem, 'MB'):>10}", flush=True)
        for r in [floor] + runners:
            res[r.name][f"start{n}"] = median(raw[r.name].get(f"start{n}", []))
            res[r.name][f"mem{n}"] = median(raw[r.name].get(f"mem{n}", []))
    for r in runners:
        res[r.name]["shutdown"] = run_shutdown(r)
        for sig, key in [(signal.SIGTERM, "orph_term"), (signal.SIGINT, "orph_int"), (signal.SIGKILL, "orph_kill")]:
            res[r.name][key] = run_orphans(r, sig)
        res[r.name]["idle"] = run_idle(r, idle_s)
        print(f"{r.name:20} shutdown {fmt(res[r.name]['shutdown'], 's')}, orphans TERM/INT/KILL {res[r.name]['orph_term']}/{res[r.name]['orph_int']}/{res[r.name]['orph_kill']}, idle CPU {res[r.name]['idle']}", flush=True)
    direct = direct_write(log_mb)
    for r in runners:
        if isinstance(r, Mprocs):
            res[r.name]["logs"] = None
            continue
        if isinstance(r, Corral):
            for writers in (1, 100):
                res[r.name][f"logs{writers}"] = logs.run(r.exe, writers, log_mb, a.runs)
                print(f"logs {r.name:20} {writers} writer(s): {res[r.name][f'logs{writers}']}", flush=True)
            continue
        el, lost, n = run_logs(r, log_mb)
        res[r.name]["logs"] = (el, lost, n)
        print(f"logs {r.name:20} {fmt(el, 's')} lost {lost}", flush=True)
    for c in corrals:
        edges = []
        for _ in range(3):
            edges += chain.run_chain(c.exe, 20)
        res[c.name]["chain"] = sorted(edges)[len(edges) // 2]
        res[c.name]["breakdown"] = {n: footprint.breakdown(c.exe, n, a.runs) for n in sizes}
    if a.json:
        json.dump({"results": res, "raw": raw, "direct_mbs": log_mb * 1.048576 / direct, "direct_s": direct, "sizes": sizes, "idle_s": idle_s, "log_mb": log_mb, "runs": a.runs, "before": bool(a.before)}, open(a.json, "w"), indent=1, default=str)
    write_report(res, runners, corrals, floor, sizes, idle_s, log_mb, direct, a.runs)

def report_from(a):
    """Rewrites the report from a --json file (the runners by name, figures as measured)."""
    d = json.load(open(a.report_from))
    res = d["results"]
    for r in res.values():
        if "breakdown" in r:
            r["breakdown"] = {int(n): b for n, b in r["breakdown"].items()}
    corrals = [Corral(a.corral)] + ([Corral(a.before or "", "corral before")] if "corral before" in res else [])
    runners = corrals + [Honcho(), Circus(), Supervisord(), Mprocs()]
    sizes = d.get("sizes") or sorted({int(k[5:]) for k in res["corral"] if k.startswith("start")})
    direct = d.get("direct_s") or d.get("log_mb", 256) * 1.048576 / d["direct_mbs"]
    write_report(res, runners, corrals, Floor(), sizes, d.get("idle_s", 30), d.get("log_mb", 256), direct, d.get("runs", 5))

def footprint_md(bds, footprint):
    """bench/footprint.py's breakdowns as a Markdown table: KiB resident (proportional)."""
    names = sorted({k for b in bds for k in b["parts"]}, key=lambda k: (not k.startswith("bin"), k))
    cell = lambda d: f"{d['rss_kb']:,} ({d['pss_kb']:,})"
    rows = ["| part: KiB resident (proportional) | " + " | ".join(f"N = {b['n']:,}" for b in bds) + " |", "|---" * (len(bds) + 1) + "|"]
    for k in names:
        rows.append(f"| {k} | " + " | ".join(cell(b["parts"].get(k, {"rss_kb": 0, "pss_kb": 0})) for b in bds) + " |")
    for k in ("corral", "guardian", "total"):
        rows.append(f"| **{k}** | " + " | ".join(cell(b[k]) for b in bds) + " |")
    by_n = {b["n"]: b for b in bds}
    if 100 in by_n and 1000 in by_n:
        rows.append(f"| per process, N = 100 to 1,000 | {footprint.slope(by_n[100], by_n[1000]):.1f} KiB | | |")
    return "\n".join(rows)

def write_report(res, runners, corrals, floor, sizes, idle_s, log_mb, direct, runs):
    sys.path.insert(0, HERE)
    import footprint
    c = res["corral"]
    fl = res[floor.name]
    rows = []
    rows.append("| | " + " | ".join(r.name for r in runners) + " |")
    rows.append("|---" * (len(runners) + 1) + "|")
    def cell(r, key, unit):
        v = res[r.name].get(key)
        text = fmt(v, unit)
        notes = []
        if key.startswith("start") and v is not None and fl.get(key):
            notes.append(f"{v / fl[key]:.2f}× floor")
        if r.name != "corral" and v not in (None, float("inf")) and c.get(key):
            notes.append(f"{v / c[key]:.2f}× corral")
        return text + (f" ({', '.join(notes)})" if notes else "")
    def row(label, key, unit):
        rows.append(f"| {label} | " + " | ".join(cell(r, key, unit) for r in runners) + " |")
    for n in sizes:
        row(f"start {n} (floor {fmt(fl.get(f'start{n}'), 's')})", f"start{n}", "s")
    for n in sizes:
        row(f"memory, {n} processes (runner + helpers)", f"mem{n}", "MB")
    row("shutdown of 100 (SIGTERM until all gone)", "shutdown", "s")
    for key, label in [("orph_term", "orphans after SIGTERM"), ("orph_int", "orphans after SIGINT"), ("orph_kill", "orphans after SIGKILL")]:
        row(label, key, "n")
    row(f"CPU over {idle_s:.0f} s idle, 100 processes", "idle", "s")
    direct_mbs = log_mb * 1.048576 / direct
    for writers in (1, 100):
        cells = []
        for r in runners:
            if r in corrals:
                v = res[r.name][f"logs{writers}"]
                cells.append(f"{v['corral_mbs']:.0f} MB/s ({v['corral_mbs'] / v['direct_mbs'] * 100:.0f} % of direct {v['direct_mbs']:.0f} MB/s), {v['lost']} lost")
                continue
            v = res[r.name].get("logs")
            if writers == 100 or not v:
                cells.append("n/a (TUI)" if isinstance(r, Mprocs) else "n/a")
                continue
            el, lost, n = v
            mbs = (n * (len(LINE) + 1) / 1e6) / el if el else None
            cells.append(f"{mbs:.0f} MB/s ({mbs / direct_mbs * 100:.0f} % of direct), {lost} lost" if el else f"timed out, {lost} lost")
        rows.append(f"| logs: {log_mb} MB of lines, {writers} writer{'s' if writers > 1 else ''} | " + " | ".join(cells) + " |")
    rows.append("| chain of 20 (median per edge) | " + " | ".join(fmt(res[r.name].get("chain"), "s") if r in corrals else "n/a" for r in runners) + " |")
    table = "\n".join(rows)
    parts = []
    for r in corrals:
        parts.append(f"**{r.name}**\n\n" + footprint_md(list(res[r.name]["breakdown"].values()), footprint))
    doc = os.path.join(REPO, "docs", "benchmarks.md")
    text = open(doc).read()
    begin, end = "<!-- peers:begin -->", "<!-- peers:end -->"
    block = (f"{begin}\n_Generated by `python3 bench/peers.py{' --before …' if len(corrals) > 1 else ''}` on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; "
             f"start and memory are medians of {runs} runs (the Python peers run once at N = 1,000); ratios are to the floor and to corral in the same run._\n\n"
             f"{table}\n\nWhat corral's memory is made of (VmRSS from /proc/PID/smaps, medians of {runs} runs):\n\n" + "\n\n".join(parts) +
             f"\n\n![corral and its peers](benchmarks.png)\n{end}")
    if begin in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text += "\n## Against the peers\n\n" + block + "\n"
    open(doc, "w").write(text)
    print(table)
    plot(res, runners, sizes)

def plot(res, runners, sizes):
    py = BIN("python3")
    data = json.dumps({
        "names": [r.name for r in runners],
        "start": {str(n): [res[r.name].get(f"start{n}") for r in runners] for n in sizes},
        "mem": {str(n): [res[r.name].get(f"mem{n}") for r in runners] for n in sizes},
    })
    script = r'''
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
d = json.loads(sys.argv[1])
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, key, unit, scale, title in [(axes[0], "start", "s", 1, "start until all N run (s, log)"), (axes[1], "mem", "MB", 1/1024, "runner + helpers memory (MB, log)")]:
    sizes = list(d[key].keys())
    width = 0.8 / len(d["names"])
    for i, name in enumerate(d["names"]):
        vals = [(d[key][n][i] or 0) * scale for n in sizes]
        ax.bar([j + i * width for j in range(len(sizes))], vals, width, label=name)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(sizes))])
    ax.set_xticklabels([f"N={n}" for n in sizes])
    ax.set_yscale("log")
    ax.set_title(title)
axes[0].legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
'''
    subprocess.run([py, "-c", script, data, os.path.join(REPO, "docs", "benchmarks.png")], check=True)

if __name__ == "__main__":
    main()
