"""Fan-out of one post to a class of 1,000: the time until every inbox item exists
(printed as a rate), and kill -9 of sms-notifications in the middle of such a
fan-out: after the restart each student has exactly one inbox item."""

import os
import signal
import time
import uuid

import pytest

from helpers import describe, wait_ready
from test_notifications import _enroll

pytestmark = [pytest.mark.disruptive, pytest.mark.slow]

N = 1000


def _class_of(make_api, n):
    lec = make_api()
    c = lec.create()
    sids = [f"s-{uuid.uuid4().hex[:12]}" for _ in range(n)]
    _enroll(lec, c["id"], sids)  # two calls of 500
    return lec, c["id"], sids


def _have(redis_client, sids):
    """How many of sids have an inbox item, and the largest inbox (to catch duplicates)."""
    pipe = redis_client.pipeline(transaction=False)
    for s in sids:
        pipe.zcard(f"sms:notifications:inbox:{s}")
    counts = pipe.execute()
    return sum(1 for c in counts if c > 0), max(counts), min(counts)


def _post(lec, cid, title):
    r = lec.post(f"/classes/{cid}/posts", json={"title": title, "body": "Everyone, please read."})
    assert r.status_code == 201, describe(r)


def test_fan_out_rate_1000(make_api, redis_client):
    lec, cid, sids = _class_of(make_api, N)
    t0 = time.monotonic()
    _post(lec, cid, "Rate")
    t_201 = time.monotonic()
    deadline = t0 + 60
    while time.monotonic() < deadline:
        have, _, _ = _have(redis_client, sids)
        if have == N:
            break
        time.sleep(0.01)
    done = time.monotonic()
    assert have == N, f"only {have} of {N} inbox items after 60 s"
    print(f"\nfan-out: {N} inbox items {1000 * (done - t0):.0f} ms after POST "
          f"({1000 * (done - t_201):.0f} ms after the 201): {N / (done - t0):.0f} notifications/s")


def test_kill9_during_fan_out_each_student_once(make_api, redis_client, ctl, base_url):
    lec, cid, sids = _class_of(make_api, N)
    _post(lec, cid, "Crash")
    # Kill as soon as the first items appear, so the kill lands mid-fan-out when it can.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _have(redis_client, sids[:50])[0] == 0:
        time.sleep(0.002)
    with open(os.path.join(os.environ["SMS_RUN_DIR"], "notifications.pid")) as f:
        os.kill(int(f.read().strip()), signal.SIGKILL)
    at_kill, _, _ = _have(redis_client, sids)
    ctl("kill9", "notifications", timeout=30)
    ctl("start", "notifications", timeout=120)
    wait_ready(base_url, timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        have, most, least = _have(redis_client, sids)
        if have == N:
            break
        time.sleep(0.1)
    print(f"\nkill -9 with {at_kill} of {N} inbox items written; after restart {have}")
    assert have == N, f"{N - have} students never got the post (had {at_kill} at the kill)"
    time.sleep(1.0)  # let any redelivered fan-out finish
    have, most, least = _have(redis_client, sids)
    assert most == 1 and least == 1, f"inbox sizes {least}..{most}: want exactly one item each"
