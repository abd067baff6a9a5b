#!/usr/bin/env bash
# tests/cli/test_serve_labels.sh — the committer's join cache (src/serve/jcache.c)
# must always equal the committed store: labels answered through it must be
# what the SQL join would answer, across rolled-back transactions (the
# tests-only "fault_commit_every" config key rolls back every Nth group
# commit), evictions, retention, restarts, overwrites and conflicts; and a
# model that learned through it must be bit-identical to one that learned
# from the stored JSON. Every server here also runs with
# "verify_label_cache": the store re-joins each cached label by SQL and fails
# the request (500) if the cache disagrees.
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/serve_lib.sh

SPEC='{"name":"k","task":"binary","learner":"logistic","schema":{"x":"number","c":"category"}}'
J='Content-Type: application/json'
prom() { curl -s "$U/metrics" | sed -n "s/^$1{model=\"k\"} //p"; }
commits() { curl -s "$U/metrics" | sed -n 's/^tide_store_commit_batches_total //p'; }
# waits until the committer has run at least $1 transactions
wait_commits() { for _ in $(seq 1 100); do [ "$(commits)" -ge "$1" ] && return 0; sleep 0.05; done; return 1; }
predict() { call POST /v1/models/k/predict "{\"id\":\"$1\",\"features\":{\"x\":$2,\"c\":\"$3\"}}"; }
label() { call POST /v1/models/k/labels "{\"id\":\"$1\",\"label\":\"$2\"${3:+,\"overwrite\":$3}}"; }
expect() { # NAME CODE [STATUS [SEQ]]
  local n=$1 c=$2 st=${3:-} sq=${4:-}
  if [ "$CODE" != "$c" ]; then fail "$n (HTTP $CODE, want $c: $BODY)"; return; fi
  if [ -n "$st" ] && [ "$(jget "$BODY" status)" != "$st" ]; then fail "$n (status: $BODY)"; return; fi
  if [ -n "$sq" ] && [ "$(jget "$BODY" seq)" != "$sq" ]; then fail "$n (seq, want $sq: $BODY)"; return; fi
  ok "$n"
}

# ---- 1. rolled-back transactions: every 3rd group commit fails ----------------
echo '{"verify_label_cache": true, "fault_commit_every": 3}' > "$TMP/c1.json"
serve_start "$TMP/d1" --config "$TMP/c1.json"
call POST /v1/models "$SPEC"
check "model created" test "$CODE" = 201
predict e1 0.5 a; wait_commits 1        # commit 1: logged
predict e2 -1 b; wait_commits 2         # commit 2: logged
predict e3 2 a; wait_commits 3          # commit 3: rolled back, e3 is lost
label e3 1; wait_commits 4              # commit 4
expect "label for an event whose transaction was rolled back: 404" 404
label e1 1                              # commit 5
expect "first label joins" 200 joined; S1=$(jget "$BODY" seq)
label e1 0 true                         # commit 6: rolled back
expect "overwrite in a rolled-back commit: 500" 500
label e1 1                              # commit 7
expect "after the rollback the old label is still current: idempotent, same seq" 200 idempotent "$S1"
label e1 0                              # commit 8
expect "a different label is still a conflict" 409
has() { case "$BODY" in *"$1"*) return 0;; esac; return 1; }
check "the conflict names the committed label" has "already has label '1'"
label e2 1                              # commit 9: rolled back
expect "first label of e2 in a rolled-back commit: 500" 500
label e2 1                              # commit 10
expect "re-sent after the rollback it joins (not idempotent)" 200 joined
label e1 0 true                         # commit 11
expect "overwrite then commits" 200 overwritten; S2=$(jget "$BODY" seq)
check "the overwrite got a new seq" test "$S2" -gt "$S1"
label e1 0                              # commit 12: rolled back (idempotent anyway)
expect "idempotent in a rolled-back commit still fails (500)" 500
label e1 0                              # commit 13
expect "the overwritten label is current: idempotent with its seq" 200 idempotent "$S2"
label e1 1                              # commit 14
expect "the replaced label is now a conflict" 409
HITS=$(prom tide_label_cache_hits_total)
check "those labels were joined through the cache ($HITS hits)" test "${HITS:-0}" -ge 8
call GET "/v1/models/k/labels?limit=100"
check "the store holds exactly the committed labels (e1:1, e2:1, e1:0)" python3 -c '
import json,sys
r=[(x["id"],x["label"]) for x in json.loads(sys.argv[1])["labels"]]
sys.exit(0 if r==[("e1","1"),("e2","1"),("e1","0")] else 1)' "$BODY"
label nope 1                            # commit 15: rolled back
expect "unknown id in a rolled-back commit: 500" 500
# a batch with the same event several times in one request (one transaction)
predict e4 1 a; wait_commits 16         # commit 16
call POST /v1/models/k/labels '{"labels":[{"id":"e4","label":"1"},{"id":"e4","label":"1"},{"id":"e4","label":"0"},{"id":"e4","label":"0","overwrite":true},{"id":"e4","label":"0"},{"id":"nope","label":"1"}]}'
check "batch with repeats: joined, idempotent, conflict, overwritten, idempotent, unknown_id" python3 -c '
import json,sys
d=json.loads(sys.argv[1]); r=[x["status"] for x in d["results"]]
s=[x["seq"] for x in d["results"]]
ok = r==["joined","idempotent","conflict","overwritten","idempotent","unknown_id"] and s[0]==s[1]==s[2] and s[3]>s[0] and s[4]==s[3]
sys.exit(0 if ok else 1)' "$BODY"
label nope 1                            # commit 18: rolled back
expect "(commit 18 rolled back)" 500
label e4 0                              # commit 19
expect "after the batch the cache has its last label" 200 idempotent
serve_stop
check "server 1 stopped cleanly" test "$STOP_RC" = 0

# ---- 2. restart: the cache starts empty, the store still answers ---------------
echo '{"verify_label_cache": true}' > "$TMP/c2.json"
serve_start "$TMP/d1" --config "$TMP/c2.json"
M0=$(prom tide_label_cache_misses_total)
label e1 0
expect "after a restart: the overwritten label is idempotent (SQL join)" 200 idempotent "$S2"
label e2 0
expect "after a restart: a different label is a conflict" 409
check "those were cache misses" test "$(prom tide_label_cache_misses_total)" -ge $((M0 + 2))
predict e5 3 b
for _ in $(seq 1 100); do [ "$(prom tide_label_cache_entries)" -ge 1 ] && break; sleep 0.05; done
label e5 1
expect "an event logged after the restart joins through the cache" 200 joined
check "that was a hit" test "$(prom tide_label_cache_hits_total)" -ge 1
serve_stop

# ---- 3. eviction: a 1 MiB cache holds only the newest events -----------------------
echo '{"verify_label_cache": true, "label_cache_mb": 1}' > "$TMP/c3.json"
serve_start "$TMP/d3" --config "$TMP/c3.json"
call POST /v1/models "$SPEC"
python3 - "$U" <<'PY'
import json, sys, urllib.request
u = sys.argv[1]
for b in range(0, 12000, 1000):
    inst = [{"id": "v%d" % i, "features": {"x": i % 7, "c": "abc"[i % 3]}} for i in range(b, b + 1000)]
    urllib.request.urlopen(urllib.request.Request(u + "/v1/models/k/predict",
        json.dumps({"instances": inst}).encode(), {"Content-Type": "application/json"})).read()
PY
for _ in $(seq 1 100); do [ "$(curl -s "$U/metrics" | sed -n 's/^tide_store_commit_items_total //p')" -ge 12 ] && break; sleep 0.05; done
N=$(prom tide_label_cache_entries); B=$(prom tide_label_cache_bytes)
check "the cache stays within 1 MiB ($B bytes, $N entries)" test "$B" -le 1048576
check "it evicted (fewer than 12000 entries, more than 1000)" bash -c "[ $N -gt 1000 ] && [ $N -lt 12000 ]"
H0=$(prom tide_label_cache_hits_total); M0=$(prom tide_label_cache_misses_total)
label v0 1
expect "an evicted event still joins (SQL)" 200 joined
label v11999 1
expect "a cached event joins" 200 joined
check "v0 missed, v11999 hit" bash -c "[ $(prom tide_label_cache_misses_total) -eq $((M0 + 1)) ] && [ $(prom tide_label_cache_hits_total) -eq $((H0 + 1)) ]"
label v0 0
expect "evicted then labelled: a different label is a conflict" 409
label v11999 0 true
expect "cached: overwrite" 200 overwritten
label v11999 0
expect "cached: then idempotent" 200 idempotent
serve_stop

# ---- 4. retention: expired events leave the cache with the store ---------------------
echo '{"verify_label_cache": true, "retention_s": 1}' > "$TMP/c4.json"
serve_start "$TMP/d4" --config "$TMP/c4.json"
call POST /v1/models "$SPEC"
predict old 1 a
for _ in $(seq 1 100); do [ "$(prom tide_label_cache_entries)" -ge 1 ] && break; sleep 0.05; done
sleep 2.6   # the sweep runs every second and deletes unlabelled events older than 1 s
label old 1
expect "an event expired by retention is unknown (404), not a cache hit" 404
check "and the cache dropped it" test "$(prom tide_label_cache_entries)" = 0
serve_stop

# ---- 5. learning through the cache = learning from the stored JSON ----------------------
# Two servers get the same predictions and labels; A joins through the cache,
# B has it off (label_cache_mb 0: SQL join, learner parses the JSON). After a
# version (which includes every acknowledged label) both must predict the
# same probabilities to the last bit and report the same metrics.
run_seq() { # DIR CONFIG -> prints probe probabilities and the metrics of version 0
  serve_start "$1" --config "$2" --publish-ms 5
  call POST /v1/models "$SPEC"
  python3 - "$U" <<'PY'
import json, re, sys, time, urllib.request
u = sys.argv[1]
def post(p, b):
    return json.loads(urllib.request.urlopen(urllib.request.Request(u + p, json.dumps(b).encode(),
        {"Content-Type": "application/json"})).read())
def logged(n):   # waits until n commit items (requests) went through the committer
    for _ in range(200):
        m = urllib.request.urlopen(u + "/metrics").read().decode()
        if int(re.search(r"^tide_store_commit_items_total (\d+)", m, re.M).group(1)) >= n:
            return
        time.sleep(0.05)
def x(i): return (i * 37 % 101) / 10.0 - 5
inst = [{"id": "q%d" % i, "features": {"x": x(i), "c": "abcd"[i * 7 % 4]}} for i in range(600)]
def lab(a, b, **kw): return [dict({"id": "q%d" % i, "label": str(int(x(i) > 0.5))}, **kw) for i in range(a, b)]
for b in range(0, 300, 100):
    post("/v1/models/k/predict", {"instances": inst[b:b + 100]})
logged(3)
post("/v1/models/k/labels", {"labels": lab(0, 200)})
post("/v1/models/k/versions", {})   # publishes: the next events are served by a trained model
for b in range(300, 600, 100):
    post("/v1/models/k/predict", {"instances": inst[b:b + 100]})
logged(7)
post("/v1/models/k/labels", {"labels": lab(200, 400)})
post("/v1/models/k/labels", {"labels": lab(400, 600)})
post("/v1/models/k/labels", {"labels": [{"id": "q%d" % i, "label": "1", "overwrite": True} for i in range(50)]})
PY
  call POST /v1/models/k/versions '{}'
  call POST /v1/models/k/predict '{"instances":[{"features":{"x":0.3,"c":"a"}},{"features":{"x":-2,"c":"d"}},{"features":{"x":4.5,"c":"c"}}]}'
  python3 -c 'import json,sys; print(" ".join(repr(p["proba"]["1"]) for p in json.loads(sys.argv[1])["predictions"]))' "$BODY"
  call GET /v1/models/k/metrics
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps(d["versions"], sort_keys=True))' "$BODY"
  echo "hits=$(prom tide_label_cache_hits_total) errors=$(prom tide_learn_errors_total)"
  serve_stop
}
echo '{"verify_label_cache": true}' > "$TMP/ca.json"
echo '{"label_cache_mb": 0}' > "$TMP/cb.json"
run_seq "$TMP/da" "$TMP/ca.json" > "$TMP/a.out"
run_seq "$TMP/db" "$TMP/cb.json" > "$TMP/b.out"
check "A learned through the cache (650 hits, no errors)" grep -q '^hits=650 errors=0$' "$TMP/a.out"
check "B did not (0 hits, no errors)" grep -q '^hits=0 errors=0$' "$TMP/b.out"
check "A and B predict the same probabilities, bit for bit" test "$(sed -n 1p "$TMP/a.out")" = "$(sed -n 1p "$TMP/b.out")"
check "the probe is not the untrained 0.5" bash -c "! grep -q '^0.5 0.5 0.5$' '$TMP/a.out'"
check "A and B report the same progressive metrics" test "$(sed -n 2p "$TMP/a.out")" = "$(sed -n 2p "$TMP/b.out")"

# ---- 6. /learn: the learner gets vectors hashed by the worker; replaying ------------
# the stored JSON after kill -9 must give the same model bit for bit (and the
# labels of /learn are appended through hints, checked by verify mode)
# (no version is made: a restart would start from its artifact, not replay)
echo '{"verify_label_cache": true}' > "$TMP/c6.json"
serve_start "$TMP/d6" --config "$TMP/c6.json" --publish-ms 5
call POST /v1/models "$SPEC"
python3 - "$U" <<'PY'
import json, sys, urllib.request
u = sys.argv[1]
def post(p, b):
    return json.loads(urllib.request.urlopen(urllib.request.Request(u + p, json.dumps(b).encode(),
        {"Content-Type": "application/json"})).read())
def x(i): return (i * 53 % 97) / 9.0 - 5
for b in range(0, 300, 100):
    r = post("/v1/models/k/learn", {"instances": [{"id": "l%d" % i, "features": {"x": x(i), "c": "abcde"[i % 5]},
                                                   "label": str(int(x(i) > 0.2))} for i in range(b, b + 100)]})
    assert r["joined"] == 100, r
PY
check "300 instances learned through /learn" test "$(prom tide_learn_total)" = 300
for _ in $(seq 1 100); do [ "$(prom tide_learner_seq)" = 300 ] && break; sleep 0.05; done
sleep 0.2   # publish_ms 5: the last labels are in the served snapshot
PROBE='{"instances":[{"features":{"x":0.3,"c":"a"}},{"features":{"x":-2,"c":"d"}},{"features":{"x":4.5,"c":"e"}}]}'
p3() { call POST /v1/models/k/predict "$PROBE"; python3 -c 'import json,sys; print(" ".join(repr(p["proba"]["1"]) for p in json.loads(sys.argv[1])["predictions"]))' "$BODY"; }
LIVE=$(p3)
check "errors: none while learning" test "$(prom tide_learn_errors_total)" = 0
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=""
serve_start "$TMP/d6" --config "$TMP/c6.json"
REPLAY=$(p3)
check "after kill -9 the replay of the stored JSON predicts what the live learner did ($LIVE)" test "$LIVE" = "$REPLAY"
check "the probe is not the untrained 0.5" test "$LIVE" != "0.5 0.5 0.5"
serve_stop

# ---- 7. --label-cache-mb 0 on the command line turns the cache off --------------
serve_start "$TMP/d7" --label-cache-mb 0
call POST /v1/models "$SPEC" >/dev/null
predict q1 0.5 a >/dev/null
label q1 1
expect "cache off: a label still joins (through SQL)" 200 joined
check "cache off: no entries" test "$(prom tide_label_cache_entries)" = 0
check "cache off: no hits" test "$(prom tide_label_cache_hits_total)" = 0
serve_stop
"$TIDE" serve --data "$TMP/d8" --label-cache-mb x > "$TMP/bad.out" 2>&1
check "--label-cache-mb x: exit 2" test $? -eq 2
check "--label-cache-mb x: the error names the option" grep -q -- "--label-cache-mb" "$TMP/bad.out"
finish
