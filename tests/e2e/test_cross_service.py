"""Read-your-writes across services: a fact one service acknowledged (201/200)
is usable by the next command to another service, with no retry — the
receiving service catches up with the events it learns from before it
answers "not found"."""
import time
import uuid

from helpers import describe, now_ms


def _iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".000Z"


def test_class_then_roster_then_assignment_then_grades_first_try(api):
    for i in range(8):
        c = api.create()
        students = [{"student_id": f"s{i}-{k}-{uuid.uuid4().hex[:4]}", "name": f"Student {k}",
                     "email": f"s{k}@example.edu"} for k in range(3)]
        r = api.post(f"/lecturer/classes/{c['id']}/students", json={"students": students})
        assert r.status_code == 200, describe(r)
        r = api.post("/lecturer/assignments", json={"class_id": c["id"], "title": f"HW {i}",
                                                     "due_at": _iso(now_ms() + 86400000), "max_score": 10})
        assert r.status_code == 201, describe(r)
        aid = r.json()["id"]
        grades = [{"student_id": s["student_id"], "score": 7, "feedback": "ok"} for s in students]
        r = api.post(f"/lecturer/assignments/{aid}/update-grades", json={"grades": grades, "release": True})
        assert r.status_code == 200, describe(r)
        assert r.json()["updated"] == 3


def test_unknown_class_is_still_404(api):
    # The catch-up happens, finds nothing, and the answer is a plain 404.
    r = api.post("/lecturer/assignments", json={"class_id": "01NOSUCHCLASS0000000000000", "title": "x",
                                                 "due_at": _iso(now_ms() + 86400000)})
    assert r.status_code == 404, describe(r)
