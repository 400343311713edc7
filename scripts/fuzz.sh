#!/usr/bin/env bash
# Fuzzes the three parsers that read untrusted input, for a bounded time each:
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# Needs cargo-fuzz (cargo install cargo-fuzz); runs on the stable toolchain
# through RUSTC_BOOTSTRAP=1. A crash leaves its input in fuzz/artifacts/<target>/;
# fix it and add the input to a regression test (crates/corral/tests/corpus.rs).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in config_loader notify_parser control_request; do
  mkdir -p "corpus/$target"
  echo "== fuzzing $target for ${seconds}s"
  cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 2>&1 \
    | grep -E "^#[0-9]+.*(DONE|pulse)|Done [0-9]+ runs|ERROR|panicked|SUMMARY|artifact" || true
  if ls "artifacts/$target"/crash-* >/dev/null 2>&1; then
    echo "fuzz: $target found a crash: $(ls artifacts/$target/crash-*)" >&2
    exit 1
  fi
done
echo "fuzz: no crash in ${seconds}s per target"
