#!/usr/bin/env bash
# test_serve_auth.sh — tokens and roles of `tide serve`: open while no token
# exists; once one exists every request needs "Authorization: Bearer" (401
# without or with a bad/revoked token, 403 with too weak a role: predict <
# label < admin); the audit log records who created, labelled, promoted,
# rolled back and deleted what, and its hash chain verifies.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

D=$TMP/d
serve_start "$D"
check "server started" test -n "$PORT"
[ -n "$PORT" ] || { finish; exit 1; }
call POST /v1/models '{"name":"m","task":"binary","schema":{"x":"number"}}'
check "no token configured: open (201)" test "$CODE" = 201

ADMIN=$("$TIDE" token create root --role admin --data "$D" 2>/dev/null | head -1)
LABEL=$("$TIDE" token create labeler --role label --data "$D" 2>/dev/null | head -1)
PRED=$("$TIDE" token create app --role predict --data "$D" 2>/dev/null | head -1)
GONE=$("$TIDE" token create old --role admin --data "$D" 2>/dev/null | head -1)
"$TIDE" token revoke old --data "$D" >/dev/null 2>&1
check "tokens created" test -n "$ADMIN" -a -n "$LABEL" -a -n "$PRED"
sleep 1.2   # the server re-reads the token count at most once a second

A=(-H "Authorization: Bearer $ADMIN"); L=(-H "Authorization: Bearer $LABEL"); P=(-H "Authorization: Bearer $PRED")
PB='{"id":"p1","features":{"x":1}}'
call POST /v1/models/m/predict "$PB"
check "no Authorization: 401" test "$CODE" = 401
is_err_body "401 body" Authorization
call POST /v1/models/m/predict "$PB" -H "Authorization: Bearer tide_nope_nope"
check "unknown token: 401" test "$CODE" = 401
call POST /v1/models/m/predict "$PB" -H "Authorization: Basic abc"
check "not a bearer token: 401" test "$CODE" = 401
call POST /v1/models/m/predict "$PB" -H "Authorization: Bearer $GONE"
check "revoked token: 401" test "$CODE" = 401
call GET /v1/models/nope
check "401 before 404 (no model names leak)" test "$CODE" = 401
call GET /healthz
check "healthz stays open" test "$CODE" = 200

call POST /v1/models/m/predict "$PB" "${P[@]}"
check "predict role predicts" test "$CODE" = 200
call GET /metrics "" "${P[@]}"
check "predict role reads /metrics" test "$CODE" = 200
call POST /v1/models/m/labels '{"id":"p1","label":"1"}' "${P[@]}"
check "predict role cannot label: 403" test "$CODE" = 403
is_err_body "403 body" Authorization
call POST /v1/models/m/labels '{"id":"p1","label":"1"}' "${L[@]}"
check "label role labels" test "$CODE" = 200
call POST /v1/models/m/learn '{"features":{"x":2},"label":"0"}' "${L[@]}"
check "label role learns" test "$CODE" = 200
call POST /v1/models/m/predict "$PB" "${L[@]}"
check "label role predicts" test "$CODE" = 200
call POST /v1/models '{"name":"m2","task":"binary"}' "${L[@]}"
check "label role cannot create: 403" test "$CODE" = 403
call POST /v1/models/m/versions '' "${L[@]}"
check "label role cannot snapshot: 403" test "$CODE" = 403
call POST /v1/models '{"name":"m2","task":"binary"}' "${A[@]}"
check "admin creates" test "$CODE" = 201
call POST /v1/models/m/versions '' "${A[@]}"
check "admin snapshots v1" test "$CODE" = 201
call POST /v1/models/m/versions '' "${A[@]}"
check "admin snapshots v2" test "$CODE" = 201
call PUT /v1/models/m/aliases/champion '{"version":2}' "${A[@]}"
check "admin promotes" test "$CODE" = 200
call PUT /v1/models/m/aliases/champion '{"version":1}' "${P[@]}"
check "predict role cannot promote: 403" test "$CODE" = 403
call POST /v1/models/m/rollback '{"version":1}' "${A[@]}"
check "admin rolls back" test "$CODE" = 200
call GET /v1/models/m/versions/1/artifact "" "${P[@]}"
check "predict role cannot download artifacts: 403" test "$CODE" = 403
call DELETE /v1/models/m2 "" "${L[@]}"
check "label role cannot delete: 403" test "$CODE" = 403
call DELETE /v1/models/m2 "" "${A[@]}"
check "admin deletes" test "$CODE" = 200
serve_stop

"$TIDE" audit list --data "$D" --json > "$TMP/audit" 2>&1
has() { python3 - "$TMP/audit" "$@" <<'EOF'
import json, sys
rows = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        rows.append(json.loads(line))
want_actor, want_action, want_model = sys.argv[2:5]
sys.exit(0 if any(r.get("actor") == want_actor and r.get("action") == want_action
                  and r.get("model") == want_model for r in rows) else 1)
EOF
}
check "audit: anonymous create (open server)" has "" model.create m
check "audit: admin create" has root model.create m2
check "audit: labeler labelled" has labeler label m
check "audit: admin promoted" has root alias.set m
check "audit: admin rolled back" has root rollback m
check "audit: admin deleted" has root model.delete m2
check "audit: snapshot recorded" has root version.create m
check "audit chain verifies" "$TIDE" audit verify --data "$D"
finish
