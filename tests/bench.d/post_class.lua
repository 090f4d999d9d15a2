-- wrk script: POST /lecturer/classes with a unique code per request, spread
-- over several lecturers (tokens from $BENCH_TOKENS, one per line) so the
-- commands land on every partition of sms.commands.classes.
local tokens = {}
local counter = 0
local thread_id = 0
local run = os.getenv("BENCH_RUN") or tostring(os.time())

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

local n = 0
function request()
  n = n + 1
  local tok = tokens[(n % #tokens) + 1]
  local body = string.format('{"code":"B%s-%d-%d","name":"Benchmark class","term":"2025-fall"}', run, thread_id, n)
  return wrk.format("POST", "/lecturer/classes",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tok}, body)
end
