#!/usr/bin/env python3
"""Open-loop capacity steps and CPU per request by process, for tests/bench's capacity suite
(called by tests/bench.d/capacity.sh). Drives vegeta (tests/bench.d/install-loadgen.sh) at
fixed arrival rates, reads every process's CPU from /proc, and writes Markdown tables.

  targets TSV BASE_URL OUT     schoolday_prepare.py's lines -> a vegeta JSON targets file
  steps   [options]            step the rate up until a step fails; table + JSON summary
  profile [options]            a fixed-rate load while perf samples the two busiest native
                               processes; their top symbols, one file each

Latency is counted from the intended send time, not from when vegeta got round to sending:
vegeta's constant pacer schedules request n at began + n/rate, and each result carries its
sequence number n, its actual start and its latency, so (start + latency) - (began + n/rate)
is the latency a user arriving on schedule saw (no coordinated omission). start - schedule is
the send lag: how far the generator itself fell behind, e.g. when it was starved of CPU.
"""
import argparse
import base64
import csv
import json
import math
import os
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
# A step only counts as run at its rate when the generator sent (almost) all it was asked to
# (at most 1 % fewer), on schedule (--max-send-lag-ms: 99 % of sends within that of their time).
MIN_SENT_RATIO = 0.99
# "Quiet": our processes together back to within this much of a core above their idle use.
QUIET_MARGIN_CORES = 0.10
QUIET_WINDOW_S = 2.0


# ------------------------------------------------------------------ processes and their CPU

def managed_pids(run_dir):
    """{name: pid} for every live process with a pid file in run_dir (services, redis, kafka)."""
    pids = {}
    for entry in sorted(os.listdir(run_dir)):
        if not entry.endswith(".pid"):
            continue
        try:
            pid = int(open(os.path.join(run_dir, entry)).read().strip())
        except (OSError, ValueError):
            continue
        if os.path.exists(f"/proc/{pid}/stat"):
            pids[entry[:-4]] = pid
    return pids


def cpu_seconds(pid):
    """utime + stime of every thread of pid and of its reaped children (Redis's AOF rewrite is
    a forked child), in seconds; None once the process is gone."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # comm may hold spaces and parentheses
    return sum(int(f) for f in fields[11:15]) / CLK_TCK  # utime stime cutime cstime


def machine_busy_seconds():
    """CPU seconds all cores spent not idle since boot (every process on the machine)."""
    values = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


class CpuWindow:
    """CPU seconds of each managed process between start() and stop()."""

    def __init__(self, pids):
        self.pids = pids

    def sample(self):
        return time.monotonic(), machine_busy_seconds(), {n: cpu_seconds(p) for n, p in self.pids.items()}

    def start(self):
        self.t0, self.busy0, self.cpu0 = self.sample()

    def stop(self):
        t1, busy1, cpu1 = self.sample()
        self.seconds = t1 - self.t0
        self.machine = busy1 - self.busy0
        self.by_process = {n: cpu1[n] - self.cpu0[n] for n in self.pids
                           if cpu1.get(n) is not None and self.cpu0.get(n) is not None}
        return self


def cores_in_use(pids, seconds):
    """The cores our processes used together over the next `seconds`."""
    window = CpuWindow(pids)
    window.start()
    time.sleep(seconds)
    window.stop()
    return sum(window.by_process.values()) / window.seconds, window


def wait_quiet(pids, idle_cores, limit_s):
    """Waits until our processes are back near their idle CPU; the seconds it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        cores, _ = cores_in_use(pids, QUIET_WINDOW_S)
        if cores <= idle_cores + QUIET_MARGIN_CORES:
            return time.monotonic() - t0
    return None


# ------------------------------------------------------------------ the load generator

def write_targets(tsv_path, base, out_path):
    """schoolday_prepare.py's METHOD, PATH, TOKEN, BODY lines -> vegeta JSON targets."""
    n = 0
    with open(tsv_path) as src, open(out_path, "w") as dst:
        for line in src:
            method, path, token, body = line.rstrip("\n").split("\t", 3)
            target = {"method": method, "url": base + path, "header": {"Authorization": [f"Bearer {token}"]}}
            if body:
                target["header"]["Content-Type"] = ["application/json"]
                target["body"] = base64.b64encode(body.encode()).decode()
            dst.write(json.dumps(target, separators=(",", ":")) + "\n")
            n += 1
    print(f"{n} targets -> {out_path}")


def spawn_attack(vegeta, targets, rate, duration_s, timeout, out_path):
    """Starts vegeta at `rate` requests/s for `duration_s`; its pid (reap it with os.wait4).
    It runs at nice -5 (where allowed; nice execs it, so the pid and rusage are vegeta's): on a
    busy machine its sends then keep to their schedule instead of queueing behind the system
    under test; its CPU is counted all the same."""
    argv = ["nice", "-n", "-5", vegeta, "attack", "-format=json", f"-targets={targets}", f"-rate={rate}/1s",
            f"-duration={duration_s}s", f"-timeout={timeout}", "-max-body=0", f"-output={out_path}"]
    return os.posix_spawnp("nice", argv, os.environ)


def reap(pid):
    """Waits for pid; (exit status, its CPU seconds from rusage: user + system)."""
    _, status, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def error_kind(code, message):
    if code == 0:
        return "timeout" if "timeout" in message.lower() or "deadline" in message.lower() else "no answer"
    return str(code)


def endpoint(method, url):
    """"POST /classes/{id}/chat": the URL's ids (ULIDs) and query values left out."""
    path, _, query = url.split("/", 3)[-1].partition("?")
    parts = ["{id}" if len(p) >= 16 and p.isalnum() else p for p in path.split("/")]
    keys = "&".join(q.split("=")[0] + "=" for q in query.split("&")) if query else ""
    return f"{method} /" + "/".join(parts) + ("?" + keys if keys else "")


def latency_stats(latency_ms):
    latency_ms.sort()
    return {"n": len(latency_ms), "p50_ms": percentile(latency_ms, 0.50), "p90_ms": percentile(latency_ms, 0.90),
            "p99_ms": percentile(latency_ms, 0.99), "max_ms": latency_ms[-1] if latency_ms else float("nan")}


def seconds_over(latency_by_second, slo_ms):
    """How many one-second slices (by intended send time) had their own p99 above the SLO, and
    the worst slice's p99: tells a few stalls (a GC, an AOF rewrite) from a system slow throughout."""
    p99s = [percentile(sorted(v), 0.99) for v in latency_by_second.values()]
    return sum(1 for p in p99s if p > slo_ms), max(p99s, default=float("nan"))


def read_results(vegeta, results_path, rate, slo_ms):
    """Per-request results -> latency from the intended send time, send lag, errors,
    overall and by endpoint."""
    rows = []
    enc = subprocess.Popen([vegeta, "encode", "-to=csv", results_path], stdout=subprocess.PIPE, text=True)
    for rec in csv.reader(enc.stdout):
        # columns: start ns, status, latency ns, bytes out, bytes in, error, body, name, seq,
        # method, url, headers
        rows.append((int(rec[8]), int(rec[0]), int(rec[2]), int(rec[1]), rec[5], endpoint(rec[9], rec[10])))
    if enc.wait() != 0:
        raise RuntimeError(f"vegeta encode failed on {results_path}")
    interval_ns = 1e9 / rate
    # The pacer never sends request n before began + n/rate, so the smallest start - n/rate is
    # (to within microseconds) the attack's begin time.
    began = min((start - seq * interval_ns for seq, start, *_ in rows), default=0)
    latency, lag, raw, errors, by_endpoint, by_second = [], [], [], {}, {}, {}
    for seq, start, lat, code, message, ep in rows:
        intended = began + seq * interval_ns
        latency.append((start + lat - intended) / 1e6)
        by_second.setdefault(int(seq * interval_ns // 1e9), []).append(latency[-1])
        lag.append((start - intended) / 1e6)
        raw.append(lat / 1e6)
        by_endpoint.setdefault(ep, {"latency": [], "errors": 0})["latency"].append(latency[-1])
        if not 200 <= code < 300:
            kind = error_kind(code, message)
            errors[kind] = errors.get(kind, 0) + 1
            by_endpoint[ep]["errors"] += 1
    lag.sort()
    raw.sort()
    result = latency_stats(latency)
    result.update({
        "sent": len(rows),
        "answered": sum(1 for r in rows if r[3] != 0),
        "errors": errors,
        "raw_p99_ms": percentile(raw, 0.99),
        "lag_p99_ms": percentile(lag, 0.99), "lag_max_ms": lag[-1] if lag else float("nan"),
        "seconds": len(by_second),
        "endpoints": {ep: dict(latency_stats(v["latency"]), errors=v["errors"]) for ep, v in by_endpoint.items()},
    })
    result["seconds_over_slo"], result["worst_second_p99_ms"] = seconds_over(by_second, slo_ms)
    return result


# ------------------------------------------------------------------ one step, the search

def judge(step, slo_ms, max_lag_ms):
    """(passed, reason): the rate actually sent on schedule, 0 errors, p99 within the SLO;
    the reason names every condition that failed."""
    wanted = step["rate"] * step["duration_s"]
    failures = []
    if step["sent"] < MIN_SENT_RATIO * wanted:
        failures.append(f"generator sent {step['sent']} of {wanted:.0f}")
    if step["lag_p99_ms"] > max_lag_ms:
        failures.append(f"generator behind schedule (send lag p99 {step['lag_p99_ms']:.1f} ms)")
    if step["errors"]:
        failures.append("errors " + ", ".join(f"{k}: {v}" for k, v in sorted(step["errors"].items())))
    if step["p99_ms"] > slo_ms:
        failures.append(f"p99 {step['p99_ms']:.1f} ms > {slo_ms:g} ms")
    return not failures, "; ".join(failures) or "ok"


def run_step(args, pids, idle_cores, rate, results_path):
    """One fixed-rate run: the load, then CPU until the system is quiet again (so the
    asynchronous work the step caused, fan-out and projections, is counted in it)."""
    window = CpuWindow(pids)
    window.start()
    pid = spawn_attack(args.vegeta, args.targets, rate, args.duration, args.timeout, results_path)
    status, gen_cpu = reap(pid)
    if status != 0:
        raise RuntimeError(f"vegeta attack exited with {status}")
    attack_s = time.monotonic() - window.t0
    drain_s = wait_quiet(pids, idle_cores, args.drain_limit)
    window.stop()
    step = {"rate": rate, "duration_s": args.duration, "attack_s": attack_s, "drain_s": drain_s,
            "window_s": window.seconds, "cpu": window.by_process, "generator_cpu": gen_cpu,
            "machine_cpu": window.machine}
    step.update(read_results(args.vegeta, results_path, rate, args.slo_ms))
    step["passed"], step["reason"] = judge(step, args.slo_ms, args.max_send_lag_ms)
    return step


def progress_line(step):
    total_cpu = sum(step["cpu"].values()) + step["generator_cpu"]
    per_req = 1e6 * total_cpu / step["answered"] if step["answered"] else float("nan")
    return (f"    rate {step['rate']}/s: sent {step['sent']}, p50 {step['p50_ms']:.1f} ms, "
            f"p99 {step['p99_ms']:.1f} ms (uncorrected {step['raw_p99_ms']:.1f}), "
            f"{step['seconds_over_slo']} of {step['seconds']} s over the SLO, "
            f"send lag p99 {step['lag_p99_ms']:.2f} ms, errors {sum(step['errors'].values())}, "
            f"CPU {per_req:.0f} us/request -> {'PASS' if step['passed'] else 'FAIL: ' + step['reason']}")


def settle(pids, limit_s):
    """Waits until our processes' CPU is steady (three 2 s windows within QUIET_MARGIN_CORES
    of each other): the work a seed or a restart left behind is done before idle is measured."""
    recent, t0 = [], time.monotonic()
    while time.monotonic() - t0 < limit_s:
        recent = (recent + [cores_in_use(pids, QUIET_WINDOW_S)[0]])[-3:]
        if len(recent) == 3 and max(recent) - min(recent) <= QUIET_MARGIN_CORES:
            return True
    return False


def idle_baseline(pids, seconds):
    """Each process's idle CPU (cores) before any load, and the total."""
    cores, window = cores_in_use(pids, seconds)
    return cores, {n: s / window.seconds for n, s in window.by_process.items()}


def cmd_steps(args):
    pids = managed_pids(args.run_dir)
    print(f"==> {args.name}: idle CPU of {len(pids)} processes over {args.idle_seconds:g} s", flush=True)
    if not settle(pids, args.drain_limit):
        print(f"    warning: CPU not steady after {args.drain_limit:g} s; idle measured anyway", flush=True)
    idle_total, idle = idle_baseline(pids, args.idle_seconds)
    print(f"    idle: {idle_total:.2f} cores", flush=True)
    steps = []
    for rate in args.rates:
        quiet = wait_quiet(pids, idle_total, args.drain_limit)
        if quiet is None:
            print(f"    warning: not quiet after {args.drain_limit:g} s; stepping anyway", flush=True)
        print(f"==> {args.name}: {rate} requests/s for {args.duration} s", flush=True)
        step = run_step(args, pids, idle_total, rate, os.path.join(args.work, f"results-{rate}.bin"))
        os.unlink(os.path.join(args.work, f"results-{rate}.bin"))
        print(progress_line(step), flush=True)
        steps.append(step)
        if not step["passed"]:
            break
    passed = [s for s in steps if s["passed"]]
    summary = {"name": args.name, "slo_ms": args.slo_ms, "max_send_lag_ms": args.max_send_lag_ms,
               "idle": idle, "steps": steps,
               "capacity": passed[-1]["rate"] if passed else 0}
    json.dump(summary, open(args.json, "w"), indent=1)
    open(args.markdown, "w").write(markdown(summary))
    print(f"==> {args.name}: capacity at p99 <= {args.slo_ms:g} ms, 0 errors: "
          f"{summary['capacity']} requests/s" + ("" if passed else " (no step passed)"), flush=True)


# ------------------------------------------------------------------ Markdown

def fmt_ms(v):
    return "-" if v != v else f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def steps_table(summary):
    out = ["| rate /s | sent | p50 ms | p90 ms | p99 ms | max ms | p99 uncorrected ms | seconds with p99 > SLO "
           "(worst second's p99 ms) | send lag p99 ms | errors | verdict |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary["steps"]:
        errors = sum(s["errors"].values())
        detail = " (" + ", ".join(f"{k}: {v}" for k, v in sorted(s["errors"].items())) + ")" if errors else ""
        out.append(f"| {s['rate']} | {s['sent']} | {fmt_ms(s['p50_ms'])} | {fmt_ms(s['p90_ms'])} "
                   f"| {fmt_ms(s['p99_ms'])} | {fmt_ms(s['max_ms'])} | {fmt_ms(s['raw_p99_ms'])} "
                   f"| {s['seconds_over_slo']} of {s['seconds']} ({fmt_ms(s['worst_second_p99_ms'])}) "
                   f"| {s['lag_p99_ms']:.2f} | {errors}{detail} | {'pass' if s['passed'] else s['reason']} |")
    return out


def cpu_table(summary):
    steps = summary["steps"]
    names = sorted({n for s in steps for n in s["cpu"]} | set(summary["idle"]),
                   key=lambda n: -max((s["cpu"].get(n, 0) for s in steps), default=0))
    head = "| process | idle, % of a core | " + " | ".join(f"us/request at {s['rate']}/s" for s in steps) + " |"
    out = [head, "|---|---|" + "---|" * len(steps)]

    def row(label, idle, per_step):
        cells = " | ".join("-" if v != v else f"{v:.0f}" for v in per_step)
        out.append(f"| {label} | {idle} | {cells} |")

    def per_req(s, seconds):
        return 1e6 * seconds / s["answered"] if s["answered"] else float("nan")

    for n in names:
        row(n, f"{100 * summary['idle'].get(n, 0):.1f}", [per_req(s, s["cpu"].get(n, 0)) for s in steps])
    row("load generator (vegeta)", "-", [per_req(s, s["generator_cpu"]) for s in steps])
    totals = [sum(s["cpu"].values()) + s["generator_cpu"] for s in steps]
    idle_total = f"{100 * sum(summary['idle'].values()):.1f}"
    row("**total**", idle_total, [per_req(s, t) for s, t in zip(steps, totals)])
    row("total without the load generator", idle_total, [per_req(s, sum(s["cpu"].values())) for s in steps])
    row("not ours (other processes on the machine; not in the total)", "-",
        [per_req(s, max(0.0, s["machine_cpu"] - t)) for s, t in zip(steps, totals)])
    out.append("")
    out.append("CPU window per step (load + drain until quiet), s: " + ", ".join(
        f"{s['rate']}/s: {s['window_s']:.0f}" + ("" if s["drain_s"] is not None else " (not quiet)") for s in steps)
        + "; requests answered: " + ", ".join(f"{s['answered']}" for s in steps)
        + "; cores used by other processes on the machine meanwhile: " + ", ".join(
            f"{max(0.0, s['machine_cpu'] - t) / s['window_s']:.2f}" for s, t in zip(steps, totals)) + ".")
    return out


def endpoint_table(summary):
    """p99 by endpoint at the steps that decide the capacity: the last passing, the first failing."""
    passed = [s for s in summary["steps"] if s["passed"]]
    failed = [s for s in summary["steps"] if not s["passed"]]
    steps = passed[-1:] + failed[:1]
    names = sorted({e for s in steps for e in s["endpoints"]})
    out = ["| endpoint | " + " | ".join(f"p99 ms at {s['rate']}/s | errors" for s in steps) + " |",
           "|---|" + "---|---|" * len(steps)]
    for e in names:
        cells = [(s["endpoints"].get(e) or {"p99_ms": float("nan"), "errors": 0}) for s in steps]
        out.append(f"| {e} | " + " | ".join(f"{fmt_ms(c['p99_ms'])} | {c['errors']}" for c in cells) + " |")
    return out


def markdown(summary):
    passed = [s for s in summary["steps"] if s["passed"]]
    failed = [s for s in summary["steps"] if not s["passed"]]
    if passed:
        best = passed[-1]
        line = (f"**{summary['name']}: capacity at p99 <= {summary['slo_ms']:g} ms with 0 errors = "
                f"{best['rate']} requests/s** (p99 {fmt_ms(best['p99_ms'])} ms over {best['duration_s']} s)")
    else:
        line = f"**{summary['name']}: no step held p99 <= {summary['slo_ms']:g} ms with 0 errors**"
    if failed:
        line += f"; {failed[0]['rate']}/s failed: {failed[0]['reason']}."
    else:
        line += "; every step passed (add higher rates)."
    return "\n".join([line, ""] + steps_table(summary) + [""] + endpoint_table(summary) + [""]
                     + cpu_table(summary)) + "\n"


# ------------------------------------------------------------------ profile

def is_native(pid):
    exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    return not (exe.startswith("java") or exe.startswith("python"))


def busiest_native(pids, seconds, count):
    native = {n: p for n, p in pids.items() if is_native(p)}
    _, window = cores_in_use(native, seconds)
    ranked = sorted(window.by_process.items(), key=lambda kv: -kv[1])[:count]
    return [(n, native[n], s / window.seconds) for n, s in ranked]


def perf_report(perf_data, fields, percent_limit):
    """perf report's flat profile (self time) of perf_data, one row per `fields` key."""
    return subprocess.run(["perf", "report", "-i", perf_data, "--stdio", "--no-children", "-F", fields,
                           "--percent-limit", str(percent_limit)],
                          check=True, capture_output=True, text=True).stdout


def perf_top(perf_data, out_path, lines):
    """Self time by shared object, then by symbol, into out_path; the first `lines` symbol rows."""
    by_dso = perf_report(perf_data, "overhead,dso", 1)
    by_symbol = perf_report(perf_data, "overhead,dso,sym", 0.3)
    open(out_path, "w").write(by_dso + "\n" + by_symbol)
    samples = [r for r in by_symbol.splitlines() if r.startswith("# Samples:")]
    rows = [r.rstrip() for r in by_symbol.splitlines() if r.strip() and not r.startswith("#")]
    dso = [r.strip() for r in by_dso.splitlines() if r.strip() and not r.startswith("#")]
    return samples + ["# by object: " + ", ".join(" ".join(d.split()) for d in dso[:6])] + rows[:lines]


def cmd_profile(args):
    pids = managed_pids(args.run_dir)
    os.makedirs(args.out_dir, exist_ok=True)
    warm_s, pick_s = 3, 2
    total_s = warm_s + pick_s + args.seconds + 2
    print(f"==> profile: {args.rate} requests/s for {total_s} s; perf samples the two busiest native "
          f"processes for {args.seconds} s", flush=True)
    results = os.path.join(args.out_dir, "results.bin")
    attack = spawn_attack(args.vegeta, args.targets, args.rate, total_s, args.timeout, results)
    time.sleep(warm_s)
    top = busiest_native(pids, pick_s, 2)
    recorders = []
    for name, pid, cores in top:
        data = os.path.join(args.out_dir, f"{name}.perf.data")
        print(f"    perf record {name} (pid {pid}, {cores:.2f} cores)", flush=True)
        recorders.append((name, data, subprocess.Popen(
            ["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-p", str(pid), "-o", data,
             "--", "sleep", str(args.seconds)], stdout=subprocess.DEVNULL)))
    for name, data, proc in recorders:
        if proc.wait() != 0:
            raise RuntimeError(f"perf record of {name} failed")
    status, _ = reap(attack)
    if status != 0:
        raise RuntimeError(f"vegeta attack exited with {status}")
    load = read_results(args.vegeta, results, args.rate, args.slo_ms)
    os.unlink(results)
    md = [f"Profile: {args.name}, {args.rate} requests/s (p99 {fmt_ms(load['p99_ms'])} ms, "
          f"{sum(load['errors'].values())} errors), perf record -e cpu-clock -F 999 for {args.seconds} s, "
          f"self time (`perf report --no-children -F overhead,dso,sym`):", ""]
    for (name, pid, cores), (_, data, _) in zip(top, recorders):
        out = os.path.join(args.out_dir, f"{name}.txt")
        rows = perf_top(data, out, args.lines)
        print(f"    {name}: {out}", flush=True)
        print("\n".join("      " + r for r in rows), flush=True)
        md += [f"- {name} ({cores:.2f} cores while picked):", "```"] + rows + ["```"]
    open(args.markdown, "w").write("\n".join(md) + "\n")


# ------------------------------------------------------------------ command line

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("targets")
    t.add_argument("tsv")
    t.add_argument("base")
    t.add_argument("out")
    for name in ("steps", "profile"):
        p = sub.add_parser(name)
        p.add_argument("--vegeta", required=True)
        p.add_argument("--targets", required=True)
        p.add_argument("--run-dir", required=True)
        p.add_argument("--name", required=True)
        p.add_argument("--markdown", required=True)
        p.add_argument("--timeout", default="10s")
        p.add_argument("--slo-ms", type=float, default=100.0)
    s = sub.choices["steps"]
    s.add_argument("--rates", required=True, type=lambda v: [int(x) for x in v.split()])
    s.add_argument("--duration", type=int, default=60)
    # Latency already counts from the intended send time, so a late send cannot flatter p99;
    # this bounds how bursty the arrivals may be (a quarter of the SLO) before the step is not
    # "at its rate" any more.
    s.add_argument("--max-send-lag-ms", type=float, default=25.0)
    s.add_argument("--idle-seconds", type=float, default=5.0)
    s.add_argument("--drain-limit", type=float, default=60.0)
    s.add_argument("--work", required=True)
    s.add_argument("--json", required=True)
    p = sub.choices["profile"]
    p.add_argument("--rate", type=int, required=True)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--lines", type=int, default=15)
    p.add_argument("--out-dir", required=True)
    args = ap.parse_args()
    if args.cmd == "targets":
        write_targets(args.tsv, args.base, args.out)
    elif args.cmd == "steps":
        cmd_steps(args)
    else:
        cmd_profile(args)


if __name__ == "__main__":
    sys.exit(main())
