#!/usr/bin/env bash
# scripts/test.sh — second command of the README: installs the missing
# Debian packages, then builds and runs the whole test suite twice: the
# release build, then under AddressSanitizer + UndefinedBehaviorSanitizer.
# The last line is the total: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total_p=0; total_f=0
for san in 0 1; do
  echo "== build and test (SAN=$san)"
  if ! make -j"$(nproc)" SAN=$san tests >/tmp/tide-build-$san.log 2>&1; then
    tail -40 /tmp/tide-build-$san.log; echo "build failed (SAN=$san)"; total_f=$((total_f+1)); continue
  fi
  out=$(make --no-print-directory SAN=$san test 2>&1); echo "$out" | grep -v '^ok '
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
  total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-1}))
done
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ] && [ "$total_p" -gt 0 ]
