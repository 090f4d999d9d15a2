#!/usr/bin/env bash
# tests/bench.d/install-loadgen.sh - installs the open-loop load generator of the capacity
# suite (vegeta, pinned) into $SMS_CACHE/tools/vegeta when it is not there, and prints the
# path of its binary. Called by tests/bench.d/capacity.sh; safe to run by hand.
#
# Why vegeta: it sends at a constant arrival rate whatever the answers do (a new worker per
# blocked tick, so a slow system does not slow the sender), replays a targets file with a
# method, URL, headers and body per line (the school-day list with its per-user tokens maps
# 1:1), and records every request (start time, sequence number, status, latency), from which
# capacity.py measures latency from the intended send time. oha corrects latency itself but
# takes one URL, method and body per process; k6 runs a JavaScript VM per virtual user (CPU
# the 2 shared cores cannot spare) and its licence rules it out here.
# `install-loadgen.sh --version` prints the pinned version only.
set -euo pipefail

VEGETA_VERSION=v12.13.0
if [[ ${1:-} == --version ]]; then
  echo "$VEGETA_VERSION"
  exit 0
fi
SMS_CACHE=${SMS_CACHE:-${HOME:-/root}/.cache/sms}
prefix=$SMS_CACHE/tools/vegeta
bin=$prefix/bin/vegeta
marker=$prefix/.version

if [[ -x $bin && -f $marker && $(<"$marker") == "$VEGETA_VERSION" ]]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null 2>&1 || {
  echo "install-loadgen: 'go' not found; vegeta $VEGETA_VERSION is built from the Go module proxy (install Go >= 1.22)" >&2
  exit 1
}
echo "==> installing vegeta $VEGETA_VERSION into $prefix (go install)" >&2
mkdir -p "$prefix/bin"
GOBIN=$prefix/bin go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" >&2
"$bin" -version >&2
echo "$VEGETA_VERSION" >"$marker"
echo "$bin"
