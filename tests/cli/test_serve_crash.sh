#!/usr/bin/env bash
# test_serve_crash.sh — "acknowledged means durable" and exactly-once
# learning: labels are sent concurrently (8 client threads, plus predictions)
# and the server is killed with SIGKILL mid-way. After a restart every
# acknowledged label must be in the store, and the model (persisted snapshot
# + replay of the labels after it) must predict exactly what an uninterrupted
# server predicts after learning the same labels in the same (seq) order.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

D=$TMP/d
N=1500
serve_start "$D" --persist-every 150 --publish-ms 5 --threads 2
check "server started" test -n "$PORT"
[ -n "$PORT" ] || { finish; exit 1; }
SPEC='{"name":"k","task":"binary","learner":"logistic","schema":{"x1":"number","x2":"number","x3":"number","c":"category"}}'
call POST /v1/models "$SPEC"
check "model created" test "$CODE" = 201

# log N predictions with known ids (batches of 100)
python3 - "$U" "$N" <<'EOF'
import json, sys, urllib.request, random
u, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
for b in range(0, n, 100):
    inst = [{"id": "e%d" % i, "features": {"x1": rnd.uniform(-2, 2), "x2": rnd.uniform(-1, 1),
             "x3": rnd.randint(0, 5), "c": rnd.choice("abc")}} for i in range(b, min(n, b + 100))]
    r = urllib.request.Request(u + "/v1/models/k/predict", json.dumps({"instances": inst}).encode(),
                               {"Content-Type": "application/json"})
    urllib.request.urlopen(r).read()
EOF
sleep 0.3   # events are logged asynchronously (group commit); labels need them

# 8 threads send one label per request and record each acknowledgement
cat > "$TMP/load.py" <<'EOF'
import http.client, json, sys, threading, random
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
f = open(out, "w")
def worker(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    rnd = random.Random(k)
    for i in range(k, n, 8):
        lab = "1" if (i * 7919) % 3 else "0"
        try:
            c.request("POST", "/v1/models/k/labels", json.dumps({"id": "e%d" % i, "label": lab}),
                      {"Content-Type": "application/json"})
            r = c.getresponse(); r.read()
        except Exception:
            return
        if r.status == 200:
            with lock:
                f.write("e%d %s\n" % (i, lab)); f.flush()
        if rnd.random() < 0.2:
            try:
                c.request("POST", "/v1/models/k/predict", json.dumps({"features": {"x1": 0.5, "x2": 0, "x3": 1, "c": "a"}}),
                          {"Content-Type": "application/json"})
                c.getresponse().read()
            except Exception:
                return
ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
EOF
: > "$TMP/acked"
python3 "$TMP/load.py" "$PORT" "$N" "$TMP/acked" &
LOAD=$!
# kill -9 once a good part (but not all) of the labels is acknowledged
for _ in $(seq 1 400); do
  a=$(wc -l < "$TMP/acked" 2>/dev/null || echo 0)
  [ "$a" -ge 500 ] && break
  sleep 0.01
done
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=""
wait "$LOAD"
NACK=$(wc -l < "$TMP/acked")
check "some labels acknowledged before the kill ($NACK)" test "$NACK" -ge 300
check "the kill came before the end ($NACK < $N)" test "$NACK" -lt "$N"

serve_start "$D" --publish-ms 5
check "restarted after kill -9" test -n "$PORT"
call GET "/v1/models/k/labels?limit=100000"
echo "$BODY" > "$TMP/export.json"
check "every acknowledged label is in the store" python3 - "$TMP/export.json" "$TMP/acked" <<'EOF'
import json, sys
stored = {r["id"]: r["label"] for r in json.load(open(sys.argv[1]))["labels"]}
acked = [l.split() for l in open(sys.argv[2]) if l.strip()]
missing = [i for i, lab in acked if stored.get(i) != lab]
print("stored %d, acknowledged %d, missing %d" % (len(stored), len(acked), len(missing)))
sys.exit(1 if missing or not acked else 0)
EOF
PROBE='{"instances":[{"features":{"x1":1.5,"x2":-0.5,"x3":2,"c":"a"}},{"features":{"x1":-1,"x2":0.7,"x3":0,"c":"b"}},{"features":{"x1":0.1,"x2":0.1,"x3":5,"c":"c"}}]}'
p1() { call POST /v1/models/k/predict "$PROBE"; python3 -c 'import json,sys; print(" ".join(repr(p["proba"]["1"]) for p in json.loads(sys.argv[1])["predictions"]))' "$BODY"; }
RECOVERED=$(p1)
call GET /metrics
serve_stop

# the uninterrupted run: a fresh server learns the stored labels in seq order
# (--learn-queue 3: the learner must fall behind and catch up from the store)
serve_start "$TMP/d2" --publish-ms 5 --learn-queue 3
call POST /v1/models "$SPEC"
python3 - "$U" "$TMP/export.json" <<'EOF'
import json, sys, urllib.request
u = sys.argv[1]
rows = sorted(json.load(open(sys.argv[2]))["labels"], key=lambda r: r["seq"])
for b in range(0, len(rows), 50):
    inst = [{"features": r["features"], "label": r["label"]} for r in rows[b:b + 50]]
    req = urllib.request.Request(u + "/v1/models/k/learn", json.dumps({"instances": inst}).encode(),
                                 {"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
EOF
sleep 0.5
curl -s "$U/metrics" > "$TMP/prom2"
check "the fresh learner caught up from the store" bash -c "grep -q '^tide_learner_catchups_total{model=\"k\"} [1-9]' '$TMP/prom2'"
FRESH=$(p1)
serve_stop
echo "recovered: $RECOVERED"
echo "fresh:     $FRESH"
check "recovered model == uninterrupted run (exactly-once learning)" test "$RECOVERED" = "$FRESH"
check "the model learned something" test "$FRESH" != "0.5 0.5 0.5"
finish
