#!/usr/bin/env bash
# test_serve_robust.sh — `tide serve` under failures (issue 4, robustness):
#  1. SIGTERM while label requests are suspended waiting for a stalled
#     commit (tests-only "fault_commit_delay_ms", short "drain_ms"): the
#     server exits 0, sanitizer-clean, every acknowledged label is stored and
#     no queued request is left without an answer (pool and thread per
#     connection);
#  2. a store failure while counting or verifying tokens is 503 naming the
#     store failure, not 401 (a renamed tokens table; a corrupt token row);
#  3. tide_learn_total counts only rows whose commit succeeded
#     ("fault_commit_every");
#  4. DELETE /v1/models/{m} whose store deletion fails (a trigger refuses it)
#     answers 503 and leaves the model served, in memory and after a restart.
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/serve_lib.sh

SPEC='{"name":"k","task":"binary","learner":"logistic","schema":{"x":"number"}}'
# runs one SQL statement on DIR/tide.db beside the server (python3's sqlite3)
sq() { python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
c.execute(sys.argv[2]); c.close()' "$1/tide.db" "$2"; }
prom() { curl -s "$U/metrics" | sed -n "s/^$1 //p"; }
has() { case "$BODY" in *"$1"*) return 0;; esac; return 1; }

# ---- 1. shutdown with requests suspended on a stalled commit ------------------
shutdown_case() { # NAME THREADS
  local n=$1 th=$2 d=$TMP/s$2
  echo '{"fault_commit_delay_ms": 1200, "drain_ms": 100}' > "$TMP/c1.json"
  serve_start "$d" --config "$TMP/c1.json" --threads "$th"
  [ -n "$PORT" ] || { fail "$n: server did not start"; return; }
  call POST /v1/models "$SPEC"
  local b='{"instances":[' i
  for i in $(seq 1 12); do b+="{\"id\":\"e$i\",\"features\":{\"x\":$i}},"; done
  call POST /v1/models/k/predict "${b%,}]}"
  for _ in $(seq 1 100); do [ "$(prom tide_events_pending)" = 0 ] && break; sleep 0.05; done
  check "$n: events logged" test "$(prom tide_events_pending)" = 0
  # 10 single labels and one batch of 2, all waiting for the slow commits
  for i in $(seq 1 10); do
    curl -s -m 30 -o "$TMP/l$i" -w '%{http_code}' -H 'Content-Type: application/json' \
      -d "{\"id\":\"e$i\",\"label\":\"$((i % 2))\"}" "$U/v1/models/k/labels" > "$TMP/code$i" &
  done
  curl -s -m 30 -o "$TMP/l11" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"labels":[{"id":"e11","label":"1"},{"id":"e12","label":"0"}]}' \
    "$U/v1/models/k/labels" > "$TMP/code11" &
  sleep 0.5   # every request is suspended behind a commit of 1.2 s
  serve_stop
  wait
  check "$n: exit status 0 after SIGTERM (got $STOP_RC)" test "$STOP_RC" = 0
  local acked=() lost=0
  for i in $(seq 1 11); do
    case "$(cat "$TMP/code$i")" in
      200) if [ "$i" = 11 ]; then acked+=(e11 e12); else acked+=("e$i"); fi;;
      503) ;;
      *) lost=$((lost + 1)); echo "  request $i: HTTP $(cat "$TMP/code$i") $(cat "$TMP/l$i" 2>/dev/null)";;
    esac
  done
  check "$n: every queued request got an answer (200 or 503; $lost without)" test "$lost" = 0
  check "$n: some labels were acknowledged (${#acked[@]})" test "${#acked[@]}" -ge 1
  serve_start "$d"
  call GET "/v1/models/k/labels?after=0&limit=100"
  local missing=0 id
  for id in "${acked[@]}"; do
    has "\"id\":\"$id\"" || { missing=$((missing + 1)); echo "  acknowledged label $id not stored"; }
  done
  check "$n: every acknowledged label is stored after the restart" test "$missing" = 0
  serve_stop
}
shutdown_case "shutdown (pool)" 2
shutdown_case "shutdown (thread per connection)" 0

# ---- 2. a store failure during authentication is 503, not 401 -----------------
D2=$TMP/d2
serve_start "$D2"
call POST /v1/models "$SPEC"
ADMIN=$("$TIDE" token create root --role admin --data "$D2" 2>/dev/null | head -1)
T2=$("$TIDE" token create t2 --role predict --data "$D2" 2>/dev/null | head -1)
check "auth: tokens created" test -n "$ADMIN" -a -n "$T2"
sleep 1.2   # the server re-reads the token count at most once a second
PB='{"features":{"x":1}}'
call POST /v1/models/k/predict "$PB" -H "Authorization: Bearer $ADMIN"
check "auth: a valid token predicts (200)" test "$CODE" = 200
call POST /v1/models/k/predict "$PB" -H "Authorization: Bearer tide_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
check "auth: an unknown token is 401" test "$CODE" = 401
# t2's row is corrupt (a salt of 1 byte): verifying it is a store failure
sq "$D2" "UPDATE tokens SET salt = x'00' WHERE name = 't2'"
call POST /v1/models/k/predict "$PB" -H "Authorization: Bearer $T2"
check "auth: a store failure verifying a token is 503, not 401 (got $CODE)" test "$CODE" = 503
is_err_body "auth: 503 body" Authorization
check "auth: the 503 names the store failure ($BODY)" has "malformed"
# the tokens table is gone: counting tokens fails
sq "$D2" "ALTER TABLE tokens RENAME TO tokens_off"
sleep 1.2
call POST /v1/models/k/predict "$PB" -H "Authorization: Bearer $ADMIN"
check "auth: a store failure counting tokens is 503, not 401 (got $CODE)" test "$CODE" = 503
is_err_body "auth: 503 body (count)" Authorization
check "auth: the 503 names the store ($BODY)" has "tokens"
call POST /v1/models/k/predict "$PB"
check "auth: without a token the server does not open while the count fails (got $CODE)" test "$CODE" = 503
sq "$D2" "ALTER TABLE tokens_off RENAME TO tokens"
sleep 1.2
call POST /v1/models/k/predict "$PB" -H "Authorization: Bearer $ADMIN"
check "auth: the store is back: the valid token predicts (got $CODE)" test "$CODE" = 200
call POST /v1/models/k/predict "$PB"
check "auth: the store is back: no token is 401 (got $CODE)" test "$CODE" = 401
serve_stop
check "auth: exit 0" test "$STOP_RC" = 0

# ---- 3. tide_learn_total counts committed rows only --------------------------
echo '{"fault_commit_every": 2}' > "$TMP/c3.json"
serve_start "$TMP/d3" --config "$TMP/c3.json"
call POST /v1/models "$SPEC"
L1='{"id":"a1","features":{"x":1},"label":"1"}'
L3='{"instances":[{"features":{"x":1},"label":"1"},{"features":{"x":2},"label":"0"},{"features":{"x":3},"label":"1"}]}'
CODES=""
call POST /v1/models/k/learn "$L1"; CODES+="$CODE "   # commit 1: stored
call POST /v1/models/k/learn "$L3"; CODES+="$CODE "   # commit 2: rolled back
call POST /v1/models/k/learn "$L3"; CODES+="$CODE "   # commit 3: stored
call POST /v1/models/k/learn '{"features":{"x":4},"label":"0"}'; CODES+="$CODE "   # 4: rolled back
call POST /v1/models/k/learn "$L1"; CODES+="$CODE "   # commit 5: id a1 taken, nothing stored
check "learn: answers 200 500 200 500 409 (got $CODES)" test "$CODES" = "200 500 200 500 409 "
call GET "/v1/models/k/labels?after=0&limit=100"
NST=$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["labels"]))' "$BODY")
check "learn: 4 rows stored (got $NST)" test "$NST" = 4
LT=$(prom 'tide_learn_total{model="k"}')
check "learn: tide_learn_total counts the 4 committed rows, not the rolled-back or conflicting ones (got $LT)" test "$LT" = 4
serve_stop
check "learn: exit 0" test "$STOP_RC" = 0

# ---- 4. DELETE whose store deletion fails ---------------------------------------
D4=$TMP/d4
serve_start "$D4"
call POST /v1/models "$SPEC"
call POST /v1/models/k/learn '{"instances":[{"features":{"x":1},"label":"1"},{"features":{"x":-1},"label":"0"}]}'
check "delete: learned (200)" test "$CODE" = 200
sq "$D4" "CREATE TRIGGER refuse_delete BEFORE DELETE ON models BEGIN SELECT RAISE(ABORT, 'model deletion refused by a test trigger'); END"
call DELETE /v1/models/k
check "delete: a failed store deletion is a 500 (a trigger: a constraint, not I/O; got $CODE)" test "$CODE" = 500
is_err_body "delete: error body" model
check "delete: the error names the store failure ($BODY)" has "refused by a test trigger"
call GET /v1/models/k
check "delete: after the failure the model is still served (got $CODE)" test "$CODE" = 200
call POST /v1/models/k/predict '{"features":{"x":1}}'
check "delete: ... and predicts (got $CODE)" test "$CODE" = 200
call POST /v1/models/k/learn '{"features":{"x":2},"label":"1"}'
check "delete: ... and learns (got $CODE)" test "$CODE" = 200
serve_stop
serve_start "$D4"
call GET /v1/models/k
check "delete: after a restart the model is there too (got $CODE)" test "$CODE" = 200
call GET "/v1/models/k/labels?after=0&limit=100"
NST=$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["labels"]))' "$BODY")
check "delete: with its 3 stored labels (got $NST)" test "$NST" = 3
sq "$D4" "DROP TRIGGER refuse_delete"
call DELETE /v1/models/k
check "delete: the store accepts again: 200 (got $CODE)" test "$CODE" = 200
call GET /v1/models/k
check "delete: then 404" test "$CODE" = 404
serve_stop
serve_start "$D4"
call GET /v1/models/k
check "delete: still 404 after a restart (got $CODE)" test "$CODE" = 404
serve_stop
check "delete: exit 0" test "$STOP_RC" = 0

# ---- 5. a label is not held behind a backlog of logged predictions -------------
# Each commit takes 250 ms ("fault_commit_delay_ms") and at most ~8192
# logged events, so 40 batches of 1000 predictions are a backlog of about
# five commits. A label whose event was committed before passes the queued
# events: it is answered while events are still pending. A label for an
# event still in the queue cannot pass it: it waits and joins (200, not 404).
D5=$TMP/d5
echo '{"fault_commit_delay_ms": 250}' > "$TMP/c5.json"
serve_start "$D5" --config "$TMP/c5.json"
call POST /v1/models "$SPEC"
call POST /v1/models/k/predict '{"id":"old","features":{"x":1}}'
for _ in $(seq 1 100); do [ "$(prom tide_events_pending)" = 0 ] && break; sleep 0.05; done
python3 - "$PORT" > "$TMP/flood.out" 2>&1 <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
body = json.dumps({"instances": [{"features": {"x": i}} for i in range(1000)]})
codes = []
for _ in range(40):
    c.request("POST", "/v1/models/k/predict", body, {"Content-Type": "application/json"})
    r = c.getresponse(); r.read(); codes.append(r.status)
c.request("POST", "/v1/models/k/predict", json.dumps({"id": "late", "features": {"x": 2}}),
          {"Content-Type": "application/json"})
r = c.getresponse(); r.read(); codes.append(r.status)
print("codes", sorted(set(codes)))
PY
check "backlog: every predict answered 200 ($(cat "$TMP/flood.out"))" grep -q "codes \[200\]" "$TMP/flood.out"
P0=$(prom tide_events_pending)
# every prediction is answered and nothing new arrives: without overtaking,
# the label would be answered only once the whole backlog is committed
call POST /v1/models/k/labels '{"id":"old","label":"1"}'
P5=$(prom tide_events_pending)
check "backlog: the label of a committed event is 200 (got $CODE)" test "$CODE" = 200
check "backlog: ... answered while logged events are still queued ($P0 before, $P5 after)" \
  test "${P0:-0}" -ge 16384 -a "${P5:-0}" -gt 0
call POST /v1/models/k/labels '{"id":"late","label":"0"}'
check "backlog: a label for a queued event waits for it and joins (got $CODE)" test "$CODE" = 200
for _ in $(seq 1 200); do [ "$(prom tide_events_pending)" = 0 ] && break; sleep 0.05; done
call GET "/v1/models/k/labels?after=0&limit=10"
check "backlog: both labels stored, in acknowledgement order" \
  python3 -c 'import json,sys; print([l["id"] for l in json.loads(sys.argv[1])["labels"]]); sys.exit(0 if [l["id"] for l in json.loads(sys.argv[1])["labels"]] == ["old", "late"] else 1)' "$BODY"
serve_stop
check "backlog: exit 0" test "$STOP_RC" = 0

finish
