-- predict.lua — wrk script: POST the 25-feature body (body.json) to PATH
-- (env TIDE_PATH, default /v1/models/bench/predict). With env RATE (requests/s
-- over all connections) and CONNS, each connection waits CONNS*1000/RATE ms
-- between requests, giving a fixed offered load for latency percentiles
-- (wrk's delay has 1 ms resolution: run.sh uses RATE = CONNS*1000).
local f = io.open(os.getenv("BODY") or "bench/serve/body.json")
local body = f:read("*a"); f:close()
wrk.method = "POST"
wrk.body = body
wrk.path = os.getenv("TIDE_PATH") or "/v1/models/bench/predict"
wrk.headers["Content-Type"] = "application/json"
local rate, conns = tonumber(os.getenv("RATE") or "0"), tonumber(os.getenv("CONNS") or "1")
if rate > 0 then
  function delay() return conns * 1000 / rate end
end
