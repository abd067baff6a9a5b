#!/usr/bin/env bash
# tests/cli/test_drift.sh — `tide drift` and `tide detectors`: alarms on a
# 0/1 stream with a known change point, JSON shape, bad input -> exit 2.
. "$(dirname "$0")/lib.sh"

# 0/1 errors: p = 0.2 for rows 0..999, p = 0.5 from row 1000 (change point),
# 3000 rows; a second column with a constant, an empty cell at row 5.
python3 - "$TMP/err.csv" <<'EOF'
import random, sys
rng = random.Random(20240611)
with open(sys.argv[1], "w") as f:
    f.write("err,const\n")
    for i in range(3000):
        p = 0.2 if i < 1000 else 0.5
        e = "" if i == 5 else str(int(rng.random() < p))
        f.write(f"{e},1\n")
EOF

# first_after JSON CHANGE: first detection at or after CHANGE (or -1)
first_after() { python3 -c 'import json,sys
d=json.loads(sys.argv[1]); c=int(sys.argv[2])
print(next((i for i in d["detections"] if i >= c), -1))' "$1" "$2"; }

# Delay bounds from tests/unit/test_drift.c (BOUNDS), where they are justified.
for spec in adwin:300 page_hinkley:400 ddm:1000 eddm:500; do
  det=${spec%%:*}; bound=${spec##*:}
  out=$("$TIDE" drift "$TMP/err.csv" --column err --detector "$det" --json); rc=$?
  check "$det exits 0" [ "$rc" -eq 0 ]
  keys=$(python3 -c 'import json,sys; print(",".join(sorted(json.loads(sys.argv[1]))))' "$out")
  check "$det json has exactly detections,warnings" [ "$keys" = "detections,warnings" ]
  f=$(first_after "$out" 1000)
  check "$det first detection after the change ($f) within $bound rows" \
    test "$f" -ge 1000 -a "$f" -le $((1000 + bound))
done

# ADWIN and Page-Hinkley raise nothing before the change on this stream
out=$("$TIDE" drift "$TMP/err.csv" --column err --detector adwin --json)
check "adwin: no detection before row 1000" \
  python3 -c 'import json,sys; sys.exit(0 if all(i >= 1000 for i in json.loads(sys.argv[1])["detections"]) else 1)' "$out"

# parameters reach the detector: a huge threshold silences Page-Hinkley
out=$("$TIDE" drift "$TMP/err.csv" --column err --detector page_hinkley --param threshold=1e9 --json)
check "page_hinkley threshold=1e9: no detection" [ "$(jget "$out" detections)" = "[]" ]

# text output lists the alarms with their rows, and counts the skipped cell
txt=$("$TIDE" drift "$TMP/err.csv" --column err --detector adwin)
check "text output lists a drift row" grep -q "drift    at row 1[0-9][0-9][0-9]" <<<"$txt"
check "text output reports the empty cell" grep -q "2999 values, 1 empty cells skipped" <<<"$txt"

# DDM warnings are reported at their onset, before its first detection
out=$("$TIDE" drift "$TMP/err.csv" --column err --detector ddm --json)
check "ddm raises a warning" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["warnings"] else 1)' "$out"

# bad usage and bad input: exit 2 with a message naming the problem
err=$("$TIDE" drift "$TMP/err.csv" --column nope --detector adwin 2>&1 >/dev/null); rc=$?
check "bad column: exit 2" [ "$rc" -eq 2 ]
check "bad column: message names it" grep -q "'nope'" <<<"$err"
err=$("$TIDE" drift "$TMP/err.csv" --column err --detector cusum 2>&1 >/dev/null); rc=$?
check "unknown detector: exit 2" test "$rc" -eq 2
check "unknown detector: lists the known ones" grep -q "kswin" <<<"$err"
err=$("$TIDE" drift "$TMP/err.csv" --column err --detector adwin --param delta=7 2>&1 >/dev/null); rc=$?
check "out-of-range param: exit 2" test "$rc" -eq 2
check "out-of-range param: message names it" grep -q "delta" <<<"$err"
err=$("$TIDE" drift "$TMP/missing.csv" --column err --detector adwin 2>&1 >/dev/null); rc=$?
check "missing file: exit 2" test "$rc" -eq 2
check "missing file: message names it" grep -q "missing.csv" <<<"$err"
printf 'a,b\n1,x\n2,oops\n' > "$TMP/text.csv"
err=$("$TIDE" drift "$TMP/text.csv" --column b --detector adwin 2>&1 >/dev/null); rc=$?
check "non-numeric cell: exit 2" test "$rc" -eq 2
check "non-numeric cell: message names the value" grep -q "'x', not a number" <<<"$err"
"$TIDE" drift "$TMP/err.csv" --detector adwin >/dev/null 2>&1; rc=$?
check "missing --column: exit 2" [ "$rc" -eq 2 ]
"$TIDE" drift --help >/dev/null; rc=$?
check "--help: exit 0" [ "$rc" -eq 0 ]

# tide detectors: every detector with every parameter, text and JSON
txt=$("$TIDE" detectors)
for d in adwin page_hinkley ddm eddm kswin; do
  check "detectors lists $d" grep -q "^$d " <<<"$txt"
done
check "detectors shows defaults" grep -q "delta .*default 0.002" <<<"$txt"
js=$("$TIDE" detectors --json)
check "detectors --json: 5 detectors, kswin has 4 params" \
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); k=[x for x in d if x["name"]=="kswin"][0]; sys.exit(0 if len(d)==5 and len(k["params"])==4 else 1)' "$js"
"$TIDE" detectors --bogus >/dev/null 2>&1; rc=$?
check "detectors bad option: exit 2" [ "$rc" -eq 2 ]

# --skip-bad: malformed rows are counted and keep their row number
{ echo e; for i in $(seq 1 1200); do if [ "$i" -le 1000 ]; then echo 0; else echo 1; fi; done; } > "$TMP/bad.csv"
sed -i '5s/.*/oops/' "$TMP/bad.csv"
"$TIDE" drift "$TMP/bad.csv" --column e --detector adwin --json >/dev/null 2>"$TMP/bad.err"; rc=$?
check skip_bad_off_exit_2 [ "$rc" -eq 2 ]
check skip_bad_off_names_line grep -q "bad.csv:5" "$TMP/bad.err"
out=$("$TIDE" drift "$TMP/bad.csv" --column e --detector adwin --json --skip-bad 2>"$TMP/bad2.err"); rc=$?
check skip_bad_exit_0 [ "$rc" -eq 0 ]
check skip_bad_counted grep -q "skipped 1 malformed row" "$TMP/bad2.err"
first=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["detections"][0] if d["detections"] else -1)' "$out")
check skip_bad_detects_after_change [ "$first" -ge 1000 ]

# ---- --report: the column's mean with the alarms at their rows ---------------
"$TIDE" drift "$TMP/err.csv" --column err --detector ddm --json > "$TMP/ddm.json" 2>/dev/null
"$TIDE" drift "$TMP/err.csv" --column err --detector ddm --window 50 --report "$TMP/d.html" > /dev/null 2>"$TMP/d.err"
check report_written [ -s "$TMP/d.html" ]
check report_follows_json python3 - "$TMP/d.html" "$TMP/ddm.json" "$TMP/err.csv" <<'PY'
import json, re, sys
html, run = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
vals = [l.split(",")[0] for l in open(sys.argv[3]).read().split("\n")[1:] if l]
d = json.loads(re.search(r'<script id="tide-data" type="application/json">(.*?)</script>', html, re.S).group(1))
assert d["metrics"][0] == "mean" and d["window"] == 50
assert html.count("<svg") == 1, "one chart for a column"
x = [float(v) for v in vals if v != ""]
last = d["points"][-1]
assert d["rows"] == len(vals) == last[0], (d["rows"], len(vals), last[0])    # rows keep their numbers
assert abs(last[1] - sum(x) / len(x)) < 1e-12, (last[1], sum(x) / len(x))
assert abs(last[3] - sum(x[-50:]) / 50) < 1e-12, (last[3], sum(x[-50:]) / 50)
drifts = sorted(a["row"] for a in d["alarms"] if a["kind"] == "drift")
assert drifts == run["detections"] and len(drifts) >= 1, (drifts, run["detections"])
drawn = sorted(int(m) for m in re.findall(r'<line [^>]*class="drift" data-row="(\d+)"', html))
assert drawn == drifts, (drawn, drifts)
# each warning run starts at an onset that --json lists, and every onset starts a run
starts = sorted(a["row"] for a in d["alarms"] if a["kind"] == "warning")
assert starts == run["warnings"], (starts[:5], run["warnings"][:5])
PY

# a constant column of large values: the y axis's ticks were stepped by
# adding 0.1 to 3e15 (lo + step == lo), a loop that wrote without end
python3 -c 'print("v"); [print(3000000000000000) for _ in range(50)]' > "$TMP/big.csv"
timeout 20 "$TIDE" drift "$TMP/big.csv" --column v --detector adwin --report "$TMP/big.html" > /dev/null 2>&1
check report_large_flat_column_ends [ "$?" -eq 0 ]
check report_large_flat_column_small python3 - "$TMP/big.html" <<'PY'
import os, re, sys
h = open(sys.argv[1]).read()
assert os.path.getsize(sys.argv[1]) < 100000, os.path.getsize(sys.argv[1])
ticks = re.findall(r'class="ytick">([^<]*)<', h)
assert 2 <= len(ticks) <= 42 and len(set(ticks)) == len(ticks), ticks     # labels tell ticks apart
assert not re.search(r'="[^"]*(nan|inf)', h, re.I), "a coordinate is not a number"
PY

# a value whose square overflows (inf) leaves the window: the window's
# numbers come back (inf - inf had left a NaN for good)
printf 'v\n1e200\n1\n2\n3\n4\n' > "$TMP/w.csv"
"$TIDE" drift "$TMP/w.csv" --column v --detector adwin --window 2 --report "$TMP/w.html" > /dev/null 2>&1
check report_window_recovers_after_inf python3 - "$TMP/w.html" <<'PY'
import json, math, re, sys
h = open(sys.argv[1]).read()
d = json.loads(re.search(r'<script id="tide-data" type="application/json">(.*?)</script>', h, re.S).group(1))
last = d["points"][-1]
assert last[0] == 5 and abs(last[3] - 3.5) < 1e-12, last
assert abs(last[4] - math.sqrt((9 + 16) / 2)) < 1e-12, last
PY

# rows without a value inside a warning run do not end it: the report's
# runs start at the --json onsets (it started a run after every gap)
python3 - "$TMP/gap.csv" <<'PY'
import random, sys
rng = random.Random(7)
with open(sys.argv[1], "w") as f:
    f.write("err\n")
    for i in range(3000):
        p = 0.1 if i < 1000 else 0.45
        f.write(("" if i >= 1000 and i % 3 == 0 else str(int(rng.random() < p))) + "\n")
PY
"$TIDE" drift "$TMP/gap.csv" --column err --detector ddm --json > "$TMP/gap.json" 2>/dev/null
"$TIDE" drift "$TMP/gap.csv" --column err --detector ddm --report "$TMP/gap.html" > /dev/null 2>&1
check report_warning_runs_span_gaps python3 - "$TMP/gap.html" "$TMP/gap.json" <<'PY'
import json, re, sys
h, run = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
d = json.loads(re.search(r'<script id="tide-data" type="application/json">(.*?)</script>', h, re.S).group(1))
starts = sorted(a["row"] for a in d["alarms"] if a["kind"] == "warning")
assert any(w >= 1000 for w in run["warnings"]), run      # a run over the gaps exists
assert starts == run["warnings"], (starts[:8], run["warnings"])
PY

finish
