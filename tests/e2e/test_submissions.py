"""Submissions: POST /student/assignments/{id}/submissions, the lecturer's
GET /lecturer/assignments/{id}/submissions, submission_count, the student's
GET /student/classes/{class_id}/assignments with my_submission, the
submission.created event on sms.events.assignments, and the view's rebuild.

Enrollment goes through the roster route; the assignments service learns it from
sms.events.classes and catches up before refusing, so a student enrolled a moment
ago can submit at once.
"""

import time
import uuid

import pytest

from helpers import assert_json, assert_problem, describe, now_ms, poll, read_events, rfc3339_to_ms, wait_ready

TOPIC = "sms.events.assignments"
UPLOAD = "01JDQ1A3M4N5P6Q7R8S9T0V1W2"
SUB_FIELDS = {"assignment_id", "student_id", "version", "text", "upload_ids", "submitted_at", "late"}
ITEM_FIELDS = {"student_id", "version", "submitted_at", "late", "text", "upload_ids", "files"}
EVENT_DATA = ["assignment_id", "class_id", "student_id", "version", "text", "upload_ids", "submitted_at", "late"]


def _iso(ms):
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
    return f"{s}.{ms % 1000:03d}Z"


def _sid():
    return f"s-{uuid.uuid4().hex[:10]}"


def _assignment(lec, cid, due_ms=None, **fields):
    body = {"class_id": cid, "title": "HW " + uuid.uuid4().hex[:6],
            "due_at": _iso(due_ms if due_ms is not None else now_ms() + 30 * 86400 * 1000)}
    body.update(fields)
    r = lec.post("/lecturer/assignments", json=body)
    assert r.status_code == 201, describe(r)
    return r.json()


def _enroll(lec, cid, sids):
    students = [{"student_id": s, "name": "Student " + s, "email": f"{s}@school.edu"} for s in sids]
    r = lec.post(f"/lecturer/classes/{cid}/students", json={"students": students})
    assert r.status_code == 200, describe(r)


def _upload(stu, data=b"answers"):
    """A completed upload of stu's: upload URL, then the PUT (no token)."""
    import requests
    r = stu.post("/student/uploads", json={"filename": "a.pdf", "content_type": "application/pdf", "size": len(data)})
    assert r.status_code == 201, describe(r)
    up = r.json()
    r = requests.put(stu.base_url + up["upload_url"], data=data, timeout=30)
    assert r.status_code == 200, describe(r)
    return up["upload_id"]


def _unsigned(doc):
    """doc without the signed download URLs, which are minted at every read."""
    if isinstance(doc, dict):
        return {k: _unsigned(v) for k, v in doc.items() if k not in ("download_url", "download_expires_at")}
    if isinstance(doc, (list, tuple)):
        return [_unsigned(v) for v in doc]
    return doc


def _submit(stu, aid, expect=201, **body):
    r = stu.post(f"/student/assignments/{aid}/submissions", json=body)
    assert r.status_code == expect, f"submit expected {expect}\n{describe(r)}"
    return r


@pytest.fixture
def world(make_api):
    """A lecturer's class with an open assignment and two enrolled students."""
    lec = make_api()
    cid = lec.create()["id"]
    a = _assignment(lec, cid)
    s1, s2 = make_api(_sid(), role="student"), make_api(_sid(), role="student")
    _enroll(lec, cid, [s1.sub, s2.sub])
    return {"lec": lec, "cid": cid, "a": a, "s1": s1, "s2": s2, "make_api": make_api}


def test_submit_and_resubmit(world):
    s1, aid = world["s1"], world["a"]["id"]
    t0 = now_ms()
    r = _submit(s1, aid, text="My essay")  # right after the enrollment: no retry
    sub = assert_json(r, 201)
    assert set(sub) == SUB_FIELDS, sub
    assert sub["assignment_id"] == aid and sub["student_id"] == s1.sub and sub["version"] == 1
    assert sub["text"] == "My essay" and sub["upload_ids"] == [] and sub["late"] is False
    assert abs(rfc3339_to_ms(sub["submitted_at"]) - t0) < 10000, sub
    assert r.headers.get("Location") == f"/student/assignments/{aid}/submissions", describe(r)
    up = _upload(s1)
    sub2 = _submit(s1, aid, upload_ids=[up]).json()
    assert sub2["version"] == 2 and sub2["text"] == "" and sub2["upload_ids"] == [up], sub2


def test_late_flag_for_a_past_due_assignment(world):
    a = _assignment(world["lec"], world["cid"], due_ms=now_ms() - 3600 * 1000)
    sub = _submit(world["s1"], a["id"], text="sorry").json()
    assert sub["late"] is True and sub["version"] == 1, sub


def test_validation(world):
    path = f"/student/assignments/{world['a']['id']}/submissions"
    s1 = world["s1"]
    assert_problem(s1.post(path, json={}), 400, "validation", fields=["body"])
    assert_problem(s1.post(path, json={"text": 3}), 400, "validation", fields=["text"])
    assert_problem(s1.post(path, json={"text": "x" * 20001}), 400, "validation", fields=["text"])
    assert_problem(s1.post(path, json={"upload_ids": ["nope"]}), 400, "validation", fields=["upload_ids[0]"])
    assert_problem(s1.post(path, json={"upload_ids": [UPLOAD] * 11}), 400, "validation", fields=["upload_ids"])
    assert_problem(s1.post(path, json={"text": "x", "score": 1}), 400, "validation", fields=["score"])


def test_refusals(world):
    lec, aid, make_api = world["lec"], world["a"]["id"], world["make_api"]
    outsider = make_api(_sid(), role="student")
    assert_problem(_submit(outsider, aid, expect=404, text="x"), 404, "not_found")
    assert_problem(_submit(world["s1"], "01NOSUCHASSIGNMENT00000000", expect=404, text="x"), 404, "not_found")
    r = lec.post(f"/student/assignments/{aid}/submissions", json={"text": "x"})
    assert_problem(r, 403)
    assert_problem(world["s1"].get(f"/lecturer/assignments/{aid}/submissions"), 403)
    other = make_api()
    assert_problem(other.get(f"/lecturer/assignments/{aid}/submissions"), 404, "not_found")
    assert lec.delete(f"/lecturer/assignments/{aid}").status_code == 200
    assert_problem(_submit(world["s1"], aid, expect=409, text="x"), 409, "assignment_deleted")


def test_inactive_class_is_409(world):
    lec, aid = world["lec"], world["a"]["id"]
    lec.deactivate(world["cid"])
    # The deactivation reaches the assignments service as an event: allow it a moment.
    # (A refused Response is falsy, so poll gets it wrapped in a list.)
    r = poll(lambda: (lambda r: [r] if r.status_code != 201 else None)(
        world["s1"].post(f"/student/assignments/{aid}/submissions", json={"text": "x"})), 10,
        what="the class deactivation to reach sms-assignments")[0]
    assert_problem(r, 409, "class_inactive")


def test_lecturer_sees_latest_per_student_and_count(world):
    lec, aid, s1, s2 = world["lec"], world["a"]["id"], world["s1"], world["s2"]
    _submit(s1, aid, text="first")
    assert lec.get(f"/lecturer/assignments/{aid}").json()["submission_count"] == 1
    _submit(s1, aid, text="second")
    assert lec.get(f"/lecturer/assignments/{aid}").json()["submission_count"] == 1
    up = _upload(s2)
    _submit(s2, aid, text="other", upload_ids=[up])
    assert lec.get(f"/lecturer/assignments/{aid}").json()["submission_count"] == 2
    listed = lec.get(f"/lecturer/classes/{world['cid']}/assignments").json()["items"]
    assert [a["submission_count"] for a in listed if a["id"] == aid] == [2]
    page = assert_json(lec.get(f"/lecturer/assignments/{aid}/submissions"), 200)
    assert set(page) == {"items", "next_cursor"} and page["next_cursor"] is None, page
    items = page["items"]
    assert [i["student_id"] for i in items] == sorted([s1.sub, s2.sub]), items
    by = {i["student_id"]: i for i in items}
    assert all(set(i) == ITEM_FIELDS for i in items), items
    assert by[s1.sub]["version"] == 2 and by[s1.sub]["text"] == "second"
    assert by[s2.sub]["upload_ids"] == [up] and by[s2.sub]["late"] is False
    assert [f["upload_id"] for f in by[s2.sub]["files"]] == [up] and by[s1.sub]["files"] == []
    # Pagination by student id.
    p1 = lec.get(f"/lecturer/assignments/{aid}/submissions", params={"limit": 1}).json()
    assert len(p1["items"]) == 1 and p1["next_cursor"] == p1["items"][0]["student_id"], p1
    p2 = lec.get(f"/lecturer/assignments/{aid}/submissions", params={"limit": 1, "cursor": p1["next_cursor"]}).json()
    assert p2["items"] == items[1:] and p2["next_cursor"] is None, p2
    assert_problem(lec.get(f"/lecturer/assignments/{aid}/submissions", params={"limit": 0}), 400, "validation",
                   fields=["limit"])


def test_student_assignment_list(world):
    lec, cid, aid, s1, make_api = world["lec"], world["cid"], world["a"]["id"], world["s1"], world["make_api"]
    gone = _assignment(lec, cid)
    assert lec.delete(f"/lecturer/assignments/{gone['id']}").status_code == 200
    _submit(s1, aid, text="done")  # also makes sure the enrollment reached the view

    page = assert_json(s1.get(f"/student/classes/{cid}/assignments"), 200)
    assert set(page) == {"items", "next_cursor"}, page
    assert [a["id"] for a in page["items"]] == [aid], page
    item = page["items"][0]
    assert item["status"] == "open" and "my_submission" in item and "submission_count" not in item, item
    mine = item["my_submission"]
    assert set(mine) == {"version", "submitted_at", "late", "files"} and mine["version"] == 1 and mine["late"] is False
    other = assert_json(world["s2"].get(f"/student/classes/{cid}/assignments"), 200)
    assert other["items"][0]["my_submission"] is None, other
    assert_problem(make_api(_sid(), role="student").get(f"/student/classes/{cid}/assignments"), 404, "not_found")
    assert_problem(lec.get(f"/student/classes/{cid}/assignments"), 403)


def test_event_decodes(world, kafka_brokers):
    aid, s1 = world["a"]["id"], world["s1"]
    up = _upload(s1)
    sub = _submit(s1, aid, text="evented", upload_ids=[up]).json()
    evs = read_events(kafka_brokers, [aid], topic=TOPIC,
                      until=lambda c: any(e["value"]["type"] == "submission.created" for e in c))
    ev = next(e["value"] for e in evs if e["value"]["type"] == "submission.created")
    assert ev["v"] == 1 and ev["key"] == aid and ev["actor"] == s1.sub, ev
    d = ev["data"]
    assert list(d) == EVENT_DATA, d
    assert d["assignment_id"] == aid and d["class_id"] == world["cid"] and d["student_id"] == s1.sub
    assert d["version"] == 1 and d["text"] == "evented" and d["upload_ids"] == [up] and d["late"] is False
    assert d["submitted_at"] == rfc3339_to_ms(sub["submitted_at"])


@pytest.mark.disruptive
@pytest.mark.slow
def test_flushall_restart_keeps_checksums(world, admin, ctl, redis_client, base_url):
    lec, aid, s1, s2 = world["lec"], world["a"]["id"], world["s1"], world["s2"]
    _submit(s1, aid, text="a")
    _submit(s1, aid, text="b")
    _submit(s2, aid, upload_ids=[_upload(s2)])
    before = admin.stable_checksums()
    bodies = (lec.get(f"/lecturer/assignments/{aid}/submissions").json(),
              s1.get(f"/student/classes/{world['cid']}/assignments").json()["items"][0]["my_submission"],
              lec.get(f"/lecturer/assignments/{aid}").json()["submission_count"])
    try:
        redis_client.flushall()
        ctl("restart", "assignments", timeout=120)
    finally:
        wait_ready(base_url, timeout=90)

    def settled():
        now = admin.checksums()
        return now.get("assignments") == before["assignments"], now
    poll(lambda: settled()[0], 60, interval=0.5, what="the assignments view rebuilt to the same checksum")
    after = (lec.clone().get(f"/lecturer/assignments/{aid}/submissions").json(),
             s1.clone().get(f"/student/classes/{world['cid']}/assignments").json()["items"][0]["my_submission"],
             lec.clone().get(f"/lecturer/assignments/{aid}").json()["submission_count"])
    assert _unsigned(after) == _unsigned(bodies)
    assert bodies[2] == 2
