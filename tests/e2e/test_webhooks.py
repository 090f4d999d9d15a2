"""Webhooks: registration by an admin (a command and an event, so the list is a rebuildable
view), signed POSTs of each notification whose kind a webhook subscribes to and whose
recipient switched webhooks on, retries with backoff, a receiver that is down for a while,
the dead-letter topic after the (test-short) horizon, and `sms-admin dlq list|replay`.

A receiver is a Python http.server on loopback; signatures are checked with a reference
HMAC-SHA256 computed here: hex(HMAC(secret, "<X-SMS-Timestamp>." + body))."""

import hashlib
import hmac
import json
import os
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import assert_json, assert_problem, describe, wait_for

SECRET = "s3cret-for-webhook-tests"
HORIZON_S = int(os.environ.get("SMS_WEBHOOK_RETRY_HORIZON_S", "86400"))

pytestmark = pytest.mark.skipif(HORIZON_S > 60, reason="needs a short SMS_WEBHOOK_RETRY_HORIZON_S (tests/run sets it)")


def _sid():
    return f"s-{uuid.uuid4().hex[:10]}"


def _free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Receiver:
    """A webhook endpoint on loopback: answers 500 to its first `fail_first` calls,
    records every call (headers, body bytes) and the ones it accepted."""

    def __init__(self, fail_first=0, host="127.0.0.1"):
        self.host = host
        self.port = _free_port(host)
        self.fail_first = fail_first
        self.calls = []
        self.accepted = []
        self.lock = threading.Lock()
        self.server = None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}/hook"

    def start(self):
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with rec.lock:
                    rec.calls.append((dict(self.headers), body))
                    ok = len(rec.calls) > rec.fail_first
                    if ok:
                        rec.accepted.append((dict(self.headers), body))
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def bodies(self):
        with self.lock:
            return [json.loads(b) for _, b in self.accepted]



@pytest.fixture
def admin_api(make_api):
    return make_api(sub=f"admin-{uuid.uuid4().hex[:8]}", role="admin")


@pytest.fixture
def hooks(admin_api):
    """Registers webhooks and deletes them after the test (a webhook left behind would
    receive later tests' notifications)."""
    made = []

    def _register(url, events=("post",), secret=SECRET):
        r = admin_api.post("/admin/webhooks", json={"url": url, "events": list(events), "secret": secret})
        assert r.status_code == 201, describe(r)
        made.append(r.json()["id"])
        return r.json()

    yield _register
    for hid in made:
        admin_api.delete(f"/admin/webhooks/{hid}")


def _class_with(make_api, n_on, n_off=0):
    """A class whose first n_on students switched webhooks on; returns (lecturer, class id, on, off)."""
    lec = make_api()
    c = lec.create()
    on = sorted(_sid() for _ in range(n_on))
    off = sorted(_sid() for _ in range(n_off))
    rows = [{"student_id": s, "name": f"Student {s[-4:]}", "email": f"{s}@school.edu"} for s in on + off]
    r = lec.post(f"/lecturer/classes/{c['id']}/students", json={"students": rows})
    assert r.status_code == 200, describe(r)
    for s in on:
        r = make_api(sub=s, role="student").put("/me/notification-preferences", json={"channels": {"webhook": True}})
        assert r.status_code == 200, describe(r)
    return lec, c["id"], on, off


def _post(lec, cid, title):
    r = lec.post(f"/classes/{cid}/posts", json={"title": title, "body": "b"})
    assert r.status_code == 201, describe(r)


def _deliveries(admin_api, status):
    items, cursor = [], None
    for _ in range(100):
        params = {"status": status, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = assert_json(admin_api.get("/admin/deliveries", params=params), 200)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("deliveries pagination does not end")


def test_register_list_delete_and_validation(admin_api, make_api, hooks):
    h = hooks("http://127.0.0.1:9/hook", events=["post", "grade"])
    assert set(h) == {"id", "url", "events", "created_at"}, h  # the secret is never served
    assert h["events"] == ["post", "grade"] and h["url"] == "http://127.0.0.1:9/hook"
    listed = assert_json(admin_api.get("/admin/webhooks"), 200)
    assert set(listed) == {"items", "next_cursor"}
    assert h in listed["items"]
    for role in ("lecturer", "student"):
        assert_problem(make_api(role=role).get("/admin/webhooks"), 403, "forbidden")
        assert_problem(make_api(role=role).post("/admin/webhooks", json={"url": "http://x/", "events": ["*"],
                                                                          "secret": SECRET}), 403, "forbidden")
    assert_problem(admin_api.post("/admin/webhooks", json={"url": "ftp://example.com/x", "events": ["spam"],
                                                           "secret": "short"}),
                   422, "validation", fields=["url", "events", "secret"])
    assert_problem(admin_api.post("/admin/webhooks", json={"url": "http://user@evil/x", "events": ["*"],
                                                           "secret": SECRET}), 422, "validation", fields=["url"])
    r = admin_api.delete(f"/admin/webhooks/{h['id']}")
    assert r.status_code == 200, describe(r)
    assert h not in assert_json(admin_api.get("/admin/webhooks"), 200)["items"]
    assert_problem(admin_api.delete(f"/admin/webhooks/{h['id']}"), 404, "not_found")


def test_signed_delivery_verifies_with_reference_hmac(make_api, hooks):
    rec = Receiver().start()
    other = Receiver().start()
    try:
        hooks(rec.url, events=["post"])
        hooks(other.url, events=["grade"])  # subscribed to another kind: gets nothing of ours
        lec, cid, on, off = _class_with(make_api, 3, 2)
        _post(lec, cid, "Signed")
        got = wait_for(lambda: (len([b for b in rec.bodies() if b["notification"]["class_id"] == cid]) >= 3, rec.bodies()),
                    "3 webhook deliveries")
        time.sleep(1.0)  # nothing more may come (students with webhooks off, duplicates)
        ours = [(h, b) for h, b in rec.accepted if json.loads(b)["notification"]["class_id"] == cid]
        assert sorted(json.loads(b)["notification"]["recipient_id"] for _, b in ours) == on, got
        for headers, body in ours:
            ts = headers["X-SMS-Timestamp"]
            assert abs(int(ts) - time.time()) < 120
            want = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            assert headers["X-SMS-Signature"] == f"sha256={want}"
            doc = json.loads(body)
            assert headers["X-SMS-Delivery-Id"] == doc["delivery_id"]
            assert doc["type"] == "notification.created" and doc["notification"]["kind"] == "post"
            assert doc["notification"]["title"] == "Signed"
        assert not [b for b in other.bodies() if b["notification"]["class_id"] == cid]
    finally:
        rec.stop()
        other.stop()


def test_failing_receiver_gets_the_delivery_on_a_retry(make_api, admin_api, hooks):
    rec = Receiver(fail_first=2).start()
    try:
        hooks(rec.url, events=["*"])
        lec, cid, on, _ = _class_with(make_api, 1)
        _post(lec, cid, "Retried")
        wait_for(lambda: (len(rec.accepted) == 1, len(rec.calls)), "a delivery after two 500s")
        assert len(rec.calls) == 3
        ids = {h["X-SMS-Delivery-Id"] for h, _ in rec.calls}
        assert len(ids) == 1  # the same delivery, attempted three times
        did = ids.pop()
        sent = wait_for(lambda: (any(d["id"] == did for d in _deliveries(admin_api, "sent")),
                              _deliveries(admin_api, "sent")), "the delivery listed as sent")
        d = next(d for d in sent if d["id"] == did)
        assert d["attempts"] == 3 and d["status"] == "sent" and d["recipient_id"] == on[0], d
        assert d["last_error"] is None and d["next_attempt_at"] is None
    finally:
        rec.stop()


def test_receiver_down_for_a_while_gets_everything_once_back(make_api, admin_api, hooks):
    rec = Receiver()  # not listening yet
    try:
        wid = hooks(rec.url, events=["post"])["id"]
        lec, cid, on, _ = _class_with(make_api, 2)
        for i in range(3):
            _post(lec, cid, f"While down {i}")
        # This webhook's deliveries only: another test's webhook may still be registered.
        def mine(d):
            return d["recipient_id"] in on and d["webhook_id"] == wid
        retrying = wait_for(lambda: (len([d for d in _deliveries(admin_api, "retrying") if mine(d)]) == 6,
                                  _deliveries(admin_api, "retrying")), "6 deliveries retrying", timeout=HORIZON_S)
        for d in retrying:
            if mine(d):
                assert d["attempts"] >= 1 and d["last_error"] and d["next_attempt_at"], d
        rec.start()
        wait_for(lambda: (len(rec.bodies()) >= 6, len(rec.bodies())), "6 deliveries after the receiver came back",
              timeout=HORIZON_S + 10)
        got = sorted((b["notification"]["recipient_id"], b["notification"]["title"]) for b in rec.bodies())
        assert got == sorted((s, f"While down {i}") for s in on for i in range(3))
    finally:
        rec.stop()


def test_never_recovering_receiver_dead_letters_then_replay_delivers(make_api, admin_api, admin, hooks):
    rec = Receiver()  # down for longer than the horizon
    try:
        wid = hooks(rec.url, events=["post"])["id"]
        lec, cid, on, _ = _class_with(make_api, 1)
        _post(lec, cid, "Dead letter")
        def mine_failed():
            f = [d for d in _deliveries(admin_api, "failed") if d["recipient_id"] == on[0] and d["webhook_id"] == wid]
            return bool(f), f

        failed = wait_for(mine_failed, "the delivery failed", timeout=HORIZON_S + 20)
        d = failed[0]
        assert d["attempts"] >= 2 and d["last_error"] and d["next_attempt_at"] is None, d
        listed = admin("dlq", "list", timeout=60).stdout
        letters = [json.loads(ln) for ln in listed.splitlines() if ln.strip()]
        mine = [m for m in letters if m["data"]["delivery_id"] == d["id"]]
        assert len(mine) == 1, listed
        assert mine[0]["type"] == "notification.dead_lettered" and mine[0]["data"]["url"] == rec.url
        assert json.loads(mine[0]["data"]["payload"])["notification"]["title"] == "Dead letter"
        rec.start()
        out = admin("dlq", "replay", "--id", d["id"], timeout=60).stdout
        assert "1" in out, out
        wait_for(lambda: (len(rec.bodies()) == 1, rec.bodies()), "the replayed delivery")
        assert rec.accepted[0][0]["X-SMS-Delivery-Id"] == d["id"]
        wait_for(lambda: (any(x["id"] == d["id"] for x in _deliveries(admin_api, "sent")), None), "listed as sent")
    finally:
        rec.stop()


def test_a_redelivered_notification_is_delivered_once(make_api, kafka_brokers, hooks):
    from test_email import _redeliver

    rec = Receiver().start()
    try:
        hooks(rec.url, events=["post"])
        lec, cid, on, _ = _class_with(make_api, 1)
        _post(lec, cid, "Once")
        wait_for(lambda: (len(rec.bodies()) == 1, rec.bodies()), "the delivery")
        _redeliver(kafka_brokers, on[0])
        time.sleep(2.0)  # the same delivery id: scheduled once, so nothing more arrives
        assert len(rec.calls) == 1, [h["X-SMS-Delivery-Id"] for h, _ in rec.calls]
    finally:
        rec.stop()
