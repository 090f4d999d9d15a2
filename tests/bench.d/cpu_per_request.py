#!/usr/bin/env python3
"""cpu_per_request.py - CPU microseconds per write, by process, for A/B runs.

Runs against the system of deploy/ctl's environment (eval "$(deploy/ctl env)"):
an idle window, a closed-loop wrk load of POST /lecturer/classes
(tests/bench.d/post_class.lua), then a serial loop of single POSTs on the
otherwise idle system. For each phase it prints, for every process with a pid
file in $SMS_RUN_DIR (services, Redis, the Kafka JVM) and for wrk, the CPU
(utime + stime from /proc/PID/stat) divided by the requests served, plus
rps and latency percentiles. CPU per request is the steady figure on a
shared machine; compare alternatives back to back.

Usage: tests/bench.d/cpu_per_request.py [--duration 15] [--connections 100]
       [--serial 200] [--idle 5] [--label TEXT] [--replay FILE]
"""
import argparse
import glob
import http.client
import json
import os
import re
import subprocess
import sys
import time

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def process_cpu_us(pid):
    """utime + stime of pid in microseconds, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "(comm) ": comm may hold spaces
    return (int(fields[11]) + int(fields[12])) * TICK_US


def managed_pids(run_dir):
    """{name: pid} from every NAME.pid in the run dir whose process is alive."""
    pids = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "*.pid"))):
        try:
            pid = int(open(path).read().strip())
        except (OSError, ValueError):
            continue
        if process_cpu_us(pid) is not None:
            pids[os.path.basename(path)[:-4]] = pid
    return pids


def cpu_snapshot(pids):
    return {name: process_cpu_us(pid) or 0.0 for name, pid in pids.items()}


def cpu_delta(before, after):
    return {name: after[name] - before[name] for name in before if name in after}


def tokens(n, tag):
    admin = os.path.join(os.environ["SMS_BIN_DIR"], "sms-admin")
    out = []
    for i in range(n):
        tok = subprocess.run([admin, "token", "--sub", "cpu-bench-%s-%d" % (tag, i), "--role", "lecturer",
                              "--ttl", "7200"], check=True, capture_output=True, text=True).stdout.strip()
        out.append(tok)
    return out


def wrk_latency_ms(text, pct):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def run_wrk(args, token_file, pids, tag):
    """Closed-loop load; returns (cpu by process incl. wrk, requests, summary dict)."""
    env = dict(os.environ, BENCH_TOKENS=token_file, BENCH_RUN="cpu%s" % tag)
    script = "tests/bench.d/post_class.lua"
    if args.replay:  # a request file of schoolday_prepare.py instead of new classes
        env["BENCH_REQUESTS"] = os.path.abspath(args.replay)
        script = "tests/bench.d/replay.lua"
    cmd = ["wrk", "-t2", "-c%d" % args.connections, "-d%ds" % args.duration, "--timeout", "10s", "--latency",
           "-s", os.path.join(REPO, script), "http://127.0.0.1:%s" % os.environ["SMS_HTTP_PORT"]]
    before = cpu_snapshot(pids)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    cpu = cpu_delta(before, cpu_snapshot(pids))
    cpu["wrk"] = (usage.ru_utime + usage.ru_stime) * 1e6
    if status != 0:
        sys.exit("wrk failed:\n" + out)
    m = re.search(r"(\d+) requests in", out)
    requests = int(m.group(1)) if m else 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    summary = {"rps": requests / args.duration, "p50": wrk_latency_ms(out, 50), "p99": wrk_latency_ms(out, 99),
               "errors": errors}
    return cpu, requests, summary


def run_serial(args, toks, pids, tag):
    """One POST at a time on a keep-alive connection; returns (cpu, requests, summary)."""
    conn = http.client.HTTPConnection("127.0.0.1", int(os.environ["SMS_HTTP_PORT"]), timeout=30)
    lat, errors = [], 0
    before = cpu_snapshot(pids)
    for i in range(args.serial):
        body = json.dumps({"code": "S%s-%d" % (tag, i), "name": "Serial class", "term": "2025-fall"})
        t0 = time.perf_counter()
        conn.request("POST", "/lecturer/classes", body, {"Content-Type": "application/json",
                                                         "Authorization": "Bearer " + toks[i % len(toks)]})
        resp = conn.getresponse()
        resp.read()
        lat.append((time.perf_counter() - t0) * 1000)
        if resp.status // 100 != 2:
            errors += 1
    cpu = cpu_delta(before, cpu_snapshot(pids))
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    return cpu, len(lat), {"rps": 0, "p50": pick(0.50), "p99": pick(0.99), "errors": errors}


def run_idle(seconds, pids):
    before = cpu_snapshot(pids)
    time.sleep(seconds)
    return cpu_delta(before, cpu_snapshot(pids))


def print_table(label, phases, names):
    print("\n### %s\n" % label)
    print("| phase | requests | rps | p50 ms | p99 ms | errors | " + " | ".join(names) + " | total |")
    print("|---|---|---|---|---|---|" + "---|" * (len(names) + 1))
    for phase, (cpu, requests, s) in phases.items():
        per = lambda us: us / requests if requests else float("nan")
        total = sum(cpu.get(n, 0.0) for n in names if n != "wrk")
        cells = ["%.0f" % per(cpu.get(n, 0.0)) for n in names]
        print("| %s | %d | %.0f | %.2f | %.2f | %d | %s | %.0f |" % (phase, requests, s["rps"], s["p50"], s["p99"],
                                                                   s["errors"], " | ".join(cells), per(total)))
    print("\nCells: CPU microseconds per request (total excludes wrk); idle: % of one core.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--serial", type=int, default=200)
    ap.add_argument("--idle", type=int, default=5)
    ap.add_argument("--label", default="cpu per request")
    ap.add_argument("--replay", metavar="FILE", help="wrk replays FILE (tests/bench.d/replay.lua) instead of "
                    "posting classes, e.g. the update-grades requests of schoolday_prepare.py")
    args = ap.parse_args()
    for var in ("SMS_RUN_DIR", "SMS_BIN_DIR", "SMS_HTTP_PORT"):
        if var not in os.environ:
            sys.exit('%s unset: eval "$(deploy/ctl env)" first' % var)
    pids = managed_pids(os.environ["SMS_RUN_DIR"])
    if "gateway" not in pids:
        sys.exit("no gateway running under %s" % os.environ["SMS_RUN_DIR"])
    tag = str(int(time.time()))
    toks = tokens(16, tag)
    token_file = os.path.join(os.environ["SMS_RUN_DIR"], "cpu-bench-tokens")
    with open(token_file, "w") as f:
        f.write("\n".join(toks) + "\n")
    names = list(pids) + ["wrk"]
    phases = {}
    if args.idle:
        idle = run_idle(args.idle, pids)
        # "requests" = seconds x 1e4, so the per-request cells read as percent of one core
        phases["idle (% core)"] = (idle, args.idle * 10000, {"rps": 0, "p50": 0, "p99": 0, "errors": 0})
    if args.serial:
        phases["serial"] = run_serial(args, toks, pids, tag)
    if args.duration:
        phases["%s c%d" % ("replay" if args.replay else "wrk", args.connections)] = run_wrk(args, token_file, pids, tag)
    print_table(args.label, phases, names)


if __name__ == "__main__":
    main()
