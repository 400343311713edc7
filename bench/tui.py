#!/usr/bin/env python3
"""The dashboard's cost, against mprocs, on the same workloads (not in CI).

    python3 bench/tui.py [--seconds 60] [--corral target/release/corral]

Both dashboards run in a real terminal (tmux, 160x48) over 100 processes:

  quiet    100 processes that print one line and sleep
  chatty   100 processes each printing 10 lines a second (1,000 lines/s)

For each, after a settling period, it measures over `--seconds`:
  - the CPU the dashboard process uses, in % of one core (corral: the
    `corral tui` client; mprocs: its single process, which is also its
    supervisor), and for corral also the supervisor it talks to;
  - the dashboard's resident memory at the end (bounded rings: it must
    not grow with the log volume);
  - responsiveness under load (corral): the time from pressing `?` to the
    help overlay on the screen.

mprocs is installed into bench/.peers (as bench/peers.py does). The table
goes into docs/benchmarks.md between the tui markers. process-compose's
published complaints (#336, #341: 30-90 % of a core at idle) are the
reference the issue sets; the targets are < 0.5 % idle and < 5 % chatty.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PEERS = os.path.join(HERE, ".peers")
MPROCS = os.path.join(PEERS, "cargo", "bin", "mprocs")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
N = 100
SETTLE = 5

WORKLOADS = {
    "quiet": "echo started; exec sleep 100000",
    "chatty": "i=0; while :; do i=$((i+1)); echo \"line $i of a chatty process\"; sleep 0.1; done",
}


def install():
    if not os.path.exists(MPROCS):
        subprocess.run(["cargo", "install", "mprocs", "--locked", "--root", os.path.join(PEERS, "cargo")], check=True)


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def rss_mb(pid):
    return int(open(f"/proc/{pid}/statm").read().split()[1]) * PAGE / 1e6


class Tmux:
    def __init__(self, cwd, command):
        self.server = f"corral-bench-{os.getpid()}"
        subprocess.run(["tmux", "-L", self.server, "-f", "/dev/null", "new-session", "-d", "-s", "b", "-x", "160", "-y", "48", "-c", cwd, "exec " + command], check=True)

    def pid(self):
        return int(subprocess.run(["tmux", "-L", self.server, "display", "-p", "-t", "b", "#{pane_pid}"], capture_output=True, text=True).stdout.strip())

    def screen(self):
        return subprocess.run(["tmux", "-L", self.server, "capture-pane", "-p", "-t", "b"], capture_output=True, text=True).stdout

    def keys(self, *k):
        subprocess.run(["tmux", "-L", self.server, "send-keys", "-t", "b", *k])

    def kill(self):
        subprocess.run(["tmux", "-L", self.server, "kill-server"], stderr=subprocess.DEVNULL)


def measure(pids, seconds):
    before = {p: cpu_ticks(p) for p in pids}
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    return {p: (cpu_ticks(p) - before[p]) / TICKS / dt * 100 for p in pids}


def wait_screen(t, pattern, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if re.search(pattern, t.screen()):
            return True
        time.sleep(0.01)
    return False


def bench_corral(exe, workload, seconds):
    d = tempfile.mkdtemp(prefix="tui-bench-")
    config = {"name": "tuibench", "processes": {f"p{i:03}": {"command": WORKLOADS[workload]} for i in range(N)}}
    json.dump(config, open(os.path.join(d, "corral.json"), "w"))
    subprocess.run([exe, "-q", "up", "-d", "--wait", "--timeout", "60"], cwd=d, check=True, stderr=subprocess.DEVNULL)
    t = Tmux(d, f"{exe} tui")
    try:
        wait_screen(t, r"p099")
        time.sleep(SETTLE)
        tui = t.pid()
        sup = int(open(next(os.path.join(root, "lock") for root in state_dirs(d))).read().strip())
        cpu = measure([tui, sup], seconds)
        mem = rss_mb(tui)
        # Responsiveness: `?` until the help is on screen.
        t0 = time.monotonic()
        t.keys("?")
        shown = wait_screen(t, r"keys \(any key closes\)")
        latency = (time.monotonic() - t0) * 1000 if shown else None
        t.keys("Escape")
        return {"dashboard_cpu": cpu[tui], "supervisor_cpu": cpu[sup], "dashboard_mb": mem, "latency_ms": latency}
    finally:
        t.kill()
        subprocess.run([exe, "down"], cwd=d, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)


def state_dirs(project_dir):
    base = os.path.join(os.environ["XDG_RUNTIME_DIR"], "corral") if os.environ.get("XDG_RUNTIME_DIR") else f"/tmp/corral-{os.getuid()}"
    root = os.path.realpath(project_dir)
    for name in os.listdir(base):
        lock = os.path.join(base, name, "lock")
        try:
            pid = int(open(lock).read().strip())
            if name.startswith("tuibench-") and os.readlink(f"/proc/{pid}/cwd") == root:
                yield os.path.join(base, name)
        except (OSError, ValueError):
            pass


def bench_mprocs(workload, seconds):
    d = tempfile.mkdtemp(prefix="tui-bench-")
    json.dump({"procs": {f"p{i:03}": {"shell": WORKLOADS[workload]} for i in range(N)}}, open(os.path.join(d, "mprocs.json"), "w"))
    t = Tmux(d, f"{MPROCS} --config mprocs.json")
    try:
        wait_screen(t, r"p0")
        time.sleep(SETTLE)
        pid = t.pid()
        cpu = measure([pid], seconds)
        return {"dashboard_cpu": cpu[pid], "supervisor_cpu": None, "dashboard_mb": rss_mb(pid), "latency_ms": None}
    finally:
        t.kill()
        shutil.rmtree(d, ignore_errors=True)


def table(results, windows):
    f = lambda v, fmt: "-" if v is None else fmt.format(v)
    rows = [
        f"100 processes, quiet over {windows['quiet']:g} s, chatty (10 lines/s each) over {windows['chatty']:g} s; in tmux (160x48),"
        f" after {SETTLE} s to settle; CPU in % of one core.",
        "",
        "| workload | dashboard | dashboard CPU | its supervisor's CPU | dashboard memory | `?` to help on screen |",
        "|---|---|---|---|---|---|",
    ]
    for (workload, who), r in results.items():
        rows.append(f"| {workload} | {who} | {f(r['dashboard_cpu'], '{:.2f} %')} | {f(r['supervisor_cpu'], '{:.2f} %')} | {f(r['dashboard_mb'], '{:.1f} MB')} | {f(r['latency_ms'], '{:.0f} ms')} |")
    rows.append("")
    rows.append("mprocs is one process (its dashboard and its supervisor): its figure covers both.")
    return "\n".join(rows) + "\n"


def write_doc(text):
    path = os.path.join(REPO, "docs", "benchmarks.md")
    doc = open(path).read()
    begin, end = "<!-- tui:begin -->", "<!-- tui:end -->"
    section = f"{begin}\n{text}{end}"
    if begin in doc:
        doc = doc[: doc.index(begin)] + section + doc[doc.index(end) + len(end):]
    else:
        doc += f"\n## The dashboard\n\n`python3 bench/tui.py`: corral's dashboard against mprocs (docs/tui.md).\n\n{section}\n"
    open(path, "w").write(doc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60, help="measuring window of the quiet workload")
    ap.add_argument("--chatty-seconds", type=float, default=None, help="measuring window of the chatty one (default: --seconds)")
    ap.add_argument("--corral", default=os.path.join(REPO, "target", "release", "corral"))
    ap.add_argument("--no-mprocs", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is needed (apt-get install tmux)")
    if not a.no_mprocs:
        install()
    results = {}
    windows = {"quiet": a.seconds, "chatty": a.chatty_seconds or a.seconds}
    for workload in WORKLOADS:
        seconds = windows[workload]
        results[(workload, "corral tui")] = bench_corral(os.path.abspath(a.corral), workload, seconds)
        print(workload, "corral", results[(workload, "corral tui")], flush=True)
        if not a.no_mprocs:
            results[(workload, "mprocs")] = bench_mprocs(workload, seconds)
            print(workload, "mprocs", results[(workload, "mprocs")], flush=True)
    text = table(results, windows)
    print(text)
    if not a.no_write:
        write_doc(text)


if __name__ == "__main__":
    main()
