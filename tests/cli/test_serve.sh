#!/usr/bin/env bash
# test_serve.sh — integration test of `tide serve` over HTTP with curl:
# every endpoint, every error path (400/404/405/409/413/415 with a JSON body
# {error, field, reason} that changes nothing), progressive metrics checked
# against hand-computed values, the registry round trip (artifact ->
# `tide predict --model` gives the server's answers), aliases, rollback,
# Prometheus exposition, SIGHUP config reload, SIGTERM + restart (state kept).
# Tokens and roles are in test_serve_auth.sh, the kill -9 test in
# test_serve_crash.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

D=$TMP/d
cat > "$TMP/config.json" <<'EOF'
{"models": [{"name": "cfg1", "task": "regression", "learner": "linear"}], "publish_ms": 20}
EOF
serve_start "$D" --config "$TMP/config.json" --max-body 4096 --publish-ms 20
check "server printed its port" test -n "$PORT"
[ -n "$PORT" ] || { finish; exit 1; }

# ---- health -------------------------------------------------------------------
call GET /healthz;  check "healthz 200" test "$CODE" = 200
call GET /readyz;   check "readyz 200" test "$CODE" = 200
call POST /healthz '{}'; check "healthz POST 405" test "$CODE" = 405
check "405 names allowed methods" grep -qi '^Allow: GET' "$TMP/hdr"

# ---- models ---------------------------------------------------------------------
call GET /v1/models
check "config model listed" test "$(jget "$BODY" models.0.name)" = cfg1
call POST /v1/models '{"name":"m","task":"binary","learner":"logistic","schema":{"x":"number","c":"category","o":{"type":"number","required":false}}}'
check "create 201" test "$CODE" = 201
check "create echoes task" test "$(jget "$BODY" task)" = binary
call POST /v1/models '{"name":"m","task":"binary"}'
check "duplicate name 409" test "$CODE" = 409
is_err_body "duplicate name has error body" name
call POST /v1/models '{"name":"bad name","task":"binary"}'
check "bad name 400" test "$CODE" = 400
call POST /v1/models '{"name":"z","task":"ranking"}'
check "bad task 400" test "$CODE" = 400; is_err_body "bad task body" task
call POST /v1/models '{"name":"z","task":"binary","learner":"nope"}'
check "unknown learner 400" test "$CODE" = 400; is_err_body "unknown learner body" learner
call POST /v1/models '{"name":"z","task":"regression","learner":"logistic"}'
check "learner/task mismatch 400" test "$CODE" = 400
call POST /v1/models '{"name":"z","task":"binary","params":{"lr":-5}}'
check "bad param 400" test "$CODE" = 400
call POST /v1/models '{"name":"z","task":"binary","schema":{"x":"float"}}'
check "bad schema 400" test "$CODE" = 400
call GET /v1/models/z
check "rejected creates stored nothing (404)" test "$CODE" = 404
call GET /v1/models/m
check "get model 200" test "$CODE" = 200
check "get model has schema" test "$(jget "$BODY" schema.x.type)" = number
call PUT /v1/models/m '{}'
check "PUT model 405" test "$CODE" = 405
call GET /v1/nothing
check "unknown path 404" test "$CODE" = 404

# ---- predict ---------------------------------------------------------------------
call POST /v1/models/m/predict '{"id":"e1","features":{"x":1.5,"c":"red"}}'
check "predict 200" test "$CODE" = 200
check "predict echoes id" test "$(jget "$BODY" id)" = e1
# a fresh logistic model knows nothing: p = 1/2 for both classes, ties -> class "0"
check "fresh model proba 0.5" test "$(jget "$BODY" proba.1)" = 0.5
check "predict version 0" test "$(jget "$BODY" version)" = 0
call POST /v1/models/m/predict '{"instances":[{"id":"e2","features":{"x":-1,"c":"blue"}},{"features":{"x":2,"c":"red","o":3}}]}'
check "batch predict 200" test "$CODE" = 200
check "batch keeps order" test "$(jget "$BODY" predictions.0.id)" = e2
GEN=$(jget "$BODY" predictions.1.id)
check "generated id" test -n "$GEN"
call POST /v1/models/nope/predict '{"features":{"x":1}}'
check "predict unknown model 404" test "$CODE" = 404
call GET /v1/models/m/predict
check "GET predict 405" test "$CODE" = 405

# ---- bad requests: right status, JSON body, nothing changed ------------------------
npred() { call GET /v1/models/m; jget "$BODY" predictions; }
P0=$(npred)
bad() { # NAME STATUS FIELD BODY [curl args]
  local n=$1 st=$2 f=$3 b=$4; shift 4
  call POST /v1/models/m/predict "$b" "$@"
  check "$n -> $st" test "$CODE" = "$st"
  is_err_body "$n body" "$f"
}
bad "unknown feature" 400 q '{"features":{"x":1,"c":"a","q":2}}'
bad "wrong type (string for number)" 400 x '{"features":{"x":"1","c":"a"}}'
bad "wrong type (number for category)" 400 c '{"features":{"x":1,"c":7}}'
bad "boolean value" 400 x '{"features":{"x":true,"c":"a"}}'
bad "missing required feature" 400 c '{"features":{"x":1}}'
bad "null required feature" 400 c '{"features":{"x":1,"c":null}}'
bad "NaN literal" 400 "" '{"features":{"x":NaN,"c":"a"}}'
bad "Inf (overflowing number)" 400 "" '{"features":{"x":1e999,"c":"a"}}'
bad "nested object value" 400 x '{"features":{"x":{"v":1},"c":"a"}}'
bad "array value" 400 x '{"features":{"x":[1],"c":"a"}}'
bad "features not an object" 400 features '{"features":[1,2]}'
bad "missing features" 400 features '{"id":"k"}'
bad "unknown top-level field" 400 extra '{"features":{"x":1,"c":"a"},"extra":1}'
bad "malformed JSON" 400 "" '{"features":{"x":1,'
bad "duplicate key" 400 "" '{"features":{"x":1,"x":2,"c":"a"}}'
bad "not an object" 400 "" '[1,2,3]'
bad "bad id" 400 id '{"id":"has space","features":{"x":1,"c":"a"}}'
bad "batch with one bad instance" 400 q '{"instances":[{"features":{"x":1,"c":"a"}},{"features":{"x":1,"c":"a","q":1}}]}'
bad "empty batch" 400 instances '{"instances":[]}'
BIG=$(python3 -c 'print("{\"features\":{\"x\":1,\"c\":\"" + "a"*5000 + "\"}}")')
bad "oversized body" 413 "" "$BIG"
CODE=$(curl -s -o "$TMP/body" -w '%{http_code}' -H 'Content-Type: text/plain' --data-binary '{"features":{"x":1,"c":"a"}}' "$U/v1/models/m/predict"); BODY=$(cat "$TMP/body")
check "wrong content type -> 415" test "$CODE" = 415
is_err_body "wrong content type body" Content-Type
check "bad requests changed nothing" test "$(npred)" = "$P0"

# ---- labels ---------------------------------------------------------------------------
call POST /v1/models/m/labels '{"id":"e1","label":"1"}'
check "label 200" test "$CODE" = 200
check "label joined" test "$(jget "$BODY" status)" = joined
SEQ1=$(jget "$BODY" seq)
call POST /v1/models/m/labels '{"id":"e1","label":"1"}'
check "same label again: 200" test "$CODE" = 200
check "same label again: idempotent" test "$(jget "$BODY" status)" = idempotent
check "idempotent keeps seq" test "$(jget "$BODY" seq)" = "$SEQ1"
call POST /v1/models/m/labels '{"id":"e1","label":"0"}'
check "different label 409" test "$CODE" = 409
is_err_body "conflict body" label
call POST /v1/models/m/labels '{"id":"nope","label":"1"}'
check "unknown id 404" test "$CODE" = 404
is_err_body "unknown id body" id
call POST /v1/models/m/labels '{"label":"1"}'
check "label without id 400" test "$CODE" = 400
call POST /v1/models/m/labels '{"id":"e2","label":{"a":1}}'
check "label object 400" test "$CODE" = 400
call POST /v1/models/m/labels '{"labels":[{"id":"e2","label":"0"},{"id":"nope2","label":"1"}]}'
check "batch labels 200" test "$CODE" = 200
check "batch: first joined" test "$(jget "$BODY" results.0.status)" = joined
check "batch: second unknown" test "$(jget "$BODY" results.1.status)" = unknown_id
call POST /v1/models/m/labels "{\"id\":\"$GEN\",\"label\":\"1\"}"
check "label of generated id 200" test "$CODE" = 200
call POST /v1/models/m/labels '{"id":"e2","label":"1","overwrite":true}'
check "overwrite 200" test "$CODE" = 200
check "overwrite status" test "$(jget "$BODY" status)" = overwritten

# ---- progressive metrics, by hand -------------------------------------------------------
# Every scored prediction above was made by the empty model: p(1) = 0.5, predicted
# class "0" (ties -> lowest index). Labels learned: e1=1, e2=0, gen=1, e2 -> 1 (overwrite).
# So 4 scored labels, accuracy = 1/4 (only e2=0 right), log loss = ln 2.
sleep 0.3
call GET /v1/models/m/metrics
check "metrics 200" test "$CODE" = 200
check "metrics: 4 labels scored for version 0" test "$(jget "$BODY" versions.0.cumulative.n)" = 4
check "metrics: accuracy 1/4" fge "$(jget "$BODY" versions.0.cumulative.accuracy)" 0.2499999
check "metrics: accuracy 1/4 (upper)" fle "$(jget "$BODY" versions.0.cumulative.accuracy)" 0.2500001
check "metrics: log loss ln 2" python3 -c "import sys,math; sys.exit(abs(float(sys.argv[1])-math.log(2))>1e-9)" "$(jget "$BODY" versions.0.cumulative.log_loss)"

# ---- learn -------------------------------------------------------------------------------
call POST /v1/models/m/learn '{"features":{"x":3,"c":"red"},"label":"1"}'
check "learn 200" test "$CODE" = 200
call POST /v1/models/m/learn '{"instances":[{"features":{"x":-3,"c":"blue"},"label":"0"},{"features":{"x":4,"c":"red"},"label":"1"}]}'
check "batch learn 200" test "$CODE" = 200
check "batch learn results" test "$(jget "$BODY" joined)" = 2
call POST /v1/models/m/learn '{"features":{"x":3,"c":"red"}}'
check "learn without label 400" test "$CODE" = 400
call POST /v1/models/cfg1/learn '{"features":{"a":1},"label":"tall"}'
check "regression needs a numeric label" test "$CODE" = 400
for i in 1 2 3 4 5 6; do call POST /v1/models/cfg1/learn "{\"features\":{\"a\":$i},\"label\":$((2*i))}"; done
check "regression learn 200" test "$CODE" = 200

# ---- registry ---------------------------------------------------------------------------
sleep 0.3
call POST /v1/models/m/versions ''
check "snapshot 201" test "$CODE" = 201
check "first version is 1" test "$(jget "$BODY" version)" = 1
check "v1 has no parent" test "$(jget "$BODY" parent)" = None
call POST /v1/models/m/learn '{"instances":[{"features":{"x":5,"c":"red"},"label":"1"},{"features":{"x":-5,"c":"blue"},"label":"0"}]}'
sleep 0.3
call POST /v1/models/m/versions ''
check "second snapshot 201" test "$CODE" = 201
check "v2 parent is v1 (lineage)" test "$(jget "$BODY" parent)" = 1
call GET /v1/models/m/versions
check "versions list" test "$(jget "$BODY" versions.1.version)" = 2
call GET /v1/models/m/versions/2
check "version get" test "$(jget "$BODY" labels_seen)" = 9
call GET /v1/models/m/versions/9
check "unknown version 404" test "$CODE" = 404
call GET /v1/models/m/versions/x
check "non-numeric version 404" test "$CODE" = 404
curl -s -o "$TMP/v2.tide" "$U/v1/models/m/versions/2/artifact"
curl -s -o "$TMP/v1.tide" "$U/v1/models/m/versions/1/artifact"
printf '{"x":1.5,"c":"red"}\n{"x":-2,"c":"blue"}\n{"x":0.25,"c":"green","o":1}\n' > "$TMP/probe.jsonl"
probe_body='{"instances":[{"features":{"x":1.5,"c":"red"}},{"features":{"x":-2,"c":"blue"}},{"features":{"x":0.25,"c":"green","o":1}}]}'
server_p1() { call POST /v1/models/m/predict "$probe_body"; python3 -c 'import json,sys; print(" ".join(str(p["proba"]["1"]) for p in json.loads(sys.argv[1])["predictions"]))' "$BODY"; }
file_p1() { "$TIDE" predict --model "$1" "$TMP/probe.jsonl" --proba --json | python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["proba"]["1"]) for l in sys.stdin))'; }
same() { python3 -c 'import sys; a=[float(x) for x in sys.argv[1].split()]; b=[float(x) for x in sys.argv[2].split()]; sys.exit(not(len(a)==len(b)==3 and all(abs(x-y)<1e-9 for x,y in zip(a,b))))' "$1" "$2"; }
S2=$(server_p1); F2=$(file_p1 "$TMP/v2.tide")
check "artifact v2 == server answers (tide predict --model)" same "$S2" "$F2"
F1=$(file_p1 "$TMP/v1.tide")
check "v1 and v2 differ" bash -c "! python3 -c 'import sys; sys.exit(sys.argv[1]!=sys.argv[2])' '$F1' '$F2'"
call PUT /v1/models/m/aliases/champion '{"version":1}'
check "alias set 200" test "$CODE" = 200
call PUT /v1/models/m/aliases/champion '{"version":77}'
check "alias to unknown version 404" test "$CODE" = 404
call GET /v1/models/m
check "alias visible" test "$(jget "$BODY" aliases.champion)" = 1
call POST /v1/models/m/rollback '{"alias":"champion"}'
check "rollback 200" test "$CODE" = 200
check "rollback to 1" test "$(jget "$BODY" version)" = 1
S1=$(server_p1)
check "after rollback server == v1 artifact" same "$S1" "$F1"
call POST /v1/models/m/rollback '{}'
check "rollback of a root version 409" test "$CODE" = 409

# ---- Prometheus ----------------------------------------------------------------------------
curl -s "$U/metrics" > "$TMP/prom"
check "prom: request counter" grep -q 'tide_http_requests_total{endpoint="predict",status="200"}' "$TMP/prom"
check "prom: latency histogram" grep -q 'tide_http_request_duration_seconds_bucket{endpoint="predict",le="+Inf"}' "$TMP/prom"
check "prom: predictions" grep -q 'tide_predictions_total{model="m"}' "$TMP/prom"
check "prom: labels joined" grep -q 'tide_labels_total{model="m",status="joined"} 3' "$TMP/prom"
check "prom: join delay histogram" grep -q 'tide_label_join_delay_seconds_count{model="m"} 4' "$TMP/prom"
call GET /v1/models/m/metrics
ACC0=$(python3 -c 'import json,sys; print([v for v in json.loads(sys.argv[1])["versions"] if v["version"]==0][0]["cumulative"]["accuracy"])' "$BODY")
PACC0=$(sed -n 's/^tide_model_accuracy{model="m",version="0",scope="cumulative"} //p' "$TMP/prom")
check "prom: per-version gauge equals /metrics JSON" python3 -c 'import sys; sys.exit(abs(float(sys.argv[1])-float(sys.argv[2]))>1e-6)' "$ACC0" "$PACC0"
check "prom: commit latency" grep -q 'tide_store_commit_seconds_count' "$TMP/prom"
check "prom: 413 counted" grep -q 'status="413"' "$TMP/prom"

# ---- SIGHUP reload --------------------------------------------------------------------------
cat > "$TMP/config.json" <<'EOF'
{"models": [{"name": "cfg1", "task": "regression", "learner": "linear"},
            {"name": "cfg2", "task": "multiclass", "learner": "softmax"}]}
EOF
kill -HUP "$PID"; sleep 0.3
call GET /v1/models/cfg2
check "SIGHUP reload created cfg2" test "$CODE" = 200

# ---- delete ------------------------------------------------------------------------------------
call DELETE /v1/models/cfg2
check "delete 200" test "$CODE" = 200
call GET /v1/models/cfg2
check "deleted model 404" test "$CODE" = 404

# ---- SIGTERM drains, restart keeps the state ---------------------------------------------------
BEFORE=$(server_p1)
serve_stop
check "SIGTERM exit status 0" test "$STOP_RC" = 0
serve_start "$D" --config "$TMP/config.json"
AFTER=$(server_p1)
check "restart: same predictions" same "$BEFORE" "$AFTER"
call GET /v1/models/m
check "restart: version kept" test "$(jget "$BODY" version)" = 1
check "restart: cfg2 recreated from config" test "$(call GET /v1/models/cfg2; echo "$CODE")" = 200
serve_stop

# ---- retention: unlabelled events expire, labelled ones stay --------------------------------
serve_start "$TMP/dr" --retention 1 --infer-rows 3
# ---- schema inferred from the first 3 learned rows (x, c in all: required; o optional)
call POST /v1/models '{"name":"s","task":"binary"}'
call POST /v1/models/s/predict '{"features":{"anything":1}}'
check "no schema yet: any feature accepted" test "$CODE" = 200
call POST /v1/models/s/learn '{"instances":[{"features":{"x":1,"c":"a","o":2},"label":"1"},{"features":{"x":2,"c":"b"},"label":"0"},{"features":{"x":3,"c":"a"},"label":"1"}]}'
sleep 0.3
call GET /v1/models/s
check "inferred: x required number" test "$(jget "$BODY" schema.x.type)/$(jget "$BODY" schema.x.required)" = number/True
check "inferred: o optional" test "$(jget "$BODY" schema.o.required)" = False
call POST /v1/models/s/predict '{"features":{"x":1,"c":"a","anything":1}}'
check "inferred schema refuses a new feature" test "$CODE" = 400
call POST /v1/models/s/predict '{"features":{"x":1}}'
check "inferred schema requires c" test "$CODE" = 400
call POST /v1/models/s/predict '{"features":{"x":1,"c":"z"}}'
check "inferred schema accepts a row without o" test "$CODE" = 200
call POST /v1/models '{"name":"r","task":"binary"}'
call POST /v1/models/r/predict '{"instances":[{"id":"old","features":{"x":1}},{"id":"kept","features":{"x":2}}]}'
sleep 0.2
call POST /v1/models/r/labels '{"id":"kept","label":"1"}'
check "label before expiry 200" test "$CODE" = 200
sleep 2.6
call POST /v1/models/r/labels '{"id":"old","label":"1"}'
check "unlabelled event expired: 404" test "$CODE" = 404
call POST /v1/models/r/labels '{"id":"kept","label":"1"}'
check "labelled event kept: idempotent 200" test "$(jget "$BODY" status)" = idempotent
curl -s "$U/metrics" > "$TMP/prom"
check "prom: expired events counted" fge "$(sed -n 's/^tide_events_expired_total //p' "$TMP/prom")" 1
serve_stop
serve_start "$TMP/dr"
call GET /v1/models/s
check "inferred schema survives a restart" test "$(jget "$BODY" schema.c.type)" = category
serve_stop
finish
