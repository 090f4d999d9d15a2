"""A 2xx write is already visible to the next GET (the view is updated before the reply)."""

from helpers import describe, uniq

PATH = "/lecturer/classes"


def test_create_then_get_50_times(api):
    fresh = api.clone()  # half the GETs on another connection
    for i in range(50):
        r = api.post(PATH, json={"code": f"RYW{i}-{uniq()}", "name": f"ryw {i}"})
        assert r.status_code == 201, f"iteration {i}\n{describe(r)}"
        c = r.json()
        reader = api if i % 2 == 0 else fresh
        g = reader.get(f"{PATH}/{c['id']}")
        assert g.status_code == 200, f"iteration {i}: created class not visible yet\n{describe(g)}"
        assert g.json() == c, f"iteration {i}: GET differs from the create's body"
        if i % 10 == 9:
            listed = {x["id"] for x in api.list_all("active")}
            assert c["id"] in listed, f"iteration {i}: not listed right after create"
            assert len(listed) == i + 1, f"iteration {i}: {len(listed)} listed"


def test_update_then_get(api):
    c = api.create()
    for i in range(10):
        name = f"name {i} {uniq()}"
        u = api.update(c["id"], name=name)
        g = api.get_class(c["id"])
        assert g == u, f"iteration {i}: GET shows {g} after update returned {u}"
        assert g["version"] == i + 2
        listed = api.list_all("active", q=name)
        assert [x["id"] for x in listed] == [c["id"]], f"iteration {i}: list not up to date"


def test_delete_then_get_and_list(api):
    for i in range(10):
        c = api.create()
        d = api.deactivate(c["id"])
        assert api.get_class(c["id"]) == d
        assert c["id"] not in {x["id"] for x in api.list_all("active")}
        assert c["id"] in {x["id"] for x in api.list_all("inactive")}


def test_code_freed_by_delete_is_reusable_at_once(api):
    code = uniq("FREE")
    for i in range(10):
        c = api.create(code=code)
        api.deactivate(c["id"])
    assert len(api.list_all("inactive")) == 10
