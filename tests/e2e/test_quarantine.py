"""A poisoned event in the log never stops a service (issue 8, section 2).

A grade.changed whose score is -92233720368547758.08 (what the 1e17 overflow wrote before
the deciders range-checked scores) is produced straight into sms.events.grades, as an
outside producer or an old binary could. The grading service must quarantine it (a view
entry keyed by topic:partition:offset), keep applying every other grade, answer reads of
the affected assignment and class with view_incomplete, finish a rebuild with the same
checksums, keep quarantining it on `quarantine retry`, and take an operator's
grade.corrected as the repair.

Module fixtures run the scenario once; tests run in file order (the rebuild and the
correction change the state later tests see).
"""

import json
import time
import uuid

import msgpack
import pytest

from helpers import Api, describe, new_lecturer_id, now_ms, wait_for

pytestmark = [pytest.mark.disruptive, pytest.mark.slow]

GRADES_TOPIC = "sms.events.grades"
POISON_SCORE = -92233720368547758.08


def _produce(brokers, topic, key, ev):
    """Produces one envelope; returns (partition, offset) from its delivery report."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all"})
    where = {}

    def on_delivery(err, msg):
        assert err is None, f"not delivered: {err}"
        where["at"] = (msg.partition(), msg.offset())

    p.produce(topic, key=key.encode(), value=msgpack.packb(ev, use_bin_type=True),
              headers=[("content-type", b"application/msgpack")], on_delivery=on_delivery)
    assert p.flush(20) == 0, "event not delivered"
    return where["at"]


def _event(etype, key, actor, data):
    return {"id": uuid.uuid4().hex, "type": etype, "v": 1, "time": now_ms(), "actor": actor,
            "key": key, "cause": f"e2e-{uuid.uuid4().hex}", "data": data}


def _sheet(api, aid):
    return api.get(f"/lecturer/assignments/{aid}/grades")


def _grades(api, aid, rows):
    return api.post(f"/lecturer/assignments/{aid}/update-grades", json={"grades": rows})


def _quarantine(redis_client):
    raw = redis_client.hgetall("sms:grading:quarantine")
    return {k.decode(): json.loads(v) for k, v in raw.items()}


@pytest.fixture(scope="module")
def scene(base_url, mint, kafka_brokers, redis_client):
    lec = new_lecturer_id()
    api = Api(base_url, mint(lec), sub=lec)
    cls, a1, a2 = (f"{p}-{uuid.uuid4().hex[:10]}" for p in ("qcls", "qa1", "qa2"))
    s1, s2, s3 = (f"qs{i}-{uuid.uuid4().hex[:6]}" for i in (1, 2, 3))
    t = now_ms()
    _produce(kafka_brokers, "sms.events.classes", cls, _event("class.students_enrolled", cls, lec, {
        "class_id": cls, "lecturer_id": lec, "roster_version": 1,
        "students": [{"student_id": s, "name": s.upper(), "email": f"{s}@school.edu", "enrolled_at": t}
                     for s in (s1, s2, s3)]}))
    for aid in (a1, a2):
        _produce(kafka_brokers, "sms.events.assignments", aid, _event("assignment.created", aid, lec, {
            "id": aid, "class_id": cls, "lecturer_id": lec, "title": "Task", "description": "",
            "due_at": t + 86400000, "max_score": 100, "status": "open", "created_at": t,
            "updated_at": t, "version": 1}))
    for aid in (a1, a2):
        wait_for(lambda: (lambda r: (r.status_code == 200 and len(r.json()["items"]) == 3, describe(r)))(
            _sheet(api, aid)), f"assignment {aid} with its roster")
    r = _grades(api, a1, [{"student_id": s1, "score": 50}])
    assert r.status_code == 200, describe(r)

    poison = _event("grade.changed", a1, lec, {
        "assignment_id": a1, "class_id": cls, "student_id": s2, "previous_score": None,
        "score": POISON_SCORE, "previous_feedback": None, "feedback": "", "released": False,
        "changed_by": lec, "changed_at": now_ms(), "grade_version": 1})
    part, off = _produce(kafka_brokers, GRADES_TOPIC, a1, poison)
    position = f"{GRADES_TOPIC}:{part}:{off}"
    entry = wait_for(lambda: (position in _quarantine(redis_client), _quarantine(redis_client).get(position)),
                     "the poisoned event in sms:grading:quarantine")

    # Grading keeps working after it: another grade of the same assignment and one of another.
    r3 = _grades(api, a1, [{"student_id": s3, "score": 70}])
    r4 = _grades(api, a2, [{"student_id": s1, "score": 80}])
    return {"api": api, "lec": lec, "cls": cls, "a1": a1, "a2": a2, "s1": s1, "s2": s2, "s3": s3,
            "position": position, "entry": entry, "poison": poison, "after": (r3, r4)}


def test_poisoned_event_is_quarantined_with_why(scene):
    e = scene["entry"]
    part, off = scene["position"].rsplit(":", 2)[1:]
    assert e["topic"] == GRADES_TOPIC and e["partition"] == int(part) and e["offset"] == int(off), e
    assert e["id"] == scene["poison"]["id"] and e["type"] == "grade.changed" and e["v"] == 1, e
    assert e["key"] == scene["a1"] and e["class_id"] == scene["cls"], e
    assert isinstance(e["reason"], str) and e["reason"], e


def test_other_grades_keep_applying(scene, redis_client):
    r3, r4 = scene["after"]
    assert r3.status_code == 200 and r3.json() == {"updated": 1, "unchanged": 0}, describe(r3)
    assert r4.status_code == 200, describe(r4)
    rec = redis_client.hget(f"sms:grading:g:{scene['a1']}", scene["s3"])
    assert rec is not None and rec.decode().split("|")[1] == "7000", rec
    assert redis_client.hget(f"sms:grading:g:{scene['a1']}", scene["s2"]) is None  # the poison is not applied
    r = _sheet(scene["api"], scene["a2"])
    assert r.status_code == 200, describe(r)
    by = {i["student_id"]: i["score"] for i in r.json()["items"]}
    assert by[scene["s1"]] == 80, by


def test_reads_of_the_affected_data_say_view_incomplete(scene, base_url, mint):
    for r in (_sheet(scene["api"], scene["a1"]),
              scene["api"].get(f"/lecturer/assignments/{scene['a1']}/grades/{scene['s3']}/history")):
        assert r.status_code == 503, describe(r)
        body = r.json()
        assert body["type"].endswith("view_incomplete"), body
        assert scene["position"] in body["detail"], body
    student = Api(base_url, mint(scene["s1"], "student"), sub=scene["s1"], role="student")
    r = student.get("/student/ranking", params={"class_id": scene["cls"]})
    assert r.status_code == 503 and r.json()["type"].endswith("view_incomplete"), describe(r)
    # Someone who may not see the data learns nothing about it.
    other = Api(base_url, mint(new_lecturer_id()))
    r = _sheet(other, scene["a1"])
    assert r.status_code == 404, describe(r)


def test_quarantine_list_shows_it(scene, admin):
    p = admin("quarantine", "list", "grading")
    lines = [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]
    mine = [e for e in lines if e["position"] == scene["position"]]
    assert len(mine) == 1, p.stdout
    assert mine[0]["service"] == "grading" and mine[0]["incomplete"] is True, mine


def test_rebuild_finishes_with_the_same_checksums(scene, admin, redis_client):
    before = admin.stable_checksums()
    started = time.monotonic()
    admin("rebuild-views", "grading", "--timeout", 120, timeout=180)
    assert time.monotonic() - started < 120
    after = admin.stable_checksums()
    assert after["grading"] == before["grading"], (before, after)
    assert scene["position"] in _quarantine(redis_client)


def test_retry_keeps_what_still_cannot_be_applied(scene, admin, redis_client):
    before = admin.stable_checksums()
    p = admin("quarantine", "retry", "grading", "--timeout", 120, timeout=180, check=False)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "still quarantined" in p.stderr, p.stderr
    assert scene["position"] in p.stdout
    assert admin.stable_checksums()["grading"] == before["grading"]


def test_correction_needs_an_admin_and_a_valid_body(scene, base_url, mint):
    path = f"/admin/assignments/{scene['a1']}/grade-corrections"
    lecturer = scene["api"]
    r = lecturer.post(path, json={"student_id": scene["s2"], "score": 65, "reason": "typo"})
    assert r.status_code == 403, describe(r)
    op = Api(base_url, mint(f"ops-{uuid.uuid4().hex[:6]}", "admin"))
    for body, field in (({"student_id": scene["s2"], "score": 65}, "reason"),
                        ({"student_id": scene["s2"], "score": 1e17, "reason": "x"}, "score"),
                        ({"student_id": scene["s2"], "score": -0.5, "reason": "x"}, "score"),
                        ({"student_id": scene["s2"], "score": 65, "reason": "x", "repairs": "nope"}, "repairs")):
        r = op.post(path, json=body)
        assert r.status_code == 422, describe(r)
        assert field in [e["field"] for e in r.json()["errors"]], describe(r)


def test_correction_repairs_the_data_and_survives_a_rebuild(scene, base_url, mint, admin, redis_client):
    op = Api(base_url, mint(f"ops-{uuid.uuid4().hex[:6]}", "admin"))
    r = op.post(f"/admin/assignments/{scene['a1']}/grade-corrections",
                json={"student_id": scene["s2"], "score": 65, "reason": "score typed as 1e17",
                      "repairs": scene["position"]})
    assert r.status_code == 200 and r.json() == {"corrected": 1}, describe(r)
    r = _sheet(scene["api"], scene["a1"])
    assert r.status_code == 200, describe(r)
    by = {i["student_id"]: i["score"] for i in r.json()["items"]}
    assert by == {scene["s1"]: 50, scene["s2"]: 65, scene["s3"]: 70}, by
    r = scene["api"].get(f"/lecturer/assignments/{scene['a1']}/grades/{scene['s2']}/history")
    assert r.status_code == 200, describe(r)
    assert r.json()["items"][-1]["reason"] == "score typed as 1e17", r.json()
    # The record of what happened stays; it no longer makes the data incomplete.
    lines = [json.loads(ln) for ln in admin("quarantine", "list", "grading").stdout.splitlines() if ln.strip()]
    mine = [e for e in lines if e["position"] == scene["position"]]
    assert len(mine) == 1 and mine[0]["incomplete"] is False, mine
    before = admin.stable_checksums()
    admin("rebuild-views", "grading", "--timeout", 120, timeout=180)
    assert admin.stable_checksums()["grading"] == before["grading"]
    r = _sheet(scene["api"], scene["a1"])
    assert r.status_code == 200, describe(r)
