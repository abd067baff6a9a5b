#!/usr/bin/env bash
# tests/run.sh — runs every unit test binary (cmocka) and every CLI test
# script, then prints one closing line: "N passed, N failed".
set -u
BUILD=${BUILD:-build}
export TIDE="$PWD/$BUILD/tide"
export TIDE_DATA="${TIDE_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}"
export TIDE_BUILD="$PWD/$BUILD"
passed=0; failed=0; failed_names=()
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  out=$(CMOCKA_MESSAGE_OUTPUT=stdout "$t" 2>&1); rc=$?
  echo "$out" | grep -E '^\[  (FAILED|PASSED|  OK|ERROR)' | grep -v '^\[       OK' || true
  p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1; echo "$out" | tail -20; echo "!! $t exited with status $rc"
  fi
  [ "$f" -gt 0 ] && { failed_names+=("$(basename "$t")"); echo "$out" | grep -E 'FAIL|error|Error' | head -20; }
  echo "$(basename "$t"): $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
done
for s in tests/cli/test_*.sh; do
  [ -f "$s" ] || continue
  out=$(bash "$s" 2>&1); rc=$?
  p=$(echo "$out" | sed -n 's/^CLI-RESULT \([0-9]*\) \([0-9]*\)$/\1/p' | tail -1)
  f=$(echo "$out" | sed -n 's/^CLI-RESULT \([0-9]*\) \([0-9]*\)$/\2/p' | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ "$f" -gt 0 ]; then failed_names+=("$(basename "$s")"); echo "$out" | grep -v '^ok ' | tail -30; fi
  echo "$(basename "$s"): $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
done
[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
