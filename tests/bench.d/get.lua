-- wrk script: GET $BENCH_PATH with the bearer token in $BENCH_TOKEN.
local path = os.getenv("BENCH_PATH")
local auth = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
function request()
  return wrk.format("GET", path, {["Authorization"] = auth})
end
