"""Grading (sms-grading, routes under /lecturer/assignments/{id}/... and /student/...).

The facts grading learns (rosters, assignments) are seeded the way any outside producer
would: by producing the documented class.students_enrolled / class.student_unenrolled and
assignment.* events (msgpack envelopes, unique ids) to sms.events.classes and
sms.events.assignments, then waiting until the grade routes see them.
"""

import time
import uuid

import msgpack
import pytest

from helpers import (Api, assert_json, assert_problem, describe, new_lecturer_id, now_ms,
                     read_events, wait_ready, wait_for)

GRADES_TOPIC = "sms.events.grades"
CHANGED_FIELDS = {"assignment_id", "class_id", "student_id", "previous_score", "score",
                  "previous_feedback", "feedback", "released", "changed_by", "changed_at",
                  "grade_version"}


# --------------------------------------------------------------------------- seeding

class Seeder:
    def __init__(self, brokers):
        from confluent_kafka import Producer
        self.p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all"})
        self.roster_versions = {}
        self.assignment_versions = {}

    def _send(self, topic, key, etype, actor, data):
        ev = {"id": uuid.uuid4().hex, "type": etype, "v": 1, "time": now_ms(), "actor": actor,
              "key": key, "cause": f"seed-{uuid.uuid4().hex}", "data": data}
        self.p.produce(topic, key=key.encode(), value=msgpack.packb(ev, use_bin_type=True),
                       headers=[("content-type", b"application/msgpack")])
        assert self.p.flush(20) == 0, "seed event not delivered"

    def enroll(self, cls, lecturer, students):
        """students: [(student_id, name)]"""
        rv = self.roster_versions.get(cls, 0) + 1
        self.roster_versions[cls] = rv
        self._send("sms.events.classes", cls, "class.students_enrolled", lecturer, {
            "class_id": cls, "lecturer_id": lecturer, "roster_version": rv,
            "students": [{"student_id": s, "name": n, "email": f"{s}@school.edu",
                          "enrolled_at": now_ms()} for s, n in students]})

    def unenroll(self, cls, lecturer, student):
        rv = self.roster_versions.get(cls, 0) + 1
        self.roster_versions[cls] = rv
        self._send("sms.events.classes", cls, "class.student_unenrolled", lecturer, {
            "class_id": cls, "lecturer_id": lecturer, "roster_version": rv, "student_id": student})

    def assignment(self, aid, cls, lecturer, max_score=100, status="open", etype=None):
        ver = self.assignment_versions.get(aid, 0) + 1
        self.assignment_versions[aid] = ver
        etype = etype or ("assignment.created" if ver == 1 else
                          "assignment.deleted" if status == "deleted" else "assignment.updated")
        t = now_ms()
        self._send("sms.events.assignments", aid, etype, lecturer, {
            "id": aid, "class_id": cls, "lecturer_id": lecturer, "title": f"Task {aid[-4:]}",
            "description": "", "due_at": t + 7 * 86400000, "max_score": max_score, "status": status,
            "created_at": t, "updated_at": t, "version": ver})


@pytest.fixture(scope="module")
def seeder(kafka_brokers):
    return Seeder(kafka_brokers)


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"



def sheet(api, aid, **params):
    return api.get(f"/lecturer/assignments/{aid}/grades", params=params)


def wait_sheet(api, aid, n_students):
    """Waits until the lecturer's grade sheet lists n_students students."""
    def probe():
        r = sheet(api, aid, limit=1000)
        return (r.status_code == 200 and len(r.json()["items"]) == n_students), describe(r)
    wait_for(probe, f"assignment {aid} with {n_students} students")


@pytest.fixture
def course(make_api, seeder):
    """A lecturer, a class with students s1..s4 (sorted ids) and an assignment (max 100)."""
    lec = make_api()
    cls = uid("cls")
    aid = uid("asg")
    students = [(f"{cls}-s{i}", f"Student {i}") for i in range(1, 5)]
    seeder.enroll(cls, lec.sub, students)
    seeder.assignment(aid, cls, lec.sub, max_score=100)
    wait_sheet(lec, aid, 4)
    return {"lec": lec, "cls": cls, "aid": aid, "students": [s for s, _ in students]}


def update(api, aid, grades, release=None, expect=200):
    body = {"grades": grades}
    if release is not None:
        body["release"] = release
    r = api.post(f"/lecturer/assignments/{aid}/update-grades", json=body)
    assert r.status_code == expect, describe(r)
    return r


# --------------------------------------------------------------------------- tests

def test_update_grades_and_unchanged_resend(course):
    lec, aid, s = course["lec"], course["aid"], course["students"]
    grades = [{"student_id": s[0], "score": 87.5, "feedback": "good"},
              {"student_id": s[2], "score": 60, "feedback": "ok"}]
    assert assert_json(update(lec, aid, grades), 200) == {"updated": 2, "unchanged": 0}
    assert update(lec, aid, grades).json() == {"updated": 0, "unchanged": 2}
    page = assert_json(sheet(lec, aid), 200)
    assert [i["student_id"] for i in page["items"]] == sorted(s)
    by = {i["student_id"]: i for i in page["items"]}
    assert by[s[0]]["score"] == 87.5 and by[s[0]]["feedback"] == "good" and by[s[0]]["released"] is False
    assert by[s[0]]["name"] == "Student 1" and by[s[0]]["updated_at"]
    assert by[s[1]] == {"student_id": s[1], "name": "Student 2", "score": None, "feedback": None,
                        "released": False, "updated_at": None}
    assert page["next_cursor"] is None
    # Pagination by student id.
    p1 = assert_json(sheet(lec, aid, limit=3), 200)
    assert len(p1["items"]) == 3 and p1["next_cursor"] == s[2]
    p2 = assert_json(sheet(lec, aid, limit=3, cursor=p1["next_cursor"]), 200)
    assert [i["student_id"] for i in p2["items"]] == [s[3]] and p2["next_cursor"] is None


def test_thousand_rows_one_bad_changes_nothing(make_api, seeder):
    lec = make_api()
    cls, aid = uid("cls"), uid("asg")
    students = [f"{cls}-{i:04d}" for i in range(1000)]
    seeder.enroll(cls, lec.sub, [(s, f"N {s[-4:]}") for s in students])
    seeder.assignment(aid, cls, lec.sub, max_score=10)
    wait_sheet(lec, aid, 1000)
    grades = [{"student_id": s, "score": 7, "feedback": "f"} for s in students]
    grades[517]["score"] = 11
    r = lec.post(f"/lecturer/assignments/{aid}/update-grades", json={"grades": grades, "release": True})
    doc = assert_problem(r, 422, "validation", fields=["grades[517].score"])
    assert len(doc["errors"]) == 1, doc
    page = assert_json(sheet(lec, aid, limit=1000), 200)
    assert all(i["score"] is None for i in page["items"]), "a rejected request changed grades"
    # Duplicates and students not enrolled are named too.
    grades[517]["score"] = 1
    grades[3]["student_id"] = students[2]
    grades[4]["student_id"] = "not-enrolled"
    doc = assert_problem(lec.post(f"/lecturer/assignments/{aid}/update-grades", json={"grades": grades}),
                         422, "validation", fields=["grades[3].student_id", "grades[4].student_id"])
    grades[3]["student_id"], grades[4]["student_id"] = students[3], students[4]
    assert update(lec, aid, grades).json() == {"updated": 1000, "unchanged": 0}


def test_history_oldest_first(course):
    lec, aid, s = course["lec"], course["aid"], course["students"][1]
    for score, fb in ((50, "first"), (70, "second"), (65.25, "third")):
        update(lec, aid, [{"student_id": s, "score": score, "feedback": fb}])
    r = lec.get(f"/lecturer/assignments/{aid}/grades/{s}/history")
    items = assert_json(r, 200)["items"]
    assert [(i["score"], i["previous_score"], i["feedback"]) for i in items] == \
        [(50, None, "first"), (70, 50, "second"), (65.25, 70, "third")]
    for i in items:
        assert i["released"] is False and i["changed_by"] == lec.sub and i["changed_at"]
    assert items[0]["changed_at"] <= items[1]["changed_at"] <= items[2]["changed_at"]


def test_draft_invisible_until_released(course, make_api):
    lec, aid, cls, s = course["lec"], course["aid"], course["cls"], course["students"]
    student = make_api(s[0], role="student")
    update(lec, aid, [{"student_id": s[0], "score": 80, "feedback": "draft"},
                      {"student_id": s[1], "score": 40}])
    body = assert_json(student.get("/student/grades"), 200)
    assert body == {"items": [], "averages": []}, body
    r = lec.post(f"/lecturer/assignments/{aid}/release-grades")
    assert assert_json(r, 200) == {"released": 2}
    r = lec.post(f"/lecturer/assignments/{aid}/release-grades")
    assert assert_json(r, 200) == {"released": 0}
    body = assert_json(student.get("/student/grades"), 200)
    assert len(body["items"]) == 1, body
    item = body["items"][0]
    assert item["assignment_id"] == aid and item["class_id"] == cls and item["score"] == 80
    assert item["max_score"] == 100 and item["feedback"] == "draft" and item["released_at"]
    assert body["averages"] == [{"class_id": cls, "average_percent": 80}]
    assert by_student(sheet(lec, aid).json())[s[0]]["released"] is True


def by_student(page):
    return {i["student_id"]: i for i in page["items"]}


def test_ranking_ties_share_a_rank(make_api, seeder):
    lec = make_api()
    cls, a1, a2 = uid("cls"), uid("asg"), uid("asg")
    s = [f"{cls}-{c}" for c in "abcd"]
    seeder.enroll(cls, lec.sub, [(x, f"Name {x[-1]}") for x in s])
    seeder.assignment(a1, cls, lec.sub, max_score=100)
    seeder.assignment(a2, cls, lec.sub, max_score=50)
    wait_sheet(lec, a1, 4)
    wait_sheet(lec, a2, 4)
    update(lec, a1, [{"student_id": s[0], "score": 60}, {"student_id": s[1], "score": 50},
                     {"student_id": s[2], "score": 40}, {"student_id": s[3], "score": 30}], release=True)
    update(lec, a2, [{"student_id": s[0], "score": 30}, {"student_id": s[1], "score": 20},
                     {"student_id": s[2], "score": 30}, {"student_id": s[3], "score": 10}])
    # Drafts do not count yet: 60, 50, 40, 30.
    c = make_api(s[2], role="student")
    r = assert_json(c.get("/student/ranking", params={"class_id": cls}), 200)
    assert (r["rank"], r["of"], r["total_score"]) == (3, 4, 40), r
    lec.post(f"/lecturer/assignments/{a2}/release-grades")
    # Totals 90, 70, 70, 40: competition ranking 1, 2, 2, 4.
    r = assert_json(c.get("/student/ranking", params={"class_id": cls}), 200)
    assert r["class_id"] == cls and (r["rank"], r["of"], r["total_score"]) == (2, 4, 70), r
    assert isinstance(r["percentile"], (int, float))
    assert [(t["rank"], t["total_score"]) for t in r["top"]] == [(1, 90), (2, 70), (2, 70), (4, 40)]
    assert r["top"][0]["display_name"] == "Name a"
    d = assert_json(make_api(s[3], role="student").get("/student/ranking", params={"class_id": cls}), 200)
    assert d["rank"] == 4
    # A released grade that changes moves the ranking; a deleted assignment stops counting.
    update(lec, a1, [{"student_id": s[3], "score": 90}])
    d = assert_json(make_api(s[3], role="student").get("/student/ranking", params={"class_id": cls}), 200)
    assert (d["rank"], d["total_score"]) == (1, 100), d
    seeder.assignment(a1, cls, lec.sub, max_score=100, status="deleted")

    def probe():
        x = make_api(s[3], role="student").get("/student/ranking", params={"class_id": cls}).json()
        return x.get("total_score") == 10, x
    d = wait_for(probe, "the deleted assignment's contribution removed")
    assert [(t["rank"], t["total_score"]) for t in d["top"]] == [(1, 30), (1, 30), (3, 20), (4, 10)]
    assert_problem(update(lec, a1, [{"student_id": s[0], "score": 1}], expect=409), 409)


def _expected_totals(lec, aids, students):
    """Every student's released total (hundredths) over aids, from the lecturer's sheets."""
    tot = {x: 0 for x in students}
    for aid in aids:
        for item in assert_json(sheet(lec, aid, limit=1000), 200)["items"]:
            if item["released"] and item["score"] is not None:
                tot[item["student_id"]] += round(item["score"] * 100)
    return tot


def test_many_row_updates_keep_totals_and_ranking_equal_to_the_sheets(make_api, seeder, redis_client):
    """One update-grades of many rows is applied as one run (a script call): the class totals
    and the ranking it leaves are the ones the sheets give, student by student, through
    first grades, changes of released grades, drafts, totals back to zero and a student
    who left the class."""
    lec = make_api()
    cls, a1, a2 = uid("cls"), uid("asg"), uid("asg")
    s = [f"{cls}-s{i:02d}" for i in range(40)]
    seeder.enroll(cls, lec.sub, [(x, f"Name {x[-2:]}") for x in s])
    seeder.assignment(a1, cls, lec.sub, max_score=100)
    seeder.assignment(a2, cls, lec.sub, max_score=100)
    wait_sheet(lec, a1, 40)
    wait_sheet(lec, a2, 40)
    update(lec, a1, [{"student_id": x, "score": (i * 7) % 101 + 0.25} for i, x in enumerate(s)], release=True)
    update(lec, a2, [{"student_id": x, "score": (i * 13) % 50} for i, x in enumerate(s)])  # drafts
    # Changes of released grades (every third one back to 0), then the drafts released.
    update(lec, a1, [{"student_id": x, "score": 0 if i % 3 == 0 else (i * 11) % 101}
                     for i, x in enumerate(s) if i % 2 == 0])
    update(lec, a2, [{"student_id": x, "score": 0} for x in s[:10]], release=True)
    want = _expected_totals(lec, (a1, a2), s)
    seeder.unenroll(cls, lec.sub, s[-1])
    wait_sheet(lec, a1, 39)

    tot = {k.decode(): int(v) for k, v in redis_client.hgetall(f"sms:grading:tot:{cls}").items()}
    assert tot == {x: t for x, t in want.items() if t != 0}, "tot keeps every nonzero total and no zero"
    rank = {k.decode(): v for k, v in redis_client.zrange(f"sms:grading:rank:{cls}", 0, -1, withscores=True)}
    assert rank == {x: float(want[x]) for x in s[:-1]}, "the ranking holds every enrolled student's total"
    for x in (s[0], s[1], s[3], s[20]):
        r = assert_json(make_api(x, role="student").get("/student/ranking", params={"class_id": cls}), 200)
        mine = want[x]
        assert round(r["total_score"] * 100) == mine, r
        assert r["rank"] == 1 + sum(1 for y in s[:-1] if want[y] > mine), r


def test_another_lecturer_gets_404(course, make_api):
    other = make_api()
    aid, s = course["aid"], course["students"]
    assert_problem(update(other, aid, [{"student_id": s[0], "score": 1}], expect=404), 404, "not_found")
    assert_problem(other.post(f"/lecturer/assignments/{aid}/release-grades"), 404, "not_found")
    assert_problem(sheet(other, aid), 404, "not_found")
    assert_problem(other.get(f"/lecturer/assignments/{aid}/grades/{s[0]}/history"), 404, "not_found")
    assert_problem(sheet(course["lec"], uid("asg")), 404, "not_found")


def test_ranking_needs_enrolment(course, make_api):
    outsider = make_api(uid("stu"), role="student")
    assert_problem(outsider.get("/student/ranking", params={"class_id": course["cls"]}), 404, "not_found")
    assert_problem(outsider.get("/student/ranking"), 400, "validation")
    # Lecturers use the lecturer routes; students the student ones.
    assert_problem(course["lec"].get("/student/grades"), 403)


def test_grade_changed_event(course, kafka_brokers):
    lec, aid, cls, s = course["lec"], course["aid"], course["cls"], course["students"][3]
    update(lec, aid, [{"student_id": s, "score": 42.5, "feedback": "é"}])
    update(lec, aid, [{"student_id": s, "score": 43, "feedback": "better"}], release=True)

    def until(evs):
        return len(evs) >= 2
    evs = read_events(kafka_brokers, [aid], until, timeout=20, topic=GRADES_TOPIC)
    assert len(evs) == 2, [e["value"] for e in evs]
    first, second = (e["value"] for e in evs)
    for e in (first, second):
        assert e["type"] == "grade.changed" and e["v"] == 1 and e["key"] == aid and e["actor"] == lec.sub
        assert set(e["data"]) == CHANGED_FIELDS, e["data"]
    assert evs[0]["kafka_key"] == aid.encode()
    assert evs[0]["headers"].get("content-type") == b"application/msgpack"
    d1, d2 = first["data"], second["data"]
    assert d1 == {"assignment_id": aid, "class_id": cls, "student_id": s, "previous_score": None,
                  "score": 42.5, "previous_feedback": None, "feedback": "é", "released": False,
                  "changed_by": lec.sub, "changed_at": d1["changed_at"], "grade_version": 1}
    assert type(d1["changed_at"]) is int and abs(d1["changed_at"] - now_ms()) < 300000
    assert (d2["previous_score"], d2["score"], d2["previous_feedback"], d2["released"],
            d2["grade_version"]) == (42.5, 43, "é", True, 2)


# --------------------------------------------------------------------------- rebuild

@pytest.mark.disruptive
@pytest.mark.slow
def test_flushall_restart_gives_identical_grading_view(base_url, make_api, seeder, admin, ctl,
                                                      redis_client):
    lec = make_api()
    cls, a1, a2 = uid("cls"), uid("asg"), uid("asg")
    s = [f"{cls}-{c}" for c in "abc"]
    seeder.enroll(cls, lec.sub, [(x, x) for x in s])
    seeder.assignment(a1, cls, lec.sub)
    seeder.assignment(a2, cls, lec.sub, max_score=20.5)
    wait_sheet(lec, a1, 3)
    wait_sheet(lec, a2, 3)
    update(lec, a1, [{"student_id": x, "score": 10 * (i + 1)} for i, x in enumerate(s)], release=True)
    update(lec, a2, [{"student_id": x, "score": 5.25} for x in s])
    update(lec, a2, [{"student_id": s[0], "score": 20.5, "feedback": "top"}])
    lec.post(f"/lecturer/assignments/{a2}/release-grades")
    seeder.unenroll(cls, lec.sub, s[2])
    seeder.assignment(a1, cls, lec.sub, status="deleted")
    wait_for(lambda: (len(sheet(lec, a1).json()["items"]) == 2, None), "unenrolment")
    stu = make_api(s[0], role="student")
    wait_for(lambda: (stu.get("/student/ranking", params={"class_id": cls}).json().get("total_score") == 20.5,
                      None), "deletion applied")
    before = admin.stable_checksums()
    assert before["grading"][1] > 0, before
    bodies = (stu.get("/student/grades").json(), stu.get("/student/ranking", params={"class_id": cls}).json(),
              sheet(lec, a2).json())
    try:
        redis_client.flushall()
        ctl("restart", "grading", timeout=120)
    finally:
        wait_ready(base_url, timeout=90)

    def settled():
        now = admin.checksums()
        return now.get("grading") == before["grading"], now
    wait_for(settled, "the grading view rebuilt to the same checksum", timeout=60)
    after = (stu.get("/student/grades").json(), stu.get("/student/ranking", params={"class_id": cls}).json(),
             sheet(lec, a2).json())
    assert after == bodies
