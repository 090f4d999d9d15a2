-- wrk script: replays the requests of $BENCH_REQUESTS (one per line, tab-separated
-- METHOD, PATH, TOKEN, BODY), each thread starting at its own offset, round robin.
-- done() prints the percentiles wrk's --latency leaves out (p95) and the count of
-- non-2xx answers by status, as "BENCH <name> <value>" lines for tests/bench.
local reqs = {}
local counter = 0
local statuses = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(statuses, thread)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local m, p, t, b = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    if m then
      local headers = {["Authorization"] = "Bearer " .. t}
      if b ~= "" then headers["Content-Type"] = "application/json" else b = nil end
      reqs[#reqs + 1] = wrk.format(m, p, headers, b)
    end
  end
  n = (id * 7919) % #reqs
  bad = {}
end

function request()
  n = n + 1
  if n > #reqs then n = 1 end
  return reqs[n]
end

function response(status, headers, body)
  if status >= 300 then bad[status] = (bad[status] or 0) + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("BENCH p50_ms %.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("BENCH p95_ms %.2f\n", latency:percentile(95) / 1000))
  io.write(string.format("BENCH p99_ms %.2f\n", latency:percentile(99) / 1000))
  for _, t in ipairs(statuses) do
    local b = t:get("bad")
    if b then
      for status, count in pairs(b) do io.write(string.format("BENCH status_%d %d\n", status, count)) end
    end
  end
end
