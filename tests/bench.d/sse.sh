# shellcheck shell=bash
# tests/bench.d/sse.sh - the "sse" suite of tests/bench (sourced by it: uses $repo $base
# $work $SMS_JWT_SECRET and replace_block). tests/bench.d/sse.py: SMS_BENCH_SSE_STUDENTS
# streams (default 1000) each get SMS_BENCH_SSE_POSTS posts (default 5), timed from the 201 to
# the event on every stream; then idle streams up to SMS_BENCH_SSE_IDLE (default 10000) in all,
# with the gateway's RSS at each step.
py=${SMS_CACHE:-$HOME/.cache/sms}/venv/bin/python
echo "==> sse: ${SMS_BENCH_SSE_STUDENTS:-1000} streams, ${SMS_BENCH_SSE_POSTS:-5} posts, ${SMS_BENCH_SSE_IDLE:-10000} streams in all at the end"
"$py" tests/bench.d/sse.py "$base" "$SMS_JWT_SECRET" "$work/sse_table.md" --students "${SMS_BENCH_SSE_STUDENTS:-1000}" \
  --posts "${SMS_BENCH_SSE_POSTS:-5}" --idle "${SMS_BENCH_SSE_IDLE:-10000}"
replace_block sse "Live push: SSE (issue 4)" "$work/sse_table.md"
echo "==> BENCHMARKS.md updated (sse)"
