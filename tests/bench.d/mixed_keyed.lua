-- wrk script: a mixed load that a client may safely have re-sent (the rolling-restart run and
-- the instances bench): 4 in 5 requests GET /lecturer/classes?limit=20, 1 in 5 a
-- POST /lecturer/classes with a unique code and Idempotency-Key. Tokens from $BENCH_TOKENS
-- (one per line); each connection waits $BENCH_DELAY_MS (default 0) between requests, which
-- keeps the rate under the gateway's per-address limit when that is wanted.
local tokens = {}
local counter = 0
local thread_id = 0
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  thread_id = id
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
end

function delay()
  return pause
end

local n = 0
function request()
  n = n + 1
  local auth = "Bearer " .. tokens[(n % #tokens) + 1]
  if n % 5 ~= 0 then
    return wrk.format("GET", "/lecturer/classes?limit=20", {["Authorization"] = auth})
  end
  local code = string.format("M%s-%d-%d", run, thread_id, n)
  return wrk.format("POST", "/lecturer/classes",
    {["Content-Type"] = "application/json", ["Authorization"] = auth, ["Idempotency-Key"] = "mixed-" .. code},
    string.format('{"code":"%s","name":"Mixed load class","term":"2026-fall"}', code))
end
