#!/usr/bin/env python3
"""Log throughput through corral against a direct write to the same destination.

    python3 bench/logs.py [--corral PATH] [--mb N] [--runs N] [--writers 1,100]

For each number of writers W (1 and 100 by default), W processes each write
their share of N MiB of 67-byte lines (`yes LINE | head -n K`, LINE naming the
writer):

  corral   the W processes run under `corral -q up`, whose stdout is a file:
           every line arrives there labelled (`wNNN | LINE`)
  direct   the same W pipelines started by bash, all appending (>>) to one
           file: the floor, the same lines reaching the same kind of
           destination with nothing in between

Both start every writer first and hold it at a gate (each opens a FIFO for
reading, which blocks until the benchmark opens it for writing), so process
start-up is not timed: the clock runs from opening the gate until the runner
(corral, or bash waiting for its writers) has exited, which for corral means
every line was written out. Runs alternate corral and direct; the figures are
medians. Afterwards corral's output is checked line by line: a line lost is a
line some writer wrote that is not in corral's output whole and labelled.
corral's peak resident memory (VmHWM) is read from /proc while it runs.

Python 3 standard library only. Importable: see `run`.
"""
import argparse, collections, json, os, shutil, statistics, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FILLER = "0123456789 the quick brown fox jumps over the lazy dog 012345"  # with "wNNN ", 66 bytes + newline


def text_of(i):
    return f"w{i:03} {FILLER}"


def name_of(i):
    return f"w{i:03}"


def shares(writers, mb):
    """Lines per writer: N MiB of lines split evenly (the first ones take the remainder)."""
    total = mb * 1024 * 1024 // (len(text_of(0)) + 1)
    base, extra = divmod(total, writers)
    return [base + (1 if i < extra else 0) for i in range(writers)]


def writer_cmd(d, i, k):
    # touch: the benchmark knows the writer is there; exec 3<gate: wait for the gate to open.
    return f"touch {d}/up.{i}; exec 3<{d}/gate; yes '{text_of(i)}' | head -n {k}"


def peak_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def gated_run(argv, d, writers, stdout, watch_rss=False, timeout=600):
    """Starts `argv`, waits for every writer at the gate, opens it; returns
    (seconds from gate to exit, peak RSS in KiB of the runner if watched)."""
    gate = os.path.join(d, "gate")
    os.mkfifo(gate)
    p = subprocess.Popen(argv, cwd=d, stdout=stdout, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    peak = [0]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], peak_rss_kb(p.pid))
            stop.wait(0.02)

    end = time.monotonic() + timeout
    while sum(1 for f in os.listdir(d) if f.startswith("up.")) < writers:
        if p.poll() is not None or time.monotonic() > end:
            p.kill()
            raise RuntimeError(f"{argv[0]}: writers did not all start (exit status {p.poll()})")
        time.sleep(0.005)
    time.sleep(0.2)  # from touch to the open of the gate
    watcher = threading.Thread(target=watch, daemon=True) if watch_rss else None
    if watcher:
        watcher.start()
    # A blocking wait: Popen.wait(timeout) polls every 50 ms, which would round every time up.
    guard = threading.Timer(timeout, p.kill)
    guard.start()
    start = time.monotonic()
    fd = os.open(gate, os.O_WRONLY)  # every writer blocked in open() goes on
    try:
        p.wait()
    finally:
        elapsed = time.monotonic() - start
        guard.cancel()
        os.close(fd)
        stop.set()
        if watcher:
            watcher.join()
    if p.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with status {p.returncode} (killed after {timeout} s?)")
    return elapsed, peak[0]


def corral_once(corral_exe, writers, ks):
    d = tempfile.mkdtemp(prefix="corral-logs-")
    try:
        procs = {name_of(i): {"command": writer_cmd(d, i, k)} for i, k in enumerate(ks)}
        with open(os.path.join(d, "logs.json"), "w") as f:
            json.dump({"processes": procs}, f)
        out_path = os.path.join(d, "stdout.txt")
        with open(out_path, "wb") as out:
            elapsed, peak = gated_run([corral_exe, "-q", "up", "-f", "logs.json"], d, writers, out, watch_rss=True)
        lost = lines_lost(out_path, ks)
        return elapsed, peak, lost
    finally:
        shutil.rmtree(d, ignore_errors=True)


def direct_once(writers, ks):
    d = tempfile.mkdtemp(prefix="direct-logs-")
    try:
        out = os.path.join(d, "direct.txt")
        script = "".join(f"( {writer_cmd(d, i, k)} >> {out} ) &\n" for i, k in enumerate(ks)) + "wait\n"
        elapsed, _ = gated_run(["bash", "-c", script], d, writers, subprocess.DEVNULL)
        got = os.path.getsize(out)
        want = sum(k * (len(text_of(i)) + 1) for i, k in enumerate(ks))
        if got != want:
            raise RuntimeError(f"direct write: {got} bytes, expected {want}")
        return elapsed
    finally:
        shutil.rmtree(d, ignore_errors=True)


def lines_lost(path, ks):
    """Lines each writer wrote that are not in corral's output, whole and labelled
    (`wNNN | LINE`, the label padded), summed over the writers."""
    want = {name_of(i).encode(): text_of(i).encode() for i in range(len(ks))}
    seen = collections.Counter()
    tail = b""
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()  # not ended by a newline: not a whole line
            seen.update(lines)
    got = collections.Counter()
    for line, n in seen.items():
        label, sep, text = line.partition(b" | ")
        label = label.strip()
        if sep and want.get(label) == text:
            got[label] += n
    return sum(max(0, k - got[name_of(i).encode()]) for i, k in enumerate(ks))


def run(corral_exe, writers, mb, runs):
    """Measures `writers` processes writing `mb` MiB of lines in all, `runs` times
    each way (alternating), and returns a dict:

      corral_mbs     median MB/s (10^6 bytes of lines per second) through corral
      direct_mbs     median MB/s of the same writers appending to one file directly
      ratio          corral_mbs / direct_mbs
      lost           lines lost through corral, summed over all runs (should be 0)
      peak_rss_kb    corral's largest peak resident memory over the runs (KiB)
      corral_s, direct_s   each run's seconds, in order
      writers, mb, lines   the workload (lines: in all, per run)
    """
    corral_exe = os.path.abspath(corral_exe)
    ks = shares(writers, mb)
    nbytes = sum(k * (len(text_of(i)) + 1) for i, k in enumerate(ks))
    corral_s, direct_s, lost, peak = [], [], 0, 0
    for _ in range(runs):
        el, pk, ls = corral_once(corral_exe, writers, ks)
        corral_s.append(el)
        lost += ls
        peak = max(peak, pk)
        direct_s.append(direct_once(writers, ks))
    c = nbytes / 1e6 / statistics.median(corral_s)
    dmbs = nbytes / 1e6 / statistics.median(direct_s)
    return {
        "corral_mbs": c,
        "direct_mbs": dmbs,
        "ratio": c / dmbs,
        "lost": lost,
        "peak_rss_kb": peak,
        "corral_s": corral_s,
        "direct_s": direct_s,
        "writers": writers,
        "mb": mb,
        "lines": sum(ks),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corral", default=os.path.join(REPO, "target", "release", "corral"))
    ap.add_argument("--mb", type=int, default=128, help="MiB of lines per run, shared by the writers (default 128)")
    ap.add_argument("--runs", type=int, default=5, help="runs each way; medians are reported (default 5)")
    ap.add_argument("--writers", default="1,100", help="comma-separated writer counts (default 1,100)")
    ap.add_argument("--json", action="store_true", help="print the result dicts as JSON")
    a = ap.parse_args()
    if not os.access(a.corral, os.X_OK):
        sys.exit(f"no corral binary at {a.corral} (cargo build --release, or --corral PATH)")
    results = []
    for w in [int(x) for x in a.writers.split(",")]:
        r = run(a.corral, w, a.mb, a.runs)
        results.append(r)
        if not a.json:
            print(
                f"{w:4} writer(s), {a.mb} MiB: corral {r['corral_mbs']:6.0f} MB/s, direct {r['direct_mbs']:6.0f} MB/s "
                f"({100 * r['ratio']:.0f}%), {r['lost']} lines lost, corral peak RSS {r['peak_rss_kb'] / 1024:.1f} MiB",
                flush=True,
            )
    if a.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
