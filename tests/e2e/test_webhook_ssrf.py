"""Webhook SSRF (issue 12 §2): internal targets are refused at registration (422 naming
`url`) and again at connect time on the resolved address, and /admin/deliveries does not
map internal ports. tests/run allow-lists 127.0.0.1 (the receivers of test_webhooks.py);
127.0.0.2 and everything else internal stays refused."""

import os
import time

import msgpack
import pytest
from confluent_kafka import Producer

from helpers import assert_problem, new_lecturer_id, now_ms, wait_for
from test_webhooks import SECRET, Receiver, _class_with, _deliveries, _post, admin_api, hooks  # noqa: F401

REFUSED = [
    "http://user:pw@127.0.0.1/",           # credentials (the contract forbids them)
    "http://127.0.0.2:22/",                # loopback outside the allow-list
    "http://[::1]:9092/",                  # IPv6 loopback
    "http://169.254.169.254/latest/meta-data/",  # link-local, cloud metadata
    "http://10.0.0.1/", "http://172.16.5.4:8080/", "http://192.168.1.1/",  # private
    "http://0.0.0.0:6379/",                # unspecified
    "http://224.0.0.1/",                   # multicast
    "http://[fe80::1]/", "http://[fd00::1]/",
    "http://[::ffff:127.0.0.2]/", "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped forms
    "http://2852039166/", "http://0xa9fea9fe/", "http://127.2/",  # odd IPv4 spellings
    "http://localhost:6379/", "http://db.localhost/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_internal_webhook_targets_are_refused_at_registration(admin_api, url):
    r = admin_api.post("/admin/webhooks", json={"url": url, "events": ["*"], "secret": SECRET})
    assert_problem(r, 422, "validation", fields=["url"])


def _ulid():
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    n = (now_ms() << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(alphabet[(n >> (5 * i)) & 31] for i in range(25, -1, -1))


def _inject_registration(brokers, url):
    """A webhook.registered event written straight to the log, as an older version (or a
    process with a wider allow-list) would have written it: only the connect-time check
    stands between it and the internal target."""
    hid, eid = _ulid(), _ulid()
    t = now_ms()
    ev = {"id": eid, "type": "webhook.registered", "v": 1, "time": t, "actor": new_lecturer_id(), "key": hid,
          "cause": f"inject:{eid}", "data": {"webhook_id": hid, "url": url, "events": ["post"], "secret": SECRET,
                                            "created_at": t}}
    p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True})
    p.produce("sms.events.notifications", key=hid, value=msgpack.packb(ev, use_bin_type=True),
              headers={"content-type": b"application/msgpack"})
    assert p.flush(20) == 0
    return hid


def test_connect_time_check_refuses_an_internal_address_and_hides_the_port(make_api, admin_api, hooks,
                                                                            kafka_brokers):
    inside = Receiver(host="127.0.0.2").start()   # an "internal service" the consumer can reach
    allowed = Receiver().start()                   # the allow-listed receiver proves delivery ran
    hid = None
    try:
        hid = _inject_registration(kafka_brokers, inside.url)
        wait_for(lambda: (any(h["id"] == hid for h in admin_api.get("/admin/webhooks").json()["items"]), None),
                 "the injected webhook in the view")
        hooks(allowed.url, events=["post"])
        lec, cid, on, _ = _class_with(make_api, 1)
        _post(lec, cid, "SSRF probe")
        wait_for(lambda: (len(allowed.bodies()) == 1, len(allowed.calls)), "the allowed receiver's delivery")

        def refused():
            mine = [d for st in ("retrying", "failed") for d in _deliveries(admin_api, st)
                    if d["webhook_id"] == hid and d["recipient_id"] == on[0]]
            return bool(mine), mine
        mine = wait_for(refused, "the internal delivery recorded as refused")
        time.sleep(1.0)  # a retry or two more: none may reach the internal receiver
        assert inside.calls == [], "the consumer connected to 127.0.0.2"
        for d in mine:
            assert d["last_error"] == "target refused by policy", d
            assert str(inside.port) not in d["last_error"] and "127.0.0.2" not in d["last_error"], d
    finally:
        if hid:
            admin_api.delete(f"/admin/webhooks/{hid}")
        inside.stop()
        allowed.stop()
