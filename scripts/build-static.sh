#!/usr/bin/env bash
# A fully static corral and corral-guard (glibc's static libc, non-PIE), in
# target/x86_64-unknown-linux-gnu/release/. Nothing to install on the target
# machine, and no shared-library pages: see docs/benchmarks.md for the figures.
# Caveat: a statically linked glibc resolves host names only through /etc/hosts
# and DNS as built in; probes use IP addresses by default (127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release -p corral --target x86_64-unknown-linux-gnu
ls -l target/x86_64-unknown-linux-gnu/release/corral target/x86_64-unknown-linux-gnu/release/corral-guard
