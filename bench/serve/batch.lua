-- batch.lua — wrk script: POST {"instances": [100 x the 25-feature body]}
-- to /v1/models/bench/predict (batch predictions).
local f = io.open("bench/serve/body.json")
local one = f:read("*a"); f:close()
local n = tonumber(os.getenv("BATCH") or "100")
local parts = {}
for i = 1, n do parts[i] = one end
wrk.method = "POST"
wrk.body = '{"instances":[' .. table.concat(parts, ",") .. ']}'
wrk.path = "/v1/models/bench/predict"
wrk.headers["Content-Type"] = "application/json"
