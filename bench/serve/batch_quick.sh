#!/usr/bin/env bash
# bench/serve/batch_quick.sh — the batch-predict rows of run.sh alone:
# `wrk -t2 -c8 -dDUR -s bench/serve/batch.lua` (100 instances of the
# 25-feature body per request) against a fresh server, RUNS times each, for
# the fast path (simdjson, the default) and the jansson path
# (TIDE_SERVE_NO_FASTJSON=1), events not logged and logged, alternating so
# both see the same minutes of a shared VM. Prints one line per run
# (predictions/s = req/s x 100; logged: the events that reached the store
# (answered minus dropped because the event queue was full) divided by the
# run's time plus the time the queue took to drain) and the
# best of each; the load average
# before and after; with PERF=1 a `perf record -g` of the first fast,
# unlogged run into PERFOUT (default perf.data).
#   TIDE=build/tide DUR=3 RUNS=3 [MODES="fast jansson"] [LOGS="nolog log"] bash bench/serve/batch_quick.sh
set -u
cd "$(dirname "$0")/../.."
TIDE=${TIDE:-build/tide}
DUR=${DUR:-3}; RUNS=${RUNS:-3}
MODES=${MODES:-fast jansson}; LOGS=${LOGS:-nolog log}
W=$(mktemp -d)
TPID=""
trap '[ -n "$TPID" ] && kill "$TPID" 2>/dev/null; rm -rf "$W"' EXIT
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
echo "# batch_quick $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $DUR s x $RUNS"
declare -A BEST
for r in $(seq "$RUNS"); do
  for mode in $MODES; do
    for lg in $LOGS; do
      env=(); [ "$mode" = jansson ] && env=(TIDE_SERVE_NO_FASTJSON=1)
      args=(); [ "$lg" = nolog ] && args=(--no-log-events)
      rm -rf "$W/d"
      env "${env[@]}" "$TIDE" serve --data "$W/d" --listen 127.0.0.1:0 "${args[@]}" > "$W/out" 2> "$W/err" &
      TPID=$!
      for _ in $(seq 100); do grep -q listening "$W/out" && break; sleep 0.05; done
      TU="http://127.0.0.1:$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$W/out")"
      curl -s -H 'Content-Type: application/json' "$TU/v1/models" \
        -d "{\"name\":\"bench\",\"task\":\"binary\",\"learner\":\"logistic\",\"schema\":$(cat bench/serve/schema.json)}" > /dev/null
      if [ "${PERF:-0}" = 1 ] && [ "$r" = 1 ] && [ "$mode" = fast ] && [ "$lg" = nolog ]; then
        perf record -F 999 -g -p "$TPID" -o "${PERFOUT:-perf.data}" -- sleep "$DUR" > /dev/null 2>&1 &
      fi
      wrk -t2 -c8 -d"${DUR}s" -s bench/serve/batch.lua "$TU" > "$W/wrk" 2>&1
      n2=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$W/wrk")
      p=$(python3 -c "print(int(float('$(rps "$W/wrk")' or 0) * 100))")
      curl -s "$TU/metrics" > "$W/prom"
      f=$(sed -n 's/^tide_predict_bodies_total{parser="simdjson"} //p' "$W/prom")
      extra=""
      if [ "$lg" = log ]; then   # answered is not logged: count what the store got
        dr=$(sed -n 's/^tide_events_dropped_total //p' "$W/prom")
        pe=$(sed -n 's/^tide_events_pending //p' "$W/prom")
        t0=$(date +%s.%N)
        while [ "$(curl -s "$TU/metrics" | sed -n 's/^tide_events_pending //p')" != 0 ]; do sleep 0.1; done
        dt=$(python3 -c "print('%.1f' % ($(date +%s.%N) - $t0))")
        # sustained: what reached the store over the run plus the drain
        lp=$(python3 -c "print(int(($p * $DUR - $dr) / ($DUR + $dt)))")
        extra=", answered $p/s, dropped $dr (queue full), pending $pe at the end (drained in $dt s): $lp logged/s"
        p=$lp
      fi
      echo "run $r $mode $lg: $p predictions/s${n2:+ ($n2 non-2xx)} (bodies through simdjson: ${f:-?})$extra"
      k="$mode $lg"; [ "${BEST[$k]:-0}" -lt "$p" ] && BEST[$k]=$p
      kill "$TPID"; wait "$TPID" 2>/dev/null; TPID=""
      wait   # perf, if any
    done
  done
done
for k in "${!BEST[@]}"; do echo "best $k: ${BEST[$k]} predictions/s"; done | sort
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
