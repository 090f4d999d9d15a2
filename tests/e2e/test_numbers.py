"""Every number a client sends is range-checked before any arithmetic (common/number.h).

Issue 8: `score: 1e17` on an assignment with max_score 100 was answered 200, stored as
-92233720368547758.08 and took grading down. Here each numeric field of the HTTP API
(score, max_score, due_at, limit, wait, after, Last-Event-ID, If-Match, upload size and
ttl_s, the signed URL's size and expires) gets the hostile values as raw JSON or query
text, written by hand (not Python floats): 1e17, 1e308, -1e308, 1e400 (infinity after
strtod), -0, 5e-324 (subnormal), 2^53+1, 2^63, 2^64, 1e20 as an integer literal. Each must
be refused with the documented status and field, or, where it is a legal value (-0 and
5e-324 as a score are 0), read as that value; and the system keeps working afterwards.
"""

import json
import time
import urllib.parse
import uuid

import pytest
import requests

from helpers import HTTP_TIMEOUT, assert_json, assert_problem, describe, now_ms, wait_for

# Number literals no sane value of any field reaches: refused everywhere.
HUGE = ["1e17", "1e308", "-1e308", "1e400", "-1e400", "9007199254740993", "9223372036854775808",
        "18446744073709551616", "100000000000000000000", "-9223372036854775809"]
# Text forms a query parameter or header must refuse as not an integer, or out of range.
BAD_TEXT = ["1e17", "1e308", "9007199254740993", "9223372036854775808", "18446744073709551616",
            "100000000000000000000", "-9223372036854775809", "5e-324", "-0", "0.5", "1.0", "+1", "0x10",
            "", "abc", "1 1"]
JSON = {"Content-Type": "application/json"}


def _sid(prefix="s"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _future_iso(days=30):
    ms = now_ms() + days * 86400 * 1000
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def _raw(api, method, path, body, expect=None):
    """Sends body (str: JSON text written by hand) as application/json."""
    r = api.request(method, path, data=body.encode(), headers=JSON)
    if expect is not None:
        assert r.status_code == expect, describe(r)
    return r


def _error_message(doc, field):
    msgs = [e["message"] for e in doc["errors"] if e["field"] == field]
    assert msgs, doc
    return msgs[0]


@pytest.fixture
def course(api):
    """A class with two students (sorted ids) and an assignment of max_score 100, all made
    through the API; returns once grading has learnt them (the grade sheet lists both)."""
    c = api.create()
    students = sorted(_sid() for _ in range(2))
    r = api.post(f"/lecturer/classes/{c['id']}/students",
                 json={"students": [{"student_id": s, "name": f"N {s}", "email": f"{s}@school.edu"}
                                    for s in students]})
    assert r.status_code == 200, describe(r)
    r = _raw(api, "POST", "/lecturer/assignments",
             '{"class_id":%s,"title":"HW","due_at":"%s","max_score":100}' % (json.dumps(c["id"]), _future_iso()),
             expect=201)
    aid = r.json()["id"]

    def probe():
        r = api.get(f"/lecturer/assignments/{aid}/grades")
        return r.status_code == 200 and len(r.json()["items"]) == 2, describe(r)
    wait_for(probe, f"grade sheet of {aid} with 2 students")
    return {"lec": api, "cid": c["id"], "aid": aid, "students": students}


def _grades(course, rows):
    """POST update-grades with rows: [(student_id, score literal)]."""
    body = '{"grades":[%s]}' % ",".join('{"student_id":"%s","score":%s}' % (s, v) for s, v in rows)
    return _raw(course["lec"], "POST", f"/lecturer/assignments/{course['aid']}/update-grades", body)


def _sheet(course):
    page = assert_json(course["lec"].get(f"/lecturer/assignments/{course['aid']}/grades"), 200)
    return {i["student_id"]: i["score"] for i in page["items"]}


# --------------------------------------------------------------------------- score

def test_score_1e17_is_422_and_grading_keeps_working(course):
    """The issue's proof: the 1e17 request gets 422 and grading keeps working."""
    s0, s1 = course["students"]
    for v in HUGE + ["100.005", "100.01", "101", "-1", "-0.005", "92233720368547758.08"]:
        r = _grades(course, [(s0, v)])
        doc = assert_problem(r, 422, "validation", fields=["grades[0].score"])
        assert _error_message(doc, "grades[0].score") == \
            "must be a number from 0 to 100 (the assignment's max_score)", (v, doc)
    # A bad row among good ones: nothing changes, the bad row is named.
    doc = assert_problem(_grades(course, [(s0, "50"), (s1, "1e308")]), 422, "validation",
                         fields=["grades[1].score"])
    assert [e["field"] for e in doc["errors"]] == ["grades[1].score"], doc
    assert _sheet(course) == {s0: None, s1: None}
    # Grading keeps working: a valid update is 200 and the sheet shows it.
    r = _grades(course, [(s0, "87.5"), (s1, "100")])
    assert assert_json(r, 200) == {"updated": 2, "unchanged": 0}
    assert _sheet(course) == {s0: 87.5, s1: 100}
    hist = assert_json(course["lec"].get(f"/lecturer/assignments/{course['aid']}/grades/{s0}/history"), 200)
    assert [(i["score"], i["previous_score"]) for i in hist["items"]] == [(87.5, None)], hist
    # And again after more hostile ones.
    for v in ("1e17", "-1e308"):
        assert_problem(_grades(course, [(s1, v)]), 422, "validation", fields=["grades[0].score"])
    assert assert_json(_grades(course, [(s1, "99")]), 200) == {"updated": 1, "unchanged": 0}
    assert _sheet(course) == {s0: 87.5, s1: 99}


@pytest.mark.parametrize("literal,score", [
    ("-0", 0), ("-0.0", 0), ("5e-324", 0), ("0.004", 0), ("100", 100), ("100.0", 100),
    ("100.004", 100), ("99.995", 100), ("1e2", 100), ("0.01", 0.01), ("65.25", 65.25),
])
def test_score_legal_edges_are_read_as_their_value(course, literal, score):
    s0 = course["students"][0]
    assert assert_json(_grades(course, [(s0, literal)]), 200)["updated"] == 1
    got = _sheet(course)[s0]
    assert got == score and type(got) is type(score), (literal, got)
    raw = course["lec"].get(f"/lecturer/assignments/{course['aid']}/grades").text
    assert '"score":-' not in raw.replace(" ", ""), raw  # no negative zero in the view


def test_score_not_a_number(course):
    s0 = course["students"][0]
    for v in ('"90"', "null", "true", "[1]", "{}"):
        assert_problem(_grades(course, [(s0, v)]), 422, "validation", fields=["grades[0].score"])
    # Not JSON at all (NaN, Infinity): refused at the edge, and grading still answers.
    for v in ("NaN", "Infinity", "-Infinity"):
        r = _grades(course, [(s0, v)])
        assert r.status_code == 400, describe(r)
    assert assert_json(_grades(course, [(s0, "1")]), 200)["updated"] == 1


# --------------------------------------------------------------------------- max_score, due_at

def test_max_score_is_range_checked_on_create_and_update(course):
    api, cid, aid = course["lec"], course["cid"], course["aid"]
    base = '{"class_id":%s,"title":"HW","due_at":"%s","max_score":%%s}' % (json.dumps(cid), _future_iso())
    msg = "must be a number from 0.01 to 1000000 (kept to two decimals)"
    for v in HUGE + ["0", "-0", "-0.0", "5e-324", "0.004", "-1", "1000000.01", "1e7", '"100"', "null"]:
        doc = assert_problem(_raw(api, "POST", "/lecturer/assignments", base % v), 400, "validation",
                             fields=["max_score"])
        assert _error_message(doc, "max_score") == msg, (v, doc)
        doc = assert_problem(_raw(api, "PUT", f"/lecturer/assignments/{aid}", '{"max_score":%s}' % v), 400,
                             "validation", fields=["max_score"])
        assert _error_message(doc, "max_score") == msg, (v, doc)
    # Legal edges, kept to two decimals.
    for literal, want in (("0.01", 0.01), ("1e6", 1000000), ("1000000", 1000000), ("99.999", 100),
                          ("12.5", 12.5), ("0.005", 0.01)):
        a = assert_json(_raw(api, "POST", "/lecturer/assignments", base % literal), 201)
        assert a["max_score"] == want and type(a["max_score"]) is type(want), (literal, a)
        got = assert_json(api.get(f"/lecturer/assignments/{a['id']}"), 200)
        assert got["max_score"] == want, (literal, got)
    # The assignment that took every refused update is unchanged and still gradable.
    a = assert_json(api.get(f"/lecturer/assignments/{aid}"), 200)
    assert a["max_score"] == 100 and a["version"] == 1, a
    assert assert_json(_grades(course, [(course["students"][0], "100")]), 200)["updated"] == 1


def test_max_score_rounded_is_what_grading_checks(course):
    """max_score 12.345 is kept as 12.35 by assignments and by grading alike."""
    api, aid, s0 = course["lec"], course["aid"], course["students"][0]
    a = assert_json(_raw(api, "PUT", f"/lecturer/assignments/{aid}", '{"max_score":12.345}'), 200)
    assert a["max_score"] == 12.35, a

    def probe():
        r = _grades(course, [(s0, "12.36")])
        return r.status_code == 422, describe(r)
    wait_for(probe, "grading learns max_score 12.35")
    doc = assert_problem(_grades(course, [(s0, "12.36")]), 422, "validation", fields=["grades[0].score"])
    assert _error_message(doc, "grades[0].score") == \
        "must be a number from 0 to 12.35 (the assignment's max_score)", doc
    assert assert_json(_grades(course, [(s0, "12.35")]), 200)["updated"] == 1
    assert _sheet(course)[s0] == 12.35


def test_due_at_numbers_are_refused(course):
    api, cid, aid = course["lec"], course["cid"], course["aid"]
    for v in HUGE + ["0", "-0", "5e-324", str(now_ms() + 86400000)]:
        body = '{"class_id":%s,"title":"HW","due_at":%s}' % (json.dumps(cid), v)
        assert_problem(_raw(api, "POST", "/lecturer/assignments", body), 400, "validation", fields=["due_at"])
        assert_problem(_raw(api, "PUT", f"/lecturer/assignments/{aid}", '{"due_at":%s}' % v), 400, "validation",
                       fields=["due_at"])


# --------------------------------------------------------------------------- query parameters

def _get(api, path, **params):
    q = "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in params.items())
    return api.get(f"{path}?{q}" if q else path)


def _limit_routes(course, make_api):
    cid, aid = course["cid"], course["aid"]
    lec = course["lec"]
    admin = make_api(sub=f"admin-{uuid.uuid4().hex[:8]}", role="admin")
    return [
        (lec, "/lecturer/classes", 100), (lec, f"/lecturer/classes/{cid}/assignments", 100),
        (lec, f"/lecturer/assignments/{aid}/grades", 1000), (lec, f"/lecturer/students/{cid}", 100),
        (lec, f"/lecturer/assignments/{aid}/submissions", 100), (lec, f"/classes/{cid}/posts", 100),
        (lec, f"/classes/{cid}/chat", 200), (lec, "/me/notifications", 100), (admin, "/admin/deliveries", 100),
    ]


def test_limit_is_strict_on_every_list(course, make_api):
    for api, path, max_limit in _limit_routes(course, make_api):
        for v in BAD_TEXT + ["0", "-1", str(max_limit + 1)]:
            doc = assert_problem(_get(api, path, limit=v), 400, "validation", fields=["limit"])
            assert _error_message(doc, "limit") == f"must be an integer from 1 to {max_limit}", (path, v, doc)
        for v in ("1", str(max_limit), "007"):
            r = _get(api, path, limit=v)
            assert r.status_code == 200, describe(r)


def test_chat_wait_and_after(course):
    api, cid = course["lec"], course["cid"]
    path = f"/classes/{cid}/chat"
    for v in BAD_TEXT + ["31", "-1"]:
        doc = assert_problem(_get(api, path, wait=v), 400, "validation", fields=["wait"])
        assert "from 0 to 30" in _error_message(doc, "wait"), doc
    for v in BAD_TEXT + ["-1", "1000000000000000"]:
        assert_problem(_get(api, path, after=v), 400, "validation", fields=["after"])
    t0 = time.monotonic()
    page = assert_json(_get(api, path, wait="0", after="999999999999999"), 200)
    assert page == {"items": [], "next_cursor": "999999999999999"}, page
    assert time.monotonic() - t0 < 5
    assert assert_json(_get(api, path, after="0007"), 200)["next_cursor"] == "7"


def test_last_event_id_is_strict(course, base_url):
    api = course["lec"]
    for v in [x for x in BAD_TEXT if x not in ("", "1 1")] + ["-2"]:
        r = api.get("/me/notifications/stream", headers={"Last-Event-ID": v}, stream=True)
        try:
            assert_problem(r, 400, "validation", fields=["Last-Event-ID"])
        finally:
            r.close()
        r = _get(api, "/me/notifications/stream", last_event_id=v)
        assert_problem(r, 400, "validation", fields=["last_event_id"])


# --------------------------------------------------------------------------- If-Match

@pytest.mark.parametrize("kind", ["class", "assignment"])
def test_if_match_versions(course, kind):
    api = course["lec"]
    path = f"/lecturer/classes/{course['cid']}" if kind == "class" else f"/lecturer/assignments/{course['aid']}"
    body = {"name": "Renamed " + uuid.uuid4().hex[:4]} if kind == "class" else {"title": "HW renamed"}
    cur = assert_json(api.get(path), 200)["version"]
    # If-Match is read by services/gateway/bus.c: 1 to 18 digits, no sign (schemas/openapi.yaml).
    for v in [x for x in BAD_TEXT if x.strip() and x != "9007199254740993"] + ["0", "-1"]:
        r = api.put(path, json=body, headers={"If-Match": v})
        assert_problem(r, 400, "validation", fields=["If-Match"])
    # A well-formed version that is not the current one is a precondition failure, not a wrap-around.
    for v in ("9007199254740991", "9007199254740993", "999999999999999999"):
        assert_problem(api.put(path, json=body, headers={"If-Match": v}), 412, "precondition_failed")
    r = api.put(path, json=body, headers={"If-Match": str(cur)})
    assert assert_json(r, 200)["version"] == cur + 1


# --------------------------------------------------------------------------- uploads

@pytest.fixture
def student(make_api):
    return make_api(sub=f"stu-{uuid.uuid4().hex[:8]}", role="student")


def _upload_body(size="10", ttl=None):
    ttl_part = "" if ttl is None else ',"ttl_s":%s' % ttl
    return '{"filename":"a.pdf","content_type":"application/pdf","size":%s%s}' % (size, ttl_part)


def test_upload_size_and_ttl(student, base_url):
    for v in ["-1e308", "1e400", "-1e400", "-9223372036854775809", "0", "-0", "-0.0", "5e-324", "0.5", "-1",
              '"10"', "null"]:
        assert_problem(_raw(student, "POST", "/student/uploads", _upload_body(size=v)), 400, "validation",
                       fields=["size"])
    # Whole or not, a finite size past the limit is too large (413), never converted.
    for v in ["1e17", "1e308", "9007199254740993", "9223372036854775808", "18446744073709551616",
              "100000000000000000000"]:
        assert_problem(_raw(student, "POST", "/student/uploads", _upload_body(size=v)), 413, "payload_too_large",
                       fields=["size"])
    for v in HUGE + ["0", "-0", "5e-324", "0.5", "901"]:
        assert_problem(_raw(student, "POST", "/student/uploads", _upload_body(ttl=v)), 400, "validation",
                       fields=["ttl_s"])
    # A signed URL whose numbers were changed is refused, and the real one still works.
    up = assert_json(_raw(student, "POST", "/student/uploads", _upload_body(size="10", ttl="60")), 201)
    url = up["upload_url"]

    def with_param(name, value):
        path, _, query = url.partition("?")
        pairs = [p.split("=", 1) for p in query.split("&")]
        return path + "?" + "&".join(f"{k}={urllib.parse.quote(value) if k == name else v}" for k, v in pairs)
    for name in ("size", "expires"):
        for v in ("1e17", "9223372036854775808", "18446744073709551616", "-1", "+10", "99999999999999999999"):
            r = requests.put(base_url + with_param(name, v), data=b"x" * 10, timeout=HTTP_TIMEOUT)
            assert r.status_code == 403, describe(r)
    r = requests.put(base_url + url, data=b"y" * 10, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, describe(r)
    assert r.json()["size"] == 10
