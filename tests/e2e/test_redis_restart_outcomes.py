"""Redis restarts under a write load: the answers are honest.

A 503 promises that nothing was done, so no write answered 503 may be in the log; every
2xx is in the log and in its view exactly once; a 504 may go either way. Then every write
that did not get a 2xx is retried with its Idempotency-Key, and still nothing is doubled.
The load (class creates, enrolments, update-grades, posts, assignments, each with a unique
payload) and the checks are tests/chaos/chaoslib.py's, the chaos suite's own.
"""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chaos"))
import chaoslib as cl  # noqa: E402

from helpers import wait_ready  # noqa: E402

pytestmark = [pytest.mark.disruptive, pytest.mark.slow]

# A 503 that was applied needs Redis to go away in the few ms between a batch's produce and
# its apply: at 20 writes/s one restart almost never hits that; at 100/s one in three or so
# did (2026-12-02), so the load is 100/s and Redis is restarted three times.
RATE = 100.0    # keyed writes per second
WARM_S = 3.0    # load before the first restart
RESTARTS = 3
GAP_S = 2.0     # between restarts


@pytest.fixture(scope="module")
def outcome(base_url, jwt_secret, kafka_brokers, ctl):
    world = cl.World(base_url, jwt_secret, kafka_brokers)
    load = cl.Load(world, rate=RATE)
    load.start()
    restarted = False
    try:
        time.sleep(WARM_S)
        for k in range(RESTARTS):
            if k:
                time.sleep(GAP_S)
            t_fault = time.monotonic()
            restarted = False
            ctl("restart", "redis", timeout=120)
            restarted = True
        steady = load.run_until_steady(time.monotonic(), min_s=5, max_s=45)
    finally:
        load.stop()
        if not restarted:
            ctl("start", "redis", timeout=60, check=False)
        wait_ready(base_url, timeout=60)
    if not steady:
        # Services that stopped answering writes (seen 2026-12-02: stuck in the tailer's
        # catch-up after a failed projection) would fail every later test: restart them,
        # and test_every_write_succeeds_after_keyed_retries reports it.
        ctl("restart-services", timeout=300)
        wait_ready(base_url, timeout=60)
    res = cl.outcome(world, load, t_fault)
    res["steady_at_end"] = steady
    res["examples"] = cl.examples(world, load, res, limit=5)
    print(f"\n{RESTARTS} redis restarts: {res['requests']} writes, statuses {res['statuses']}, applied by status "
          f"{res['first']['applied_by_status']}, first 2xx {res['first_ok_s']} s, steady {res['steady_s']} s; "
          f"retries {res.get('retries')}")
    return res


def _why(res):
    return "\n".join(res["examples"]) + f"\nstatuses {res['statuses']}, applied {res['first']['applied_by_status']}"


def test_no_503_was_applied(outcome):
    bad = outcome["first"]["applied_503"]
    n503 = outcome["statuses"].get("503", 0)
    assert not bad, (f"{len(bad)} of {n503} writes answered 503 ('nothing was done') are in the log, "
                     f"requests {bad[:10]}\n{_why(outcome)}")


def test_no_refused_connection_was_applied(outcome):
    assert not outcome["first"]["applied_refused"], _why(outcome)


def test_no_acknowledged_write_lost(outcome):
    f = outcome["first"]
    assert not f["lost_log"], f"2xx writes missing from the log: {f['lost_log'][:10]}\n{_why(outcome)}"
    assert not f["lost_view"], f"writes in the log missing from their view: {f['lost_view'][:10]}\n{_why(outcome)}"
    assert not f["lost_fanout"], f"{f['lost_fanout']} post/assignment notifications never reached a student"


def test_nothing_doubled_even_after_keyed_retries(outcome):
    for phase in ("first", "after_retry"):
        f = outcome[phase]
        assert not f["doubled"], (f"{phase}: {f['doubled']} effects doubled (requests "
                                  f"{f['doubled_reqs'][:10]}, fan-out {f['doubled_fanout']})\n{_why(outcome)}")


def test_every_write_succeeds_after_keyed_retries(outcome):
    assert outcome["steady_at_end"], ("writes did not succeed again within 45 s of the last restart "
                                      "(the services were restarted to go on)")
    assert not outcome["still_failing"], (f"writes without a 2xx after a minute of keyed retries: "
                                          f"{outcome['still_failing'][:10]}; retries {outcome['retries']}")
    assert not outcome["after_retry"]["lost"], outcome["after_retry"]
