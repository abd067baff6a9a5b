#!/usr/bin/env bash
# test_serve_edge.sh — `tide serve` corner cases found in review (issue 4):
#  * a version snapshot includes every label acknowledged before the
#    snapshot request, even when the learner has not published yet;
#  * concurrent DELETEs of one model: one 200, the others 404, and a clean
#    shutdown (no double free of the deleted model);
#  * /learn with an id already used by a logged prediction is a 409 that
#    stores nothing (it used to join the label to the other event's features,
#    so the live model and a replay from the store diverged);
#  * the reserved alias "live" cannot be moved with PUT …/aliases/live.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

D=$TMP/d
# the learner never publishes on its own during this test (1 h, 10^6 labels)
serve_start "$D" --publish-ms 3600000 --publish-every 1000000 --threads 8
check "server printed its port" test -n "$PORT"
[ -n "$PORT" ] || { finish; exit 1; }

# ---- snapshot after an acknowledged label ------------------------------------------
call POST /v1/models '{"name":"s","task":"binary","schema":{"x":"number"}}'
check "create 201" test "$CODE" = 201
call POST /v1/models/s/predict '{"id":"e1","features":{"x":1}}'
check "predict 200" test "$CODE" = 200
sleep 0.3   # the event is logged asynchronously
call POST /v1/models/s/labels '{"id":"e1","label":"1"}'
check "label joined" test "$(jget "$BODY" status)" = joined
SEQ=$(jget "$BODY" seq)
call POST /v1/models/s/versions '{}'
check "version 201" test "$CODE" = 201
check "version includes the acknowledged label (labels_seen 1)" \
  test "$(jget "$BODY" labels_seen)" = 1
check "version last_seq = the label's seq" test "$(jget "$BODY" last_seq)" = "$SEQ"
# the artifact learned it: it no longer predicts p = 1/2 for x = 1
printf '{"x":1}\n' > "$TMP/row.jsonl"
curl -s -o "$TMP/s1.tide" "$U/v1/models/s/versions/1/artifact"
P=$("$TIDE" predict --model "$TMP/s1.tide" "$TMP/row.jsonl" --proba --json 2>/dev/null < /dev/null | head -1)
check "artifact moved towards class 1" python3 -c 'import json,sys
d=json.loads(sys.argv[1]); p=d.get("proba",d)
v=p["1"] if isinstance(p,dict) else p[1]
sys.exit(0 if v > 0.5 else 1)' "$P"

# ---- concurrent deletes ------------------------------------------------------------------
# DELETE of model "busy" holds the admin lock while its learner finishes a
# large queue; meanwhile four DELETEs of "del1" all find the model and wait
# for the lock: exactly one may delete it, the others must answer 404 and
# leave the deleted model alone (it used to be put on the free list four
# times: a cycle, freed twice at shutdown).
call POST /v1/models '{"name":"busy","task":"binary"}'
call POST /v1/models '{"name":"del1","task":"binary"}'
python3 -c 'import json
print(json.dumps({"instances":[{"features":{"x":i%7,"y":"c%d"%(i%13)},"label":str(i%2)} for i in range(30000)]}))' > "$TMP/big.json"
curl -s -o /dev/null -m 60 -H 'Content-Type: application/json' --data-binary @"$TMP/big.json" "$U/v1/models/busy/learn"
curl -s -o /dev/null -m 60 -X DELETE "$U/v1/models/busy" & pb=$!
sleep 0.02
pids=()
for j in 1 2 3 4; do
  curl -s -o /dev/null -w '%{http_code}\n' -m 60 -X DELETE "$U/v1/models/del1" > "$TMP/del.$j" &
  pids+=($!)
done
wait $pb "${pids[@]}"   # not a bare wait: the server is a background job too
ok200=0; ok404=0
for j in 1 2 3 4; do
  case $(cat "$TMP/del.$j") in 200) ok200=$((ok200+1));; 404) ok404=$((ok404+1));; esac
done
check "del1 deleted exactly once (one 200)" test "$ok200" = 1
check "the other three deletes got 404" test "$ok404" = 3
call GET /v1/models/del1
check "del1 is gone" test "$CODE" = 404

# ---- /learn with an id that a prediction already uses ---------------------------------------
call POST /v1/models/s/predict '{"id":"p1","features":{"x":-3}}'
sleep 0.3
call GET "/v1/models/s/labels?after=0"
N0=$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["labels"]))' "$BODY")
call POST /v1/models/s/learn '{"id":"p1","features":{"x":5},"label":"1"}'
check "learn with a used id is 409" test "$CODE" = 409
is_err_body "learn conflict body" id
call POST /v1/models/s/learn '{"instances":[{"id":"q1","features":{"x":2},"label":"0"},{"id":"q1","features":{"x":7},"label":"0"}]}'
check "learn batch with a repeated id: 200" test "$CODE" = 200
check "first instance joined" test "$(jget "$BODY" results.0.status)" = joined
check "repeated id is a conflict" test "$(jget "$BODY" results.1.status)" = conflict
call GET "/v1/models/s/labels?after=0"
N1=$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["labels"]))' "$BODY")
check "only the first q1 stored (one label more)" test "$N1" = $((N0 + 1))
check "no label stored for p1" python3 -c 'import json,sys
sys.exit(0 if all(l["id"] != "p1" for l in json.loads(sys.argv[1])["labels"]) else 1)' "$BODY"
call POST /v1/models/s/learn '{"id":"q2","features":{"x":2},"label":"0"}'
check "learn with a fresh id 200" test "$CODE" = 200
check "learn answers id" test "$(jget "$BODY" id)" = q2

# ---- snapshots and rollbacks racing: the live alias names the live version ----------------
pids=()
for j in 1 2 3 4 5 6; do
  curl -s -o /dev/null -m 60 -X POST "$U/v1/models/s/versions" & pids+=($!)
  curl -s -o /dev/null -m 60 -H 'Content-Type: application/json' -d '{"version":1}' \
    "$U/v1/models/s/rollback" & pids+=($!)
done
wait "${pids[@]}"
call GET /v1/models/s
check "after racing snapshots/rollbacks: version == alias live" python3 -c 'import json,sys
d=json.loads(sys.argv[1]); sys.exit(0 if d["version"] == d["aliases"]["live"] else 1)' "$BODY"

# ---- the reserved alias -------------------------------------------------------------------------
call PUT /v1/models/s/aliases/live '{"version":1}'
check "PUT aliases/live is refused (400)" test "$CODE" = 400
is_err_body "reserved alias body" alias
call PUT /v1/models/s/aliases/champion '{"version":1}'
check "other alias 200" test "$CODE" = 200

# ---- one oversized event must not lose the other requests' events ---------------------------
# Features over the store's 4 MiB limit cannot be logged; the committer used
# to log every queued prediction of a model in one call, which then failed
# for all of them (their labels got 404). An outside writer holds the
# database for 1.5 s so that both predictions wait in the same commit window.
call POST /v1/models '{"name":"ev","task":"binary"}'
python3 -c 'import json
print(json.dumps({"id":"huge","features":{"f%d" % i: "v" * 4000 for i in range(1100)}}))' > "$TMP/huge.json"
python3 -c 'import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE"); open(sys.argv[2], "w").close(); time.sleep(1.5); c.execute("COMMIT")' \
  "$D/tide.db" "$TMP/locked" & plock=$!
for _ in $(seq 1 100); do [ -e "$TMP/locked" ] && break; sleep 0.02; done
call POST /v1/models/ev/predict '{"id":"w0","features":{"x":0}}'   # the committer waits on this one
sleep 0.1
curl -s -o /dev/null -m 60 -H 'Content-Type: application/json' --data-binary @"$TMP/huge.json" "$U/v1/models/ev/predict"
call POST /v1/models/ev/predict '{"id":"w1","features":{"x":1}}'
check "small predict 200" test "$CODE" = 200
wait $plock
sleep 0.3
call POST /v1/models/ev/labels '{"id":"w1","label":"1"}'
check "the small prediction was logged (label joined)" test "$CODE" = 200
call POST /v1/models/ev/labels '{"id":"huge","label":"1"}'
check "the oversized one was not (404)" test "$CODE" = 404

serve_stop
check "clean shutdown (exit 0)" test "$STOP_RC" = 0

# ---- SIGTERM: stop accepting at once, finish the in-flight label ---------------------------------
D3=$TMP/d3
serve_start "$D3"
call POST /v1/models '{"name":"t","task":"binary"}'
call POST /v1/models/t/predict '{"id":"k1","features":{"x":1}}'
sleep 0.3
python3 -c 'import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE"); open(sys.argv[2], "w").close(); time.sleep(1.5); c.execute("COMMIT")' \
  "$D3/tide.db" "$TMP/locked3" & plock=$!
for _ in $(seq 1 100); do [ -e "$TMP/locked3" ] && break; sleep 0.02; done
curl -s -o "$TMP/lab3" -w '%{http_code}' -m 20 -H 'Content-Type: application/json' \
  -d '{"id":"k1","label":"1"}' "$U/v1/models/t/labels" > "$TMP/lab3.code" & plab=$!
sleep 0.2
kill -TERM "$PID"
sleep 0.3
HC=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$U/healthz")
check "draining: new connections are refused" test "$HC" = 000
wait $plab $plock
check "draining: the in-flight label is answered 200" test "$(cat "$TMP/lab3.code")" = 200
serve_stop
check "drained shutdown exit 0" test "$STOP_RC" = 0

# ---- generated event ids: increasing, and above every stored one after a restart ----------------
D4=$TMP/d4
serve_start "$D4"
call POST /v1/models '{"name":"g","task":"binary"}'
call POST /v1/models/g/predict '{"instances":[{"features":{"x":1}},{"features":{"x":2}},{"features":{"x":3}}]}'
IDS=$(printf '%s' "$BODY" | python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(sys.stdin)["predictions"]))')
check "generated ids have the shape ev- and 16 hex digits" \
  python3 -c 'import re,sys; sys.exit(0 if all(re.fullmatch("ev-[0-9a-f]{16}", i) for i in sys.argv[1:]) and len(sys.argv) == 4 else 1)' $IDS
check "generated ids increase within a batch" \
  python3 -c 'import sys; a = sys.argv[1:]; sys.exit(0 if a == sorted(a) and len(set(a)) == 3 else 1)' $IDS
# the generated shape is reserved: a caller could otherwise take the next id first
call POST /v1/models/g/predict '{"id":"ev-7ffffffffffffff0","features":{"x":4}}'
check "a caller id of the generated shape is refused (400, got $CODE)" test "$CODE" = 400
is_err_body "the refusal is a JSON error on the id field" id
case "$BODY" in *'"bad_id"'*reserved*) ok "... error bad_id, and the reason says the shape is reserved";;
  *) fail "... error bad_id, and the reason says the shape is reserved (got $BODY)";; esac
call POST /v1/models/g/predict '{"instances":[{"id":"EV-7ffffffffffffff0","features":{"x":4}},{"id":"ev-7fff","features":{"x":4}}]}'
check "ids of other shapes are the caller's (200, got $CODE)" test "$CODE" = 200
for _ in $(seq 1 50); do
  call GET /metrics
  printf '%s' "$BODY" | grep -q '^tide_events_pending 0$' && break; sleep 0.1
done
serve_stop
# a stored id of the generated shape far above the clock (a data directory
# of an older tide, whose generated ids were random): the next run starts above it
sq_event() { python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
mid = c.execute("SELECT id FROM models WHERE name = ?", (sys.argv[2],)).fetchone()[0]
c.execute("INSERT INTO events(model_id, ext_id, time, features, version, prediction) VALUES(?, ?, 1, ?, 0, ?)",
          (mid, sys.argv[3], "{\"x\":1}", "{\"p\":[0.5,0.5]}"))' "$1/tide.db" "$2" "$3"; }
sq_event "$D4" g ev-7ffffffffffffff0
serve_start "$D4"
call POST /v1/models/g/predict '{"features":{"x":5}}'
NEXT=$(printf '%s' "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check "after a restart the next generated id is above every stored one ($NEXT)" \
  python3 -c 'import sys; sys.exit(0 if sys.argv[1] > "ev-7ffffffffffffff0" else 1)' "$NEXT"
call POST /v1/models/g/labels "{\"id\":\"$NEXT\",\"label\":\"1\"}"
check "the new id joins its own event (200, not 409)" test "$CODE" = 200
serve_stop

# Regression: a caller id at the very top (ev- and 16 f's) has nothing above it. The counter
# wrapped to 0, so every restart handed out ev-0000000000000000 again: its event was a duplicate
# (not logged) and its label joined the previous run's event. Now the counter starts from the clock.
D5=$TMP/d5
serve_start "$D5"
call POST /v1/models '{"name":"w","task":"binary"}'
wait_no_pending() {
  for _ in $(seq 1 50); do
    call GET /metrics
    printf '%s' "$BODY" | grep -q '^tide_events_pending 0$' && break; sleep 0.1
  done
}
serve_stop
sq_event "$D5" w ev-ffffffffffffffff
WIDS=""
for run in 1 2; do
  serve_start "$D5"
  call POST /v1/models/w/predict '{"features":{"x":2}}'
  WIDS="$WIDS $(printf '%s' "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
  wait_no_pending
  serve_stop
done
check "after a caller id ev-ffffffffffffffff, each restart generates new ids ($WIDS)" \
  python3 -c 'import sys; a = sys.argv[1:]; sys.exit(0 if len(a) == 2 and a[0] != a[1] and "ev-0000000000000000" not in a else 1)' $WIDS

# ---- revoking every token does not open the server ----------------------------------------------
D2=$TMP/d2
"$TIDE" token create only --role admin --data "$D2" > /dev/null 2>&1
"$TIDE" token revoke only --data "$D2" > /dev/null 2>&1
serve_start "$D2"
call GET /v1/models
check "all tokens revoked: still 401 without a token" test "$CODE" = 401
serve_stop
finish
