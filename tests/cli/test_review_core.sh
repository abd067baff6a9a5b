# tests/cli/test_review_core.sh — regressions found reviewing the core CLI
# (cmd_predict.c, cmd_replay.c, cmd_drift.c): output that must stay valid
# whatever the labels hold, and rows that must be accounted for.
source "$(dirname "$0")/lib.sh"

py() { python3 -c "$@"; }

# ---- predict: labels with quotes, backslashes and commas -------------------
# The labels come from the training data; --json must still print valid JSON
# and CSV output must quote a label holding a comma or a quote.
printf 'a,y\n1,"x""y"\n2,"b\\c"\n3,"p,q"\n1,"x""y"\n2,"b\\c"\n3,"p,q"\n' > "$TMP/odd.csv"
"$TIDE" replay "$TMP/odd.csv" --learner softmax --bits 8 --save "$TMP/odd.tide" >/dev/null 2>&1
"$TIDE" predict --model "$TMP/odd.tide" "$TMP/odd.csv" --json --proba >"$TMP/odd.jsonl" 2>/dev/null
check predict_json_escapes_labels py 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert len(rows)==6, rows
for r in rows:
    assert r["prediction"] in ("x\"y","b\\c","p,q"), r
    assert set(r["proba"])=={"x\"y","b\\c","p,q"}, r' "$TMP/odd.jsonl"
"$TIDE" predict --model "$TMP/odd.tide" "$TMP/odd.csv" --proba >"$TMP/odd.out" 2>/dev/null
check predict_csv_quotes_labels py 'import csv,sys
rows=list(csv.reader(open(sys.argv[1])))
assert len(rows)==6, rows
for r in rows:
    assert len(r)==4 and r[0] in ("x\"y","b\\c","p,q"), r
    assert abs(sum(map(float,r[1:]))-1)<1e-6, r' "$TMP/odd.out"

# ---- predict: labelled rows whose label the model never learned -------------
# They cannot be scored; predict must say how many there are and name one,
# not report metrics over the other rows as if they were all.
printf 'a,y\n1,cat\n2,dog\n1,cat\n2,dog\n' > "$TMP/pets.csv"
printf 'a,y\n1,cat\n2,bird\n1,fish\n' > "$TMP/pets2.csv"
"$TIDE" replay "$TMP/pets.csv" --learner softmax --bits 8 --save "$TMP/pets.tide" >/dev/null 2>&1
"$TIDE" predict --model "$TMP/pets.tide" "$TMP/pets2.csv" >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc -eq 0 ] && grep -q 'scored 1 labelled' "$TMP/err" && grep -q '2 labelled row(s) not scored' "$TMP/err" \
   && grep -q "pets2.csv:3: 'bird'" "$TMP/err"; then ok predict_unknown_labels_reported
else fail "predict_unknown_labels_reported (rc $rc): $(cat "$TMP/err")"; fi

# ---- truncated gzip is bad input: exit status 2, the file named ------------
python3 -c 'import gzip,sys
d=gzip.compress(b"a,y\n"+b"".join(b"%d,%d\n"%(i,i%2) for i in range(2000)))
open(sys.argv[1],"wb").write(d[:len(d)//2])' "$TMP/cut.csv.gz"
"$TIDE" replay "$TMP/cut.csv.gz" --bits 8 >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc -eq 2 ] && grep -q 'cut.csv.gz:[0-9]*:1: .*truncated or corrupt' "$TMP/err"; then ok replay_truncated_gzip_status_2
else fail "replay_truncated_gzip_status_2 (rc $rc): $(cat "$TMP/err")"; fi
"$TIDE" replay "$TMP/cut.csv.gz" --bits 8 --skip-bad >/dev/null 2>"$TMP/err"; rc=$?
check replay_truncated_gzip_not_skippable [ $rc -eq 2 ]
"$TIDE" predict --model "$TMP/pets.tide" "$TMP/cut.csv.gz" >/dev/null 2>"$TMP/err"; rc=$?
check predict_truncated_gzip_status_2 [ $rc -eq 2 ]

# ---- --window past the metrics' limit is a bad argument, not "out of memory"
"$TIDE" replay "$TMP/pets.csv" --learner softmax --bits 8 --window 100000000 >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc -eq 2 ] && grep -q -- '--window expects an integer in \[0, 1048576\]' "$TMP/err"; then ok replay_window_limit_is_arg_error
else fail "replay_window_limit_is_arg_error (rc $rc): $(cat "$TMP/err")"; fi
out=$("$TIDE" replay "$TMP/pets.csv" --learner softmax --bits 8 --window 1048576 --json 2>/dev/null)
check replay_window_at_limit [ "$(jget "$out" rows 2>/dev/null)" = 4 ]

# ---- --quadratic naming a column the CSV header lacks: exit 2, named --------
"$TIDE" replay "$TMP/pets.csv" --bits 8 --learner softmax --quadratic a:zz >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "pets.csv: --quadratic 'a:zz': column 'zz' is not in the header" "$TMP/err"; then ok replay_quadratic_unknown_column
else fail "replay_quadratic_unknown_column (rc $rc): $(cat "$TMP/err")"; fi
printf 'a,b,y\n1,2,0\n2,1,1\n' > "$TMP/ab.csv"
check replay_quadratic_known_columns "$TIDE" replay "$TMP/ab.csv" --bits 8 --quadratic a:b --json >/dev/null 2>&1

finish
