"""Class posts (announcements): create, the list's order and pages, who may read it
(the lecturer, enrolled students), validation, the post.created event on
sms.events.posts, and the posts surviving FLUSHALL + restart."""

import time
import uuid

import pytest

from helpers import (assert_json, assert_problem, describe, now_ms, read_events, rfc3339_to_ms,
                     wait_ready)

POST_FIELDS = {"id", "class_id", "author_id", "title", "body", "pinned", "created_at"}
POSTS_TOPIC = "sms.events.posts"


def _post(api, cid, title, body="Body text.", pinned=None, expect=201, headers=None):
    payload = {"title": title, "body": body}
    if pinned is not None:
        payload["pinned"] = pinned
    r = api.post(f"/classes/{cid}/posts", json=payload, headers=headers)
    assert r.status_code == expect, describe(r)
    return r


def _posts(api, cid, **params):
    r = api.get(f"/classes/{cid}/posts", params=params)
    page = assert_json(r, 200)
    assert set(page) == {"items", "next_cursor"}, describe(r)
    for it in page["items"]:
        assert set(it) == POST_FIELDS, it
        rfc3339_to_ms(it["created_at"])
    return page


def _posts_all(api, cid, **params):
    items, cursor = [], None
    for _ in range(100):
        p = dict(params)
        if cursor:
            p["cursor"] = cursor
        page = _posts(api, cid, **p)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("posts pagination does not end")


def _sid(prefix="s"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _enroll(api, cid, sid):
    r = api.post(f"/lecturer/classes/{cid}/students",
                 json={"students": [{"student_id": sid, "name": "Stu Dent", "email": f"{sid}@school.edu"}]})
    assert r.status_code == 200, describe(r)


def test_create_post_201(api):
    c = api.create()
    t0 = now_ms()
    r = _post(api, c["id"], "Welcome", "Lecture notes are on the course page.", pinned=True)
    p = r.json()
    assert set(p) == POST_FIELDS
    assert p["class_id"] == c["id"] and p["author_id"] == api.sub
    assert p["title"] == "Welcome" and p["body"] == "Lecture notes are on the course page."
    assert p["pinned"] is True
    assert abs(rfc3339_to_ms(p["created_at"]) - t0) < 60 * 1000
    assert r.headers["Location"] == f"/classes/{c['id']}/posts/{p['id']}"
    assert _posts(api, c["id"])["items"] == [p], "read-your-writes"
    # pinned defaults to false
    assert _post(api, c["id"], "Second").json()["pinned"] is False


def test_list_order_pinned_first_then_newest(api):
    c = api.create()
    ids = {}
    for title, pinned in [("a", False), ("b", True), ("c", False), ("d", True), ("e", False)]:
        ids[title] = _post(api, c["id"], title, pinned=pinned).json()["id"]
        time.sleep(0.005)
    items = _posts(api, c["id"])["items"]
    assert [i["title"] for i in items] == ["d", "b", "e", "c", "a"]


def test_pagination(api):
    c = api.create()
    for i in range(7):
        _post(api, c["id"], f"p{i}", pinned=(i == 2))
    page = _posts(api, c["id"], limit=3)
    assert len(page["items"]) == 3 and page["next_cursor"]
    everything = _posts_all(api, c["id"], limit=3)
    assert [i["title"] for i in everything] == ["p2", "p6", "p5", "p4", "p3", "p1", "p0"]
    assert len({i["id"] for i in everything}) == 7
    assert _posts(api, c["id"], limit=100)["items"] == everything
    assert _posts(api, c["id"])["next_cursor"] is None
    for bad in [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"cursor": "nope"}]:
        assert_problem(api.get(f"/classes/{c['id']}/posts", params=bad), 400, "validation",
                       fields=list(bad))


def test_enrolled_student_can_list_others_404(api, make_api):
    c = api.create()
    _post(api, c["id"], "Hello class", pinned=True)
    sid = _sid("stu")
    _enroll(api, c["id"], sid)
    student = make_api(sid, role="student")
    items = _posts(student, c["id"])["items"]
    assert [i["title"] for i in items] == ["Hello class"]
    outsider = make_api(_sid("out"), role="student")
    assert_problem(outsider.get(f"/classes/{c['id']}/posts"), 404, "not_found")
    other = make_api()
    assert_problem(other.get(f"/classes/{c['id']}/posts"), 404, "not_found")
    assert_problem(api.get("/classes/NOPE000000000000000000000/posts"), 404, "not_found")
    # a student cannot post (role), another lecturer's class is a 404
    r = student.post(f"/classes/{c['id']}/posts", json={"title": "t", "body": "b"})
    assert r.status_code == 403, describe(r)
    assert_problem(other.post(f"/classes/{c['id']}/posts", json={"title": "t", "body": "b"}), 404, "not_found")
    assert [i["title"] for i in _posts(api, c["id"])["items"]] == ["Hello class"]


def test_inactive_class_409(api):
    c = api.create()
    r = api.delete(f"/lecturer/classes/{c['id']}")
    assert r.status_code == 200, describe(r)
    assert_problem(api.post(f"/classes/{c['id']}/posts", json={"title": "t", "body": "b"}), 409,
                   "class_inactive")


def test_get_one_post_at_its_location(api, make_api):
    c, d = api.create(), api.create()
    r = _post(api, c["id"], "Exam room", "Room B12, bring a pen.")
    p = r.json()
    got = api.get(r.headers["Location"])
    assert assert_json(got, 200) == p
    sid = _sid("stu")
    _enroll(api, c["id"], sid)
    student = make_api(sid, role="student")
    assert assert_json(student.get(f"/classes/{c['id']}/posts/{p['id']}"), 200) == p
    # The post through another class's path, an outsider, another lecturer, no such post: 404.
    assert_problem(api.get(f"/classes/{d['id']}/posts/{p['id']}"), 404, "not_found")
    assert_problem(make_api(_sid("out"), role="student").get(f"/classes/{c['id']}/posts/{p['id']}"), 404,
                   "not_found")
    assert_problem(make_api().get(f"/classes/{c['id']}/posts/{p['id']}"), 404, "not_found")
    assert_problem(api.get(f"/classes/{c['id']}/posts/01NOSUCHPOST00000000000000"), 404, "not_found")


def test_students_of_an_inactive_class_see_no_posts(api, make_api):
    c = api.create()
    p = _post(api, c["id"], "Last words").json()
    sid = _sid("stu")
    _enroll(api, c["id"], sid)
    student = make_api(sid, role="student")
    assert len(_posts(student, c["id"])["items"]) == 1
    api.deactivate(c["id"])
    assert_problem(student.get(f"/classes/{c['id']}/posts"), 404, "not_found")
    assert_problem(student.get(f"/classes/{c['id']}/posts/{p['id']}"), 404, "not_found")
    # The lecturer keeps reading an archived class's posts.
    assert [i["id"] for i in _posts(api, c["id"])["items"]] == [p["id"]]


def test_validation_400(api):
    c = api.create()
    path = f"/classes/{c['id']}/posts"
    cases = [
        ({"body": "b"}, ["title"]),
        ({"title": "t"}, ["body"]),
        ({"title": "", "body": "b"}, ["title"]),
        ({"title": "x" * 201, "body": "b"}, ["title"]),
        ({"title": "t", "body": "y" * 10001}, ["body"]),
        ({"title": "t", "body": "b", "pinned": "yes"}, ["pinned"]),
        ({"title": "t", "body": "b", "author_id": "me"}, ["author_id"]),
        ({"title": 5, "body": ""}, ["title", "body"]),
    ]
    for body, fields in cases:
        assert_problem(api.post(path, json=body), 400, "validation", fields=fields)
    assert _post(api, c["id"], "x" * 200, "y" * 10000).status_code == 201
    assert len(_posts(api, c["id"])["items"]) == 1


def test_idempotent_post(api):
    c = api.create()
    h = {"Idempotency-Key": f"post-{uuid.uuid4()}"}
    r1 = _post(api, c["id"], "Once", headers=h)
    r2 = _post(api, c["id"], "Once", headers=h)
    assert r1.json() == r2.json()
    assert r1.headers["Location"] == r2.headers["Location"]
    assert len(_posts(api, c["id"])["items"]) == 1


def test_post_created_event_on_posts_topic(api, kafka_brokers):
    """Seed scenario 3: a lecturer posts an announcement and the post event is on sms.events.posts."""
    c = api.create()
    p = _post(api, c["id"], "Exam moved", "The exam is now on Friday.", pinned=True).json()

    def until(evs):
        return any(e["value"]["type"] == "post.created" for e in evs)
    evs = read_events(kafka_brokers, [c["id"]], until, timeout=20, topic=POSTS_TOPIC)
    assert until(evs), [e["value"] for e in evs]
    e = [e for e in evs if e["value"]["type"] == "post.created"][0]
    assert e["raw_keys"] == ["id", "type", "v", "time", "actor", "key", "cause", "data"]
    assert e["kafka_key"] == c["id"].encode()
    assert e["headers"].get("content-type") == b"application/msgpack"
    v = e["value"]
    assert v["v"] == 1 and v["key"] == c["id"] and v["actor"] == api.sub
    assert list(v["data"]) == ["id", "class_id", "lecturer_id", "author_id", "title", "body", "pinned",
                               "created_at"]
    d = v["data"]
    assert d["id"] == p["id"] and d["class_id"] == c["id"]
    assert d["lecturer_id"] == api.sub and d["author_id"] == api.sub
    assert (d["title"], d["body"], d["pinned"]) == ("Exam moved", "The exam is now on Friday.", True)
    assert type(d["created_at"]) is int and d["created_at"] == rfc3339_to_ms(p["created_at"])
    # not on the class events topic
    class_evs = read_events(kafka_brokers, [c["id"]], timeout=20)
    assert [x["value"]["type"] for x in class_evs] == ["class.created"]


@pytest.mark.disruptive
@pytest.mark.slow
def test_posts_survive_flushall_and_restart(api, make_api, admin, ctl, redis_client, base_url):
    c = api.create()
    for i in range(4):
        _post(api, c["id"], f"r{i}", pinned=(i == 1))
    sid = _sid("stu")
    _enroll(api, c["id"], sid)
    student = make_api(sid, role="student")
    before = {"l": _posts_all(api, c["id"], limit=2), "s": _posts_all(student, c["id"])}
    sums_before = admin.stable_checksums()
    try:
        redis_client.flushall()
        ctl("restart", "classes", timeout=120)
    finally:
        wait_ready(base_url, timeout=60)
    deadline = time.monotonic() + 30
    sums = admin.checksums()
    while sums.get("classes") != sums_before["classes"] and time.monotonic() < deadline:
        time.sleep(0.5)
        sums = admin.checksums()
    assert sums["classes"] == sums_before["classes"], f"before {sums_before}\nafter {sums}"
    after = {"l": _posts_all(api.clone(), c["id"], limit=2), "s": _posts_all(student.clone(), c["id"])}
    assert after == before
    assert [i["title"] for i in after["l"]] == ["r1", "r3", "r2", "r0"]
