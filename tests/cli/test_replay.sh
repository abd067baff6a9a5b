# tests/cli/test_replay.sh — `tide replay`, `tide predict`, `tide learners`
# (src/cli/cmd_replay.c, cmd_predict.c, cmd_learners.c) on the shared River
# streams. Thresholds are River's published progressive-validation results
# (shared/data/README.md, river 0.19.0 benchmark tables), not tide's output.
source "$(dirname "$0")/lib.sh"

D=$TIDE_DATA
py() { python3 -c "$@"; }
# status_err RC WANT PATTERN...: RC = WANT and $TMP/err holds every PATTERN
status_err() {
  local rc=$1 want=$2; shift 2
  [ "$rc" -eq "$want" ] || { echo "  exit status $rc, wanted $want"; return 1; }
  for pat in "$@"; do grep -q -- "$pat" "$TMP/err" || { echo "  stderr lacks '$pat':"; cat "$TMP/err"; return 1; }; done
}

# replay_json FILE ARGS... -> JSON summary on stdout (empty on failure)
replay_json() { "$TIDE" replay "$@" --json 2>"$TMP/stderr"; }
metric() { jget "$1" "metrics.$2"; }

# ---- accuracy against River's published figures --------------------------
# name file learner river_accuracy
# (learner "-" = the default learner, logistic)
while read -r file learner river; do
  if [ "$learner" = - ]; then out=$(replay_json "$D/$file"); learner=default
  else out=$(replay_json "$D/$file" --learner "$learner"); fi
  acc=$(metric "$out" accuracy 2>/dev/null || echo 0)
  if fge "$acc" "$river"; then ok "river_${file%.csv}_$learner"; else
    fail "river_${file%.csv}_$learner: accuracy $acc < River $river"; fi
done <<'EOF'
phishing.csv - 0.8872
bananas.csv - 0.543208
elec2.csv - 0.822144
phishing.csv gnb 0.884708
bananas.csv gnb 0.61521
elec2.csv gnb 0.728741
EOF
out=$(replay_json "$D/phishing.csv")
check default_is_logistic [ "$(jget "$out" learner)" = logistic ]

# regression: River's LinearRegression MAE on TrumpApproval is 1.31455
out=$(replay_json "$D/trump_approval.csv" --learner linear)
mae=$(metric "$out" mae 2>/dev/null || echo 99)
if fle "$mae" 1.31455; then ok river_trump_linear_mae; else fail "river_trump_linear_mae: $mae > 1.31455"; fi
check regression_keys py 'import json,sys
d=json.loads(sys.argv[1]); m=d["metrics"]
assert d["rows"] == 1001, d["rows"]            # 1,001 rows (README)
for k in ("mae", "rmse", "r2"): assert isinstance(m[k], float), k
assert m["rmse"] >= m["mae"] > 0               # RMSE >= MAE always
assert "accuracy" not in m' "$out"

# ---- the JSON summary -----------------------------------------------------
out=$(replay_json "$D/phishing.csv")
check json_keys py 'import json,sys
d=json.loads(sys.argv[1])
assert d["rows"] == 1250 and d["skipped"] == 0, d   # 1,250 rows (README)
assert d["seconds"] > 0 and abs(d["rows_per_second"] - d["rows"] / d["seconds"]) <= 1e-6 * d["rows_per_second"] + 1
m = d["metrics"]
for k in ("accuracy", "f1", "log_loss", "roc_auc"): assert isinstance(m[k], float), k
assert 0 <= m["accuracy"] <= 1 and 0 <= m["f1"] <= 1 and 0 <= m["roc_auc"] <= 1 and m["log_loss"] > 0
assert m["n"] == 1250' "$out"

# rows with an empty target are unlabelled: counted, not scored, not learned
printf 'a,b,y\n1,2,1\n0.5,1,\n2,3,0\n1,1,\n4,4,1\n' >"$TMP/unl.csv"
out=$(replay_json "$TMP/unl.csv")
check unlabelled_rows py 'import json,sys
d=json.loads(sys.argv[1]); assert d["rows"] == 3 and d["unlabelled"] == 2 and d["metrics"]["n"] == 3, d' "$out"
out=$(replay_json "$D/phishing.csv" --max-rows 100)
check max_rows [ "$(jget "$out" rows)" = 100 ]

# ---- delayed labels -------------------------------------------------------
plain=$(replay_json "$D/phishing.csv")
delayed=$(replay_json "$D/phishing.csv" --delay 100)
check delay_learns py 'import json,sys
a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2])
assert b["delay"] == 100 and b["rows"] == 1250
# majority class is 702/1250 = 0.5616: well above chance, and not the no-delay run
assert b["metrics"]["accuracy"] > 0.75, b["metrics"]
assert b["metrics"]["accuracy"] != a["metrics"]["accuracy"]
assert b["metrics"]["log_loss"] != a["metrics"]["log_loss"]' "$plain" "$delayed"
# a delay longer than the stream: nothing is learned before the end, every
# prediction is the untrained p = 0.5, so log loss = ln 2 = 0.693147...
never=$(replay_json "$D/phishing.csv" --delay 5000 --save "$TMP/late.tide")
check delay_longer_than_stream py 'import json,sys,math
m=json.loads(sys.argv[1])["metrics"]
assert abs(m["log_loss"] - math.log(2)) < 1e-9, m
assert abs(m["roc_auc"] - 0.5) < 1e-9, m' "$never"
# ... but the labels in flight are learned when the stream ends
"$TIDE" predict --model "$TMP/late.tide" "$D/phishing.csv" >/dev/null 2>"$TMP/late.err"
acc=$(sed -n 's/.*accuracy \([0-9.]*\).*/\1/p' "$TMP/late.err")
if fge "${acc:-0}" 0.8; then ok delay_flushes_at_end; else fail "delay_flushes_at_end: accuracy '$acc'"; fi

# rows whose features are all missing, with a delay ring (was a memcpy to
# NULL in cmd_replay.c that aborted under UBSan)
printf 'a,b,y\n1,2,1\n,,0\n,,1\n3,4,0\n0.5,1,1\n' > "$TMP/empty.csv"
out=$(replay_json "$TMP/empty.csv" --delay 2); rc=$?
check delay_empty_row [ "$rc.$(jget "$out" rows 2>/dev/null)" = 0.5 ]

# ---- label spellings and the positive class ---------------------------------
# Phishing relabelled true/false and yes/no: the positive spelling is the
# positive class, so every metric equals the 1/0 run, for the binary logistic
# and for gnb (which numbers classes by first appearance: the swap path).
# Relabelled a/b (no positive spelling): the first label seen, "a" = phishing,
# is class 0 and F1 is reported for class 1 = "b"; the logistic model is the
# mirror image (same log loss and AUC), accuracy differs at most by the tie
# at p = 0.5 on the first row (1/1250).
py 'import csv,sys
rows=list(csv.reader(open(sys.argv[1])))
for name, (pos, neg) in {"tf": ("true", "false"), "yn": ("yes", "no"), "ab": ("a", "b")}.items():
    with open("%s/ph_%s.csv" % (sys.argv[2], name), "w") as f:
        f.write(",".join(rows[0]) + "\n")
        for r in rows[1:]: f.write(",".join(r[:-1] + [pos if r[-1] == "1" else neg]) + "\n")' "$D/phishing.csv" "$TMP"
for l in logistic gnb; do
  base=$(replay_json "$D/phishing.csv" --learner $l)
  for v in tf yn; do
    o=$(replay_json "$TMP/ph_$v.csv" --learner $l)
    check "labels_${v}_$l" py 'import json,sys
a=json.loads(sys.argv[1])["metrics"]; b=json.loads(sys.argv[2])["metrics"]
assert a == b, (a, b)' "$base" "$o"
  done
done
base=$(replay_json "$D/phishing.csv")
o=$(replay_json "$TMP/ph_ab.csv")
check labels_ab_mirror py 'import json,sys
a=json.loads(sys.argv[1])["metrics"]; b=json.loads(sys.argv[2])["metrics"]
assert abs(a["log_loss"] - b["log_loss"]) < 1e-9 and abs(a["roc_auc"] - b["roc_auc"]) < 1e-9, (a, b)
assert abs(a["accuracy"] - b["accuracy"]) <= 1 / 1250 + 1e-12, (a, b)
assert abs(a["f1"] - b["f1"]) > 0.01, (a, b)    # F1 of the other class' "$base" "$o"

# ---- save, then predict ---------------------------------------------------
out=$(replay_json "$D/phishing.csv" --save "$TMP/ph.tide")
check save_exit [ -s "$TMP/ph.tide" ]
"$TIDE" predict --model "$TMP/ph.tide" "$D/phishing.csv" >"$TMP/pred1" 2>"$TMP/pred1.err"; rc1=$?
"$TIDE" predict --model "$TMP/ph.tide" "$D/phishing.csv" >"$TMP/pred2" 2>/dev/null
check predict_exit [ "$rc1" -eq 0 ]
check predict_one_per_row [ "$(wc -l <"$TMP/pred1")" -eq 1250 ]
check predict_deterministic cmp -s "$TMP/pred1" "$TMP/pred2"
# the accuracy predict reports = accuracy of its printed predictions vs the labels
check predict_accuracy_matches py 'import sys,csv,re
preds=[l.strip() for l in open(sys.argv[1])]
labels=[r[-1] for r in list(csv.reader(open(sys.argv[2])))[1:]]
acc=sum(p == y for p, y in zip(preds, labels)) / len(labels)
rep=float(re.search(r"accuracy ([0-9.]+)", open(sys.argv[3]).read()).group(1))
assert set(preds) <= {"0", "1"}, set(preds)
assert abs(acc - rep) < 5e-7, (acc, rep)
assert acc > 0.85, acc' "$TMP/pred1" "$D/phishing.csv" "$TMP/pred1.err"
# replay is deterministic: the same run saves the same bytes
replay_json "$D/phishing.csv" --save "$TMP/ph2.tide" >/dev/null
check save_deterministic cmp -s "$TMP/ph.tide" "$TMP/ph2.tide"
# --proba / --json: probabilities of the two classes sum to 1
"$TIDE" predict --model "$TMP/ph.tide" "$D/phishing.csv" --json --proba >"$TMP/predj" 2>/dev/null
check predict_json_proba py 'import sys,json
n=0
for line in open(sys.argv[1]):
    d=json.loads(line); n+=1
    p=d["proba"]; assert abs(p["0"] + p["1"] - 1) < 1e-9, d
    assert d["prediction"] == max(p, key=p.get), d
assert n == 1250' "$TMP/predj"
# a corrupt model file is refused with status 2 and a reason
cp "$TMP/ph.tide" "$TMP/bad.tide"
printf 'X' | dd of="$TMP/bad.tide" bs=1 seek=40 conv=notrunc 2>/dev/null
"$TIDE" predict --model "$TMP/bad.tide" "$D/phishing.csv" >/dev/null 2>"$TMP/err"; rc=$?
check predict_corrupt_model status_err "$rc" 2 "checksum" "bad.tide"

# regression model round trip
replay_json "$D/trump_approval.csv" --learner linear --save "$TMP/tr.tide" >/dev/null
"$TIDE" predict --model "$TMP/tr.tide" "$D/trump_approval.csv" >"$TMP/trp" 2>"$TMP/trp.err"
check predict_regression py 'import sys,csv,re
preds=[float(l) for l in open(sys.argv[1])]
ys=[float(r[-1]) for r in list(csv.reader(open(sys.argv[2])))[1:]]
assert len(preds) == len(ys) == 1001
mae=sum(abs(p - y) for p, y in zip(preds, ys)) / len(ys)
rep=float(re.search(r"mae ([0-9.]+)", open(sys.argv[3]).read()).group(1))
assert abs(mae - rep) < 1e-5, (mae, rep)' "$TMP/trp" "$D/trump_approval.csv" "$TMP/trp.err"

# ---- bad input --------------------------------------------------------------
# 1001 good rows (past the 1000 rows of type inference), then 'abc' in a
# numeric column on line 1003, byte column 5
head -n 1002 "$D/phishing.csv" >"$TMP/badnum.csv"
echo '0.0,abc,0.0,0.0,0.0,0.5,1.0,1,1,1' >>"$TMP/badnum.csv"
sed -n '1003,1010p' "$D/phishing.csv" >>"$TMP/badnum.csv"
"$TIDE" replay "$TMP/badnum.csv" >/dev/null 2>"$TMP/err"; rc=$?
check bad_row_status [ "$rc" -eq 2 ]
check bad_row_place grep -q "badnum.csv:1003:5:" "$TMP/err"
out=$(replay_json "$TMP/badnum.csv" --skip-bad); rc=$?
check skip_bad_status [ "$rc" -eq 0 ]
check skip_bad_count py 'import json,sys
d=json.loads(sys.argv[1]); assert d["skipped"] == 1 and d["rows"] == 1009, d' "$out"
# a row with the wrong number of cells
printf 'a,b,y\n1,2,1\n0.5,1,0\n2,3\n1,1,0\n' >"$TMP/short.csv"
"$TIDE" replay "$TMP/short.csv" >/dev/null 2>"$TMP/err"; rc=$?
check short_row status_err "$rc" 2 "short.csv:4:"
# a third class for the binary default learner
printf 'a,y\n1,cat\n2,dog\n3,eel\n' >"$TMP/three.csv"
"$TIDE" replay "$TMP/three.csv" >/dev/null 2>"$TMP/err"; rc=$?
check third_class status_err "$rc" 2 "eel" "three.csv:4"
# ... which softmax accepts
out=$(replay_json "$TMP/three.csv" --learner softmax)
check softmax_three_classes [ "$(jget "$out" rows 2>/dev/null)" = 3 ]
# regression target that is not a number
printf 'a,y\n1,2\n2,x\n' >"$TMP/regbad.csv"
"$TIDE" replay "$TMP/regbad.csv" --learner linear >/dev/null 2>"$TMP/err"; rc=$?
check regression_text_target status_err "$rc" 2 "regbad.csv:3"
# unknown learner / bad parameters / bad options
"$TIDE" replay "$D/phishing.csv" --learner nosuch >/dev/null 2>"$TMP/err"; rc=$?
check unknown_learner status_err "$rc" 2 "nosuch" "logistic"
"$TIDE" replay "$D/phishing.csv" --param lr=-3 >/dev/null 2>"$TMP/err"; rc=$?
check bad_param_range status_err "$rc" 2 "lr"
"$TIDE" replay "$D/phishing.csv" --param bogus=1 >/dev/null 2>"$TMP/err"; rc=$?
check bad_param_key status_err "$rc" 2 "bogus"
"$TIDE" replay "$D/phishing.csv" --param l1=0.5 >/dev/null 2>"$TMP/err"; rc=$?
check l1_needs_ftrl status_err "$rc" 2 "l1"
"$TIDE" replay "$D/phishing.csv" --bits 40 >/dev/null 2>"$TMP/err"; rc=$?
check bad_bits status_err "$rc" 2 "--bits"
"$TIDE" replay "$TMP/nosuchfile.csv" >/dev/null 2>"$TMP/err"; rc=$?
check missing_file status_err "$rc" 2 "nosuchfile.csv"
"$TIDE" replay >/dev/null 2>&1; rc=$?
check no_file_usage [ "$rc" -eq 2 ]

# ---- learners ---------------------------------------------------------------
"$TIDE" learners >"$TMP/learners" 2>&1; rc=$?
check learners_exit [ "$rc" -eq 0 ]
for l in logistic softmax linear gnb; do
  check "learners_lists_$l" grep -q "^$l " "$TMP/learners"
done
for p in optimizer lr power_t l1 l2 beta intercept scale alpha var_smoothing; do
  check "learners_param_$p" grep -q "^    $p " "$TMP/learners"
done
"$TIDE" learners --json >"$TMP/learners.json"
check learners_json py 'import json,sys
d={l["name"]: l for l in json.load(open(sys.argv[1]))}
for n, task in (("logistic", "binary"), ("softmax", "multiclass"), ("linear", "regression"), ("gnb", "classification")):
    assert d[n]["task"] == task, (n, d[n]["task"])
ps={p["name"]: p for p in d["logistic"]["params"]}
assert ps["optimizer"]["type"] == "choice" and "ftrl" in ps["optimizer"]["range"]
assert ps["lr"]["type"] == "float"
assert {p["name"] for p in d["gnb"]["params"]} >= {"alpha", "var_smoothing"}' "$TMP/learners.json"
"$TIDE" learners --bogus >/dev/null 2>&1; rc=$?
check learners_bad_option [ "$rc" -eq 2 ]

# ---- compressed input and other formats -----------------------------------------
gzip -c "$D/phishing.csv" >"$TMP/phishing.csv.gz"
gz=$(replay_json "$TMP/phishing.csv.gz")
check gzip_same_metrics py 'import json,sys
a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2])
assert a["metrics"] == b["metrics"] and a["rows"] == b["rows"], (a["metrics"], b["metrics"])' "$plain" "$gz"

# the first 300 rows of Phishing as CSV, JSON Lines and VW: every format names
# the features alike (default namespace), so the hashed vectors, and hence the
# metrics, must be identical
py 'import csv,json,sys
rows=list(csv.reader(open(sys.argv[1]))); h=rows[0]; body=rows[1:301]; t=sys.argv[2]
with open(t + "/s.csv", "w") as f:
    f.write(",".join(h) + "\n")
    for r in body: f.write(",".join(r) + "\n")
with open(t + "/s.jsonl", "w") as f:
    for r in body:
        d={k: float(v) for k, v in zip(h[:-1], r[:-1])}; d["is_phishing"]=int(r[-1])
        f.write(json.dumps(d) + "\n")
with open(t + "/s.vw", "w") as f:
    for r in body:
        f.write(("1" if r[-1] == "1" else "-1") + " | " + " ".join("%s:%s" % kv for kv in zip(h[:-1], r[:-1])) + "\n")' "$D/phishing.csv" "$TMP"
c=$(replay_json "$TMP/s.csv")
j=$(replay_json "$TMP/s.jsonl" --target is_phishing)
v=$(replay_json "$TMP/s.vw")
check formats_agree py 'import json,sys
c, j, v = (json.loads(a) for a in sys.argv[1:4])
assert c["rows"] == j["rows"] == v["rows"] == 300, (c["rows"], j["rows"], v["rows"])
assert c["metrics"] == j["metrics"] == v["metrics"], (c["metrics"], j["metrics"], v["metrics"])
assert c["metrics"]["accuracy"] > 0.8' "$c" "$j" "$v"
# gnb on JSON Lines and VW too
j=$(replay_json "$TMP/s.jsonl" --target is_phishing --learner gnb)
v=$(replay_json "$TMP/s.vw" --learner gnb)
check formats_gnb py 'import json,sys
j, v = (json.loads(a) for a in sys.argv[1:3])
assert j["rows"] == v["rows"] == 300 and j["metrics"]["accuracy"] > 0.8, (j, v)' "$j" "$v"

# --delay N holds only the rows the stream has: a huge delay on a small file
# stays small (it used to allocate N rows up front: 400 MB at 10^7)
rss=$(python3 -c 'import resource,subprocess,sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$TIDE" replay "$D/phishing.csv" --delay 10000000 --json 2>/dev/null)
check delay_memory_follows_stream [ "${rss:-999999999}" -lt 100000 ]

# ---- --report: the HTML report's charts and data follow the run -------------
"$TIDE" replay "$D/elec2.csv" --detector adwin,ddm --window 500 --json --report "$TMP/r.html" > "$TMP/r.json" 2>"$TMP/err"
check report_written [ -s "$TMP/r.html" ]
check report_matches_run python3 - "$TMP/r.html" "$TMP/r.json" <<'PY'
import json, re, sys
from html.parser import HTMLParser
html, run = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.stack = []; s.poly = {}; s.drift = []; s.warn = []; s.bad = 0
    def handle_starttag(s, t, a):
        a = dict(a)
        if t not in ("meta", "br", "line", "rect", "polyline"): s.stack.append(t)
        if t == "polyline": s.poly[a["class"] + str(len(s.poly) // 2)] = a["points"].split()
        if t == "line" and a.get("class") == "drift": s.drift.append(int(a["data-row"]))
        if t == "rect" and a.get("class") == "warning": s.warn.append((int(a["data-row"]), int(a["data-end"])))
    def handle_endtag(s, t):
        if t in ("meta", "line", "rect", "polyline"): return
        if not s.stack or s.stack.pop() != t: s.bad += 1
p = P(); p.feed(html)
assert p.bad == 0 and not p.stack, ("unbalanced tags", p.bad, p.stack)
d = json.loads(re.search(r'<script id="tide-data" type="application/json">(.*?)</script>', html, re.S).group(1))
pts = d["points"]
assert d["rows"] == run["rows"] == pts[-1][0], (d["rows"], run["rows"], pts[-1][0])
assert 512 <= len(pts) <= 1024, len(pts)
assert all(b[0] > a[0] for a, b in zip(pts, pts[1:])), "rows increase"
# the last point is the run's final metrics: cumulative and over the window
assert abs(pts[-1][1] - run["metrics"]["accuracy"]) < 1e-9, (pts[-1][1], run["metrics"]["accuracy"])
assert abs(pts[-1][2] - run["metrics"]["log_loss"]) < 1e-6, (pts[-1][2], run["metrics"]["log_loss"])
assert abs(pts[-1][3] - run["window_metrics"]["accuracy"]) < 1e-9
assert abs(pts[-1][4] - run["window_metrics"]["log_loss"]) < 1e-6
# every drift alarm of the run is drawn, at its row, in both charts
drifts = sorted(a["row"] for a in run["alarms"] if a["kind"] == "drift")
assert len(drifts) > 0 and sorted(p.drift) == sorted(drifts * 2), (len(p.drift), len(drifts))
# warnings: runs of consecutive rows covering exactly the run's warning rows
warn_rows = sorted({(a["detector"], a["row"]) for a in run["alarms"] if a["kind"] == "warning"})
runs = [(a["detector"], a["row"], a["end"]) for a in d["alarms"] if a["kind"] == "warning"]
covered = sorted({(det, r) for det, s, e in runs for r in range(s, e + 1)})
assert covered == warn_rows, (len(covered), len(warn_rows))
assert len(p.warn) == 2 * len(runs)
# two charts, each a cumulative and a windowed line
assert sorted(p.poly) == ["cum0", "cum1", "win0", "win1"], sorted(p.poly)
PY
# regression: MAE and RMSE; a title with markup is escaped
cp "$D/trump_approval.csv" "$TMP/a<b&c.csv"
"$TIDE" replay "$TMP/a<b&c.csv" --learner linear --json --report "$TMP/reg.html" > "$TMP/reg.json" 2>"$TMP/err"
check report_regression python3 - "$TMP/reg.html" "$TMP/reg.json" <<'PY'
import json, re, sys
html, run = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
d = json.loads(re.search(r'<script id="tide-data" type="application/json">(.*?)</script>', html, re.S).group(1))
assert d["metrics"] == ["MAE", "RMSE"]
assert abs(d["points"][-1][1] - run["metrics"]["mae"]) < 1e-9
assert abs(d["points"][-1][2] - run["metrics"]["rmse"]) < 1e-9
assert "a&lt;b&amp;c.csv" in html and "a<b&c" not in html
PY
"$TIDE" replay "$D/phishing.csv" --report /nonexistent/dir/r.html > /dev/null 2>"$TMP/err"; rc=$?
check report_unwritable status_err $rc 1 "/nonexistent/dir/r.html: cannot write the report"

# ---- a value beyond a float names the file, the line and the feature ---------
printf '1 |n a:1 b:2\n0 |n a:1e300 b:2\n' > "$TMP/ovf.vw"
printf 'a,b,y\n1,2,1\n3e300,2,0\n' > "$TMP/ovf.csv"
printf '{"a":1,"y":1}\n{"a":-1e300,"y":0}\n' > "$TMP/ovf.jsonl"
"$TIDE" replay "$TMP/ovf.vw" > /dev/null 2>"$TMP/err"; rc=$?
check overflow_message_vw status_err $rc 2 "$TMP/ovf.vw:2: feature 'a' = 1e+300 overflows a float"
"$TIDE" replay "$TMP/ovf.csv" > /dev/null 2>"$TMP/err"; rc=$?
check overflow_message_csv status_err $rc 2 "$TMP/ovf.csv:3: feature 'a' = 3e+300 overflows a float"
"$TIDE" replay "$TMP/ovf.jsonl" --target y > /dev/null 2>"$TMP/err"; rc=$?
check overflow_message_jsonl status_err $rc 2 "$TMP/ovf.jsonl:2: feature 'a' = -1e+300 overflows a float"

finish
