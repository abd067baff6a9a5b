#!/usr/bin/env bash
# test_serve_batch_fast.sh — the simdjson fast path of predict bodies
# (src/serve/fastjson.cpp) answers exactly as the jansson path: two servers
# learn the same rows, one reads predict bodies with the fast path (the
# default), the other with jansson only (TIDE_SERVE_NO_FASTJSON=1); every
# answer must be byte for byte the same (generated ids aside), for ids,
# strings, nulls and missing features, \u escapes in names and values,
# exponents, -0, integers beyond 2^53, denormals and underflow, whitespace,
# and every error class through the batch form (unknown feature, wrong
# type, booleans, nesting, NaN/Inf, missing/null required, 413, malformed
# JSON, duplicate keys, trailing text, lone surrogates, NUL, huge
# integers, bad batch/id/weight). The fast path must really have served
# the plain bodies (tide_predict_bodies_total{parser="simdjson"}), and
# equal numbers written differently (1e2 and 100, -0 and 0) must give the
# same answer. Also: the logged event of a fast-path prediction stores the
# request's features and joins its label.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

PID2=""
trap 'for p in "$PID" "$PID2"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# server B (jansson only) on its own port, started by hand
TIDE_SERVE_NO_FASTJSON=1 "$TIDE" serve --data "$TMP/b" --listen 127.0.0.1:0 --max-body 4096 \
  --publish-ms 20 > "$TMP/b.out" 2> "$TMP/b.err" &
PID2=$!
serve_start "$TMP/a" --max-body 4096 --publish-ms 20
P2=""
for _ in $(seq 1 200); do
  P2=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/b.out"); [ -n "$P2" ] && break; sleep 0.05
done
check "both servers started" test -n "$PORT" -a -n "$P2"
[ -n "$PORT" ] && [ -n "$P2" ] || { finish; exit 1; }

python3 - "$U" "http://127.0.0.1:$P2" > "$TMP/py.out" 2>&1 <<'PY'
import http.client, json, re, sys, time
A, B = sys.argv[1], sys.argv[2]
def req(base, method, path, body=None):
    host, port = base.split("//")[1].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=20)
    h = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, body.encode() if isinstance(body, str) else body, h)
    r = c.getresponse()
    return r.status, r.read().decode()
def both(method, path, body=None):
    return req(A, method, path, body), req(B, method, path, body)
def out(ok, name):
    print(("ok " if ok else "FAIL ") + name)
def counters(base):
    _, t = req(base, "GET", "/metrics")
    f = re.search(r'tide_predict_bodies_total\{parser="simdjson"\} (\d+)', t)
    j = re.search(r'tide_predict_bodies_total\{parser="jansson"\} (\d+)', t)
    return int(f.group(1)), int(j.group(1))

schema = {"x": "number", "y": {"type": "number", "required": False}, "c": "category",
          "d": {"type": "category", "required": False}, "\u00e9": {"type": "number", "required": False},
          "q\"k": {"type": "number", "required": False}}
for base in (A, B):
    s, t = req(base, "POST", "/v1/models", json.dumps({"name": "k", "task": "binary", "learner": "logistic", "schema": schema}))
    out(s == 201, "create on " + base)
# the same 200 rows learned by both: probabilities away from 1/2
rows = []
for i in range(200):
    x = (i % 13) / 3.0 - 2
    rows.append({"id": "l%d" % i, "features": {"x": x, "y": (i % 7) - 3.0, "c": "abcd"[i % 4], "\u00e9": i % 5},
                 "label": "1" if x + (i % 4 == 1) > 0 else "0"})
for base in (A, B):   # in bodies under --max-body
    st = [req(base, "POST", "/v1/models/k/learn", json.dumps({"instances": rows[i:i + 20]}))
          for i in range(0, len(rows), 20)]
    out(all(s == 200 for s, _ in st), "learn on " + base + " " + st[-1][1][:80])
for base in (A, B):
    for _ in range(200):
        s, t = req(base, "GET", "/v1/models/k")
        if json.loads(t).get("labels_seen") == 200:
            break
        time.sleep(0.05)
    out(json.loads(t).get("labels_seen") == 200, "200 labels learned by " + base)

GEN = re.compile(r'"ev-[0-9a-f]{16}"')
def same(name, body, status=200, error=None, fast=None):
    fa0 = counters(A)
    (sa, ta), (sb, tb) = both("POST", "/v1/models/k/predict", body)
    fa1 = counters(A)
    na, nb = GEN.sub('"ev-X"', ta), GEN.sub('"ev-X"', tb)
    out(sa == sb and na == nb, name + ": same answer (fast %d %s | jansson %d %s)" % (sa, ta[:300], sb, tb[:300]))
    out(sa == status, name + ": status %d (got %d)" % (status, sa))
    if error:
        try:
            d = json.loads(ta)
            out(set(d) == {"error", "field", "reason"} and d["error"] == error,
                name + ": error '%s' (got %s)" % (error, ta[:200]))
        except ValueError:
            out(False, name + ": error body is JSON (got %s)" % ta[:200])
    if fast is not None:
        used = fa1[0] - fa0[0] == 1
        out(used == fast, name + ": %s parsed it" % ("the fast path" if fast else "jansson"))
    return ta

inst = [
    '{"id":"a1","features":{"x":1e2,"c":"a"}}',
    '{"id":"a2","features":{"x":-0,"y":-0.0,"c":"b","d":null}}',
    '{"id":"a3","features":{"x":1.5E-3,"y":-2.5e+1,"c":"\\u00e9t\\u00e9","\\u00e9":3}}',
    '{"features":{"x":9007199254740993,"c":"c","q\\"k":1}}',
    '{"id":"a5","features":{"x":-9223372036854775808,"c":"d","d":"\\n\\t\\"\\\\\\/"}}',
    '{"id":"a6","features":{"x":4.9e-324,"y":1e-400,"c":"a","\\u00E9":-1e-400}}',
    ' { "id" : "a7" , "features" : { "x" : 2.2250738585072011e-308 ,\n\t"c" : "b" } } ',
    '{"id":null,"weight":2,"features":{"c":"c","x":0.1,"d":"dd"}}',
    '{"features":{"x":123456789012345678,"c":"a","y":null},"id":"a9"}',
    '{"id":"b1","features":{"x":100,"c":"a"}}',
    '{"id":"b2","features":{"x":0,"y":0,"c":"b","d":null}}',
    '{"id":"b3","features":{"x":0.30000000000000004,"c":"a"}}',
    '{"id":"b4","features":{"x":0.3,"c":"a"}}',
    # more than 19 significant digits (simdjson 3.0.1 gets these wrong: fuzz_fastjson)
    '{"id":"c1","features":{"x":0.1000000000000000055511151231257827021181583404541015625,"c":"a"}}',
    '{"id":"c2","features":{"x":0.1,"c":"a"}}',
    '{"id":"c3","features":{"x":999999999998.9999999999999999999999999,"y":1.00000000000000000000001,"c":"a"}}',
    '{"id":"c4","features":{"x":999999999999,"y":1,"c":"a"}}',
    '{"id":"c5","features":{"x":9223372036854775807,"y":-1234567890123456789012345678901234567890e-39,"c":"a"}}',
]
t = same("batch of plain values", '{"instances":[' + ",".join(inst) + ']}', fast=True)
try:
    p = {d["id"]: d for d in json.loads(t)["predictions"]}
    out(p["a1"]["proba"] == p["b1"]["proba"], "1e2 and 100 give the same probabilities")
    out(p["a2"]["proba"] == p["b2"]["proba"], "-0, -0.0 and 0 give the same probabilities")
    out(p["c1"]["proba"] == p["c2"]["proba"], "0.1's 55-digit decimal and 0.1 give the same probabilities")
    out(p["c3"]["proba"] == p["c4"]["proba"], "25- and 37-digit reals round as strtod does")
    out(any(abs(v - 0.5) > 0.01 for d in p.values() for v in d["proba"].values()), "the model has learned (p != 1/2)")
except Exception as ex:
    out(False, "batch answer readable: %r" % ex)
same("single form", '{"id":"s1","features":{"x":-1.25e1,"c":"d","\\u00e9":7}}', fast=True)
same("single form without id", '{"features":{"c":"a","x":3}}', fast=True)
same("one instance batch", '{"instances":[{"features":{"x":2,"c":"b"}}]}', fast=True)
# bodies the fast path leaves to jansson but that succeed
same("surrogate pair in a value", '{"instances":[{"id":"p1","features":{"x":1,"c":"\\ud83d\\ude00"}}]}', fast=False)
same("surrogate pair in a name is an unknown feature", '{"instances":[{"features":{"x":1,"c":"a","\\ud83d\\ude00":1}}]}', 400, "unknown_feature")

ok1 = '{"features":{"x":1,"c":"a"}}'
def bad(name, second, status, error, raw=None):
    body = raw if raw is not None else '{"instances":[' + ok1 + ',' + second + ']}'
    same(name, body, status, error)
bad("unknown feature", '{"features":{"x":1,"c":"a","zz":1}}', 400, "unknown_feature")
bad("string for a number", '{"features":{"x":"1","c":"a"}}', 400, "bad_type")
bad("number for a category", '{"features":{"x":1,"c":2}}', 400, "bad_type")
bad("boolean", '{"features":{"x":true,"c":"a"}}', 400, "bad_type")
bad("array value", '{"features":{"x":[1],"c":"a"}}', 400, "bad_nesting")
bad("object value", '{"features":{"x":1,"c":{}}}', 400, "bad_nesting")
bad("1e999 (Inf)", '{"features":{"x":1e999,"c":"a"}}', 400, "malformed_json")
bad("-1e999", '{"features":{"x":-1e999,"c":"a"}}', 400, "malformed_json")
bad("NaN", '{"features":{"x":NaN,"c":"a"}}', 400, "malformed_json")
bad("1e308 overflows a float", '{"features":{"x":1e308,"c":"a"}}', 400, "bad_feature")
bad("missing required", '{"features":{"c":"a"}}', 400, "missing_feature")
bad("null required", '{"features":{"x":null,"c":"a"}}', 400, "missing_feature")
bad("no features", '{"id":"z1"}', 400, "missing_field")
bad("features not an object", '{"features":[1]}', 400, "bad_nesting")
bad("instance not an object", '3', 400, "bad_request")
bad("duplicate feature", '{"features":{"x":1,"x":2,"c":"a"}}', 400, "malformed_json")
bad("duplicate id", '{"id":"a","id":"b","features":{"x":1,"c":"a"}}', 400, "malformed_json")
bad("lone surrogate", '{"features":{"x":1,"c":"\\ud800"}}', 400, "malformed_json")
bad("NUL in a string", '{"features":{"x":1,"c":"a\\u0000b"}}', 400, "malformed_json")
bad("integer beyond int64", '{"features":{"x":99999999999999999999,"c":"a"}}', 400, "malformed_json")
bad("integer just beyond int64", '{"features":{"x":9223372036854775808,"c":"a"}}', 400, "malformed_json")
bad("label in predict", '{"label":"1","features":{"x":1,"c":"a"}}', 400, "unknown_field")
bad("unknown instance key", '{"foo":1,"features":{"x":1,"c":"a"}}', 400, "unknown_field")
bad("id with a space", '{"id":"a b","features":{"x":1,"c":"a"}}', 400, "bad_id")
bad("numeric id", '{"id":7,"features":{"x":1,"c":"a"}}', 400, "bad_id")
bad("weight 0", '{"weight":0,"features":{"x":1,"c":"a"}}', 400, "bad_weight")
bad("weight as a string", '{"weight":"2","features":{"x":1,"c":"a"}}', 400, "bad_weight")
bad("truncated", None, 400, "malformed_json", raw='{"instances":[' + ok1 + ',{"features":{"x":1,')
bad("trailing text", None, 400, "malformed_json", raw='{"instances":[' + ok1 + ']} x')
bad("trailing brace", None, 400, "malformed_json", raw='{"instances":[' + ok1 + ']}}')
bad("missing comma", None, 400, "malformed_json", raw='{"instances":[' + ok1 + ' ' + ok1 + ']}')
bad("empty batch", None, 400, "bad_batch", raw='{"instances":[]}')
bad("instances not an array", None, 400, "bad_nesting", raw='{"instances":{}}')
bad("instances and another key", None, 400, "unknown_field", raw='{"instances":[' + ok1 + '],"id":"x"}')
bad("key before instances", None, 400, "unknown_field", raw='{"id":"x","instances":[' + ok1 + ']}')
bad("body not an object", None, 400, "bad_request", raw='[' + ok1 + ']')
bad("invalid UTF-8", None, 400, "malformed_json", raw=b'{"instances":[{"features":{"x":1,"c":"\xff"}}]}')
bad("raw control character", None, 400, "malformed_json", raw='{"instances":[{"features":{"x":1,"c":"a\x01"}}]}')
bad("413 over --max-body", None, 413, "too_large", raw='{"instances":[' + ",".join([ok1] * 200) + ']}')

# the fast path's logged event stores the request's features and joins
s, t = req(A, "POST", "/v1/models/k/predict", '{"instances":[{"id":"ev1","features":{"x":0.5,"c":"b","d":null}}]}')
out(s == 200, "logged prediction")
for _ in range(100):
    s, t = req(A, "POST", "/v1/models/k/labels", '{"id":"ev1","label":"1"}')
    if s != 404:
        break
    time.sleep(0.05)
out(s == 200 and json.loads(t)["status"] == "joined", "its label joins (%d %s)" % (s, t))
s, t = req(A, "GET", "/v1/models/k/labels?after=0")
try:
    ls = [l for l in json.loads(t)["labels"] if l["id"] == "ev1"]
    out(len(ls) == 1 and ls[0]["features"] == {"x": 0.5, "c": "b", "d": None}, "stored features = the request's (%s)" % t[-200:])
except Exception as ex:
    out(False, "labels export readable: %r %s" % (ex, t[:200]))
PY
cat "$TMP/py.out"
T_PASS=$((T_PASS + $(grep -c '^ok ' "$TMP/py.out")))
T_FAIL=$((T_FAIL + $(grep -c '^FAIL ' "$TMP/py.out")))
grep -q Traceback "$TMP/py.out" && fail "python driver crashed"

serve_stop
check "fast server stopped cleanly" test "$STOP_RC" = 0
kill -TERM "$PID2" 2>/dev/null; wait "$PID2" 2>/dev/null; PID2=""
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/b.err"; then
  fail "sanitizer report from the jansson server"; head -40 "$TMP/b.err"
fi
finish
