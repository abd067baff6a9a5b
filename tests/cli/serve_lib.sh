# tests/cli/serve_lib.sh — helpers for the `tide serve` tests (sourced after
# lib.sh): start/stop a server on an ephemeral loopback port and call it.
#   serve_start DIR [ARGS...]  sets PID, PORT, U (base URL); waits for the port
#   serve_stop                 SIGTERM, waits (bounded), sets STOP_RC
#   call METHOD PATH [BODY] [CURL ARGS...]  sets CODE and BODY (+ $TMP/hdr)
#   is_err_body NAME FIELD     checks BODY is {"error","field"=FIELD,"reason"}
# (Run directly by tests/run.sh it does nothing: it only defines functions.)
[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0
PID=""
trap 'if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null; fi; rm -rf "$TMP"' EXIT

serve_start() {
  local dir=$1; shift
  : > "$TMP/serve.out"
  "$TIDE" serve --data "$dir" --listen 127.0.0.1:0 "$@" > "$TMP/serve.out" 2>> "$TMP/serve.err" &
  PID=$!
  PORT=""
  for _ in $(seq 1 200); do
    PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/serve.out")
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  U="http://127.0.0.1:$PORT"
  [ -n "$PORT" ] || { echo "server did not start:"; cat "$TMP/serve.err"; }
}

serve_stop() {
  STOP_RC=""
  [ -n "$PID" ] || return 0
  kill -TERM "$PID" 2>/dev/null
  for _ in $(seq 1 200); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$PID" 2>/dev/null; then kill -9 "$PID"; STOP_RC=killed; fi
  wait "$PID" 2>/dev/null; local rc=$?
  [ -z "$STOP_RC" ] && STOP_RC=$rc
  PID=""
  san_check
}

# Fails the test when the server's stderr holds a sanitizer report.
san_check() {
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/serve.err" 2>/dev/null; then
    fail "sanitizer report from tide serve"
    grep -E -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/serve.err" | head -60
    : > "$TMP/serve.err"
  fi
}

call() {
  local m=$1 p=$2; shift 2
  local args=(-s -m 20 -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$m")
  if [ $# -gt 0 ]; then
    local b=$1; shift
    if [ -n "$b" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$b"); fi
  fi
  CODE=$(curl "${args[@]}" "$@" "$U$p")
  BODY=$(cat "$TMP/body")
}

is_err_body() {
  local n=$1 f=$2
  if python3 -c 'import json,sys
d=json.loads(sys.argv[1])
ok = set(d) == {"error","field","reason"} and d["error"] and d["reason"] and (sys.argv[2] == "" or d["field"] == sys.argv[2])
sys.exit(0 if ok else 1)' "$BODY" "$f" 2>/dev/null; then ok "$n"; else fail "$n (got: $BODY)"; fi
}
