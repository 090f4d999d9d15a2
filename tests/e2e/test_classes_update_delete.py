"""PUT and DELETE /lecturer/classes/{id}, and GET of a single class."""

import json

import pytest

from helpers import assert_class, assert_problem, describe, rfc3339_to_ms, uniq


def _path(cid):
    return f"/lecturer/classes/{cid}"


# ----------------------------------------------------------------------------- GET one

def test_get_unknown_id_is_404(api):
    assert_problem(api.get(_path("does-not-exist")), 404, "not_found")
    assert_problem(api.get(_path("01JDQ0Z6Q3V5YB8C4N2M7K9T1A")), 404, "not_found")


def test_get_another_lecturers_class_is_404(api, make_api):
    theirs = make_api().create()
    assert_problem(api.get(_path(theirs["id"])), 404, "not_found")


# ----------------------------------------------------------------------------- PUT

@pytest.mark.parametrize("change", [
    {"name": "Renamed"},
    {"code": "NEWCODE"},
    {"description": "A new description"},
    {"term": "2026-spring"},
    {"description": ""},
    {"code": "ALLNEW", "name": "All new", "description": "d", "term": "t"},
], ids=["name", "code", "description", "term", "clear-description", "everything"])
def test_put_subset_changes_only_those_fields(api, change):
    c = api.create(code=uniq(), name="Original", description="orig desc", term="2025-fall")
    r = api.put(_path(c["id"]), json=change)
    assert r.status_code == 200, describe(r)
    u = r.json()
    expected = {k: v for k, v in c.items() if k not in ("version", "updated_at")}
    expected.update(change)
    assert_class(u, version=2, **expected)
    assert rfc3339_to_ms(u["updated_at"]) > rfc3339_to_ms(c["updated_at"]), \
        f"updated_at must move forward: {c['updated_at']} -> {u['updated_at']}"
    assert api.get_class(c["id"]) == u


def test_put_same_values_changes_nothing(api):
    # Nothing changes, so no event is written and the version stays.
    c = api.create()
    u = api.update(c["id"], name=c["name"])
    assert u == c


def test_versions_count_up(api):
    c = api.create()
    for i in range(2, 6):
        u = api.update(c["id"], name=f"v{i}")
        assert u["version"] == i
    assert api.get_class(c["id"])["version"] == 5


def test_if_match_mismatch_is_412(api):
    c = api.create()
    for stale in ("2", "99"):
        r = api.put(_path(c["id"]), json={"name": "nope"}, headers={"If-Match": stale})
        assert_problem(r, 412, "precondition_failed")
    assert api.get_class(c["id"]) == c, "a 412 must change nothing"


def test_if_match_match_is_200(api):
    c = api.create()
    u = api.update(c["id"], name="first", headers={"If-Match": "1"})
    assert u["version"] == 2
    u = api.update(c["id"], name="second", headers={"If-Match": "2"})
    assert u["version"] == 3 and u["name"] == "second"
    r = api.put(_path(c["id"]), json={"name": "stale"}, headers={"If-Match": "2"})
    assert_problem(r, 412, "precondition_failed")
    assert api.get_class(c["id"])["name"] == "second"


@pytest.mark.parametrize("value", ["abc", "W/\"1\"", "\"1\"", "-1", "1.0"])
def test_malformed_if_match_is_400(api, value):
    c = api.create()
    r = api.put(_path(c["id"]), json={"name": "x"}, headers={"If-Match": value})
    assert_problem(r, 400, "validation", fields=["If-Match"])
    assert api.get_class(c["id"]) == c


def test_put_inactive_class_is_409(api):
    c = api.create()
    d = api.deactivate(c["id"])
    r = api.put(_path(c["id"]), json={"name": "revive?"})
    assert_problem(r, 409, "class_inactive")
    assert api.get_class(c["id"]) == d


def test_put_another_lecturers_class_is_404(api, make_api):
    other = make_api()
    theirs = other.create()
    r = api.put(_path(theirs["id"]), json={"name": "hijack"})
    assert_problem(r, 404, "not_found")
    assert other.get_class(theirs["id"]) == theirs, "another lecturer's class must be untouched"


def test_put_unknown_id_is_404(api):
    assert_problem(api.put(_path("no-such-class"), json={"name": "x"}), 404, "not_found")


def test_put_code_taken_by_my_other_active_class_is_409(api):
    a = api.create(code="TAKEN1")
    b = api.create(code="FREE1")
    assert_problem(api.put(_path(b["id"]), json={"code": "TAKEN1"}), 409, "code_taken")
    assert_problem(api.put(_path(b["id"]), json={"code": "taken1"}), 409, "code_taken")
    assert api.get_class(b["id"]) == b and api.get_class(a["id"]) == a


def test_put_code_to_its_own_code_in_other_case_is_fine(api):
    c = api.create(code="SelfCase")
    u = api.update(c["id"], code="SELFCASE")
    assert u["code"] == "SELFCASE" and u["version"] == 2


def test_put_code_of_my_inactive_class_is_fine(api):
    old = api.create(code="RECYCLE")
    api.deactivate(old["id"])
    c = api.create(code="OTHER")
    u = api.update(c["id"], code="recycle")
    assert u["code"] == "recycle"


def test_put_code_used_by_another_lecturer_is_fine(api, make_api):
    make_api().create(code="THEIRS")
    c = api.create()
    assert api.update(c["id"], code="THEIRS")["code"] == "THEIRS"


def test_old_code_is_free_after_renaming(api):
    c = api.create(code="BEFORE")
    api.update(c["id"], code="AFTER")
    n = api.create(code="BEFORE")
    assert n["code"] == "BEFORE"
    assert_problem(api.post("/lecturer/classes", json={"code": "after", "name": "x"}), 409, "code_taken")


def test_put_empty_body_is_400(api):
    c = api.create()
    assert_problem(api.put(_path(c["id"]), json={}), 400, "validation")
    assert api.get_class(c["id"]) == c


@pytest.mark.parametrize("body,field", [
    ({"code": ""}, "code"), ({"name": ""}, "name"), ({"code": "x" * 65}, "code"),
    ({"name": "x" * 201}, "name"), ({"description": "x" * 2001}, "description"),
    ({"term": "x" * 33}, "term"), ({"name": 5}, "name"), ({"code": None}, "code"),
    ({"name": "ok", "bogus": 1}, "bogus"),
])
def test_put_invalid_fields_are_400(api, body, field):
    c = api.create()
    assert_problem(api.put(_path(c["id"]), json=body), 400, "validation", fields=[field])
    assert api.get_class(c["id"]) == c


def test_put_malformed_json_is_400(api):
    c = api.create()
    r = api.put(_path(c["id"]), data=b'{"name": ', headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "malformed_json")


def test_put_text_plain_is_415(api):
    c = api.create()
    r = api.put(_path(c["id"]), data=json.dumps({"name": "x"}).encode(),
                headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "unsupported_media_type")
    assert api.get_class(c["id"]) == c


# ----------------------------------------------------------------------------- DELETE

def test_delete_deactivates_and_is_idempotent(api):
    c = api.create()
    r = api.delete(_path(c["id"]))
    assert r.status_code == 200, describe(r)
    d = r.json()
    expected = {k: v for k, v in c.items() if k not in ("status", "version", "updated_at")}
    assert_class(d, status="inactive", version=2, **expected)
    assert rfc3339_to_ms(d["updated_at"]) > rfc3339_to_ms(c["updated_at"])
    # Again: 200, unchanged (version does not grow).
    r2 = api.delete(_path(c["id"]))
    assert r2.status_code == 200, describe(r2)
    assert r2.json() == d
    # Still GET-able.
    assert api.get_class(c["id"]) == d


def test_deleted_class_is_only_in_inactive_and_all_lists(api):
    keep = api.create()
    gone = api.create()
    d = api.deactivate(gone["id"])
    assert [c["id"] for c in api.list_page()["items"]] == [keep["id"]]
    assert [c["id"] for c in api.list_all("active")] == [keep["id"]]
    assert api.list_all("inactive") == [d]
    assert {c["id"] for c in api.list_all("all")} == {keep["id"], gone["id"]}


def test_delete_after_updates(api):
    c = api.create()
    api.update(c["id"], name="one")
    api.update(c["id"], name="two")
    d = api.deactivate(c["id"])
    assert d["version"] == 4 and d["name"] == "two" and d["status"] == "inactive"


def test_delete_another_lecturers_class_is_404(api, make_api):
    other = make_api()
    theirs = other.create()
    assert_problem(api.delete(_path(theirs["id"])), 404, "not_found")
    assert other.get_class(theirs["id"]) == theirs


def test_delete_unknown_id_is_404(api):
    assert_problem(api.delete(_path("no-such-class")), 404, "not_found")
