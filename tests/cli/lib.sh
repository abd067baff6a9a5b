# tests/cli/lib.sh — tiny helpers for CLI tests; source it, call ok/fail
# checks, end with `finish`. Each script prints "CLI-RESULT pass fail".
set -u
TIDE=${TIDE:-build/tide}
TIDE_DATA=${TIDE_DATA:-../shared/data}
T_PASS=0; T_FAIL=0
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
ok()   { T_PASS=$((T_PASS+1)); echo "ok $1"; }
fail() { T_FAIL=$((T_FAIL+1)); echo "FAIL $1"; }
# check NAME CMD...: passes when CMD exits 0
check() { local n=$1; shift; if "$@"; then ok "$n"; else fail "$n"; fi; }
# jget JSON KEY.PATH: prints a value from a JSON document (python3 stdlib)
jget() { python3 -c 'import json,sys
d=json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$1" "$2"; }
# fge A B: float A >= B
fge() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$1" "$2"; }
fle() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$1" "$2"; }
finish() { echo "CLI-RESULT $T_PASS $T_FAIL"; [ "$T_FAIL" -eq 0 ]; }
