#!/usr/bin/env bash
# bench/serve/labels_quick.sh — the label rows of run.sh alone, with CPU time
# per thread: logs NEV events (e0..), labels them one per request for D1 s
# (0 = skip) then 100 per request for BDUR s, and prints per thread of the
# server the CPU seconds (/proc/PID/task/*/stat) divided by the labels
# joined, the machine's busy share, wrk's own CPU and the server's counters.
#   TIDE=build/tide NEV=300000 D1=0 BDUR=2 [C100=16] [PERF=1 PERFOUT=f] bash bench/serve/labels_quick.sh
# The CPU per label is steadier than labels/s on a shared VM: compare two
# binaries back to back with it.
set -u
cd "$(dirname "$0")/../.."
TIDE=${TIDE:-build/tide}
W=$(mktemp -d)
NEV=${NEV:-400000}; D1=${D1:-4}; BDUR=${BDUR:-2}
"$TIDE" serve --data "$W/d" --listen 127.0.0.1:0 --threads 2 ${EXTRA:-} > "$W/tide.out" 2> "$W/tide.err" &
TPID=$!
trap 'kill $TPID 2>/dev/null; wait $TPID 2>/dev/null; rm -rf $W' EXIT
for _ in $(seq 100); do grep -q listening "$W/tide.out" && break; sleep 0.05; done
TP=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$W/tide.out"); TU="http://127.0.0.1:$TP"
echo "pid $TPID" >&2
curl -s -H 'Content-Type: application/json' "$TU/v1/models" \
    -d "{\"name\":\"bench\",\"task\":\"binary\",\"learner\":\"logistic\",\"schema\":$(cat bench/serve/schema.json)}" > /dev/null
python3 - "$TU" "$NEV" <<'PY'
import http.client, json, sys
u, n = sys.argv[1], int(sys.argv[2])
host, port = u.split("//")[1].split(":")
c = http.client.HTTPConnection(host, int(port))
feats = json.load(open("bench/serve/body.json"))["features"]
for b in range(0, n, 1000):
    body = json.dumps({"instances": [{"id": "e%d" % i, "features": feats} for i in range(b, min(n, b + 1000))]})
    c.request("POST", "/v1/models/bench/predict", body, {"Content-Type": "application/json"})
    c.getresponse().read()
PY
sleep 2
joined() { curl -s "$TU/metrics" | sed -n 's/^tide_labels_total{model="bench",status="joined"} //p'; }
cpu() { for t in /proc/$TPID/task/*; do echo "$(basename $t) $(cat $t/comm | tr -d " ") $(awk '{print $14+$15}' $t/stat)"; done; }
J0=$(joined)
if [ "$D1" != 0 ]; then
cpu > $W/c10
wrk -t2 -c128 -d"${D1}s" -s bench/serve/labels.lua "$TU" > "$W/l1" 2>&1
fi
J1=$(joined)
if [ "$D1" != 0 ]; then cpu > $W/c11; join $W/c10 $W/c11 | awk -v n=$((J1-J0)) '{d=$5-$3; if (d>0) printf "  1/req tid %s %s: %.2f s cpu, %.2f us/label\n", $1, $2, d/100, d*1e4/n}'; fi
echo "1/req: $(grep Requests/sec $W/l1 2>/dev/null) joined/s $(( (J1-J0)/ (D1>0?D1:1) )) $(grep Non-2xx $W/l1 2>/dev/null)"
cpu > $W/cpu0
head -1 /proc/stat > $W/stat0
[ "${PERF:-0}" = 1 ] && { perf record -F 999 ${PERFG:--g} ${PERFA:--p $TPID} -o "${PERFOUT:-perf.data}" -- sleep $BDUR > /dev/null 2>&1 & }
START=$((J1+1000)) BATCH=100 /usr/bin/time -f "  wrk cpu %U user %S sys" wrk -t2 -c${C100:-16} -d"${BDUR}s" -s bench/serve/labels.lua "$TU" > "$W/l100" 2>&1; grep "wrk cpu" $W/l100
J2=$(joined)
cpu > $W/cpu1
head -1 /proc/stat > $W/stat1
paste $W/stat0 $W/stat1 | awk '{t0=0;t1=0;for(i=2;i<=11;i++)t0+=$i;for(i=13;i<=22;i++)t1+=$i; printf "  machine: busy %.2f of %.2f cpu-s (idle %.2f)\n", (t1-t0-($17-$6))/100, (t1-t0)/100, ($17-$6)/100}'
join $W/cpu0 $W/cpu1 | awk -v n=$((J2-J1)) '{d=$5-$3; if (d>0) printf "  tid %s %s: %.2f s cpu, %.2f us/label\n", $1, $2, d/100, d*1e4/n}'
echo "100/req: $(grep Requests/sec $W/l100) joined/s $(( (J2-J1)/BDUR )) $(grep Non-2xx $W/l100)"
sleep 0.5
curl -s "$TU/metrics" > $W/prom; grep -E "commit_seconds_(sum|count)|request_duration_seconds_(sum|count).*labels" $W/prom; cat $W/prom | grep -E "staleness_max|catchups|commit_(items|batches)_total|learner_seq|labels_total.*joined|label_cache"
