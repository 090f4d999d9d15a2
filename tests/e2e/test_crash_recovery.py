"""kill -9 of the classes service under load: no lost and no duplicated creates.

The module fixture runs the scenario once and records what happened; the tests then
check one property each, so a failure report says exactly which guarantee broke.
"""

import os
import signal
import threading
import time
import uuid
from collections import Counter as Tally

import pytest
import requests

from helpers import (Api, Counter, assert_problem, describe, new_lecturer_id, read_events, uniq,
                     wait_ready)

pytestmark = [pytest.mark.disruptive, pytest.mark.slow]

PATH = "/lecturer/classes"
N = 30
KILL_AFTER = 10
RETRY_DEADLINE_S = float(os.environ.get("SMS_E2E_CRASH_DEADLINE_S", "60"))


def _post(client, body, key):
    try:
        return client.post(PATH, json=body, headers={"Idempotency-Key": key}, timeout=30)
    except requests.RequestException as e:
        return e


def _ok(r):
    return not isinstance(r, Exception) and r is not None and 200 <= r.status_code < 300


@pytest.fixture(scope="module")
def crash(base_url, mint, ctl):
    sub = new_lecturer_id()
    api = Api(base_url, mint(sub), sub=sub)
    run = uuid.uuid4().hex[:6]
    reqs = [{"key": f"crash-{run}-{i}", "body": {"code": f"K{i:02d}-{run}", "name": f"crash {i}"}}
            for i in range(N)]
    first = [None] * N
    sent = Counter()
    t0 = time.monotonic()

    def worker(i):
        client = api.clone()
        # Stagger the sends (~40 ms apart) so the kill lands in the middle of them.
        delay = t0 + 0.3 + i * 0.04 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent.inc()
        first[i] = _post(client, reqs[i]["body"], reqs[i]["key"])

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(N)]
    started = False
    try:
        for t in threads:
            t.start()
        while sent.value < KILL_AFTER:
            time.sleep(0.005)
        # SIGKILL straight from here: starting the ctl script first can take longer
        # than the remaining sends on a loaded machine, and the kill must land mid-burst.
        killed_at = sent.value
        with open(os.path.join(os.environ["SMS_RUN_DIR"], "classes.pid")) as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)
        ctl("kill9", "classes", timeout=30)  # waits until it is gone and tidies the pid file
        # Let every request go out while the service is down, then bring it back.
        while sent.value < N:
            time.sleep(0.01)
        ctl("start", "classes", timeout=120)
        started = True
        restart_t = time.monotonic()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads), "first attempts did not finish within 60 s"

        # Retry everything that did not get a 2xx, with the same Idempotency-Key, all in
        # parallel (each retry may itself wait a whole reply timeout for its 504).
        final = list(first)
        attempts = [1] * N
        retry_statuses = Tally()
        tally_lock = threading.Lock()
        deadline = restart_t + RETRY_DEADLINE_S

        def retry(i):
            client = api.clone()
            while time.monotonic() < deadline:
                r = _post(client, reqs[i]["body"], reqs[i]["key"])
                attempts[i] += 1
                final[i] = r
                with tally_lock:
                    retry_statuses[r.status_code if not isinstance(r, Exception) else type(r).__name__] += 1
                if _ok(r):
                    return
                if not isinstance(r, Exception) and r.status_code < 500:
                    return  # a 4xx is a final (wrong) answer: the tests report it
                time.sleep(0.3)  # 503/504 while the service comes back: retry

        retriers = [threading.Thread(target=retry, args=(i,), daemon=True)
                    for i in range(N) if not _ok(first[i])]
        for t in retriers:
            t.start()
        for t in retriers:
            t.join(RETRY_DEADLINE_S + 40)
        pending = [i for i in range(N) if not _ok(final[i])]
        wait_ready(base_url, timeout=60)
        listed = api.list_all("all")
        firsts = Tally(r.status_code if hasattr(r, "status_code") else type(r).__name__ for r in first)
        print(f"crash scenario: kill after {killed_at} sent; first attempts {dict(firsts)}; "
              f"retries {dict(retry_statuses)}; still failing {pending}; "
              f"recovered {time.monotonic() - restart_t:.1f} s after the restart; listed {len(listed)}")
        return {"api": api, "reqs": reqs, "first": first, "final": final, "attempts": attempts,
                "pending": pending, "listed": listed, "killed_at": killed_at,
                "retry_statuses": retry_statuses}
    finally:
        if not started:
            ctl("start", "classes", timeout=120, check=False)
        wait_ready(base_url, timeout=60)


def _summary(crash):
    out = []
    for i, (f, r) in enumerate(zip(crash["first"], crash["final"])):
        fs = f.status_code if hasattr(f, "status_code") else repr(f)
        rs = r.status_code if hasattr(r, "status_code") else repr(r)
        out.append(f"#{i}: first={fs} final={rs} attempts={crash['attempts'][i]}")
    return "\n".join(out)


def test_every_request_eventually_succeeds(crash):
    bad = [i for i in range(N) if not _ok(crash["final"][i])]
    assert not bad, (f"requests without a 2xx after retrying for {RETRY_DEADLINE_S:.0f} s "
                     f"(killed after {crash['killed_at']} sent):\n{_summary(crash)}\n"
                     + "\n".join(describe(crash["final"][i]) for i in bad[:3]))


def test_first_attempt_failures_are_503_or_504(crash):
    # The gateway stayed up: a request it could not get answered is a 504 (or 503), never
    # a dropped connection or another error.
    assert crash["killed_at"] < N, "scenario: the kill came after every request was sent"
    for i, r in enumerate(crash["first"]):
        assert not isinstance(r, Exception), f"#{i}: the gateway dropped the request: {r!r}"
        if _ok(r):
            continue
        if r.status_code == 504:
            assert_problem(r, 504, "timeout")
        else:
            assert_problem(r, 503, "unavailable")


def test_every_code_exists_exactly_once(crash):
    codes = Tally(c["code"] for c in crash["listed"])
    problems = []
    for req in crash["reqs"]:
        n = codes[req["body"]["code"]]
        if n != 1:
            problems.append(f"{req['body']['code']}: {n} classes")
    extra = set(codes) - {r["body"]["code"] for r in crash["reqs"]}
    assert not problems and not extra, (f"{problems}; unexpected codes {extra}\n{_summary(crash)}")


def test_every_acknowledged_id_is_listed(crash):
    listed = {c["id"]: c for c in crash["listed"]}
    for i, req in enumerate(crash["reqs"]):
        for r in (crash["first"][i], crash["final"][i]):
            if _ok(r):
                cid = r.json()["id"]
                assert cid in listed, f"#{i}: id {cid} got a 2xx but is not listed\n{describe(r)}"
                assert listed[cid]["code"] == req["body"]["code"]
                assert listed[cid]["status"] == "active"


def test_acknowledged_ids_are_stable(crash):
    # If the first attempt got a 2xx it was not retried; a retried one got one id only.
    by_code = {}
    for i, req in enumerate(crash["reqs"]):
        for r in (crash["first"][i], crash["final"][i]):
            if _ok(r):
                by_code.setdefault(req["body"]["code"], set()).add(r.json()["id"])
    multi = {k: v for k, v in by_code.items() if len(v) > 1}
    assert not multi, f"one Idempotency-Key answered with several ids: {multi}"


def test_no_duplicate_created_events(crash, kafka_brokers):
    # Every event of the log (not only the listed ids): a duplicate the view dropped counts too.
    sub = crash["api"].sub
    evs = read_events(kafka_brokers, None, timeout=60)
    created = [e["value"] for e in evs
               if isinstance(e["value"], dict) and e["value"].get("type") == "class.created"
               and e["value"].get("actor") == sub]
    per_code = Tally(e["data"]["code"] for e in created)
    assert set(per_code) == {r["body"]["code"] for r in crash["reqs"]}, \
        f"class.created events missing for some codes: {sorted(per_code)}"
    dup = {k: n for k, n in per_code.items() if n != 1}
    assert not dup, f"codes with more than one class.created event: {dup}"
    causes = Tally(e["cause"] for e in created)
    assert all(n == 1 for n in causes.values()), f"a command produced two events: {causes}"
    assert set(causes) == {f"{sub}:{r['key']}" for r in crash["reqs"]}


def test_gateway_restart_keeps_data_and_idempotency(base_url, ctl, make_api):
    api = make_api()
    key = f"gw-{uuid.uuid4()}"
    body = {"code": uniq("GW"), "name": "survives a gateway restart"}
    r1 = api.post(PATH, json=body, headers={"Idempotency-Key": key})
    assert r1.status_code == 201, describe(r1)
    try:
        ctl("restart", "gateway", timeout=120)
    finally:
        wait_ready(base_url, timeout=60)
    fresh = api.clone()
    assert fresh.get_class(r1.json()["id"]) == r1.json()
    r2 = fresh.post(PATH, json=body, headers={"Idempotency-Key": key})
    assert r2.status_code in (200, 201) and r2.json()["id"] == r1.json()["id"], describe(r2)
    c = fresh.create()
    assert fresh.get_class(c["id"]) == c
    assert len(fresh.list_all("all")) == 2
