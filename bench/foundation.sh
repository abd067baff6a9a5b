#!/usr/bin/env bash
# bench/foundation.sh — the issue-2 figures of docs/BENCHMARKS.md, measured
# in one run so every ratio compares runs made under the same load:
#   1. VW-format and CSV learning throughput of `tide replay` (parse included,
#      one thread) on the 1,000,000-row synthetic stream, parse-only ceiling
#      (reader rows, and for VW the fused parse + hash that replay runs)
#   2. in-memory predict+learn loop on Elec2 (as River's benchmark times it)
#   3. scikit-learn SGDClassifier.partial_fit (mini-batches of 1,000) on the
#      same files, same run
#   4. peak RSS of `tide replay` streaming a >= 1 GB input with b=18
# usage: bash bench/foundation.sh [OUTDIR]   (needs `make bench`; python3-sklearn for 3)
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/tide-bench}; mkdir -p "$OUT"
DATA=${TIDE_DATA:-../shared/data}
B=build
make -s -j2 bench >/dev/null
[ -f "$OUT/synth.vw" ] || $B/bench/gen_synth 1000000 "$OUT/synth" >/dev/null
best() { # best rows_per_second of 3 runs of a command printing JSON with that key
  local b=0; for i in 1 2 3; do
    r=$("$@" | python3 -c 'import json,sys; print(int(json.loads(sys.stdin.read().strip().splitlines()[-1])["rows_per_second"]))')
    [ "$r" -gt "$b" ] && b=$r; done; echo "$b"; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for opt in auto nag; do
  echo "replay vw  logistic optimizer=$opt rows/s: $(best $B/tide replay "$OUT/synth.vw" --param optimizer=$opt --window 0 --json)"
  echo "replay csv logistic optimizer=$opt rows/s: $(best $B/tide replay "$OUT/synth.csv" --param optimizer=$opt --window 0 --json)"
done
# the same run pinned to each vCPU (no migration; on this VM the two can
# differ in speed for minutes at a time)
if command -v taskset >/dev/null; then
  for c in $(seq 0 $(($(nproc) - 1))); do
    echo "replay vw  logistic optimizer=auto pinned to cpu $c rows/s: $(best taskset -c $c $B/tide replay "$OUT/synth.vw" --window 0 --json)"
  done
fi
echo "parse-only vw  rows/s: $(best $B/bench/bench_parse "$OUT/synth.vw")"
echo "parse+hash vw (the replay's fused path) rows/s: $(best $B/bench/bench_parse --hashed "$OUT/synth.vw")"
echo "parse-only csv rows/s: $(best $B/bench/bench_parse "$OUT/synth.csv")"
for l in logistic gnb; do
  echo "in-memory elec2 $l: $($B/bench/bench_learn "$DATA/elec2.csv" $l --reps 15)"
done
echo "in-memory elec2 logistic optimizer=nag: $($B/bench/bench_learn "$DATA/elec2.csv" logistic optimizer=nag --reps 15)"
if /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then
  echo "sklearn elec2: $(/usr/bin/python3 bench/peer_sklearn.py "$DATA/elec2.csv")"
  echo "tide    elec2: $($B/tide replay "$DATA/elec2.csv" --json | cut -c1-300)"
  echo "sklearn synth.csv: $(/usr/bin/python3 bench/peer_sklearn.py "$OUT/synth.csv")"
fi
# >= 1 GB streamed through a pipe: 4 copies of the 296 MB VW file
/usr/bin/time -v sh -c "cat $OUT/synth.vw $OUT/synth.vw $OUT/synth.vw $OUT/synth.vw | $B/tide replay - --format vw --bits 18 --json" \
  >"$OUT/rss.json" 2>"$OUT/rss.txt"
echo "1.2 GB stream: $(cut -c1-200 "$OUT/rss.json")"
echo "peak RSS: $(grep 'Maximum resident' "$OUT/rss.txt")"
