#!/usr/bin/env bash
# bench/serve/label_backlog.sh — how long one durable label waits when the
# committer has a backlog of logged prediction events: a labelled event is
# logged and committed, `wrk -t2 -c8 -d2s batch.lua` then fills the event
# queue (up to its 500,000 bound), and one label for the first event is
# posted and timed with curl. Prints the events still pending and the
# label's time, RUNS times.
#   TIDE=build/tide RUNS=2 bash bench/serve/label_backlog.sh
set -u
cd "$(dirname "$0")/../.."
TIDE=${TIDE:-build/tide}; RUNS=${RUNS:-2}
W=$(mktemp -d)
TPID=""
trap '[ -n "$TPID" ] && kill "$TPID" 2>/dev/null; rm -rf "$W"' EXIT
for r in $(seq "$RUNS"); do
  rm -rf "$W/d"
  "$TIDE" serve --data "$W/d" --listen 127.0.0.1:0 > "$W/out" 2> "$W/err" &
  TPID=$!
  for _ in $(seq 100); do grep -q listening "$W/out" && break; sleep 0.05; done
  TU="http://127.0.0.1:$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$W/out")"
  curl -s -H 'Content-Type: application/json' "$TU/v1/models" \
    -d "{\"name\":\"bench\",\"task\":\"binary\",\"learner\":\"logistic\",\"schema\":$(cat bench/serve/schema.json)}" > /dev/null
  curl -s -H 'Content-Type: application/json' "$TU/v1/models/bench/predict" \
    -d "{\"id\":\"known\",$(tail -c +2 bench/serve/body.json)" > /dev/null
  sleep 0.5   # committed
  wrk -t2 -c8 -d2s -s bench/serve/batch.lua "$TU" > /dev/null
  pend=$(curl -s "$TU/metrics" | sed -n 's/^tide_events_pending //p')
  t=$(curl -s -o /dev/null -w '%{time_total}' -H 'Content-Type: application/json' \
      -d '{"id":"known","label":"1"}' "$TU/v1/models/bench/labels")
  echo "run $r: $pend events pending; the label took $t s"
  kill "$TPID"; wait "$TPID" 2>/dev/null; TPID=""
done
