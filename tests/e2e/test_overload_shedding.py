"""Graceful overload: the gateway refuses writes it cannot get answered in time, at once,
with 503 `overloaded` + Retry-After, and a service drops commands whose gateway stopped
waiting for them.

The gateway is restarted (deploy/ctl) with a small in-flight limit and short timeouts, and
sms-classes is stalled with SIGSTOP (SIGCONT in a finally):
  * beyond SMS_GATEWAY_MAX_INFLIGHT a write is refused in well under the reply timeout,
    reads and other services' writes still pass, and a refused write is nowhere (not on the
    command topic, not in the view); its keyed retry has exactly one effect;
  * once the oldest write has waited SMS_GATEWAY_MAX_WAIT_MS, the next is refused the same way;
  * a command that waited past its deadline (the gateway answered 504) is not applied when
    the service resumes, and its keyed retry is applied exactly once.
The gateway is restarted with the suite's settings afterwards."""

import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from helpers import EVENTS_TOPIC, assert_json, assert_problem, read_events, uniq, wait_ready

pytestmark = [pytest.mark.disruptive, pytest.mark.slow]

MAX_INFLIGHT = 4
MAX_WAIT_MS = 1000
REPLY_TIMEOUT_MS = 2000
# What the services allow for clock skew past a deadline (common/config.c's default).
MARGIN_MS = int(os.environ.get("SMS_COMMAND_DEADLINE_MARGIN_MS", "1000"))
COMMANDS_TOPIC = "sms.commands.classes"
GATEWAY_ENV = ("SMS_GATEWAY_MAX_INFLIGHT", "SMS_GATEWAY_MAX_WAIT_MS", "SMS_REPLY_TIMEOUT_MS")
FAST_S = 1.0  # "at once": a refusal takes no wait (the reply timeout is 2 s)


def _restart_gateway(base_url, **env):
    e = dict(os.environ)
    for k in GATEWAY_ENV:
        e.pop(k, None)
    e.update(env)
    subprocess.run([os.environ["SMS_CTL"], "restart", "gateway"], env=e, check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    wait_ready(base_url, timeout=60)


@pytest.fixture(scope="module")
def small_gateway(base_url, ctl):
    _restart_gateway(base_url, SMS_GATEWAY_MAX_INFLIGHT=str(MAX_INFLIGHT), SMS_GATEWAY_MAX_WAIT_MS=str(MAX_WAIT_MS),
                     SMS_REPLY_TIMEOUT_MS=str(REPLY_TIMEOUT_MS))
    try:
        yield
    finally:
        _restart_gateway(base_url)


@contextmanager
def classes_stalled(ctl):
    """sms-classes stopped (SIGSTOP) inside the block: its commands wait in Kafka. Kept
    well under the consumer session timeout (6 s), so no rebalance follows."""
    pid = int(ctl("pid", "classes").stdout.strip())
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _create(api, code, key, timeout=30):
    return api.clone().post("/lecturer/classes", json={"code": code, "name": "Overload " + code},
                            headers={"Idempotency-Key": key}, timeout=timeout)


def _assert_refused(r, key, elapsed, why):
    doc = assert_problem(r, 503, "overloaded")
    assert elapsed < FAST_S, f"a refusal must not wait: {elapsed:.2f} s"
    retry_after = r.headers.get("Retry-After", "")
    assert retry_after.isdigit() and int(retry_after) >= 1, f"Retry-After {retry_after!r}"
    assert doc.get("idempotency_key") == key and r.headers.get("Idempotency-Key") == key, doc
    assert "nothing was done" in doc["detail"] and why in doc["detail"], doc["detail"]


def _command_ids(kafka_brokers, sub):
    """Ids of every command sub's requests put on sms.commands.classes (keyed by the actor)."""
    return [c["value"]["id"] for c in read_events(kafka_brokers, [sub], topic=COMMANDS_TOPIC)]


def _codes(api):
    return [c["code"] for c in api.list_all()]


def _exactly_once(api, code, key):
    """A keyed retry applies the write; the same retry again is a replay of it."""
    first = _create(api, code, key)
    assert first.status_code == 201, first.text
    again = _create(api, code, key)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"], again.text
    assert _codes(api).count(code) == 1


def test_beyond_the_inflight_limit_refused_at_once_and_nothing_done(small_gateway, ctl, make_api, kafka_brokers):
    lec, student = make_api(), make_api(role="student")
    run = uuid.uuid4().hex[:8]
    writes = [(uniq("OV"), f"ov-{run}-{i}") for i in range(MAX_INFLIGHT + 5)]
    admitted, refused = writes[:MAX_INFLIGHT], writes[MAX_INFLIGHT:]
    with ThreadPoolExecutor(MAX_INFLIGHT) as pool:
        with classes_stalled(ctl):
            waiting = [pool.submit(_create, lec, code, key) for code, key in admitted]
            time.sleep(0.3)  # bound and produced: the lane is full
            for code, key in refused:
                t0 = time.monotonic()
                r = _create(lec, code, key)
                _assert_refused(r, key, time.monotonic() - t0, "in flight")
            # Reads never queue behind writes, and another service's writes have their own lane.
            t0 = time.monotonic()
            assert_json(lec.get("/lecturer/classes"), 200)
            assert time.monotonic() - t0 < FAST_S
            # Admitted, not refused: the answer is the notifications service's, and with the
            # 2 s reply timeout of this gateway a busy machine can make it a 504.
            r = student.put("/me/notification-preferences", json={"kinds": {"posts": False}})
            assert r.status_code in (200, 504), r.text
        statuses = [f.result().status_code for f in waiting]
    assert all(s in (201, 504) for s in statuses), statuses

    ids = _command_ids(kafka_brokers, lec.sub)
    for _, key in refused:
        assert f"{lec.sub}:{key}" not in ids, f"a write answered 503 was produced: {key}"
    for _, key in admitted:
        assert f"{lec.sub}:{key}" in ids
    codes = _codes(lec)
    assert not {c for c, _ in refused} & set(codes), "a write answered 503 is in the view"
    for (code, _), s in zip(admitted, statuses):
        n = codes.count(code)
        assert (n == 1) if s == 201 else (n <= 1), (code, s, codes)

    _exactly_once(lec, *refused[0])
    for (code, key), s in zip(admitted, statuses):
        if s == 504:  # outcome unknown: the keyed retry settles it, once
            _exactly_once(lec, code, key)


def test_refused_once_the_oldest_waited_too_long(small_gateway, ctl, make_api, kafka_brokers):
    lec = make_api()
    run = uuid.uuid4().hex[:8]
    (code_a, key_a), (code_b, key_b) = (uniq("OA"), f"oa-{run}-a"), (uniq("OB"), f"oa-{run}-b")
    with ThreadPoolExecutor(1) as pool:
        with classes_stalled(ctl):
            first = pool.submit(_create, lec, code_a, key_a)
            time.sleep(MAX_WAIT_MS / 1000 + 0.3)
            t0 = time.monotonic()
            r = _create(lec, code_b, key_b)
            _assert_refused(r, key_b, time.monotonic() - t0, "waited")
        assert first.result().status_code in (201, 504)
    assert f"{lec.sub}:{key_b}" not in _command_ids(kafka_brokers, lec.sub)
    assert code_b not in _codes(lec)
    _exactly_once(lec, code_b, key_b)
    _exactly_once(lec, code_a, key_a)


def _log_lines_since(name, offset):
    path = os.path.join(os.environ["SMS_RUN_DIR"], "logs", f"{name}.log")
    with open(path, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        return f.read()


def _log_size(name):
    return os.path.getsize(os.path.join(os.environ["SMS_RUN_DIR"], "logs", f"{name}.log"))


def _created_codes(kafka_brokers, sub):
    evs = read_events(kafka_brokers, None, topic=EVENTS_TOPIC)
    return [e["value"]["data"]["code"] for e in evs
            if e["value"]["actor"] == sub and e["value"]["type"] == "class.created"]


def test_command_past_its_deadline_not_applied_and_its_retry_applied_once(small_gateway, ctl, make_api,
                                                                          kafka_brokers):
    lec = make_api()
    run = uuid.uuid4().hex[:8]
    code, key = uniq("SH"), f"sh-{run}"
    log_from = _log_size("classes")
    with classes_stalled(ctl):
        t0 = time.monotonic()
        r = _create(lec, code, key)
        assert_problem(r, 504, "timeout")
        # Past the deadline by more than the services' skew margin before they see it.
        time.sleep(max(0.0, (REPLY_TIMEOUT_MS + MARGIN_MS) / 1000 + 0.7 - (time.monotonic() - t0)))
    # The same lecturer's commands share a partition: once a later one is answered, the
    # stalled one has been taken (and dropped).
    after = _create(lec, uniq("SA"), f"sh-{run}-after")
    assert after.status_code == 201, after.text

    assert code not in _codes(lec), "a command past its deadline was applied"
    assert code not in _created_codes(kafka_brokers, lec.sub)
    assert '"commands_shed"' in _log_lines_since("classes", log_from)
    cmds = [c["value"] for c in read_events(kafka_brokers, [lec.sub], topic=COMMANDS_TOPIC)
            if c["value"]["id"] == f"{lec.sub}:{key}"]
    assert len(cmds) == 1, "the stalled write was produced once"
    assert cmds[0]["deadline"] == cmds[0]["time"] + REPLY_TIMEOUT_MS, cmds[0]

    _exactly_once(lec, code, key)
    assert _created_codes(kafka_brokers, lec.sub).count(code) == 1
