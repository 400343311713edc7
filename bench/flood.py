#!/usr/bin/env python3
"""Log throughput: one process writes N bytes of lines through corral.

corral writes them labelled to stdout (a file here) and unlabelled to the
process's log file. Compared with the floor: the same writer piped straight
into a file. Reports throughput, lines lost (expected minus counted in the log
file) and corral's peak resident memory.

    python3 bench/flood.py [--corral target/release/corral] [--mb 1024]
"""
import argparse, json, os, subprocess, tempfile, time

LINE = b"0123456789 the quick brown fox jumps over the lazy dog 0123456789\n"  # 66 bytes

def writer(mb):
    n = mb * 1024 * 1024 // len(LINE)
    return n, f"yes '{LINE.decode().rstrip()}' | head -n {n}"

def peak_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corral", default="target/release/corral")
    ap.add_argument("--mb", type=int, default=1024)
    a = ap.parse_args()
    corral = os.path.abspath(a.corral)
    n, cmd = writer(a.mb)
    with tempfile.TemporaryDirectory() as d:
        t = time.monotonic()
        subprocess.run(["bash", "-c", f"{cmd} > {d}/direct.txt"], check=True)
        direct = time.monotonic() - t
        os.remove(f"{d}/direct.txt")

        json.dump({"processes": {"flood": {"command": cmd, "log_location": "flood.log"}}}, open(f"{d}/flood.json", "w"))
        with open(f"{d}/stdout.txt", "wb") as out:
            t = time.monotonic()
            p = subprocess.Popen([corral, "-q", "up", "-f", "flood.json"], cwd=d, stdout=out, stderr=subprocess.DEVNULL)
            peak = 0
            while p.poll() is None:
                peak = max(peak, peak_kb(p.pid))
                time.sleep(0.05)
            through = time.monotonic() - t
        lines = 0
        with open(f"{d}/flood.log", "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                lines += chunk.count(b"\n")
        shown = sum(chunk.count(b"\n") for chunk in iter(lambda f=open(f"{d}/stdout.txt", "rb"): f.read(1 << 20), b""))
    mb = n * len(LINE) / 1e6
    print(f"{n} lines, {mb:.0f} MB")
    print(f"  direct to a file : {direct:6.2f} s  {mb / direct:7.0f} MB/s")
    print(f"  through corral   : {through:6.2f} s  {mb / through:7.0f} MB/s  ({100 * direct / through:.0f}% of direct)")
    print(f"  lines lost       : log file {n - lines}, stdout {n - shown}")
    print(f"  corral peak RSS  : {peak / 1024:.1f} MB")

if __name__ == "__main__":
    main()
