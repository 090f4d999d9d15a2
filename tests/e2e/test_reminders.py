"""Due-date reminders: sms-assignments' periodic scan (SMS_DUE_REMINDER_SCAN_MS, 300 ms under
tests/run) writes one assignment.due_soon per (assignment, due_at) entering the
SMS_DUE_REMINDER_WINDOW_S window (24 h), and sms-notifications turns it into one due_reminder
per enrolled student. Events are read back from Kafka and decoded with Python msgpack."""

import time
import uuid

import pytest

from helpers import assert_json, describe, now_ms, read_events, wait_for

TOPIC = "sms.events.assignments"
NOTIF_TOPIC = "sms.notifications"
HOUR = 3600 * 1000
DAY = 24 * HOUR
SNAPSHOT_KEYS = ["id", "class_id", "lecturer_id", "title", "description", "due_at", "max_score",
                 "status", "created_at", "updated_at", "version"]


def _iso(ms):
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
    return f"{s}.{ms % 1000:03d}Z"


def _sid():
    return f"s-{uuid.uuid4().hex[:10]}"


def _due_soon(brokers, aids, until=None, timeout=20.0):
    """assignment.due_soon events of aids on the assignments topic, as decoded maps."""
    got = read_events(brokers, aids, topic=TOPIC, timeout=timeout,
                      until=(lambda c: until([e for e in c if e["value"]["type"] == "assignment.due_soon"]))
                      if until else None)
    return [e["value"] for e in got if e["value"]["type"] == "assignment.due_soon"]


def _wait_due_soon(brokers, aid, n=1, timeout=20.0):
    evs = _due_soon(brokers, [aid], until=lambda c: len(c) >= n, timeout=timeout)
    assert len(evs) >= n, f"{n} assignment.due_soon for {aid} not seen within {timeout}s: {evs}"
    return evs


def _inbox(api):
    r = api.get("/me/notifications", params={"limit": 100})
    return assert_json(r, 200)["items"]



def _create(lec, cid, due_ms, title=None):
    r = lec.post("/lecturer/assignments", json={"class_id": cid, "title": title or f"HW {uuid.uuid4().hex[:6]}",
                                                "due_at": _iso(due_ms)})
    assert r.status_code == 201, describe(r)
    return r.json()


@pytest.fixture
def klass(make_api):
    """A lecturer's class with 3 enrolled students."""
    lec = make_api()
    c = lec.create()
    sids = sorted(_sid() for _ in range(3))
    rows = [{"student_id": s, "name": f"Student {s[-4:]}", "email": f"{s}@school.edu"} for s in sids]
    r = lec.post(f"/lecturer/classes/{c['id']}/students", json={"students": rows})
    assert r.status_code == 200, describe(r)
    return {"lec": lec, "cid": c["id"], "students": {s: make_api(sub=s, role="student") for s in sids}}


def test_due_in_an_hour_one_event_and_one_reminder_per_student(klass, kafka_brokers):
    lec, cid = klass["lec"], klass["cid"]
    a = _create(lec, cid, now_ms() + HOUR, title="Lab report")
    ev = _wait_due_soon(kafka_brokers, a["id"])[0]
    assert ev["v"] == 1 and ev["key"] == a["id"] and ev["actor"] == "system"
    assert list(ev["data"].keys()) == SNAPSHOT_KEYS + ["window_s"]
    d = ev["data"]
    assert d["id"] == a["id"] and d["class_id"] == cid and d["status"] == "open" and d["title"] == "Lab report"
    assert d["window_s"] == 86400
    assert ev["time"] <= d["due_at"] and ev["time"] >= d["due_at"] - DAY
    # many scans later, still exactly one
    time.sleep(2.0)
    evs = _due_soon(kafka_brokers, [a["id"]])
    assert [e["id"] for e in evs] == [ev["id"]], f"want exactly one assignment.due_soon: {evs}"
    for sid, api in klass["students"].items():
        items = wait_for(lambda: (lambda it: (len([i for i in it if i["kind"] == "due_reminder"]) >= 1, it))(
            _inbox(api)), f"due reminder of {sid}")
        rem = [i for i in items if i["kind"] == "due_reminder"]
        assert len(rem) == 1, rem
        assert rem[0]["title"] == "Due in 24 h: Lab report"
        assert rem[0]["source_event_id"] == ev["id"] and rem[0]["class_id"] == cid
        assert rem[0]["link"] == f"/student/classes/{cid}/assignments#{a['id']}"
    # one notification per student on sms.notifications (by id: at-least-once may repeat one)
    got = read_events(kafka_brokers, set(klass["students"]), topic=NOTIF_TOPIC,
                      until=lambda c: len({e["value"]["id"] for e in c
                                           if e["value"]["data"]["source_event_id"] == ev["id"]}) >= 3, timeout=20)
    mine = [e["value"]["data"] for e in got if e["value"]["data"]["source_event_id"] == ev["id"]]
    assert {m["recipient_id"] for m in mine} == set(klass["students"])
    assert len({m["id"] for m in mine}) == 3
    assert all(m["kind"] == "due_reminder" and m["source_type"] == "assignment.due_soon" for m in mine)
    assert all(m["channel_hints"] == ["inbox", "email"] for m in mine), "defaults: inbox and email"


def test_due_in_three_days_none_until_moved_into_the_window(klass, kafka_brokers):
    lec, cid = klass["lec"], klass["cid"]
    far = _create(lec, cid, now_ms() + 3 * DAY)
    # A control due in an hour, created after: once it is reminded, the scan has seen both.
    near = _create(lec, cid, now_ms() + HOUR)
    _wait_due_soon(kafka_brokers, near["id"])
    time.sleep(1.0)
    assert _due_soon(kafka_brokers, [far["id"]]) == [], "3 days ahead is outside the 24 h window"
    sid, api = next(iter(klass["students"].items()))
    assert len([i for i in _inbox(api) if i["kind"] == "due_reminder"]) == 1, "only the control's"

    # Moved into the window: one reminder, for the new due date.
    due1 = now_ms() + 2 * HOUR
    r = lec.put(f"/lecturer/assignments/{far['id']}", json={"due_at": _iso(due1)})
    assert r.status_code == 200, describe(r)
    ev1 = _wait_due_soon(kafka_brokers, far["id"])[0]
    assert ev1["data"]["due_at"] == due1
    # Moved later, still in the window: a new due date, so a new reminder with another id.
    due2 = now_ms() + 5 * HOUR
    r = lec.put(f"/lecturer/assignments/{far['id']}", json={"due_at": _iso(due2)})
    assert r.status_code == 200, describe(r)
    evs = _wait_due_soon(kafka_brokers, far["id"], n=2)
    time.sleep(1.5)
    evs = _due_soon(kafka_brokers, [far["id"]])
    assert [e["data"]["due_at"] for e in evs] == [due1, due2], evs
    assert evs[0]["id"] != evs[1]["id"]
    # A title change keeps the due date: no third reminder.
    r = lec.put(f"/lecturer/assignments/{far['id']}", json={"title": "Renamed"})
    assert r.status_code == 200, describe(r)
    time.sleep(1.5)
    assert len(_due_soon(kafka_brokers, [far["id"]])) == 2
    wait_for(lambda: (lambda it: (len([i for i in it if i["kind"] == "due_reminder"]) == 3, it))(_inbox(api)),
          "three due reminders (control, first and second due date)")


def _seed_assignment(brokers, aid, cls, lecturer, version, status, due_ms):
    """An assignment event written straight to the topic (as only the stopped service could)."""
    import msgpack
    from confluent_kafka import Producer
    t = now_ms()
    etype = "assignment.created" if version == 1 else "assignment.deleted" if status == "deleted" \
        else "assignment.updated"
    ev = {"id": uuid.uuid4().hex, "type": etype, "v": 1, "time": t, "actor": lecturer, "key": aid,
          "cause": f"seed-{uuid.uuid4().hex}",
          "data": {"id": aid, "class_id": cls, "lecturer_id": lecturer, "title": f"Task {aid[-4:]}",
                   "description": "", "due_at": due_ms, "max_score": 10, "status": status,
                   "created_at": t, "updated_at": t, "version": version}}
    p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all"})
    p.produce(TOPIC, key=aid.encode(), value=msgpack.packb(ev, use_bin_type=True),
              headers=[("content-type", b"application/msgpack")])
    assert p.flush(20) == 0, "seed event not delivered"


def test_restart_emits_nothing_new_deleted_and_inactive_get_none(make_api, kafka_brokers, ctl):
    """sms-assignments is stopped while the log gains an assignment due in an hour and deleted
    right away, and one due in an hour in a class deactivated meanwhile; a reminded assignment
    exists from before. Started again (a `deploy/ctl restart` with seeding in the middle: its
    first catch-up applies all of it before its first scan), it reminds none of them, and the
    earlier reminder is not written again with a new id."""
    lec = make_api()
    c = lec.create()
    sid = _sid()
    r = lec.post(f"/lecturer/classes/{c['id']}/students",
                 json={"students": [{"student_id": sid, "name": "Stu", "email": f"{sid}@school.edu"}]})
    assert r.status_code == 200, describe(r)
    before = _create(lec, c["id"], now_ms() + HOUR)
    first = _wait_due_soon(kafka_brokers, before["id"])[0]
    c2 = lec.create()
    r = lec.post(f"/lecturer/classes/{c2['id']}/students",
                 json={"students": [{"student_id": sid, "name": "Stu", "email": f"{sid}@school.edu"}]})
    assert r.status_code == 200, describe(r)
    deleted, inactive = f"asg-{uuid.uuid4().hex[:10]}", f"asg-{uuid.uuid4().hex[:10]}"
    ctl("stop", "assignments", timeout=60)
    try:
        _seed_assignment(kafka_brokers, deleted, c["id"], lec.sub, 1, "open", now_ms() + HOUR)
        _seed_assignment(kafka_brokers, deleted, c["id"], lec.sub, 2, "deleted", now_ms() + HOUR)
        _seed_assignment(kafka_brokers, inactive, c2["id"], lec.sub, 1, "open", now_ms() + HOUR)
        r = lec.delete(f"/lecturer/classes/{c2['id']}")
        assert r.status_code == 200, describe(r)
    finally:
        ctl("start", "assignments", timeout=120)
    # A control created after the restart: once it is reminded, the scan has run over all.
    control = _create(lec, c["id"], now_ms() + HOUR)
    _wait_due_soon(kafka_brokers, control["id"], timeout=40)
    time.sleep(1.0)
    evs = _due_soon(kafka_brokers, [before["id"]])
    assert evs and {e["id"] for e in evs} == {first["id"]}, f"a second reminder after the restart: {evs}"
    assert all(e == first for e in evs), "a re-emit would be the same event"
    assert _due_soon(kafka_brokers, [deleted]) == [], "a deleted assignment is not reminded"
    assert _due_soon(kafka_brokers, [inactive]) == [], "an inactive class's assignment is not reminded"
    stu = make_api(sub=sid, role="student")
    wait_for(lambda: (lambda it: (len([i for i in it if i["kind"] == "due_reminder"]) == 2, it))(_inbox(stu)),
          "two due reminders (before the restart, and the control)")
    time.sleep(0.5)
    assert len([i for i in _inbox(stu) if i["kind"] == "due_reminder"]) == 2
