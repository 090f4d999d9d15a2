"""Class chat: posting (lecturer of the class, enrolled students), validation, access (404 for
everyone else), 409 on an inactive class, order and cursor pages, the per-class sequence
under concurrent authors, chat.message_posted on sms.events.chat, and long-poll: woken by a
message within 100 ms, timing out empty, 100 waiters woken by one message, a waiter whose
client vanishes, the subscriber's reconnection, and waiters answered at once when the gateway
stops."""

import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from helpers import (assert_json, assert_problem, describe, now_ms, read_events, request_bytes,
                     rfc3339_to_ms, wait_ready)

MSG_FIELDS = {"id", "class_id", "cursor", "author_id", "author_role", "text", "created_at"}
CHAT_TOPIC = "sms.events.chat"


def _sid(prefix="s"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _enroll(api, cid, sid):
    r = api.post(f"/lecturer/classes/{cid}/students",
                 json={"students": [{"student_id": sid, "name": "Stu Dent", "email": f"{sid}@school.edu"}]})
    assert r.status_code == 200, describe(r)


def _say(api, cid, text, expect=201, headers=None):
    r = api.post(f"/classes/{cid}/chat", json={"text": text}, headers=headers)
    assert r.status_code == expect, describe(r)
    return r.json()


def _read(api, cid, timeout=None, **params):
    kw = {"params": params}
    if timeout is not None:
        kw["timeout"] = timeout
    r = api.get(f"/classes/{cid}/chat", **kw)
    page = assert_json(r, 200)
    assert set(page) == {"items", "next_cursor"}, describe(r)
    for it in page["items"]:
        assert set(it) == MSG_FIELDS, it
    return page


@pytest.fixture
def room(api, make_api):
    """A class with its lecturer and one enrolled student."""
    c = api.create()
    sid = _sid("stu")
    _enroll(api, c["id"], sid)
    return {"cid": c["id"], "lecturer": api, "student": make_api(sid, role="student")}


def test_post_201_lecturer_and_student(room):
    cid, lec, stu = room["cid"], room["lecturer"], room["student"]
    t0 = now_ms()
    m1 = _say(lec, cid, "Welcome to the course chat")
    m2 = _say(stu, cid, "Thanks! ✓ ünïcödé")
    assert set(m1) == MSG_FIELDS and set(m2) == MSG_FIELDS
    assert (m1["class_id"], m1["author_id"], m1["author_role"]) == (cid, lec.sub, "lecturer")
    assert (m2["author_id"], m2["author_role"], m2["text"]) == (stu.sub, "student", "Thanks! ✓ ünïcödé")
    assert (m1["cursor"], m2["cursor"]) == ("1", "2"), "cursor is the class's sequence, as a string"
    assert abs(rfc3339_to_ms(m1["created_at"]) - t0) < 60 * 1000
    assert m1["id"] != m2["id"]
    # read-your-writes, for both readers
    assert _read(lec, cid)["items"] == [m1, m2]
    assert _read(stu, cid) == {"items": [m1, m2], "next_cursor": "2"}


def test_validation_400(room):
    cid, lec = room["cid"], room["lecturer"]
    path = f"/classes/{cid}/chat"
    cases = [
        ({}, ["text"]),
        ({"text": ""}, ["text"]),
        ({"text": "   "}, ["text"]),
        ({"text": "x" * 2001}, ["text"]),
        ({"text": 5}, ["text"]),
        ({"text": "hi", "author_id": "me"}, ["author_id"]),
    ]
    for body, fields in cases:
        assert_problem(lec.post(path, json=body), 400, "validation", fields=fields)
    # 2000 characters, counted as characters (each é is 2 bytes)
    assert _say(lec, cid, "é" * 2000)["text"] == "é" * 2000
    assert len(_read(lec, cid)["items"]) == 1
    for bad in [{"limit": 0}, {"limit": 201}, {"limit": "x"}, {"wait": -1}, {"wait": 31}, {"wait": "1.5"},
                {"after": "abc"}, {"after": "-1"}, {"after": ""}]:
        assert_problem(lec.get(path, params=bad), 400, "validation", fields=list(bad))
    r = lec.get(path, params={"limit": 0, "wait": 99})
    assert_problem(r, 400, "validation", fields=["limit", "wait"])


def test_access_404_for_outsiders(room, make_api):
    cid, lec = room["cid"], room["lecturer"]
    _say(lec, cid, "members only")
    outsider = make_api(_sid("out"), role="student")
    other = make_api()
    for who in (outsider, other):
        assert_problem(who.post(f"/classes/{cid}/chat", json={"text": "let me in"}), 404, "not_found")
        assert_problem(who.get(f"/classes/{cid}/chat"), 404, "not_found")
        assert_problem(who.get(f"/classes/{cid}/chat", params={"wait": 5}), 404, "not_found")
    missing = "NOPE000000000000000000000"
    assert_problem(lec.post(f"/classes/{missing}/chat", json={"text": "hi"}), 404, "not_found")
    assert_problem(lec.get(f"/classes/{missing}/chat"), 404, "not_found")
    assert [m["text"] for m in _read(lec, cid)["items"]] == ["members only"]


def test_unenrolled_student_loses_access(room):
    cid, lec, stu = room["cid"], room["lecturer"], room["student"]
    _say(stu, cid, "bye")
    r = lec.delete(f"/lecturer/classes/{cid}/students/{stu.sub}")
    assert r.status_code == 200, describe(r)
    assert_problem(stu.post(f"/classes/{cid}/chat", json={"text": "still here?"}), 404, "not_found")
    assert_problem(stu.get(f"/classes/{cid}/chat"), 404, "not_found")


def test_inactive_class_409(room):
    cid, lec, stu = room["cid"], room["lecturer"], room["student"]
    _say(lec, cid, "last words")
    lec.deactivate(cid)
    for who in (lec, stu):
        assert_problem(who.post(f"/classes/{cid}/chat", json={"text": "hello?"}), 409, "class_inactive")
    # the history stays readable
    assert [m["text"] for m in _read(stu, cid)["items"]] == ["last words"]


def test_order_and_cursor_pages(room):
    cid, lec, stu = room["cid"], room["lecturer"], room["student"]
    sent = [_say(lec if i % 2 == 0 else stu, cid, f"m{i}") for i in range(7)]
    assert [m["cursor"] for m in sent] == [str(i) for i in range(1, 8)]
    p1 = _read(stu, cid, limit=3)
    assert [m["text"] for m in p1["items"]] == ["m0", "m1", "m2"] and p1["next_cursor"] == "3"
    p2 = _read(stu, cid, limit=3, after=p1["next_cursor"])
    assert [m["text"] for m in p2["items"]] == ["m3", "m4", "m5"] and p2["next_cursor"] == "6"
    p3 = _read(stu, cid, limit=3, after=p2["next_cursor"])
    assert p3 == {"items": [sent[6]], "next_cursor": "7"}
    # nothing newer: empty, and next_cursor stays where the reader is
    assert _read(stu, cid, after="7") == {"items": [], "next_cursor": "7"}
    assert _read(stu, cid, after="0007") == {"items": [], "next_cursor": "7"}
    assert _read(stu, cid, after="100") == {"items": [], "next_cursor": "100"}
    assert _read(lec, cid, limit=200)["items"] == sent
    assert _read(lec, cid, after="5")["items"] == sent[5:]


def test_concurrent_authors_get_one_sequence(room, make_api):
    """Chat commands are keyed by the class, so one consumer sequences every author's messages."""
    cid, lec = room["cid"], room["lecturer"]
    authors = [lec.clone(), room["student"].clone()]
    for _ in range(3):
        sid = _sid("stu")
        _enroll(lec, cid, sid)
        authors.append(make_api(sid, role="student"))
    n_each = 6

    def run(a):
        return [_say(a, cid, f"{a.sub} #{i}") for i in range(n_each)]
    with ThreadPoolExecutor(len(authors)) as ex:
        results = list(ex.map(run, authors))
    cursors = sorted(int(m["cursor"]) for r in results for m in r)
    assert cursors == list(range(1, len(authors) * n_each + 1)), "one gap-free sequence per class"
    for r in results:  # each author's own messages keep their order
        assert [int(m["cursor"]) for m in r] == sorted(int(m["cursor"]) for m in r)
    items = _read(lec, cid, limit=200)["items"]
    assert [int(m["cursor"]) for m in items] == cursors
    # another class starts its own sequence
    other = lec.create()
    assert _say(lec, other["id"], "first")["cursor"] == "1"


def test_idempotent_post(room):
    cid, stu = room["cid"], room["student"]
    h = {"Idempotency-Key": f"chat-{uuid.uuid4()}"}
    m1 = _say(stu, cid, "once", headers=h)
    m2 = _say(stu, cid, "once", headers=h)
    assert m1 == m2
    assert _read(stu, cid)["items"] == [m1]


def test_message_posted_event_on_chat_topic(room, kafka_brokers):
    cid, stu = room["cid"], room["student"]
    m = _say(stu, cid, "on the record")

    def until(evs):
        return any(e["value"]["type"] == "chat.message_posted" for e in evs)
    evs = read_events(kafka_brokers, [cid], until, timeout=20, topic=CHAT_TOPIC)
    assert until(evs), [e["value"] for e in evs]
    e = [e for e in evs if e["value"]["type"] == "chat.message_posted"][0]
    assert e["raw_keys"] == ["id", "type", "v", "time", "actor", "key", "cause", "data"]
    assert e["kafka_key"] == cid.encode()
    v = e["value"]
    assert v["v"] == 1 and v["key"] == cid and v["actor"] == stu.sub
    assert list(v["data"]) == ["id", "class_id", "seq", "author_id", "author_role", "text", "created_at"]
    d = v["data"]
    assert (d["id"], d["class_id"], d["seq"]) == (m["id"], cid, 1)
    assert (d["author_id"], d["author_role"], d["text"]) == (stu.sub, "student", "on the record")
    assert type(d["created_at"]) is int and d["created_at"] == rfc3339_to_ms(m["created_at"])
    # chat is not on the class events topic (services learning classes never read it)
    class_evs = read_events(kafka_brokers, [cid], timeout=20)
    assert "chat.message_posted" not in [x["value"]["type"] for x in class_evs]


# ---- long-poll ----

def _wait_in_thread(api, cid, **params):
    """Starts GET ?wait= in a thread; returns (thread, result dict: page, done monotonic time)."""
    out = {}

    def run():
        try:
            out["page"] = _read(api, cid, timeout=60, **params)
        except BaseException as e:  # reported by the test
            out["error"] = e
        out["done"] = time.monotonic()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_long_poll_returns_within_100ms_of_the_post(room):
    cid, lec, stu = room["cid"], room["lecturer"], room["student"]
    first = _say(lec, cid, "before")
    t, out = _wait_in_thread(stu.clone(), cid, after=first["cursor"], wait=20)
    time.sleep(0.5)  # the waiter is registered
    assert t.is_alive(), f"the wait returned early: {out}"
    m = _say(lec, cid, "wake up")
    posted = time.monotonic()
    t.join(10)
    assert not t.is_alive() and "error" not in out, out
    lag = out["done"] - posted
    assert lag < 0.1, f"the long-poll answered {lag * 1000:.0f} ms after the POST's 201"
    assert out["page"] == {"items": [m], "next_cursor": m["cursor"]}


def test_long_poll_answers_at_once_when_there_is_something(room):
    cid, stu = room["cid"], room["student"]
    m = _say(stu, cid, "already here")
    t0 = time.monotonic()
    assert _read(stu, cid, wait=10)["items"] == [m]
    assert time.monotonic() - t0 < 1.0


def test_wait_times_out_with_empty_items(room):
    cid, stu = room["cid"], room["student"]
    t0 = time.monotonic()
    page = _read(stu, cid, wait=1, after="0")
    took = time.monotonic() - t0
    assert page == {"items": [], "next_cursor": "0"}
    assert 0.95 <= took < 1.8, f"wait=1 answered after {took:.2f} s"


def test_100_waiters_woken_by_one_message(room):
    cid, lec, stu = room["cid"], room["lecturer"], room["student"]
    n = 100

    def wait_one(_):
        s = stu.clone()
        try:
            page = _read(s, cid, timeout=60, wait=20)
            return page, time.monotonic()
        finally:
            s.session.close()
    with ThreadPoolExecutor(n) as ex:
        futs = [ex.submit(wait_one, i) for i in range(n)]
        time.sleep(2.0)  # every waiter is registered
        assert not any(f.done() for f in futs), [f.result() for f in futs if f.done()][:3]
        m = _say(lec, cid, "everyone wake up")
        posted = time.monotonic()
        results = [f.result(timeout=30) for f in futs]
    for page, _ in results:
        assert page == {"items": [m], "next_cursor": "1"}
    slowest = max(done for _, done in results) - posted
    assert slowest < 3.0, f"the last of {n} waiters answered {slowest:.2f} s after the POST"


def test_waiter_whose_client_disconnects(room, base_url, jwt_secret, mint):
    cid, lec, stu = room["cid"], room["lecturer"], room["student"]
    host, port = base_url.split("//")[1].split(":")
    port = int(port.rstrip("/"))
    token = mint(stu.sub, "student")
    socks = []
    for _ in range(5):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(request_bytes("GET", f"/classes/{cid}/chat?wait=20",
                                headers={"Authorization": f"Bearer {token}"}))
        socks.append(s)
    time.sleep(0.5)
    for s in socks:
        s.close()
    time.sleep(0.3)  # the sweep frees their waiters
    # the gateway is fine: a new waiter is woken normally, and a message posted
    # now (which would wake the vanished ones too, if they were still there) is served
    t, out = _wait_in_thread(stu.clone(), cid, wait=20)
    time.sleep(0.3)
    m = _say(lec, cid, "anyone?")
    t.join(10)
    assert not t.is_alive() and "error" not in out, out
    assert out["page"]["items"] == [m]
    r = requests.get(base_url + "/healthz", timeout=5)
    assert r.status_code == 200


@pytest.mark.disruptive
def test_waiter_rereads_after_the_subscriber_reconnects(room, redis_client):
    cid, lec, stu = room["cid"], room["lecturer"], room["student"]
    t, out = _wait_in_thread(stu.clone(), cid, wait=20)
    time.sleep(0.5)
    assert redis_client.client_kill_filter(_type="pubsub") >= 1, "the gateway has a subscriber connection"
    # Posted while the subscriber reconnects (its publish may reach nobody): the
    # resubscription wakes every waiter to read again, so nothing is missed.
    m = _say(lec, cid, "while you were away")
    t.join(10)
    assert not t.is_alive() and "error" not in out, out
    assert out["page"]["items"] == [m]
    # and the new subscription delivers wake-ups as before
    t, out = _wait_in_thread(stu.clone(), cid, after=m["cursor"], wait=20)
    time.sleep(0.5)
    m2 = _say(lec, cid, "welcome back")
    posted = time.monotonic()
    t.join(10)
    assert not t.is_alive() and "error" not in out, out
    assert out["page"]["items"] == [m2]
    assert out["done"] - posted < 0.5


@pytest.mark.disruptive
@pytest.mark.slow
def test_gateway_stop_answers_waiters_promptly(room, ctl, base_url):
    cid, stu = room["cid"], room["student"]
    t, out = _wait_in_thread(stu.clone(), cid, wait=30)
    time.sleep(0.5)
    assert t.is_alive()
    t0 = time.monotonic()
    try:
        ctl("restart", "gateway", timeout=60)
    finally:
        wait_ready(base_url, timeout=60)
    t.join(5)
    assert not t.is_alive(), "the waiter was still held after the gateway restarted"
    took = out["done"] - t0
    assert took < 5.0, f"the waiter was answered {took:.1f} s after SIGTERM"
    if "error" not in out:  # answered (rather than cut) with an empty page
        assert out["page"] == {"items": [], "next_cursor": "0"}
