#!/usr/bin/env bash
# Soak test (docs/reliability.md; not part of CI): a crash loop with output, a
# readiness probe, a log file and a `corral logs -f` follower, for MINUTES
# (default 10). Samples corral's descriptors and resident memory every 10 s and
# fails if either grows after the warm-up (the first quarter of the run).
#   bash scripts/soak.sh [MINUTES] [CORRAL_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
corral=${2:-}
if [ -z "$corral" ]; then
  cargo build --release -p corral
  corral=$PWD/target/release/corral
fi
dir=$(mktemp -d)
trap 'kill $follower $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/soak.json" <<'JSON'
{
  "processes": {
    "crash": {
      "command": "echo \"run at $(date +%s%N)\"; echo 'a second line, a little longer than the first one'; sleep 0.05; exit 1",
      "log_location": "crash.log",
      "readiness_probe": {"exec": {"command": "true"}, "period_seconds": 1},
      "availability": {"restart": "on_failure", "backoff_seconds": 0.01, "backoff_max_seconds": 0.01}
    },
    "steady": {
      "command": "while true; do echo tick; sleep 0.5; done",
      "log_location": "steady.log"
    }
  }
}
JSON
cd "$dir"
"$corral" up -f soak.json > /dev/null 2> corral.err &
pid=$!
sleep 2
"$corral" logs -f --config soak.json > follower.out 2>&1 &
follower=$!
samples=$((minutes * 6))
warmup=$((samples / 4))
echo "seconds restarts fds rss_kb"
base_fds=; base_rss=; max_fds=0; max_rss=0
for i in $(seq 1 "$samples"); do
  sleep 10
  kill -0 "$pid" 2>/dev/null || { echo "corral exited"; tail corral.err; exit 1; }
  # The floor of a few quick samples: one may catch a restart in flight (its pipes open).
  fds=$(for _ in 1 2 3 4 5 6 7 8; do ls /proc/$pid/fd | wc -l; sleep 0.05; done | sort -n | head -1)
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  restarts=$(grep -c 'crash: restarting in' corral.err || true)
  echo "$((i * 10)) $restarts $fds $rss"
  if [ "$i" -eq "$warmup" ]; then base_fds=$fds; base_rss=$rss; fi
  if [ "$i" -gt "$warmup" ]; then
    [ "$fds" -gt "$max_fds" ] && max_fds=$fds
    [ "$rss" -gt "$max_rss" ] && max_rss=$rss
  fi
done
kill -TERM "$pid"; wait "$pid" || true
echo "after warm-up: fds $base_fds -> max $max_fds, rss $base_rss kB -> max $max_rss kB, $restarts restarts"
status=0
[ "$max_fds" -le $((base_fds + 2)) ] || { echo "FAIL: descriptors grew"; status=1; }
# Allow 1 MB of allocator noise over the whole run; a leak of 26 KB per 1,000 restarts shows well beyond that.
[ "$max_rss" -le $((base_rss + 1024)) ] || { echo "FAIL: memory grew"; status=1; }
exit $status
