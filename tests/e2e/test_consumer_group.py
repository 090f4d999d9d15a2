"""Two instances of one service in one consumer group: writes keep being answered while a
second sms-classes joins (a rebalance), while the first leaves (another), and while it comes
back and the second leaves (two more); nothing is lost and nothing is doubled.

A steady write load (POST /lecturer/classes, several lecturers so the commands spread over the
partitions, a unique Idempotency-Key each) runs through every phase. A write that got a 503/504
during a rebalance is retried with its key, as a client would. Then: every key ends in a 2xx,
every acknowledged id is listed once, and the log holds exactly one class.created per code.
The phase where classes@2 is the only member proves it took over the partitions."""
import os
import threading
import time
import uuid
from collections import Counter as Tally

import pytest
import requests

from helpers import Api, describe, new_lecturer_id, read_events, wait_ready

pytestmark = [pytest.mark.disruptive, pytest.mark.slow]

PATH = "/lecturer/classes"
LECTURERS = 4
PHASE_S = float(os.environ.get("SMS_E2E_GROUP_PHASE_S", "4"))
RETRY_DEADLINE_S = 60.0


def _post(client, body, key):
    try:
        return client.post(PATH, json=body, headers={"Idempotency-Key": key}, timeout=30)
    except requests.RequestException as e:
        return e


def _ok(r):
    return not isinstance(r, Exception) and 200 <= r.status_code < 300


def _status(r):
    return r.status_code if not isinstance(r, Exception) else type(r).__name__


def _log_has(name, needle):
    path = os.path.join(os.environ["SMS_RUN_DIR"], "logs", f"{name}.log")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return needle in f.read()
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def group(base_url, mint, ctl):
    run = uuid.uuid4().hex[:6]
    apis = []
    for _ in range(LECTURERS):
        sub = new_lecturer_id()
        apis.append(Api(base_url, mint(sub), sub=sub))
    results = []  # (phase, key, code, first response)
    lock = threading.Lock()
    phase = ["one"]
    stop = threading.Event()
    seq = [0]

    def writer(w):
        client = apis[w].clone()
        while not stop.is_set():
            with lock:
                n = seq[0]
                seq[0] += 1
                ph = phase[0]
            key, code = f"grp-{run}-{n}", f"G{n:04d}-{run}"
            t = time.monotonic()
            r = _post(client, {"code": code, "name": f"group {n}"}, key)
            with lock:
                results.append((ph, w, key, code, r, t, time.monotonic()))
            time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(LECTURERS)]
    second_running = False
    first_running = True
    try:
        for t in threads:
            t.start()
        time.sleep(PHASE_S)
        for ph, action in [("two", ("start", "classes@2")), ("only-second", ("stop", "classes")),
                           ("back", ("start", "classes")), ("only-first", ("stop", "classes@2"))]:
            ctl(*action, timeout=120)
            if action == ("start", "classes@2"):
                second_running = True
            elif action == ("stop", "classes@2"):
                second_running = False
            elif action == ("stop", "classes"):
                first_running = False
            else:
                first_running = True
            with lock:
                phase[0] = ph
            time.sleep(PHASE_S)
        stop.set()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads), "writers did not finish within 60 s"
    finally:
        stop.set()
        if not first_running:
            ctl("start", "classes", timeout=120, check=False)
        if second_running:
            ctl("stop", "classes@2", timeout=60, check=False)
        wait_ready(base_url, timeout=60)

    # Retry what did not get a 2xx, with the same key and lecturer (the first outcome if it landed).
    final = {key: r for (_, _, key, _, r, _, _) in results}
    retried = Tally()
    deadline = time.monotonic() + RETRY_DEADLINE_S
    for (_, w, key, code, r, _, _) in results:
        while not _ok(final[key]) and time.monotonic() < deadline:
            if not isinstance(final[key], Exception) and final[key].status_code < 500:
                break  # a 4xx is final (and reported by the tests)
            time.sleep(0.2)
            final[key] = _post(apis[w], {"code": code, "name": "retry"}, key)
            retried[_status(final[key])] += 1
    listed = {}
    for a in apis:
        for c in a.list_all("all"):
            listed.setdefault(c["code"], []).append(c)
    per_phase = {}
    for (ph, _, _, _, r, _, _) in results:
        per_phase.setdefault(ph, Tally())[_status(r)] += 1
    print(f"consumer group: first attempts per phase {per_phase}; retries {dict(retried)}")
    return {"results": results, "final": final, "listed": listed, "per_phase": per_phase,
            "subs": {a.sub for a in apis}, "run": run}


def test_second_instance_joined_and_served(group):
    # classes@2 joined the group (it logs its assignment) and was the only member in one phase,
    # in which writes were answered 2xx: so it served commands.
    assert _log_has("classes@2", "kafka_assigned"), "classes@2 never got a partition assignment"
    ok = group["per_phase"].get("only-second", Tally())
    assert sum(n for s, n in ok.items() if isinstance(s, int) and 200 <= s < 300) > 0, \
        f"no write answered while only classes@2 ran: {group['per_phase']}"


def test_writes_keep_being_answered_in_every_phase(group):
    for ph in ("one", "two", "only-second", "back", "only-first"):
        tally = group["per_phase"].get(ph, Tally())
        good = sum(n for s, n in tally.items() if isinstance(s, int) and 200 <= s < 300)
        assert good > 0, f"phase {ph}: no write got a 2xx on its first attempt: {group['per_phase']}"
    bad = {s for t in group["per_phase"].values() for s in t
           if not (isinstance(s, int) and (200 <= s < 300 or s in (503, 504)))}
    assert not bad, f"first attempts answered neither 2xx nor 503/504: {bad} ({group['per_phase']})"


def test_every_write_ends_acknowledged(group):
    bad = {k: _status(r) for k, r in group["final"].items() if not _ok(r)}
    assert not bad, f"writes without a 2xx after retrying for {RETRY_DEADLINE_S:.0f} s: {bad}" + \
        "".join("\n" + describe(r) for r in list(group["final"].values()) if not _ok(r))[:2000]


def test_nothing_lost_or_doubled_in_the_view(group):
    codes = {code for (_, _, _, code, _, _, _) in group["results"]}
    doubled = {c: len(v) for c, v in group["listed"].items() if c in codes and len(v) != 1}
    missing = codes - set(group["listed"])
    assert not missing and not doubled, f"missing {sorted(missing)[:10]}; doubled {doubled}"
    for (_, _, key, code, _, _, _) in group["results"]:
        r = group["final"][key]
        if _ok(r):
            assert r.json()["id"] == group["listed"][code][0]["id"], (key, describe(r))


def test_exactly_one_created_event_per_write(group, kafka_brokers):
    evs = read_events(kafka_brokers, None, timeout=60)
    created = Tally(e["value"]["data"]["code"] for e in evs
                    if isinstance(e["value"], dict) and e["value"].get("type") == "class.created"
                    and e["value"].get("actor") in group["subs"])
    codes = {code for (_, _, _, code, _, _, _) in group["results"]}
    assert set(created) == codes, f"class.created missing for {sorted(codes - set(created))[:10]}"
    doubled = {c: n for c, n in created.items() if n != 1}
    assert not doubled, f"codes with more than one class.created event: {doubled}"
