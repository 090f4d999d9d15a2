"""Files and grades in the assignments view: the upload PUT's upload.completed event,
submissions that verify their upload ids (422 naming the index), files with signed
download URLs in the lecturer's and the student's submission views, graded_count on
the lecturer's assignment list and my_grade (released grades only) on the student's,
and the view's checksum after a rebuild."""

import hashlib
import os
import time
import uuid

import pytest
import requests

from helpers import HTTP_TIMEOUT, assert_json, assert_problem, describe, poll, read_events, wait_ready

FILE_FIELDS = {"upload_id", "filename", "content_type", "size", "sha256", "download_url", "download_expires_at"}


def _sid():
    return f"s-{uuid.uuid4().hex[:10]}"


def _iso_in(days):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + days * 86400))


def _url(stu, size, name="a.pdf", ctype="application/pdf"):
    r = stu.post("/student/uploads", json={"filename": name, "content_type": ctype, "size": size})
    assert r.status_code == 201, describe(r)
    return r.json()


def _put(stu, up, data):
    return requests.put(stu.base_url + up["upload_url"], data=data, timeout=HTTP_TIMEOUT)


def _upload(stu, data, name="a.pdf"):
    up = _url(stu, len(data), name)
    r = _put(stu, up, data)
    assert r.status_code == 200, describe(r)
    return up["upload_id"]


@pytest.fixture
def world(make_api):
    lec = make_api()
    cid = lec.create()["id"]
    r = lec.post("/lecturer/assignments", json={"class_id": cid, "title": "Essay", "due_at": _iso_in(30)})
    assert r.status_code == 201, describe(r)
    s1, s2 = make_api(_sid(), role="student"), make_api(_sid(), role="student")
    students = [{"student_id": s, "name": "N " + s, "email": f"{s}@school.edu"} for s in (s1.sub, s2.sub)]
    assert lec.post(f"/lecturer/classes/{cid}/students", json={"students": students}).status_code == 200
    return {"lec": lec, "cid": cid, "aid": r.json()["id"], "s1": s1, "s2": s2, "make_api": make_api}


def test_put_emits_upload_completed(world, kafka_brokers):
    s1 = world["s1"]
    data = os.urandom(5000)
    t0 = int(time.time() * 1000)
    uid = _upload(s1, data, name="essay.pdf")
    evs = read_events(kafka_brokers, [uid], topic="sms.events.assignments",
                      until=lambda c: any(e["value"]["type"] == "upload.completed" for e in c))
    ev = next(e["value"] for e in evs if e["value"]["type"] == "upload.completed")
    assert ev["v"] == 1 and ev["key"] == uid and ev["actor"] == s1.sub, ev
    d = ev["data"]
    assert list(d) == ["upload_id", "student_id", "filename", "content_type", "size", "sha256", "stored_at"], d
    assert d == {"upload_id": uid, "student_id": s1.sub, "filename": "essay.pdf", "content_type": "application/pdf",
                 "size": 5000, "sha256": hashlib.sha256(data).hexdigest(), "stored_at": d["stored_at"]}
    assert abs(d["stored_at"] - t0) < 30000, d


def test_submission_upload_ids_are_verified(world):
    s1, s2, aid = world["s1"], world["s2"], world["aid"]
    mine = _upload(s1, b"mine")
    theirs = _upload(s2, b"theirs")
    pending = _url(s1, 10)["upload_id"]  # a URL was issued, the bytes never came
    unknown = "01JDQ1A3M4N5P6Q7R8S9T0V1W2"
    path = f"/student/assignments/{aid}/submissions"
    for ids, field in (([unknown], "upload_ids[0]"), ([mine, theirs], "upload_ids[1]"),
                       ([pending], "upload_ids[0]"), ([mine, mine], "upload_ids[1]")):
        doc = assert_problem(s1.post(path, json={"upload_ids": ids}), 422, fields=[field])
        assert [e["field"] for e in doc["errors"]] == [field], doc
    # Nothing was recorded: the first accepted submission is version 1.
    sub = assert_json(s1.post(path, json={"upload_ids": [mine]}), 201)
    assert sub["version"] == 1 and sub["upload_ids"] == [mine], sub


def test_download_urls_in_both_views(world):
    lec, cid, aid, s1, s2 = world["lec"], world["cid"], world["aid"], world["s1"], world["s2"]
    data = [os.urandom(2000), b"second file"]
    ids = [_upload(s1, data[0], "one.pdf"), _upload(s1, data[1], "two.pdf")]
    assert s1.post(f"/student/assignments/{aid}/submissions", json={"upload_ids": ids}).status_code == 201

    def check(files):
        assert [f["upload_id"] for f in files] == ids, files
        for f, d, name in zip(files, data, ("one.pdf", "two.pdf")):
            assert set(f) == FILE_FIELDS and f["filename"] == name and f["size"] == len(d), f
            assert f["sha256"] == hashlib.sha256(d).hexdigest() and f["content_type"] == "application/pdf", f
            r = requests.get(lec.base_url + f["download_url"], timeout=HTTP_TIMEOUT)
            assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == f["sha256"], describe(r)

    items = assert_json(lec.get(f"/lecturer/assignments/{aid}/submissions"), 200)["items"]
    check(items[0]["files"])
    mine = assert_json(s1.get(f"/student/classes/{cid}/assignments"), 200)["items"][0]["my_submission"]
    check(mine["files"])
    # Another student sees neither the submission nor its files; a stranger not even the class.
    other = assert_json(s2.get(f"/student/classes/{cid}/assignments"), 200)["items"][0]
    assert other["my_submission"] is None, other
    assert_problem(world["make_api"](_sid(), role="student").get(f"/student/classes/{cid}/assignments"), 404)
    assert_problem(s2.get(f"/lecturer/assignments/{aid}/submissions"), 403)


def _my_item(stu, cid, aid):
    items = assert_json(stu.get(f"/student/classes/{cid}/assignments"), 200)["items"]
    return next(i for i in items if i["id"] == aid)


def _graded_count(lec, cid, aid):
    items = assert_json(lec.get(f"/lecturer/classes/{cid}/assignments"), 200)["items"]
    return next(i for i in items if i["id"] == aid)["graded_count"]


def test_graded_count_and_my_grade(world):
    """No waiting anywhere: enrollment and grades are read from their owners' views,
    which hold a change before its 2xx (read-your-writes across services)."""
    lec, cid, aid, s1, s2 = world["lec"], world["cid"], world["aid"], world["s1"], world["s2"]
    assert _graded_count(lec, cid, aid) == 0 and _my_item(s1, cid, aid)["my_grade"] is None
    r = lec.post(f"/lecturer/assignments/{aid}/update-grades",
                 json={"grades": [{"student_id": s1.sub, "score": 87.5, "feedback": "Good"}]})
    assert r.status_code == 200, describe(r)
    assert _graded_count(lec, cid, aid) == 1
    assert _my_item(s1, cid, aid)["my_grade"] is None, "a draft grade is visible to the student"
    r = lec.post(f"/lecturer/assignments/{aid}/update-grades",
                 json={"grades": [{"student_id": s2.sub, "score": 40, "feedback": ""}]})
    assert r.status_code == 200, describe(r)
    assert _graded_count(lec, cid, aid) == 2
    assert lec.post(f"/lecturer/assignments/{aid}/release-grades").status_code == 200
    g = _my_item(s1, cid, aid)["my_grade"]
    assert g is not None, "a released grade is not visible on the next read"
    assert set(g) == {"score", "max_score", "feedback", "released_at"}, g
    assert g["score"] == 87.5 and g["max_score"] == 100 and g["feedback"] == "Good", g
    assert _my_item(s2, cid, aid)["my_grade"]["score"] == 40
    assert _graded_count(lec, cid, aid) == 2


def test_student_enrolled_a_moment_ago_lists_assignments(world, make_api):
    lec, cid = world["lec"], world["cid"]
    for _ in range(5):
        sid = _sid()
        r = lec.post(f"/lecturer/classes/{cid}/students",
                     json={"students": [{"student_id": sid, "name": "New Student", "email": f"{sid}@school.edu"}]})
        assert r.status_code == 200, describe(r)
        r = make_api(sid, role="student").get(f"/student/classes/{cid}/assignments")
        assert r.status_code == 200, describe(r)


@pytest.mark.disruptive
@pytest.mark.slow
def test_rebuild_keeps_checksums_with_uploads_and_grades(world, admin, ctl, redis_client, base_url):
    lec, cid, aid, s1 = world["lec"], world["cid"], world["aid"], world["s1"]
    up = _upload(s1, b"rebuild me")
    assert s1.post(f"/student/assignments/{aid}/submissions", json={"upload_ids": [up]}).status_code == 201
    r = lec.post(f"/lecturer/assignments/{aid}/update-grades",
                 json={"grades": [{"student_id": s1.sub, "score": 9, "feedback": "ok"}], "release": True})
    assert r.status_code == 200, describe(r)
    poll(lambda: _my_item(s1, cid, aid)["my_grade"], 10, what="my_grade")
    before = admin.stable_checksums()
    grade, count = _my_item(s1, cid, aid)["my_grade"], _graded_count(lec, cid, aid)
    try:
        redis_client.flushall()
        ctl("restart", "assignments", timeout=120)
    finally:
        wait_ready(base_url, timeout=90)
    poll(lambda: admin.checksums().get("assignments") == before["assignments"], 60, interval=0.5,
         what="the assignments view rebuilt to the same checksum")
    assert _my_item(s1.clone(), cid, aid)["my_grade"] == grade and _graded_count(lec.clone(), cid, aid) == count
