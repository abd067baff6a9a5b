-- labels.lua — wrk script: POST labels for pre-logged events e<k> (k unique
-- per request: thread t of T sends k = t, t+T, ...), one per request or BATCH
-- per request ({"labels": [...]}). Every request is a new durable write.
-- env THREADS must equal wrk's -t (the stride between a thread's ids);
-- PREFIX (default "e") is the id prefix of the logged events.
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  nthreads = tonumber(os.getenv("THREADS") or "2")
  k = tid + tonumber(os.getenv("START") or "0")
  batch = tonumber(os.getenv("BATCH") or "1")
  path = os.getenv("TIDE_PATH") or "/v1/models/bench/labels"
  prefix = os.getenv("PREFIX") or "e"
end
function request()
  local body
  if batch == 1 then
    body = '{"id":"' .. prefix .. k .. '","label":"' .. (k % 2) .. '"}'
    k = k + nthreads
  else
    local parts = {}
    for i = 1, batch do
      parts[i] = '{"id":"' .. prefix .. k .. '","label":"' .. (k % 2) .. '"}'
      k = k + nthreads
    end
    body = '{"labels":[' .. table.concat(parts, ",") .. ']}'
  end
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end
