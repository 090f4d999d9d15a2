# shellcheck shell=bash
# shellcheck disable=SC2154 # $base $admin $work $duration ... are set by tests/bench, which sources this
# tests/bench.d/capacity.sh - the "capacity" suite of tests/bench (sourced by it: uses $repo
# $base $admin $work $SMS_RUN_DIR $SMS_JWT_SECRET, $duration when --duration was given,
# $profile for --profile, and replace_block).
#
#   1. `sms-admin seed scale` (as the school-day suite: same sizes and --run, so the two share data);
#   2. the school-day mix and its writes alone (schoolday_prepare.py, --writes-only) as vegeta targets;
#   3. for each mix, open-loop steps at rising rates until one fails p99 <= 100 ms / 0 errors
#      (capacity.py steps): the last passing rate is the capacity at the SLO; CPU per request
#      by process for every step;
#   4. with --profile, perf on the two busiest native processes under the write-only mix.
# Knobs: SMS_BENCH_CAPACITY_RATES / SMS_BENCH_CAPACITY_WRITE_RATES (the steps, requests/s),
# SMS_BENCH_CAPACITY_MIXES ("schoolday writes"), SMS_BENCH_PROFILE_RATE (default: the highest
# write-only rate stepped, the first that failed: where the write path is busiest).
cap_duration=${duration_given:+$duration}
cap_duration=${cap_duration:-${SMS_BENCH_CAPACITY_DURATION:-60}}
cap_rates=${SMS_BENCH_CAPACITY_RATES:-100 250 500 750 1000 1500 2000 3000 4000 5000 6000 8000 10000 12000 15000}
cap_write_rates=${SMS_BENCH_CAPACITY_WRITE_RATES:-50 100 200 300 400 600 800 1000 1500 2000 3000 4000 6000 8000 10000}
cap_mixes=${SMS_BENCH_CAPACITY_MIXES:-schoolday writes}
cap_run=${SMS_BENCH_SEED_RUN:-bench}
cap_lecturers=${SMS_BENCH_LECTURERS:-10}
py=${SMS_CACHE:-$HOME/.cache/sms}/venv/bin/python
vegeta=$(tests/bench.d/install-loadgen.sh)
if [ "${profile:-0}" = 1 ] && ! perf stat -e cpu-clock true >/dev/null 2>&1; then
  echo "--profile needs a working perf (Debian: apt-get install linux-perf)" >&2
  exit 1
fi

echo "==> capacity: seed scale (--classes 50 --students 500 --assignments 180 --run $cap_run)"
"$admin" seed scale --classes 50 --students 500 --assignments 180 --lecturers "$cap_lecturers" \
  --run "$cap_run" > "$work/cap_seed.out" 2> "$work/cap_seed.err" ||
  { cat "$work/cap_seed.err" >&2; exit 1; }
tail -3 "$work/cap_seed.out"

echo "==> capacity: building the request lists from the seeded data"
"$py" tests/bench.d/schoolday_prepare.py "$base" "$SMS_JWT_SECRET" "$cap_run" "$cap_lecturers" "$work/cap_schoolday.tsv" 20000
"$py" tests/bench.d/schoolday_prepare.py --writes-only "$base" "$SMS_JWT_SECRET" "$cap_run" "$cap_lecturers" \
  "$work/cap_writes.tsv" 20000
for mix in schoolday writes; do
  "$py" tests/bench.d/capacity.py targets "$work/cap_$mix.tsv" "$base" "$work/cap_$mix.json"
done

# cap_steps MIX TITLE RATES: the open-loop steps of one mix -> $work/cap_MIX.md and .summary
cap_steps() {
  "$py" tests/bench.d/capacity.py steps --vegeta "$vegeta" --targets "$work/cap_$1.json" \
    --run-dir "$SMS_RUN_DIR" --name "$2" --rates "$3" --duration "$cap_duration" \
    --work "$work" --json "$work/cap_$1.summary" --markdown "$work/cap_$1.md"
}

: > "$work/cap_table.md"
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), vegeta $(tests/bench.d/install-loadgen.sh --version) open loop"\
    "(constant arrival rate, latency from the intended send time), ${cap_duration} s per step, loopback,"\
    "everything (Kafka, Redis, services, vegeta) on this 2-core machine."
  echo
} >> "$work/cap_table.md"
for mix in $cap_mixes; do
  case $mix in
    schoolday) cap_steps schoolday "school-day mix" "$cap_rates" ;;
    writes) cap_steps writes "write-only mix" "$cap_write_rates" ;;
    *) echo "unknown mix '$mix' in SMS_BENCH_CAPACITY_MIXES (schoolday, writes)" >&2; exit 2 ;;
  esac
  cat "$work/cap_$mix.md" >> "$work/cap_table.md"
  echo >> "$work/cap_table.md"
done

if [ "${profile:-0}" = 1 ]; then
  prof_rate=${SMS_BENCH_PROFILE_RATE:-}
  if [ -z "$prof_rate" ] && [ -s "$work/cap_writes.summary" ]; then
    prof_rate=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][-1]["rate"])' \
      "$work/cap_writes.summary")
  fi
  prof_rate=${prof_rate:-${cap_write_rates%% *}}
  prof_dir=$SMS_RUN_DIR/profile
  "$py" tests/bench.d/capacity.py profile --vegeta "$vegeta" --targets "$work/cap_writes.json" \
    --run-dir "$SMS_RUN_DIR" --name "write-only mix" --rate "$prof_rate" --out-dir "$prof_dir" \
    --markdown "$work/cap_profile.md"
  cat "$work/cap_profile.md" >> "$work/cap_table.md"
  echo "==> full perf reports in $prof_dir/*.txt (perf report -i $prof_dir/NAME.perf.data for more)"
fi

{
  echo "How to read it: a step passes when every answer is a 2xx and p99 (from the intended send time)"
  echo "is <= 100 ms, and vegeta sent >= 99 % of its requests with a send lag p99 <= 25 ms (a starved"
  echo "generator fails the step instead of flattering it). CPU per request = each process's utime+stime"
  echo "(/proc/PID/stat; vegeta's from its rusage) from the start of the load until our processes are"
  echo "back to idle (so fan-out and projections a step caused are in it), over the requests answered;"
  echo "\"not ours\" is the rest of the machine's busy CPU (other work sharing it) over the same window."
} >> "$work/cap_table.md"
cat "$work/cap_table.md"
replace_block capacity "Capacity at the latency objective (issue 10)" "$work/cap_table.md"
echo "==> BENCHMARKS.md updated (capacity)"
