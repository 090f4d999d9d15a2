# shellcheck shell=bash
# tests/bench.d/ratelimit.sh - the "ratelimit" suite of tests/bench (sourced by it: uses $repo
# $base $work $duration $admin run_wrk-like wrk calls and replace_block): the classes reads
# (GET by id, GET list; 100 connections) with rate limiting off (SMS_RATELIMIT=0) and on
# (every request charged to its IP and user bucket, limits set so high that none refuses: the
# limiter's cost, not its refusals), alternated off/on/off/on in one run so that drift of a
# shared machine falls on both. Restores the default gateway at the end (tests/bench's cleanup).
lifted="SMS_RATELIMIT_IP_RATE=100000000 SMS_RATELIMIT_IP_BURST=100000000 SMS_RATELIMIT_USER_RATE=100000000 SMS_RATELIMIT_USER_BURST=100000000 SMS_MAX_CONNECTIONS_PER_IP=100000"
rl_c=${SMS_BENCH_RATELIMIT_CONNECTIONS:-100}
lec="bench-rl-$(date +%s)"
token=$("$admin" token --sub "$lec" --role lecturer --ttl 7200)
for i in $(seq 1 20); do
  curl -fsS -X POST "$base/lecturer/classes" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"code\":\"RL$i\",\"name\":\"Rate class $i\",\"term\":\"2025-fall\"}" -o "$work/rl_class.json"
done
rl_class=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["id"])' "$work/rl_class.json")
: > "$work/rl_rows"
restore_gw=1
al_env=""
[ "$access_log" != keep ] && al_env="SMS_ACCESS_LOG=$access_log"
for round in 1 2; do
  for mode in off on; do
    # shellcheck disable=SC2086 # word splitting of the settings is intended
    if [ "$mode" = off ]; then env SMS_RATELIMIT=0 $al_env deploy/ctl restart gateway >/dev/null
    else env $lifted $al_env deploy/ctl restart gateway >/dev/null; fi
    deploy/ctl wait-ready 60 >/dev/null
    for what in "GET /lecturer/classes/{id}|/lecturer/classes/$rl_class" "GET /lecturer/classes|/lecturer/classes"; do
      name=${what%%|*} path=${what#*|}
      echo "==> ratelimit $mode (round $round): $name, $rl_c connections, ${duration}s"
      gw=$(cat "$SMS_RUN_DIR/gateway.pid")
      cpu0=$(awk '{print $14 + $15}' "/proc/$gw/stat")
      BENCH_TOKEN=$token BENCH_PATH=$path wrk -t2 -c"$rl_c" -d"${duration}s" --timeout 10s --latency \
        -s tests/bench.d/get.lua "$base" > "$work/rl_wrk.out" 2>&1 || true
      cpu1=$(awk '{print $14 + $15}' "/proc/$gw/stat")
      python3 - "$work/rl_wrk.out" "$name" "$mode" "$round" "$((cpu1 - cpu0))" "$(getconf CLK_TCK)" >> "$work/rl_rows" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def lat(p):
    m = re.search(r'^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$' % p, text, re.M)
    if not m: return float('nan')
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == 'us' else v * 1000 if u == 's' else v
rps = re.search(r'Requests/sec:\s+([\d.]+)', text)
non2xx = re.search(r'Non-2xx or 3xx responses:\s+(\d+)', text)
reqs = re.search(r'(\d+) requests in', text)
n = int(reqs.group(1)) if reqs else 0
cpu_us = int(sys.argv[5]) / int(sys.argv[6]) * 1e6 / n if n else float('nan')  # gateway CPU per request
print('| %s | %s | %s | %.0f | %.2f | %.2f | %d | %.1f |' % (sys.argv[2], sys.argv[3], sys.argv[4],
      float(rps.group(1)) if rps else 0, lat(50), lat(99), int(non2xx.group(1)) if non2xx else 0, cpu_us))
PY
      tail -1 "$work/rl_rows"
    done
  done
done
python3 - "$work/rl_rows" "$duration" "$rl_c" <<'PY' > "$work/rl_table.md"
import sys, datetime, statistics
rows = [[c.strip() for c in r.strip().strip('|').split('|')] for r in open(sys.argv[1]) if r.strip()]
print('Run: %s, wrk -t2, %s connections, %ss per row, rate limiting off/on alternated twice, loopback, 2 cores shared.\n'
      % (datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC'), sys.argv[3], sys.argv[2]))
print('| endpoint | rate limiting | round | rps | p50 ms | p99 ms | non-2xx | gateway CPU µs/request |')
print('|---|---|---|---|---|---|---|---|')
for r in rows: print('| ' + ' | '.join(r) + ' |')
print()
for name in dict.fromkeys(r[0] for r in rows):
    off = statistics.mean(float(r[3]) for r in rows if r[0] == name and r[1] == 'off')
    on = statistics.mean(float(r[3]) for r in rows if r[0] == name and r[1] == 'on')
    c_off = statistics.mean(float(r[7]) for r in rows if r[0] == name and r[1] == 'off')
    c_on = statistics.mean(float(r[7]) for r in rows if r[0] == name and r[1] == 'on')
    print('- %s: on = %.1f%% of off (mean of the rounds: %.0f vs %.0f rps); gateway CPU per request %.1f vs %.1f µs'
          % (name, 100 * on / off if off else 0, on, off, c_on, c_off))
PY
cat "$work/rl_table.md"
replace_block ratelimit "Rate limiting on vs off (issue 12)" "$work/rl_table.md"
echo "==> BENCHMARKS.md updated (ratelimit)"
