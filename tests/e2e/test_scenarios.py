"""The seed's demo scenarios, each as one end-to-end story through the public API.

(1) a lecturer creates a class, adds students, lists them;
(2) creates an assignment, students upload a file and submit, the lecturer updates grades,
    students see released grades and the ranking;
(3) a posted announcement is on sms.events.posts: tests/e2e/test_posts.py
    (test_post_created_event_on_posts_topic);
(4) lists and filters classes and assignments.

Each step is a request a lecturer or student would make, checked against what the
previous steps did; no step sleeps or retries (read-your-writes holds across services).
"""

import hashlib
import time
import uuid

import requests

from helpers import HTTP_TIMEOUT, assert_json, describe, now_ms


def _iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _ids(page):
    return [i["id"] for i in page["items"]]


def test_scenario_1_class_roster_list(make_api):
    lec = make_api()
    cls = assert_json(lec.post("/lecturer/classes", json={
        "code": f"CS101-{uuid.uuid4().hex[:6]}", "name": "Introduction to Programming",
        "description": "Variables, loops, functions.", "term": "2026-fall"}), 201)
    students = [{"student_id": f"sc1-{uuid.uuid4().hex[:8]}", "name": n, "email": f"{n.split()[0].lower()}@uni.edu"}
                for n in ("Chi Nguyen", "An Tran", "Binh Le", "Dung Pham")]
    r = lec.post(f"/lecturer/classes/{cls['id']}/students", json={"students": students})
    assert assert_json(r, 200) == {"enrolled": 4, "already_enrolled": 0}
    # Adding the same students again adds nobody.
    r = lec.post(f"/lecturer/classes/{cls['id']}/students", json={"students": students[:2]})
    assert assert_json(r, 200) == {"enrolled": 0, "already_enrolled": 2}
    page = assert_json(lec.get(f"/lecturer/students/{cls['id']}"), 200)
    assert [i["name"] for i in page["items"]] == ["An Tran", "Binh Le", "Chi Nguyen", "Dung Pham"]
    assert page["next_cursor"] is None
    assert all(set(i) == {"student_id", "name", "email", "enrolled_at"} for i in page["items"]), page
    # The filter finds one by name; a student sees the class among theirs.
    page = assert_json(lec.get(f"/lecturer/students/{cls['id']}", params={"q": "binh"}), 200)
    assert [i["name"] for i in page["items"]] == ["Binh Le"]
    stu = make_api(students[2]["student_id"], role="student")
    mine = assert_json(stu.get("/student/classes"), 200)
    assert cls["id"] in [c["id"] for c in mine["items"]]


def test_scenario_2_assignment_submission_grades_ranking(make_api, base_url):
    lec = make_api()
    cls = lec.create()
    sids = [f"sc2-{k}-{uuid.uuid4().hex[:6]}" for k in range(3)]
    r = lec.post(f"/lecturer/classes/{cls['id']}/students", json={"students": [
        {"student_id": s, "name": f"Student {k}", "email": f"s{k}@uni.edu"} for k, s in enumerate(sids)]})
    assert r.status_code == 200, describe(r)
    a = assert_json(lec.post("/lecturer/assignments", json={
        "class_id": cls["id"], "title": "Essay 1", "description": "1,000 words on recursion.",
        "due_at": _iso(now_ms() + 7 * 86400000), "max_score": 10}), 201)
    assert a["status"] == "open" and a["max_score"] == 10

    # Students upload a file through a signed URL and submit it.
    students = [make_api(s, role="student") for s in sids]
    uploads = {}
    for k, stu in enumerate(students[:2]):
        data = f"essay of student {k}\n".encode() * 50
        up = assert_json(stu.post("/student/uploads", json={
            "filename": f"essay-{k}.txt", "content_type": "text/plain", "size": len(data)}), 201)
        r = requests.put(base_url + up["upload_url"], data=data, timeout=HTTP_TIMEOUT)
        assert r.status_code in (200, 201), describe(r)
        uploads[sids[k]] = (up["upload_id"], hashlib.sha256(data).hexdigest())
        sub = assert_json(stu.post(f"/student/assignments/{a['id']}/submissions", json={
            "text": "Please find my essay attached.", "upload_ids": [up["upload_id"]]}), 201)
        assert sub["version"] == 1 and sub["late"] is False
    # The lecturer sees the latest submission per student and the count.
    subs = assert_json(lec.get(f"/lecturer/assignments/{a['id']}/submissions"), 200)
    assert sorted(i["student_id"] for i in subs["items"]) == sorted(sids[:2])
    for i in subs["items"]:
        assert uploads[i["student_id"]][0] in [u if isinstance(u, str) else u["upload_id"]
                                               for u in i["upload_ids"]], i
    listed = assert_json(lec.get(f"/lecturer/classes/{cls['id']}/assignments"), 200)["items"]
    assert [(x["id"], x["submission_count"]) for x in listed] == [(a["id"], 2)]

    # Grades as drafts: students see nothing yet.
    grades = [{"student_id": sids[0], "score": 9, "feedback": "Clear and well argued."},
              {"student_id": sids[1], "score": 7.5, "feedback": "Good, cite your sources."},
              {"student_id": sids[2], "score": 7.5, "feedback": "Late start, solid finish."}]
    r = lec.post(f"/lecturer/assignments/{a['id']}/update-grades", json={"grades": grades, "release": False})
    assert assert_json(r, 200) == {"updated": 3, "unchanged": 0}
    assert assert_json(students[0].get("/student/grades"), 200)["items"] == []
    # Released: each student sees their own grade, and the ranking (ties share a rank).
    assert assert_json(lec.post(f"/lecturer/assignments/{a['id']}/release-grades"), 200) == {"released": 3}
    g = assert_json(students[1].get("/student/grades"), 200)
    assert [(i["assignment_id"], i["score"], i["feedback"]) for i in g["items"]] == \
        [(a["id"], 7.5, "Good, cite your sources.")]
    assert g["averages"] == [{"class_id": cls["id"], "average_percent": 75}]
    rk = assert_json(students[2].get("/student/ranking", params={"class_id": cls["id"]}), 200)
    assert (rk["rank"], rk["of"], rk["total_score"]) == (2, 3, 7.5), rk
    assert [(t["rank"], t["total_score"]) for t in rk["top"]] == [(1, 9), (2, 7.5), (2, 7.5)]
    # A student of another class sees none of it.
    outsider = make_api(f"sc2-out-{uuid.uuid4().hex[:6]}", role="student")
    assert outsider.get("/student/ranking", params={"class_id": cls["id"]}).status_code == 404


def test_scenario_4_list_and_filter(make_api):
    lec = make_api()
    tag = uuid.uuid4().hex[:6]
    made = [lec.create(code=f"{c}-{tag}", name=f"{n} {tag}") for c, n in
            (("CS101", "Programming"), ("MATH201", "Linear Algebra"), ("PHYS150", "Mechanics"))]
    lec.deactivate(made[2]["id"])
    # Classes: active by default, all on request, prefix search on code or name, pages of one.
    active = lec.list_all("active")
    assert sorted(c["id"] for c in active) == sorted(c["id"] for c in made[:2])
    assert len(lec.list_all("all")) == 3
    found = assert_json(lec.get("/lecturer/classes", params={"q": "linear alg"}), 200)
    assert _ids(found) == [made[1]["id"]]
    p1 = assert_json(lec.get("/lecturer/classes", params={"limit": 1}), 200)
    p2 = assert_json(lec.get("/lecturer/classes", params={"limit": 1, "cursor": p1["next_cursor"]}), 200)
    assert len(p1["items"]) == len(p2["items"]) == 1 and _ids(p1) != _ids(p2)

    # Assignments: one past due, two upcoming; filters, sorts and pages.
    cid = made[0]["id"]
    day = 86400000
    mk = [assert_json(lec.post("/lecturer/assignments", json={
        "class_id": cid, "title": t, "due_at": _iso(now_ms() + off)}), 201)
        for t, off in (("Lab 1", -2 * day), ("Lab 2", 3 * day), ("Project", 30 * day))]
    path = f"/lecturer/classes/{cid}/assignments"

    def ids(**params):
        return _ids(assert_json(lec.get(path, params=params), 200))

    assert ids() == [m["id"] for m in mk]                           # all but deleted, soonest first
    assert ids(status="open") == [mk[1]["id"], mk[2]["id"]]
    assert ids(status="closed") == [mk[0]["id"]]
    assert ids(status="all", sort="-due_at") == [m["id"] for m in mk[::-1]]
    assert ids(status="all", due_after=_iso(now_ms() + 10 * day)) == [mk[2]["id"]]
    assert ids(status="all", due_before=_iso(now_ms())) == [mk[0]["id"]]
    first = assert_json(lec.get(path, params={"status": "all", "limit": 2}), 200)
    rest = assert_json(lec.get(path, params={"status": "all", "limit": 2, "cursor": first["next_cursor"]}), 200)
    assert _ids(first) + _ids(rest) == [m["id"] for m in mk] and rest["next_cursor"] is None
    # A deleted assignment leaves the lists.
    r = lec.delete(f"/lecturer/assignments/{mk[1]['id']}")
    assert r.status_code == 200, describe(r)
    assert ids() == [mk[0]["id"], mk[2]["id"]]
    assert ids(status="open") == [mk[2]["id"]]
