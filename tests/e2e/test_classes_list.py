"""GET /lecturer/classes: filters, ordering, pagination and isolation between lecturers."""

import pytest

from helpers import assert_class, assert_problem, describe, rfc3339_to_ms, uniq

PATH = "/lecturer/classes"


def _order_key(c):
    return (rfc3339_to_ms(c["created_at"]), c["id"])


def _assert_newest_first(items):
    keys = [_order_key(c) for c in items]
    assert keys == sorted(keys, reverse=True), \
        "items are not newest first (created_at, then id, descending): " + \
        ", ".join(f"{c['code']}@{c['created_at']}/{c['id']}" for c in items)


def test_empty_list(api):
    page = api.list_page()
    assert page == {"items": [], "next_cursor": None}


def test_default_lists_active_newest_first(api):
    made = [api.create(code=f"L{i}-{uniq()}") for i in range(5)]
    page = api.list_page()
    items = page["items"]
    assert page["next_cursor"] is None
    assert {c["id"] for c in items} == {c["id"] for c in made}
    _assert_newest_first(items)
    # Sequential creates: each one strictly after the previous 2xx, so newest first is
    # the reverse creation order (ties on created_at are broken by id, checked above).
    if len({c["created_at"] for c in made}) == len(made):
        assert [c["id"] for c in items] == [c["id"] for c in reversed(made)]
    for listed in items:
        assert_class(listed, lecturer_id=api.sub, status="active")
        assert listed == next(c for c in made if c["id"] == listed["id"]), \
            "a listed class must equal what the create returned"


def test_status_filter(api):
    a1, a2, gone = (api.create() for _ in range(3))
    gone = api.deactivate(gone["id"])
    active = api.list_all("active")
    inactive = api.list_all("inactive")
    everything = api.list_all("all")
    assert {c["id"] for c in active} == {a1["id"], a2["id"]}
    assert [c["id"] for c in inactive] == [gone["id"]]
    assert inactive[0] == gone
    assert {c["id"] for c in everything} == {a1["id"], a2["id"], gone["id"]}
    _assert_newest_first(everything)
    # The default is active.
    assert [c["id"] for c in api.list_page()["items"]] == [c["id"] for c in active]


def test_q_is_a_case_insensitive_prefix_of_code_or_name(api):
    m1 = api.create(code="MATH101", name="Algebra")
    m2 = api.create(code="math202", name="Calculus")
    p1 = api.create(code="PHY101", name="Mathematical Physics")
    c1 = api.create(code="CS1", name="Intro to computing")

    def ids(q, status="active"):
        return {c["id"] for c in api.list_all(status, q=q)}

    assert ids("math") == {m1["id"], m2["id"], p1["id"]}
    assert ids("MATH") == {m1["id"], m2["id"], p1["id"]}
    assert ids("MaTh1") == {m1["id"]}
    assert ids("alg") == {m1["id"]}
    assert ids("intro") == {c1["id"]}
    assert ids("101") == set(), "q is a prefix, not a substring"
    assert ids("physics") == set(), "q is a prefix of the whole name, not of a word"
    assert ids("zzz") == set()
    assert ids("") == {m1["id"], m2["id"], p1["id"], c1["id"]}, "empty q means no filter"
    api.deactivate(m2["id"])
    assert ids("math") == {m1["id"], p1["id"]}
    assert ids("math", "inactive") == {m2["id"]}
    assert ids("math", "all") == {m1["id"], m2["id"], p1["id"]}


def test_q_with_special_characters(api):
    weird = api.create(code="C++*?[x]%_", name="Weird % name")
    api.create(code="Cxx", name="Other")
    assert [c["id"] for c in api.list_all("active", q="c++*?[")] == [weird["id"]]
    assert [c["id"] for c in api.list_all("active", q="weird %")] == [weird["id"]]
    assert api.list_all("active", q="c*") == [], "q is literal, not a glob"
    assert api.list_all("active", q="%") == [], "q is literal, not a LIKE pattern"


def test_pagination_limit_2_walks_everything_once(api):
    made = [api.create(code=f"P{i}-{uniq()}") for i in range(5)]
    seen, cursor, pages = [], None, []
    for _ in range(10):
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.list_page(**params)
        pages.append(len(page["items"]))
        assert len(page["items"]) <= 2, page
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    else:
        pytest.fail("pagination did not end")
    ids = [c["id"] for c in seen]
    assert len(ids) == len(set(ids)) == 5, f"duplicates or missing items: {ids}"
    assert set(ids) == {c["id"] for c in made}
    assert pages[:2] == [2, 2] and sum(pages) == 5, pages
    _assert_newest_first(seen)


def test_pagination_with_filters(api):
    wanted = [api.create(code=f"ZOO{i}-{uniq()}") for i in range(5)]
    for i in range(3):
        api.create(code=f"OTHER{i}-{uniq()}")
    api.deactivate(wanted[1]["id"])
    items = api.list_all("all", q="zoo", limit=2)
    assert {c["id"] for c in items} == {c["id"] for c in wanted}
    _assert_newest_first(items)
    items = api.list_all("active", q="zoo", limit=2)
    assert {c["id"] for c in items} == {c["id"] for c in wanted} - {wanted[1]["id"]}


def test_limit_bounds(api):
    made = [api.create() for _ in range(3)]
    assert len(api.list_page(limit=1)["items"]) == 1
    page = api.list_page(limit=100)
    assert len(page["items"]) == 3 and page["next_cursor"] is None
    page = api.list_page(limit=3)
    assert len(page["items"]) == 3
    assert {c["id"] for c in page["items"]} == {c["id"] for c in made}


def test_default_limit_is_20(api):
    for _ in range(21):
        api.create()
    page = api.list_page()
    assert len(page["items"]) == 20 and page["next_cursor"], \
        f"default page should hold 20 of 21: {len(page['items'])}"
    rest = api.list_page(cursor=page["next_cursor"])
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "1e2", "99999999999999999999"])
def test_bad_limit_is_400(api, limit):
    assert_problem(api.get(PATH, params={"limit": limit}), 400, "validation", fields=["limit"])


@pytest.mark.parametrize("status", ["foo", "ACTIVE_", "deleted", "1"])
def test_bad_status_is_400(api, status):
    assert_problem(api.get(PATH, params={"status": status}), 400, "validation", fields=["status"])


def test_malformed_cursor_is_400(api):
    for _ in range(3):
        api.create()
    r = api.get(PATH, params={"cursor": "%%%not-a-cursor%%%", "limit": 1})
    assert_problem(r, 400, "validation", fields=["cursor"])


def test_q_too_long_is_400(api):
    assert_problem(api.get(PATH, params={"q": "x" * 201}), 400, "validation", fields=["q"])


def test_only_my_classes_are_listed(api, make_api):
    other = make_api()
    theirs = [other.create(code="SAME" + str(i)) for i in range(3)]
    mine = [api.create(code="SAME" + str(i)) for i in range(2)]
    assert {c["id"] for c in api.list_all("all")} == {c["id"] for c in mine}
    assert {c["id"] for c in other.list_all("all")} == {c["id"] for c in theirs}
    assert {c["id"] for c in api.list_all("all", q="same")} == {c["id"] for c in mine}
    for c in api.list_all("all"):
        assert c["lecturer_id"] == api.sub


def test_another_lecturers_cursor_does_not_leak(api, make_api):
    other = make_api()
    for _ in range(3):
        other.create()
    mine = api.create()
    page = other.list_page(limit=1)
    assert page["next_cursor"]
    # Using someone else's cursor: either a 400, or still only my classes.
    r = api.get(PATH, params={"limit": 10, "cursor": page["next_cursor"]})
    if r.status_code == 200:
        for c in r.json()["items"]:
            assert c["lecturer_id"] == api.sub, describe(r)
        assert {c["id"] for c in r.json()["items"]} <= {mine["id"]}
    else:
        assert_problem(r, 400)
