# shellcheck shell=bash
# tests/bench.d/rebuild.sh - the "rebuild" suite of tests/bench (sourced by it: uses $repo
# $base $admin $work and replace_block): the RTO of a Redis wipe at seed scale and with
# SMS_BENCH_REBUILD_EVENTS events in the log (default 1000000), tests/bench.d/rebuild.py.
py=${SMS_CACHE:-$HOME/.cache/sms}/venv/bin/python
echo "==> rebuild: RTO at seed scale and with ${SMS_BENCH_REBUILD_EVENTS:-1000000} events in the log"
"$py" tests/bench.d/rebuild.py "$base" "$admin" "$work/rebuild_table.md" --events "${SMS_BENCH_REBUILD_EVENTS:-1000000}"
replace_block rebuild "Rebuild after a Redis loss: RTO (issue 13)" "$work/rebuild_table.md"
echo "==> BENCHMARKS.md updated (rebuild)"
