"""Email delivery: sms-notify-email mails each notification whose channel_hints hold "email"
to the address learned from the roster, through a real SMTP server on loopback (the aiosmtpd
mail sink tests/run starts with `deploy/ctl start-mail-sink`, keeping every mail in the
Maildir $SMS_RUN_DIR/mail). Mail to one user within SMS_EMAIL_DIGEST_WINDOW_S after a mail
is held and sent as one digest."""

import mailbox
import os
import time
import uuid

import pytest

from helpers import describe

MAILDIR = os.path.join(os.environ.get("SMS_RUN_DIR", "/nonexistent"), "mail")
WINDOW_S = int(os.environ.get("SMS_EMAIL_DIGEST_WINDOW_S", "60"))

pytestmark = pytest.mark.skipif(not os.path.isdir(MAILDIR) or WINDOW_S > 10,
                                reason="needs the mail sink and a short digest window (tests/run sets both)")


def _sid():
    return f"s-{uuid.uuid4().hex[:10]}"


def _mails_to(addrs):
    """{address: [message, ...]} of every mail in the sink addressed to one of addrs."""
    out = {a: [] for a in addrs}
    for msg in mailbox.Maildir(MAILDIR, create=False).values():
        to = (msg["To"] or "").strip()
        if to in out:
            out[to].append(msg)
    return out


def _wait_mails(addrs, count, timeout=30.0):
    deadline = time.monotonic() + timeout
    got = {}
    while time.monotonic() < deadline:
        got = _mails_to(addrs)
        if sum(len(v) for v in got.values()) >= count:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{count} mails not seen within {timeout}s; got {sum(len(v) for v in got.values())}")


def _class(make_api, sids):
    lec = make_api()
    c = lec.create()
    rows = [{"student_id": s, "name": f"Student {s[-4:]}", "email": f"{s}@school.edu"} for s in sids]
    r = lec.post(f"/lecturer/classes/{c['id']}/students", json={"students": rows})
    assert r.status_code == 200, describe(r)
    return lec, c["id"]


def test_post_to_a_class_of_20_mails_20_students_and_not_one_who_switched_email_off(make_api):
    on = sorted(_sid() for _ in range(20))
    off = _sid()
    lec, cid = _class(make_api, on + [off])
    r = make_api(sub=off, role="student").put("/me/notification-preferences", json={"channels": {"email": False}})
    assert r.status_code == 200, describe(r)
    r = lec.post(f"/classes/{cid}/posts", json={"title": "Exam room", "body": "Room 101 at 9:00."})
    assert r.status_code == 201, describe(r)
    addrs = [f"{s}@school.edu" for s in on + [off]]
    _wait_mails(addrs, 20)
    time.sleep(WINDOW_S + 1.0)  # no second mail (no duplicate, no digest of one), none to `off`
    got = _mails_to(addrs)
    assert got[f"{off}@school.edu"] == []
    for s in on:
        mails = got[f"{s}@school.edu"]
        assert len(mails) == 1, (s, len(mails))
        m = mails[0]
        assert m["Subject"] == "[sms] Exam room"
        assert len(m["X-SMS-Notification-Ids"]) == 26
        body = m.get_payload(decode=True).decode()
        assert "Room 101 at 9:00." in body and f"/classes/{cid}/posts" in body


def test_many_notifications_within_the_window_become_one_digest(make_api):
    sid = _sid()
    lec, cid = _class(make_api, [sid])
    titles = [f"Update {i}" for i in range(6)]
    for t in titles:
        r = lec.post(f"/classes/{cid}/posts", json={"title": t, "body": f"text of {t}"})
        assert r.status_code == 201, describe(r)
    addr = f"{sid}@school.edu"
    got = _wait_mails([addr], 2, timeout=WINDOW_S + 30)[addr]
    time.sleep(WINDOW_S + 1.0)
    got = _mails_to([addr])[addr]
    assert len(got) == 2, [m["Subject"] for m in got]  # the first at once, the other five as one digest
    got.sort(key=lambda m: len(m["X-SMS-Notification-Ids"]))
    first, digest = got
    assert first["Subject"] == "[sms] Update 0"
    assert digest["Subject"] == "[sms] 5 new notifications"
    ids = digest["X-SMS-Notification-Ids"].split(",")
    assert len(ids) == 5 and ids == sorted(ids) and first["X-SMS-Notification-Ids"] not in ids
    body = digest.get_payload(decode=True).decode()
    positions = [body.index(t) for t in titles[1:]]
    assert positions == sorted(positions)  # oldest first
    inbox = make_api(sub=sid, role="student").get("/me/notifications", params={"limit": 100}).json()["items"]
    assert sorted(i["id"] for i in inbox) == sorted(ids + [first["X-SMS-Notification-Ids"]])


def _redeliver(brokers, sid):
    """Produces the student's notification.created messages on sms.notifications again, as
    sms-notifications does when a source event is redelivered (same ids)."""
    import msgpack
    from confluent_kafka import Producer

    from helpers import read_events

    msgs = read_events(brokers, [sid], topic="sms.notifications")
    assert msgs, "no notification on sms.notifications for " + sid
    p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True})
    for m in msgs:
        p.produce("sms.notifications", key=sid, value=msgpack.packb(m["value"], use_bin_type=True),
                  headers={"content-type": b"application/msgpack"})
    assert p.flush(20) == 0
    return msgs


def test_a_redelivered_notification_is_not_mailed_twice(make_api, kafka_brokers):
    sid = _sid()
    lec, cid = _class(make_api, [sid])
    r = lec.post(f"/classes/{cid}/posts", json={"title": "Once only", "body": "b"})
    assert r.status_code == 201, describe(r)
    addr = f"{sid}@school.edu"
    _wait_mails([addr], 1)
    msgs = _redeliver(kafka_brokers, sid)
    assert len(msgs) == 1
    time.sleep(WINDOW_S + 2.0)  # a second mail would be sent at once or as a digest by now
    got = _mails_to([addr])[addr]
    assert len(got) == 1, [m["Subject"] for m in got]
    assert got[0]["X-SMS-Notification-Ids"] == msgs[0]["value"]["id"]
