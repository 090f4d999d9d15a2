#!/usr/bin/env python3
"""The chaos suite: under a keyed write load, one fault per scenario (kill -9 of the broker,
of each service and of the gateway, Redis restart, FLUSHALL, SIGSTOP of a consumer), then
recovery times and a verification of every answer against the log and the views.

usage: run.py [--scenarios a,b,...] [--rate N] [--report PREFIX] [--list]
Needs the environment of `deploy/ctl env` (tests/run --chaos sets it up on a fresh system).
Prints the table (markdown); exits 1 if any scenario lost, doubled or applied a 503'd write,
did not get steady again by itself, or could not run; 0 otherwise.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaoslib as cl  # noqa: E402

ENV = os.environ
CTL = ENV.get("SMS_CTL", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "ctl"))
WARM_S = 6.0           # load before the fault
STOP_S = 10.0          # how long SIGSTOP lasts


def log(msg):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ctl(*args, timeout=180):
    t0 = time.monotonic()
    p = subprocess.run([CTL, *args], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"deploy/ctl {' '.join(args)} exited {p.returncode}: {p.stdout[-800:]} {p.stderr[-800:]}")
    return time.monotonic() - t0


def pid(name):
    with open(os.path.join(ENV["SMS_RUN_DIR"], f"{name}.pid")) as f:
        return int(f.read().strip())


def kill9_and_start(name):
    """SIGKILL straight from here (exact fault time), then deploy/ctl tidies up and starts
    it again. Returns the seconds the start took."""
    def fault():
        os.kill(pid(name), signal.SIGKILL)
        ctl("kill9", name)
        return ctl("start", name)
    return fault


def redis_restart():
    return ctl("restart", "redis")


def redis_restarts(n=3, gap_s=2.0):
    """n restarts gap_s apart: a 503 after producing (the event saved, the view not) needs a
    restart in the few ms between a batch's produce and its apply, so more restarts under a
    load make such an answer likelier to show. The recovery is timed from the last one."""
    def fault():
        for k in range(n):
            if k:
                time.sleep(gap_s)
            t = time.monotonic()
            ctl("restart", "redis")
        return {"fault_s": time.monotonic() - t, "t_fault": t}
    return fault


def flushall():
    import redis
    r = redis.Redis(host=ENV.get("SMS_REDIS_HOST", "127.0.0.1"), port=int(ENV["SMS_REDIS_PORT"]), socket_timeout=10)
    r.flushall()
    r.close()
    return 0.0


def sigstop(name):
    def fault():
        p = pid(name)
        os.kill(p, signal.SIGSTOP)
        try:
            time.sleep(STOP_S)
        finally:
            os.kill(p, signal.SIGCONT)
        return STOP_S
    return fault


# name: (what, fault function, min seconds of load after the fault, max seconds)
# The max is the bound for recovering *by itself*, not a speed target (the table reports the
# times): a broker restarted on a loaded 2-core machine took 36 s to start and its cold JVM
# acknowledged batches in 0.6-1.1 s for a minute more (steady at 99 s of 120), so it gets 240 s.
SCENARIOS = {
    "kill9-broker": ("kill -9 of the Kafka broker, restarted at once", kill9_and_start("kafka"), 15, 240),
    "kill9-classes": ("kill -9 of sms-classes, restarted at once", kill9_and_start("classes"), 10, 60),
    "kill9-assignments": ("kill -9 of sms-assignments, restarted at once", kill9_and_start("assignments"), 10, 60),
    "kill9-grading": ("kill -9 of sms-grading, restarted at once", kill9_and_start("grading"), 10, 60),
    "kill9-notifications": ("kill -9 of sms-notifications, restarted at once",
                            kill9_and_start("notifications"), 10, 60),
    "kill9-gateway": ("kill -9 of sms-gateway, restarted at once", kill9_and_start("gateway"), 10, 60),
    "redis-restart": ("Redis restart (deploy/ctl restart: SIGTERM, start; AOF everysec)", redis_restart, 10, 60),
    "redis-restart-x3": ("three Redis restarts, 2 s apart (recovery from the last)", redis_restarts(), 10, 60),
    "redis-flushall": ("FLUSHALL (views rebuild from the log)", flushall, 10, 60),
    "sigstop-classes": (f"SIGSTOP of sms-classes for {STOP_S:.0f} s, then SIGCONT", sigstop("classes"), 10, 60),
}


def run_one(name, rate):
    what, fault, min_s, max_s = SCENARIOS[name]
    t_begin = time.monotonic()
    ctl("wait-ready", "120")
    world = cl.World(ENV["SMS_BASE_URL"], ENV["SMS_JWT_SECRET"], ENV["SMS_KAFKA_BROKERS"])
    load = cl.Load(world, rate=rate)
    log(f"{name}: {what}; load {rate:.0f} writes/s, tag {world.tag}")
    load.start()
    time.sleep(WARM_S)
    t_fault = time.monotonic()
    fault_s = fault()
    t_restored = time.monotonic()
    if isinstance(fault_s, dict):  # several faults: the figures are timed from the last
        t_fault, fault_s = fault_s["t_fault"], fault_s["fault_s"]
    steady = load.run_until_steady(t_restored, min_s, max_s)
    load.stop()
    log(f"{name}: fault done in {fault_s:.1f}s; load {'steady again' if steady else 'NOT steady'}, "
        f"{len(load.reqs)} requests; verifying")
    # A system that did not recover by itself is helped first (and that is reported): then
    # the check says what is lost for good, and the keyed retries can get their answers.
    healed = None if steady else heal()
    ctl("wait-ready", "120")
    res = cl.outcome(world, load, t_fault)
    res.update(scenario=name, what=what, fault_s=round(fault_s, 1), steady_at_end=steady,
               seconds=round(time.monotonic() - t_begin, 1))
    if healed:
        res["healed"] = healed
    for line in cl.examples(world, load, res):
        log(f"{name}: {line}")
    return res


def heal():
    """After a scenario that did not recover by itself: what an operator would do (start
    what is down, restart the services), so that the next scenario starts healthy. Says
    what it did, for the table."""
    for svc in ("redis", "kafka"):
        ctl("start", svc)
    try:
        ctl("wait-ready", "20")
        probe = cl.World(ENV["SMS_BASE_URL"], ENV["SMS_JWT_SECRET"], ENV["SMS_KAFKA_BROKERS"], deadline_s=15)
        log(f"the system answers writes again without help (probe {probe.tag})")
        return "recovered by itself late"
    except Exception as e:
        log(f"the system does not answer writes ({type(e).__name__}: {str(e)[:200]}); restarting the services")
    ctl("restart-services", timeout=300)
    ctl("wait-ready", "120")
    return "services restarted to go on"


def fmt_s(x):
    return "never" if x is None else f"{x:.1f}"


def table(results):
    rows = ["| scenario | writes | lost | doubled | 503 applied | non-2xx by status (applied) | "
            "after keyed retries | first 2xx s | steady s | fault s |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['scenario']} | - | - | - | - | could not run: {r['error'][:120]} | "
                        f"{r.get('healed', '-')} | - | - | - |")
            continue
        non = ", ".join(f"{s}: {c} ({r['applied_non2xx'][s]})" for s, c in r["non2xx"].items()) or "none"
        ar = r.get("after_retry")
        retry = "-" if ar is None else (f"{len(r['still_failing'])} still failing" if r["still_failing"]
                                        else "all 2xx")
        if r.get("healed"):
            retry += f"; not steady after {SCENARIOS[r['scenario']][3]} s: {r['healed']}"
        rows.append(f"| {r['scenario']} | {r['requests']} | {r['lost']} | {r['doubled']} | {r['applied_503']} | "
                    f"{non} | {retry} | {fmt_s(r['first_ok_s'])} | {fmt_s(r['steady_s'])} | {r['fault_s']} |")
    return "\n".join(rows)


def failed(r):
    """A lost, doubled or applied-after-503 (or refused) write, a system that did not get
    steady again by itself, or a scenario that could not run."""
    return bool("error" in r or r["lost"] or r["doubled"] or r["applied_503"] or r["applied_refused"]
                or not r["steady_at_end"])


def why_failed(r):
    """The reasons of failed() in words, in full (the table cuts errors short)."""
    if "error" in r:
        return f"could not run: {r['error'][:2000]} (then: {r.get('healed', '-')})"
    parts = [f"{k} {r[k]}" for k in ("lost", "doubled", "applied_503", "applied_refused") if r[k]]
    if not r["steady_at_end"]:
        parts.append(f"not steady again within {SCENARIOS[r['scenario']][3]} s (then: {r.get('healed', '-')})")
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--rate", type=float, default=float(ENV.get("SMS_CHAOS_RATE", "50")))
    ap.add_argument("--report", help="write PREFIX.md (the table) and PREFIX.json (everything)")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        for k, v in SCENARIOS.items():
            print(f"{k:22} {v[0]}")
        return 0
    names = [s for s in a.scenarios.split(",") if s]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenarios {unknown} (see --list)")
    t0 = time.monotonic()
    results = []
    for name in names:
        try:
            results.append(run_one(name, a.rate))
        except Exception as e:  # a scenario that cannot run is reported, and the next one still runs
            log(f"{name}: could not run: {type(e).__name__}: {e}")
            results.append({"scenario": name, "error": f"{type(e).__name__}: {e}"})
        r = results[-1]
        if "error" in r:
            r["healed"] = heal()
        if "error" not in r:
            log(f"{name}: lost {r['lost']}, doubled {r['doubled']}, 503 applied {r['applied_503']}, "
                f"non-2xx {r['non2xx']} (applied {r['applied_non2xx']}), first 2xx {fmt_s(r['first_ok_s'])} s, "
                f"steady {fmt_s(r['steady_s'])} s, {r['seconds']} s in all")
    for r in results:
        r["ok"] = not failed(r)
    total = time.monotonic() - t0
    md = (f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {a.rate:.0f} keyed writes/s, "
          f"{total:.0f} s for {len(names)} scenarios; load average at the end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.\n\n{table(results)}\n")
    why = [f"- {r['scenario']}: {why_failed(r)}" for r in results if not r["ok"]]
    if why:
        md += "\nFailed:\n" + "\n".join(why) + "\n"
    print("\n" + md)
    if a.report:
        with open(a.report + ".md", "w") as f:
            f.write(md)
        with open(a.report + ".json", "w") as f:
            json.dump(results, f, indent=1, default=str)
        log(f"report in {a.report}.md and {a.report}.json")
    bad = [r["scenario"] for r in results if not r["ok"]]
    if bad:
        log(f"FAILED: {', '.join(bad)}")
        return 1
    log("every scenario: 0 lost, 0 doubled, 0 applied 503")
    return 0


if __name__ == "__main__":
    sys.exit(main())
