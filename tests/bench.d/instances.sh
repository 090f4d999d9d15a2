# shellcheck shell=bash
# tests/bench.d/instances.sh - the "instances" suite of tests/bench (sourced by it: uses $repo
# $base $admin $work $duration and replace_block): the same mixed load (tests/bench.d/
# mixed_keyed.lua: 4 GETs of a class list to 1 keyed POST of a class) with one instance of
# every service, then with two (SMS_INSTANCES=2: two gateways behind nginx), then a rolling
# restart (deploy/ctl restart --rolling) under it; the system is left with one instance.
lifted=(SMS_MAX_CONNECTIONS_PER_IP=100000 SMS_RATELIMIT_IP_RATE=100000000 SMS_RATELIMIT_IP_BURST=100000000
  SMS_RATELIMIT_USER_RATE=100000000 SMS_RATELIMIT_USER_BURST=100000000)
conns_i=${SMS_BENCH_INSTANCES_CONNECTIONS:-50}
for i in 1 2 3 4; do "$admin" token --sub "bench-inst-$i" --role lecturer | tail -n 1; done >"$work/inst_tokens"

# wrk_mixed SECONDS TAG: one wrk run through $base; prints "requests rps p50 p99 non2xx sockerr"
wrk_mixed() {
  BENCH_TOKENS=$work/inst_tokens BENCH_RUN=$2$(date +%s) wrk -t 2 -c "$conns_i" -d "$1s" --timeout 10s --latency \
    -s tests/bench.d/mixed_keyed.lua "$base" >"$work/wrk_$2.txt" 2>&1 || true
  awk '/requests in/ { req = $1 } /Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
       /Non-2xx/ { bad = $NF } /Socket errors/ { gsub(",", ""); se = $4 + $6 + $8 + $10 }
       END { printf "%s %s %s %s %d %d\n", req, rps, p50, p99, bad, se }' "$work/wrk_$2.txt"
}

switch_to() { # switch_to N: every service with N instances (N > 1: behind the balancer)
  echo "==> instances: restarting every service with SMS_INSTANCES=$1"
  env "${lifted[@]}" SMS_ACCESS_LOG=sample:100 SMS_INSTANCES="$1" deploy/ctl restart-services >/dev/null
  SMS_INSTANCES=$1 deploy/ctl wait-ready 120 >/dev/null
  sleep 5 # every consumer group settled (a rebalance on each join)
}

switch_to 1
wrk_mixed 3 warm1 >/dev/null
read -r r1 rps1 p50_1 p99_1 bad1 se1 < <(wrk_mixed "$duration" one)
switch_to 2
wrk_mixed 3 warm2 >/dev/null
read -r r2 rps2 p50_2 p99_2 bad2 se2 < <(wrk_mixed "$duration" two)
echo "==> instances: rolling restart of every process under the same load"
roll_t0=$(date +%s)
(env "${lifted[@]}" SMS_ACCESS_LOG=sample:100 SMS_INSTANCES=2 deploy/ctl restart --rolling >"$work/rolling.txt" 2>&1; echo $? >"$work/rolling.rc") &
roll_pid=$!
rr=0 rbad=0 rse=0 segs=0
while kill -0 "$roll_pid" 2>/dev/null; do
  read -r a _ _ _ b c < <(wrk_mixed 5 "roll$segs")
  rr=$((rr + a)) rbad=$((rbad + b)) rse=$((rse + c)) segs=$((segs + 1))
done
wait "$roll_pid" || true
roll_s=$(($(date +%s) - roll_t0))
nroll=$(grep -c 'restarted and ready' "$work/rolling.txt" || true)
switch_to 1
load=$(uptime | sed 's/.*load average: //')
{
  printf '%s, %s cores, `uptime` load average after the run: %s. wrk -t 2 -c %s, %s s per run, the\n' \
    "$(date -u +%F)" "$(nproc)" "$load" "$conns_i" "$duration"
  printf 'mixed load of tests/bench.d/mixed_keyed.lua (4 GET /lecturer/classes?limit=20 : 1 keyed POST /lecturer/classes).\n\n'
  printf '| instances of every service | requests | req/s | p50 | p99 | non-2xx | socket errors |\n|---|---|---|---|---|---|---|\n'
  printf '| 1 (gateway direct) | %s | %s | %s | %s | %s | %s |\n' "$r1" "$rps1" "$p50_1" "$p99_1" "$bad1" "$se1"
  printf '| 2 (two gateways behind nginx) | %s | %s | %s | %s | %s | %s |\n' "$r2" "$rps2" "$p50_2" "$p99_2" "$bad2" "$se2"
  printf '\nRolling restart (`deploy/ctl restart --rolling`, 2 instances, exit %s): %s processes one at a time in %s s,\n' \
    "$(cat "$work/rolling.rc")" "$nroll" "$roll_s"
  printf 'under the same load in %s wrk runs of 5 s: %s requests, %s non-2xx, %s socket errors.\n' "$segs" "$rr" "$rbad" "$rse"
} >"$work/instances_table.md"
cat "$work/instances_table.md"
replace_block instances "One vs two instances, rolling restart (issue 13 §5)" "$work/instances_table.md"
echo "==> BENCHMARKS.md updated (instances)"
