#!/usr/bin/env bash
# The long part of the reliability suite (docs/reliability.md), which CI does not run:
# a 1 GB log flood through corral, then fuzzing of every untrusted-input parser.
#   bash scripts/reliability-long.sh [MINUTES_OF_FUZZING_PER_TARGET]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-5}
cargo build --release -p corral
echo "== 1 GB of lines through corral"
python3 bench/flood.py --mb 1024
echo "== fuzzing, ${minutes} min per target"
bash scripts/fuzz.sh $((minutes * 60))
