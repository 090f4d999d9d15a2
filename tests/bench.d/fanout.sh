# shellcheck shell=bash
# tests/bench.d/fanout.sh - the "fanout" suite of tests/bench (sourced by it: uses $repo
# $base $admin $work and replace_block). One class per size in SMS_BENCH_FANOUT_STUDENTS
# (default "1000 10000"), SMS_BENCH_FANOUT_POSTS posts each (default 5), timed by
# tests/bench.d/fanout.py until every inbox item and every sms.notifications message exists.
py=${SMS_CACHE:-$HOME/.cache/sms}/venv/bin/python
echo "==> fan-out: students ${SMS_BENCH_FANOUT_STUDENTS:-1000 10000}, ${SMS_BENCH_FANOUT_POSTS:-5} posts each"
"$py" tests/bench.d/fanout.py "$base" "$admin" "$work/fanout_table.md" \
  --students "${SMS_BENCH_FANOUT_STUDENTS:-1000 10000}" --posts "${SMS_BENCH_FANOUT_POSTS:-5}"
replace_block fanout "Notification fan-out (issue 4)" "$work/fanout_table.md"
echo "==> BENCHMARKS.md updated (fan-out)"
