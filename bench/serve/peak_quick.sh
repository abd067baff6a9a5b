#!/usr/bin/env bash
# bench/serve/peak_quick.sh — run.sh's single-predict peak against nginx,
# alone and short: a fresh tide (events not logged), `wrk -t2 -c16` and
# `-c64` for DUR s each with bench/serve/predict.lua (the 25-feature body),
# then nginx (bench/serve/nginx.conf) answering tide's own answer as a
# static string, same runs; ROUNDS times, alternating. Prints req/s per run
# and the load average.
#   TIDE=build/tide DUR=3 ROUNDS=2 bash bench/serve/peak_quick.sh
set -u
cd "$(dirname "$0")/../.."
TIDE=${TIDE:-build/tide}
DUR=${DUR:-3}; ROUNDS=${ROUNDS:-2}
W=$(mktemp -d)
TP=""
trap '[ -n "$TP" ] && kill "$TP" 2>/dev/null; [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; rm -rf "$W"' EXIT
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
echo "# peak_quick $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $DUR s per run"
for i in $(seq "$ROUNDS"); do
  "$TIDE" serve --data "$W/d$i" --listen 127.0.0.1:0 --no-log-events > "$W/out" 2> "$W/err" &
  TP=$!
  for _ in $(seq 100); do grep -q listening "$W/out" && break; sleep 0.05; done
  U="http://127.0.0.1:$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$W/out")"
  curl -s -H 'Content-Type: application/json' "$U/v1/models" \
    -d "{\"name\":\"bench\",\"task\":\"binary\",\"learner\":\"logistic\",\"schema\":$(cat bench/serve/schema.json)}" > /dev/null
  ANSWER=$(curl -s -H 'Content-Type: application/json' --data-binary @bench/serve/body.json "$U/v1/models/bench/predict")
  for c in 16 64; do
    wrk -t2 -c$c -d"${DUR}s" -s bench/serve/predict.lua "$U" > "$W/t$c" 2>&1
    echo "round $i tide -c$c: $(rps "$W/t$c") req/s $(grep Non-2xx "$W/t$c")"
  done
  kill "$TP"; wait "$TP" 2>/dev/null; TP=""
  NP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  sed -e "s|@PORT@|$NP|" -e "s|@DIR@|$W|g" -e "s|@ANSWER@|$ANSWER|" bench/serve/nginx.conf > "$W/nginx.conf"
  nginx -c "$W/nginx.conf" -g 'daemon on;' 2> "$W/nginx.start"; sleep 0.3
  for c in 16 64; do
    wrk -t2 -c$c -d"${DUR}s" -s bench/serve/predict.lua "http://127.0.0.1:$NP/" > "$W/n$c" 2>&1
    echo "round $i nginx -c$c: $(rps "$W/n$c") req/s"
  done
  kill "$(cat "$W/nginx.pid")"; rm -f "$W/nginx.pid"; sleep 0.5
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
