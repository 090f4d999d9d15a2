"""POST /lecturer/classes: validation, defaults, conflicts and body limits."""

import json
import uuid

import pytest

from helpers import RawHttp, assert_class, assert_problem, describe, now_ms, rfc3339_to_ms, uniq

PATH = "/lecturer/classes"


def test_create_returns_201_location_and_the_class(api):
    body = {"code": uniq("CS"), "name": "Introduction to Programming",
            "description": "Variables, control flow, functions.", "term": "2025-fall"}
    t0 = now_ms()
    r = api.post(PATH, json=body)
    t1 = now_ms()
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == "application/json", describe(r)
    assert r.headers.get("X-Request-Id"), describe(r)
    c = assert_class(r.json(), status="active", lecturer_id=api.sub, version=1, **body)
    assert r.headers.get("Location") == f"/lecturer/classes/{c['id']}", describe(r)
    created = rfc3339_to_ms(c["created_at"])
    # Same host: the server clock is ours, allow generous slack for scheduling.
    assert t0 - 5000 <= created <= t1 + 5000, f"created_at {c['created_at']} not near now"
    assert abs(rfc3339_to_ms(c["updated_at"]) - created) <= 1000, c
    # The Location is GET-able and shows the same class.
    g = api.get(r.headers["Location"])
    assert g.status_code == 200, describe(g)
    assert g.json() == c


def test_optional_fields_default_to_empty_strings(api):
    c = api.create(code=uniq(), name="Only required")
    assert_class(c, description="", term="")


def test_ids_are_unique(api):
    ids = {api.create()["id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("field,length", [("code", 64), ("name", 200), ("description", 2000),
                                          ("term", 32)])
def test_max_lengths_are_accepted(api, field, length):
    body = {"code": uniq(), "name": "n"}
    body[field] = (uuid.uuid4().hex * 200)[:length] if field == "code" else "x" * length
    r = api.post(PATH, json=body)
    assert r.status_code == 201, describe(r)
    assert r.json()[field] == body[field]


def test_length_limits_count_characters_not_bytes(api):
    # 64 two-byte characters (128 UTF-8 bytes) is a valid code; 200 three-byte ones a valid name.
    body = {"code": "é" * 63 + uuid.uuid4().hex[:1], "name": "語" * 200}
    r = api.post(PATH, json=body)
    assert r.status_code == 201, describe(r)
    c = r.json()
    assert c["code"] == body["code"] and c["name"] == body["name"]


def test_unicode_round_trips(api):
    body = {"code": "Ünï-" + uniq(), "name": "Größe 日本語 🎓 \"quoted\" \\ back\\slash",
            "description": "line1\nline2\ttab", "term": "秋-2025"}
    r = api.post(PATH, json=body)
    assert r.status_code == 201, describe(r)
    assert_class(r.json(), **body)
    assert api.get_class(r.json()["id"]) == r.json()


def test_control_characters_are_400(api):
    # Newlines and tabs are text; other control characters are not.
    body = {"code": uniq(), "name": "n", "description": "bell \u0007 here"}
    assert_problem(api.post(PATH, json=body), 400, "validation", fields=["description"])


@pytest.mark.parametrize("field,length", [("code", 65), ("name", 201), ("description", 2001),
                                          ("term", 33)])
def test_too_long_fields_are_400(api, field, length):
    body = {"code": uniq(), "name": "n"}
    body[field] = "x" * length
    assert_problem(api.post(PATH, json=body), 400, "validation", fields=[field])


@pytest.mark.parametrize("field", ["code", "name"])
def test_empty_required_fields_are_400(api, field):
    body = {"code": uniq(), "name": "n"}
    body[field] = ""
    assert_problem(api.post(PATH, json=body), 400, "validation", fields=[field])


@pytest.mark.parametrize("field", ["code", "name"])
def test_missing_required_fields_are_400(api, field):
    body = {"code": uniq(), "name": "n"}
    del body[field]
    assert_problem(api.post(PATH, json=body), 400, "validation", fields=[field])


def test_every_invalid_field_is_listed(api):
    r = api.post(PATH, json={"description": "x" * 2001, "term": 5, "bogus": 1})
    assert_problem(r, 400, "validation", fields=["code", "name", "description", "term", "bogus"])


@pytest.mark.parametrize("field,value", [
    ("code", 123), ("code", None), ("code", ["CS1"]), ("code", {"a": 1}),
    ("name", 1.5), ("name", True), ("name", None),
    ("description", 0), ("description", ["x"]), ("description", None),
    ("term", False), ("term", 2025), ("term", {}),
])
def test_wrong_types_are_400(api, field, value):
    body = {"code": uniq(), "name": "n"}
    body[field] = value
    assert_problem(api.post(PATH, json=body), 400, "validation", fields=[field])


@pytest.mark.parametrize("extra", ["foo", "lecturer_id", "id", "status", "version", "Code"])
def test_unknown_fields_are_400(api, extra):
    body = {"code": uniq(), "name": "n", extra: "x"}
    assert_problem(api.post(PATH, json=body), 400, "validation", fields=[extra])
    assert api.list_all("all") == [], "a rejected create must create nothing"


@pytest.mark.parametrize("raw", [b'{"code": "x", "name": ', b"not json", b'{"code":"x",}',
                                 b"[1, 2]", b'"a string"', b"null", b"42",
                                 b'{"code":"x","name":"y"} trailing'],
                         ids=["truncated", "text", "trailing-comma", "array", "string", "null",
                              "number", "trailing-garbage"])
def test_malformed_json_is_400(api, raw):
    r = api.post(PATH, data=raw, headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "malformed_json")


def test_empty_body_is_400(api):
    r = api.post(PATH, data=b"", headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    assert r.json()["type"].rsplit("/", 1)[1] in ("malformed_json", "validation"), describe(r)


def test_text_plain_is_415(api):
    r = api.post(PATH, data=json.dumps({"code": uniq(), "name": "n"}).encode(),
                 headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "unsupported_media_type")
    assert api.list_all("all") == []


def test_missing_content_type_with_a_body_is_415(api):
    # requests sends no Content-Type for raw bytes.
    r = api.post(PATH, data=json.dumps({"code": uniq(), "name": "n"}).encode())
    assert "Content-Type" not in r.request.headers
    assert_problem(r, 415, "unsupported_media_type")


def test_json_content_type_with_charset_is_accepted(api):
    body = {"code": uniq(), "name": "charset"}
    r = api.post(PATH, data=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, describe(r)
    assert_class(r.json(), **body)


def test_body_over_limit_is_413(base_url, api, body_limit):
    payload = json.dumps({"code": uniq(), "name": "big"}).encode()
    payload += b" " * (body_limit + 1 - len(payload))  # valid JSON, one byte too large
    assert len(payload) == body_limit + 1
    head = (f"POST {PATH} HTTP/1.1\r\nHost: sms\r\nAuthorization: Bearer {api.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode()
    with RawHttp(base_url, timeout=15) as c:
        c.send(head)
        # The gateway may answer from Content-Length alone, or after reading past the limit.
        sent = 0
        if not c.readable(0.5):
            try:
                while sent < len(payload):
                    c.send(payload[sent:sent + 65536])
                    sent += 65536
                    if c.readable(0):
                        break
            except (BrokenPipeError, ConnectionResetError):
                pass
        try:
            resp = c.read_response()
        except ConnectionResetError:
            raise AssertionError("connection reset before a 413 response could be read "
                                 "(the gateway should answer 413, then close gracefully)")
    assert resp.status == 413, resp
    assert resp.headers.get("content-type", "").startswith("application/problem+json"), resp
    assert resp.json()["type"].endswith("/payload_too_large"), resp
    assert resp.headers.get("x-request-id"), resp
    assert api.list_all("all") == [], "an oversized create must create nothing"


def test_body_exactly_at_limit_is_accepted(api, body_limit):
    body = {"code": uniq(), "name": "at the limit"}
    payload = json.dumps(body).encode()
    payload += b" " * (body_limit - len(payload))
    assert len(payload) == body_limit
    r = api.post(PATH, data=payload, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, describe(r)
    assert_class(r.json(), **body)


# ----------------------------------------------------------------------- code uniqueness

def test_duplicate_code_same_lecturer_is_409(api):
    code = uniq("DUP")
    first = api.create(code=code)
    r = api.post(PATH, json={"code": code, "name": "again"})
    assert_problem(r, 409, "code_taken")
    items = api.list_all("all")
    assert [c["id"] for c in items] == [first["id"]], "the 409 must not create a class"


@pytest.mark.parametrize("first,second", [("cs101", "CS101"), ("CS101", "cs101"), ("Cs101", "cS101")])
def test_duplicate_code_is_case_insensitive(api, first, second):
    api.create(code=first)
    assert_problem(api.post(PATH, json={"code": second, "name": "x"}), 409, "code_taken")


def test_same_code_for_another_lecturer_is_fine(api, make_api):
    code = uniq("SHARED")
    mine = api.create(code=code)
    other = make_api()
    theirs = other.create(code=code)
    assert theirs["id"] != mine["id"]
    assert theirs["lecturer_id"] == other.sub and mine["lecturer_id"] == api.sub


def test_same_code_after_delete_is_fine(api):
    code = uniq("REUSE")
    first = api.create(code=code)
    api.deactivate(first["id"])
    second = api.create(code=code.lower())
    assert second["id"] != first["id"]
    assert_class(second, status="active", version=1, code=code.lower())
    # And once again a duplicate of the new active one is refused.
    assert_problem(api.post(PATH, json={"code": code, "name": "x"}), 409, "code_taken")
