#!/usr/bin/env python3
"""Evaluation time of corral's Nix module against process-compose-flake's.

    python3 bench/nix-eval.py PATH_TO_PROCESS_COMPOSE_FLAKE [--write]

PATH is a checkout of github:Platonic-Systems/process-compose-flake (read only;
nothing of it is copied). Both modules evaluate the same declarations with the
stand-in `pkgs` of tests/nix (no nixpkgs) and the pinned nixpkgs lib (seed it as
.ci/run does), through `lib.evalModules` as each project's own `lib` does, up to
the settings file's derivation (the JSON and, for corral, its evaluation-time
dependency checks). Shapes: a chain (each process depends on the one before),
two-back (each depends on the two before it: the shape whose search used to
double per process), and a dense DAG (each depends on the ten before it); N =
100, 1,000, 2,000. Each cell is the best of three runs of `nix-instantiate
--eval`, in CPU seconds as Nix reports them (NIX_SHOW_STATS), the two modules
measured in turn. With --write the table replaces the one in docs/benchmarks.md. Not run
in CI: it takes a minute or two.
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = [("chain", 1), ("two-back", 2), ("dense (10 back)", 10)]
SIZES = [100, 1000, 2000]
MARK_BEGIN = "<!-- nix-eval table: begin (bench/nix-eval.py --write) -->"
MARK_END = "<!-- nix-eval table: end -->"


NIX_ENV = dict(os.environ, NIX_CONFIG="experimental-features = nix-command flakes\nsandbox = false\nsubstituters =\n")


def nixpkgs_lib():
    lock = json.load(open(os.path.join(ROOT, "flake.lock")))
    nar = lock["nodes"]["nixpkgs-lib"]["locked"]["narHash"]
    b32 = subprocess.run(["nix", "hash", "to-base32", nar], capture_output=True, text=True, check=True, env=NIX_ENV).stdout.strip()
    path = subprocess.run(["nix-store", "--print-fixed-path", "--recursive", "sha256", b32, "source"], capture_output=True, text=True, check=True, env=NIX_ENV).stdout.strip()
    if not os.path.exists(path):
        sys.exit(f"the pinned nixpkgs lib is not in the store ({path}); seed it as .ci/run does")
    return path + "/lib"


def expr(which, pcf, lib, n, back):
    decl = f"""
      let name = i: "p${{toString i}}"; in
      {{ settings.processes = builtins.listToAttrs (builtins.genList (i: {{
          name = name i;
          value = {{
            command = "sleep 1";
            depends_on = builtins.listToAttrs (builtins.genList (d: {{ name = name (i - d - 1); value.condition = "process_completed_successfully"; }}) (if i < {back} then i else {back}));
          }};
        }}) {n}); }}"""
    pkgs = f'import {ROOT}/tests/nix/stand-in-pkgs.nix {{ system = "x86_64-linux"; corralBin = "/bin/true"; lib = import {lib}; }}'
    if which == "corral":
        return f"""let lib = import {lib}; pkgs = {pkgs};
          set = (import {ROOT}/nix/lib.nix {{ inherit lib; }}).evalModules {{ inherit pkgs; name = "bench"; modules = [ ({decl}) ]; }};
          in set.outputs.settingsFile.drvPath"""
    return f"""let lib = import {lib}; pkgs = {pkgs};
      pc = import {pcf}/nix/lib.nix {{ inherit pkgs lib; }};
      in (pc.evalModules {{ name = "bench"; modules = [ ({decl}) ]; }}).config.outputs.settingsFile.drvPath"""


def measure(which, pcf, lib, n, back):
    """CPU seconds of one evaluation, as Nix reports it (NIX_SHOW_STATS): unlike wall
    time, it does not count waiting for a CPU on a busy machine."""
    env = dict(NIX_ENV, NIX_SHOW_STATS="1")
    out = subprocess.run(["nix-instantiate", "--eval", "--read-write-mode", "-E", expr(which, pcf, lib, n, back)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{which} N={n} back={back} failed:\n{out.stderr}")
    return json.loads(out.stderr[out.stderr.index("{"):])["cpuTime"]


def best_of_three(pcf, lib, n, back):
    """The two modules measured in turn, three times, so a busy moment hits both."""
    c, p = [], []
    for _ in range(3):
        c.append(measure("corral", pcf, lib, n, back))
        p.append(measure("pcf", pcf, lib, n, back))
    return min(c), min(p)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pcf = os.path.abspath(sys.argv[1])
    if not os.path.exists(os.path.join(pcf, "nix/lib.nix")):
        sys.exit(f"{pcf} is not a process-compose-flake checkout (no nix/lib.nix)")
    lib = nixpkgs_lib()
    rev = subprocess.run(["git", "-C", pcf, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "an unknown revision (not a git checkout)"
    rows = ["| shape | N | corral (s) | process-compose-flake (s) | corral / pcf |", "|---|---|---|---|---|"]
    for shape, back in SHAPES:
        for n in SIZES:
            c, p = best_of_three(pcf, lib, n, back)
            rows.append(f"| {shape} | {n:,} | {c:.2f} | {p:.2f} | {c / p:.2f} |")
            print(rows[-1], flush=True)
    table = "\n".join(rows) + f"\n\nprocess-compose-flake at {rev}; Nix {subprocess.run(['nix', '--version'], capture_output=True, text=True).stdout.split()[-1]}; CPU seconds (NIX_SHOW_STATS `cpuTime`), best of three `nix-instantiate --eval` runs each, measured in turn, on this machine.\n"
    if "--write" in sys.argv:
        path = os.path.join(ROOT, "docs/benchmarks.md")
        doc = open(path).read()
        begin, end = doc.index(MARK_BEGIN) + len(MARK_BEGIN), doc.index(MARK_END)
        open(path, "w").write(doc[:begin] + "\n" + table + doc[end:])
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
