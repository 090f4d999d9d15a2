"""Disaster recovery, drilled (issue 13, section 4): the record is the Kafka log, so losing
Redis loses nothing, and the broker going away loses nothing that was acknowledged.

Redis drill, under the chaos suite's keyed write load (tests/chaos/chaoslib.py): FLUSHALL, then
a Redis restart with its data files deleted. Every acknowledged write must be in the log and
its view (RPO 0), and nothing doubled. Then, with no load, the RTO as the issue defines it:
the reference is the views' checksums (`sms-admin checksum-views`), Redis is wiped (FLUSHALL;
then a stop, its files deleted, a start) and the time until every checksum equals the
reference again is measured; they must match within RTO_LIMIT_S. Their equality also says the
views built write by write under the faults are exactly what the log rebuilds.

Broker drill, under the same load: kill -9 of the broker, then a clean stop (SIGTERM), each
down for DOWN_S. Writes sent while it is down are answered 503 (nothing done) or 504 (the
outcome unknown), never 2xx; none answered 503 is in the log; nothing acknowledged is lost or
doubled; the load is steady again after each start and no service or gateway was restarted
(same pids: they reconnected by themselves).
"""

import glob
import os
import signal
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chaos"))
import chaoslib as cl  # noqa: E402

from helpers import wait_ready  # noqa: E402

pytestmark = [pytest.mark.disruptive, pytest.mark.slow, pytest.mark.drill]

# Keyed writes per second during the drills. 40/s already drew 504s and 503 overloaded before
# any fault at load average ~30 (2026-12-03), so that "steady again" never held: 20/s.
RATE = 20.0
WARM_S = 3.0        # load before the first fault
BETWEEN_S = 3.0     # load between two faults (after recovery)
DOWN_S = 3.0        # how long the broker stays down
RTO_LIMIT_S = 30.0  # the seed-scale goal is 5 s (tests/bench --suite rebuild); this is a test's bound
SETTLE_S = 30       # for the log and views check
STEADY_MAX_S = 90   # load after a broker start until writes must be steady again
# deploy/ctl's wait for a started broker to be ready: its 60 s default was too short on this
# machine at load average ~24 (2026-12-03: one start took 60+ s, others 22-30 s).
KAFKA_START_TIMEOUT_S = "150"


def _pids():
    """{name: pid} of every process deploy/ctl started, but Redis and Kafka."""
    out = {}
    for f in glob.glob(os.path.join(os.environ["SMS_RUN_DIR"], "*.pid")):
        name = os.path.basename(f)[:-4]
        if name not in ("redis", "kafka"):
            with open(f) as fh:
                out[name] = int(fh.read().strip())
    return out


def _ready(base_url):
    try:
        return requests.get(f"{base_url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _wait_ready_from(base_url, t0, timeout=60.0):
    """Seconds from t0 until /readyz answers 200 (views built, Kafka and Redis reachable)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ready(base_url):
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"/readyz not 200 within {timeout}s")


def _wipe_files(ctl):
    """Redis stopped, its data files (AOF, RDB) deleted, started empty."""
    ctl("stop", "redis", timeout=60)
    d = os.path.join(os.environ["SMS_RUN_DIR"], "redis")
    files = [p for p in glob.glob(os.path.join(d, "**"), recursive=True) if os.path.isfile(p)]
    for p in files:
        os.remove(p)
    assert not [p for p in glob.glob(os.path.join(d, "**"), recursive=True) if os.path.isfile(p)]
    ctl("start", "redis", timeout=60)
    return len(files)


def _rto(admin, reference, timeout=RTO_LIMIT_S * 2):
    """Seconds from now until checksum-views equals reference (None if not within timeout)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if admin.checksums() == reference:
                return time.monotonic() - t0
        except AssertionError:
            pass  # Redis restarting: checksum-views fails; keep polling
        time.sleep(0.05)
    return None


def _why(res):
    return "\n".join(res["examples"]) + f"\nstatuses {res['statuses']}, applied {res['first']['applied_by_status']}"


# --------------------------------------------------------------------------- Redis drill

@pytest.fixture(scope="module")
def redis_drill(base_url, jwt_secret, kafka_brokers, ctl, admin, redis_client):
    world = cl.World(base_url, jwt_secret, kafka_brokers)
    load = cl.Load(world, rate=RATE)
    load.start()
    figures = {}
    redis_up = True
    try:
        time.sleep(WARM_S)
        t_fault = time.monotonic()
        redis_client.flushall()
        figures["flushall_ready_s"] = _wait_ready_from(base_url, t_fault)
        time.sleep(BETWEEN_S)
        t_fault = time.monotonic()
        redis_up = False
        figures["files_deleted"] = _wipe_files(ctl)
        redis_up = True
        figures["wiped_restart_ready_s"] = _wait_ready_from(base_url, t_fault)
        steady = load.run_until_steady(time.monotonic(), min_s=5, max_s=40)
    finally:
        load.stop()
        if not redis_up:
            ctl("start", "redis", timeout=60, check=False)
        wait_ready(base_url, timeout=60)
    res = cl.outcome(world, load, t_fault, settle_s=SETTLE_S, retry=False)
    res["examples"] = cl.examples(world, load, res, limit=5)
    res["steady_at_end"] = steady

    # The RTO, quiet: reference checksums, a wipe, the time until they are equal again.
    reference = admin.stable_checksums()
    t0 = time.monotonic()
    redis_client.flushall()
    figures["rto_flushall_s"] = _rto(admin, reference)
    figures["rto_flushall_from_s"] = t0
    _wipe_files(ctl)
    figures["rto_wiped_restart_s"] = _rto(admin, reference)
    wait_ready(base_url, timeout=60)
    res["figures"] = figures
    res["reference"] = reference
    print(f"\nredis drill: {res['requests']} writes at {RATE:.0f}/s, statuses {res['statuses']}; ready again "
          f"{figures['flushall_ready_s']:.2f} s after FLUSHALL, {figures['wiped_restart_ready_s']:.2f} s after a "
          f"restart without its files; quiet RTO (checksums equal the reference): FLUSHALL "
          f"{figures['rto_flushall_s']} s, restart without files {figures['rto_wiped_restart_s']} s; "
          f"keys {sum(c for _, c in reference.values())}")
    return res


def test_redis_wipe_loses_no_acknowledged_write(redis_drill):
    f = redis_drill["first"]
    assert not f["lost_log"], f"2xx writes missing from the log: {f['lost_log'][:10]}\n{_why(redis_drill)}"
    assert not f["lost_view"], f"writes in the log missing from their view: {f['lost_view'][:10]}\n{_why(redis_drill)}"
    assert not f["lost_fanout"], f"{f['lost_fanout']} notifications never reached a student\n{_why(redis_drill)}"


def test_redis_wipe_doubles_nothing_and_applies_no_503(redis_drill):
    f = redis_drill["first"]
    assert not f["doubled"], f"{f['doubled']} effects doubled: {f['doubled_reqs'][:10]}\n{_why(redis_drill)}"
    assert not f["applied_503"], f"writes answered 503 but in the log: {f['applied_503'][:10]}\n{_why(redis_drill)}"


def test_redis_wipe_writes_succeed_again_by_themselves(redis_drill):
    assert redis_drill["steady_at_end"], f"writes not steady within 40 s of the wiped restart\n{_why(redis_drill)}"
    assert redis_drill["figures"]["files_deleted"] >= 1, "the wiped restart deleted no Redis file: nothing was tested"


@pytest.mark.parametrize("how", ["rto_flushall_s", "rto_wiped_restart_s"])
def test_views_equal_the_reference_again_within_the_rto(redis_drill, how):
    rto = redis_drill["figures"][how]
    assert rto is not None, f"{how}: checksums never equal the reference again ({redis_drill['reference']})"
    assert rto <= RTO_LIMIT_S, f"{how}: {rto:.1f} s > {RTO_LIMIT_S} s"


# --------------------------------------------------------------------------- broker drill

@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def broker_drill(base_url, jwt_secret, kafka_brokers, ctl, monkeypatch_module):
    monkeypatch_module.setenv("SMS_KAFKA_START_TIMEOUT", KAFKA_START_TIMEOUT_S)
    world = cl.World(base_url, jwt_secret, kafka_brokers)
    pids_before = _pids()
    load = cl.Load(world, rate=RATE)
    load.start()
    windows, steady = [], []
    kafka_up = True
    try:
        time.sleep(WARM_S)
        for how in ("kill9", "stop"):
            t_fault = time.monotonic()
            kafka_up = False
            if how == "kill9":
                os.kill(int(ctl("pid", "kafka").stdout.strip()), signal.SIGKILL)
                ctl("kill9", "kafka", timeout=60)  # reaps it and tidies the pid file
            else:
                ctl("stop", "kafka", timeout=60)
            t_down = time.monotonic()
            time.sleep(DOWN_S)
            t_start = time.monotonic()
            ctl("start", "kafka", timeout=180)
            kafka_up = True
            windows.append({"how": how, "fault": t_fault, "down": t_down, "start": t_start,
                            "started_s": time.monotonic() - t_start})
            steady.append(load.run_until_steady(time.monotonic(), min_s=5, max_s=STEADY_MAX_S))
            if how == "kill9":
                time.sleep(BETWEEN_S)
    finally:
        load.stop()
        if not kafka_up:
            ctl("start", "kafka", timeout=180, check=False)
        wait_ready(base_url, timeout=90)
    res = cl.outcome(world, load, windows[0]["fault"], settle_s=SETTLE_S, retry=False)
    res["examples"] = cl.examples(world, load, res, limit=5)
    res["windows"], res["steady"] = windows, steady
    res["pids_before"], res["pids_after"] = pids_before, _pids()
    # Writes sent while the broker was certainly down (from the fault's end to the start).
    res["while_down"] = [r for w in windows for r in load.reqs if w["down"] <= r["t_send"] < w["start"]]
    print(f"\nbroker drill: {res['requests']} writes at {RATE:.0f}/s, statuses {res['statuses']}; "
          f"while down: {sorted({r['status'] for r in res['while_down']})}; broker start took "
          f"{[round(w['started_s'], 1) for w in windows]} s; first 2xx {res['first_ok_s']} s")
    return res


def test_writes_while_the_broker_is_down_are_refused_honestly(broker_drill):
    down = broker_drill["while_down"]
    assert down, "no write was sent while the broker was down: nothing was tested"
    statuses = {r["status"] for r in down}
    assert statuses <= {"503", "504"}, f"answers while the broker was down: {statuses}\n{_why(broker_drill)}"
    assert "503" in statuses, f"no 503 while the broker was down: {statuses}"
    f = broker_drill["first"]
    assert not f["applied_503"], f"writes answered 503 but in the log: {f['applied_503'][:10]}\n{_why(broker_drill)}"


def test_broker_restarts_lose_and_double_nothing(broker_drill):
    f = broker_drill["first"]
    assert not f["lost_log"], f"2xx writes missing from the log: {f['lost_log'][:10]}\n{_why(broker_drill)}"
    assert not f["lost_view"], f"writes in the log missing from their view: {f['lost_view'][:10]}\n{_why(broker_drill)}"
    assert not f["lost_fanout"], f"{f['lost_fanout']} notifications never reached a student\n{_why(broker_drill)}"
    assert not f["doubled"], f"{f['doubled']} effects doubled: {f['doubled_reqs'][:10]}\n{_why(broker_drill)}"


def test_writes_succeed_again_after_each_broker_start(broker_drill):
    for w, ok in zip(broker_drill["windows"], broker_drill["steady"]):
        assert ok, (f"after the broker's {w['how']} (its start took {w['started_s']:.0f} s), writes were not "
                    f"steady within {STEADY_MAX_S} s\n{_why(broker_drill)}")


def test_every_process_reconnects_by_itself(broker_drill):
    assert broker_drill["pids_after"] == broker_drill["pids_before"], (
        f"processes were restarted (pids before {broker_drill['pids_before']}, after {broker_drill['pids_after']})")
