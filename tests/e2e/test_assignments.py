"""Assignments: POST/GET/PUT/DELETE /lecturer/assignments, the per-class list with its
filters and pagination, the events on sms.events.assignments, and the view's rebuild.

The assignments service learns classes from sms.events.classes, so a class created a
moment ago may still be unknown to it: `_create` retries a 404 on a fresh class briefly.
"""

import time
import uuid

import pytest

from helpers import (EVENT_KEYS, assert_json, assert_problem, describe, now_ms, poll, read_events,
                     rfc3339_to_ms, wait_checksums, wait_ready)

PATH = "/lecturer/assignments"
FIELDS = {"id", "class_id", "title", "description", "due_at", "max_score", "status", "created_at",
          "updated_at", "version", "submission_count", "graded_count"}
EVENT_FIELDS = {"id", "class_id", "lecturer_id", "title", "description", "due_at", "max_score",
                "status", "created_at", "updated_at", "version"}
TOPIC = "sms.events.assignments"


def _iso(ms):
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
    return f"{s}.{ms % 1000:03d}Z"


def _future(days=30):
    return _iso(now_ms() + days * 86400 * 1000)


def _class(api):
    return api.create()["id"]


def _create(api, class_id, expect=201, **fields):
    # No retry: a class created a moment ago must already be usable here
    # (the service catches up with sms.events.classes before answering 404).
    body = {"class_id": class_id, "title": "HW " + uuid.uuid4().hex[:6], "due_at": _future()}
    body.update(fields)
    r = api.post(PATH, json=body)
    assert r.status_code == expect, f"create expected {expect}\n{describe(r)}"
    return r


def _assert_assignment(a, **expected):
    assert set(a) == FIELDS, f"fields {sorted(a)} != {sorted(FIELDS)}"
    for k in ("id", "class_id", "title", "description", "status"):
        assert isinstance(a[k], str), a
    for k in ("version", "submission_count", "graded_count"):
        assert type(a[k]) is int, a
    assert isinstance(a["max_score"], (int, float)) and a["max_score"] > 0, a
    for k in ("due_at", "created_at", "updated_at"):
        rfc3339_to_ms(a[k])
    for k, v in expected.items():
        assert a[k] == v, f"{k}: expected {v!r}, got {a[k]!r} in {a}"
    return a


def _list(api, class_id, expect=200, **params):
    r = api.get(f"/lecturer/classes/{class_id}/assignments", params=params)
    if expect != 200:
        return r
    page = assert_json(r, 200)
    assert set(page) == {"items", "next_cursor"}, page
    return page


# --------------------------------------------------------------------------- create / get

def test_create_in_own_class(api):
    cid = _class(api)
    t0 = now_ms()
    r = _create(api, cid, title="Essay 1", description="500 words", due_at="2031-05-01T12:00:00+02:00",
                max_score=20)
    a = _assert_assignment(r.json(), class_id=cid, title="Essay 1", description="500 words",
                           due_at="2031-05-01T10:00:00.000Z", max_score=20, status="open", version=1,
                           submission_count=0, graded_count=0)
    assert r.headers.get("Location") == f"{PATH}/{a['id']}", describe(r)
    assert abs(rfc3339_to_ms(a["created_at"]) - t0) < 10000, a
    assert a["created_at"] == a["updated_at"]
    g = api.get(r.headers["Location"])
    assert assert_json(g, 200) == a


def test_defaults_and_fractional_score(api):
    cid = _class(api)
    a = _create(api, cid).json()
    assert a["max_score"] == 100 and type(a["max_score"]) is int and a["description"] == ""
    b = _create(api, cid, max_score=12.5).json()
    assert b["max_score"] == 12.5
    assert api.get(f"{PATH}/{b['id']}").json()["max_score"] == 12.5


def test_create_in_another_lecturers_class_is_404(api, make_api):
    other = make_api()
    cid = _class(other)
    _create(other, cid)  # the class is known to the assignments service now
    assert_problem(_create(api, cid, expect=404), 404, "not_found", fields=["class_id"])
    assert_problem(_create(api, "NOSUCHCLASS", expect=404), 404, "not_found", fields=["class_id"])


def test_create_in_inactive_class_is_409(api):
    cid = _class(api)
    _create(api, cid)
    api.deactivate(cid)
    # The deactivation reaches the assignments service as an event: allow it a moment.
    deadline = time.monotonic() + 10
    while True:
        r = api.post(PATH, json={"class_id": cid, "title": "late", "due_at": _future()})
        if r.status_code != 201 or time.monotonic() > deadline:
            break
        api.delete(f"{PATH}/{r.json()['id']}")
        time.sleep(0.1)
    assert_problem(r, 409, "class_inactive", fields=["class_id"])


@pytest.mark.parametrize("patch,field", [
    ({"due_at": "next friday"}, "due_at"),
    ({"due_at": "2030-01-01T00:00:00"}, "due_at"),
    ({"max_score": 0}, "max_score"),
    ({"max_score": -5}, "max_score"),
    ({"max_score": "100"}, "max_score"),
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"description": "d" * 5001}, "description"),
    ({"points": 3}, "points"),
])
def test_validation_names_the_field(api, patch, field):
    body = {"class_id": "ANY", "title": "t", "due_at": _future()}
    body.update(patch)
    assert_problem(api.post(PATH, json=body), 400, "validation", fields=[field])


def test_missing_required_fields(api):
    assert_problem(api.post(PATH, json={}), 400, "validation", fields=["class_id", "title", "due_at"])


def test_other_lecturer_cannot_get(api, make_api):
    cid = _class(api)
    a = _create(api, cid).json()
    assert_problem(make_api().get(f"{PATH}/{a['id']}"), 404, "not_found")
    assert_problem(api.get(f"{PATH}/NOSUCH"), 404, "not_found")


# --------------------------------------------------------------------------- update / delete

def test_update_with_if_match(api, make_api):
    cid = _class(api)
    a = _create(api, cid, title="v1").json()
    path = f"{PATH}/{a['id']}"
    assert_problem(api.put(path, json={"title": "v2"}, headers={"If-Match": "7"}), 412, "precondition_failed")
    r = api.put(path, json={"title": "v2", "due_at": "2032-01-01T00:00:00Z", "max_score": 50},
                headers={"If-Match": "1"})
    u = _assert_assignment(assert_json(r, 200), title="v2", due_at="2032-01-01T00:00:00.000Z",
                           max_score=50, version=2, created_at=a["created_at"])
    assert rfc3339_to_ms(u["updated_at"]) >= rfc3339_to_ms(a["updated_at"])
    # No change: 200, same version.
    same = assert_json(api.put(path, json={"title": "v2"}), 200)
    assert same["version"] == 2
    assert api.get(path).json() == u
    assert_problem(api.put(path, json={"class_id": cid}), 400, "validation", fields=["class_id"])
    assert_problem(api.put(path, json={}), 400, "validation")
    assert_problem(make_api().put(path, json={"title": "mine"}), 404, "not_found")


def test_delete_twice_then_put_is_409(api, make_api):
    cid = _class(api)
    a = _create(api, cid).json()
    path = f"{PATH}/{a['id']}"
    assert_problem(make_api().delete(path), 404, "not_found")
    d1 = assert_json(api.delete(path), 200)
    assert d1["status"] == "deleted" and d1["version"] == 2
    d2 = assert_json(api.delete(path), 200)
    assert d2 == d1
    assert api.get(path).json()["status"] == "deleted"
    assert_problem(api.put(path, json={"title": "back"}), 409, "assignment_deleted")
    assert a["id"] not in [x["id"] for x in _list(api, cid)["items"]]


# --------------------------------------------------------------------------- list

def test_list_status_and_due_filters(api):
    cid = _class(api)
    past = _create(api, cid, title="past", due_at=_iso(now_ms() - 86400 * 1000)).json()
    future = _create(api, cid, title="future", due_at=_future(10)).json()
    later = _create(api, cid, title="later", due_at=_future(40)).json()
    ids = lambda page: [x["id"] for x in page["items"]]  # noqa: E731
    assert ids(_list(api, cid)) == [past["id"], future["id"], later["id"]]
    assert ids(_list(api, cid, status="all")) == [past["id"], future["id"], later["id"]]
    closed = _list(api, cid, status="closed")
    assert ids(closed) == [past["id"]] and closed["items"][0]["status"] == "closed"
    assert ids(_list(api, cid, status="open")) == [future["id"], later["id"]]
    assert ids(_list(api, cid, due_after=_future(20))) == [later["id"]]
    assert ids(_list(api, cid, due_before=_future(20))) == [past["id"], future["id"]]
    assert ids(_list(api, cid, due_after=_iso(now_ms()), due_before=_future(20))) == [future["id"]]
    # An offset with '+' (sent encoded by requests) is a valid RFC 3339 time.
    assert ids(_list(api, cid, due_after="2000-01-01T00:00:00+05:00")) == ids(_list(api, cid))
    assert ids(_list(api, cid, sort="-due_at")) == [later["id"], future["id"], past["id"]]
    assert ids(_list(api, cid, sort="created_at")) == [past["id"], future["id"], later["id"]]
    assert ids(_list(api, cid, sort="created_at", status="open")) == [future["id"], later["id"]]
    for item in _list(api, cid)["items"]:
        _assert_assignment(item, submission_count=0, graded_count=0)


def test_list_pagination_without_duplicates(api):
    cid = _class(api)
    created = [_create(api, cid, due_at=_future(5 + i)).json()["id"] for i in range(5)]
    for sort, want in (("due_at", created), ("-due_at", created[::-1]), ("created_at", created)):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 2, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = _list(api, cid, **params)
            pages += 1
            assert len(page["items"]) <= 2
            seen += [x["id"] for x in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == want, f"sort={sort}: {seen} != {want}"
        assert pages == 3


@pytest.mark.parametrize("params,field", [
    ({"status": "late"}, "status"), ({"due_after": "yesterday"}, "due_after"),
    ({"due_before": "2030-01-01"}, "due_before"), ({"sort": "title"}, "sort"),
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"cursor": "nope"}, "cursor"),
])
def test_list_invalid_params(api, params, field):
    cid = _class(api)
    assert_problem(_list(api, cid, expect=400, **params), 400, "validation", fields=[field])


def test_another_lecturer_cannot_list(api, make_api):
    cid = _class(api)
    _create(api, cid)
    assert_problem(_list(make_api(), cid, expect=404), 404, "not_found")
    assert_problem(_list(api, "NOSUCHCLASS", expect=404), 404, "not_found")


# --------------------------------------------------------------------------- events

def test_events_decode_with_documented_fields(api, kafka_brokers):
    cid = _class(api)
    a = _create(api, cid, max_score=7.5).json()
    api.put(f"{PATH}/{a['id']}", json={"title": "renamed"})
    api.delete(f"{PATH}/{a['id']}")
    want = ["assignment.created", "assignment.updated", "assignment.deleted"]

    def until(evs):
        return [e["value"]["type"] for e in evs] == want

    evs = read_events(kafka_brokers, [a["id"]], until, timeout=20, topic=TOPIC)
    assert [e["value"]["type"] for e in evs] == want, [e["value"] for e in evs]
    for i, ev in enumerate(evs):
        v = ev["value"]
        assert ev["raw_keys"] == EVENT_KEYS
        assert ev["kafka_key"] == a["id"].encode()
        assert ev["headers"].get("content-type") == b"application/msgpack"
        assert v["v"] == 1 and v["actor"] == api.sub and v["key"] == a["id"]
        extra = {"changed"} if v["type"] == "assignment.updated" else set()
        d = v["data"]
        assert set(d) == EVENT_FIELDS | extra, sorted(d)
        for k in ("due_at", "created_at", "updated_at", "version"):
            assert type(d[k]) is int, d
        assert d["max_score"] == 7.5 and type(d["max_score"]) is float
        assert d["id"] == a["id"] and d["class_id"] == cid and d["lecturer_id"] == api.sub
        assert d["due_at"] == rfc3339_to_ms(a["due_at"])
        assert d["version"] == i + 1
    assert evs[0]["value"]["data"]["status"] == "open"
    assert evs[1]["value"]["data"]["changed"] == ["title"]
    assert evs[1]["value"]["data"]["title"] == "renamed"
    assert evs[2]["value"]["data"]["status"] == "deleted"
    # Whole scores are ints on the wire.
    b = _create(api, cid, max_score=10).json()
    evs = read_events(kafka_brokers, [b["id"]], lambda e: len(e) >= 1, timeout=20, topic=TOPIC)
    assert type(evs[0]["value"]["data"]["max_score"]) is int


# --------------------------------------------------------------------------- rebuild

@pytest.mark.disruptive
@pytest.mark.slow
def test_view_survives_flushall_and_restart(base_url, api, admin, ctl, redis_client):
    cid = _class(api)
    a = _create(api, cid, due_at=_future(3)).json()
    b = _create(api, cid, due_at=_iso(now_ms() - 3600 * 1000), max_score=2.5).json()
    api.put(f"{PATH}/{a['id']}", json={"description": "updated"})
    c = _create(api, cid).json()
    api.delete(f"{PATH}/{c['id']}")
    before_list = _list(api, cid, limit=100)
    before = {x: api.get(f"{PATH}/{x}").json() for x in (a["id"], b["id"], c["id"])}
    sums = admin.stable_checksums()
    assert sums["assignments"][1] > 0, sums
    try:
        redis_client.flushall()
        ctl("restart", "assignments", timeout=120)
        wait_ready(base_url, timeout=60)
    finally:
        wait_ready(base_url, timeout=60)
    after_sums = wait_checksums(admin, sums, timeout=30)
    assert after_sums["assignments"] == sums["assignments"]
    assert _list(api, cid, limit=100) == before_list
    for x, body in before.items():
        assert api.get(f"{PATH}/{x}").json() == body
    # The rebuilt view still knows the class: writes work.
    _create(api, cid, )
