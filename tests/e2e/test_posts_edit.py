"""Editing a class post (PUT /classes/{class_id}/posts/{post_id}, command post.update):
the edit and its version, If-Match (412 on a stale version), another lecturer's class
(404), bad bodies (400), a replay with the same Idempotency-Key, the post.updated event
on sms.events.posts, and a rebuild of the views keeping the edit."""

import uuid

import pytest

from helpers import assert_json, assert_problem, describe, read_events, wait_ready

POSTS_TOPIC = "sms.events.posts"
EDITED_FIELDS = {"id", "class_id", "author_id", "title", "body", "pinned", "created_at", "updated_at",
                 "version"}


def _post(api, cid, title="Welcome", body="Notes are online.", pinned=True):
    r = api.post(f"/classes/{cid}/posts", json={"title": title, "body": body, "pinned": pinned})
    assert r.status_code == 201, describe(r)
    return r.json()


def _edit(api, cid, pid, payload, if_match=None, key=None):
    headers = {}
    if if_match is not None:
        headers["If-Match"] = str(if_match)
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.put(f"/classes/{cid}/posts/{pid}", json=payload, headers=headers)


def test_edit_post_200_and_version(api):
    c = api.create()
    p = _post(api, c["id"])
    r = _edit(api, c["id"], p["id"], {"body": "Notes and slides are online.", "pinned": False}, if_match=1)
    e = assert_json(r, 200)
    assert set(e) == EDITED_FIELDS, e
    assert e["version"] == 2 and e["title"] == "Welcome" and e["body"] == "Notes and slides are online."
    assert e["pinned"] is False and e["created_at"] == p["created_at"]
    # read-your-writes: the post and the list show the edit
    got = assert_json(api.get(f"/classes/{c['id']}/posts/{p['id']}"), 200)
    assert got == e
    items = assert_json(api.get(f"/classes/{c['id']}/posts"), 200)["items"]
    assert items == [e]
    # a second edit without If-Match; nothing differing answers the post as it is
    e3 = assert_json(_edit(api, c["id"], p["id"], {"title": "Hello"}), 200)
    assert e3["version"] == 3 and e3["title"] == "Hello"
    same = assert_json(_edit(api, c["id"], p["id"], {"title": "Hello"}), 200)
    assert same == e3


def test_pinned_change_moves_the_post_in_the_list(api):
    c = api.create()
    a = _post(api, c["id"], title="a", pinned=False)
    b = _post(api, c["id"], title="b", pinned=False)
    ids = [it["id"] for it in assert_json(api.get(f"/classes/{c['id']}/posts"), 200)["items"]]
    assert ids == [b["id"], a["id"]]
    assert_json(_edit(api, c["id"], a["id"], {"pinned": True}), 200)
    items = assert_json(api.get(f"/classes/{c['id']}/posts"), 200)["items"]
    assert [it["id"] for it in items] == [a["id"], b["id"]], "pinned first"
    assert len(items) == 2


def test_stale_version_412(api):
    c = api.create()
    p = _post(api, c["id"])
    assert_json(_edit(api, c["id"], p["id"], {"title": "v2"}, if_match=1), 200)
    assert_problem(_edit(api, c["id"], p["id"], {"title": "v3"}, if_match=1), 412, "precondition_failed")
    got = assert_json(api.get(f"/classes/{c['id']}/posts/{p['id']}"), 200)
    assert got["title"] == "v2" and got["version"] == 2


def test_other_lecturer_and_missing_post_404(api, make_api):
    c = api.create()
    p = _post(api, c["id"])
    other = make_api()
    assert_problem(_edit(other, c["id"], p["id"], {"title": "mine"}), 404, "not_found")
    assert_problem(_edit(api, c["id"], "01NOSUCHPOST00000000000000", {"title": "x"}), 404, "not_found")
    c2 = api.create()
    assert_problem(_edit(api, c2["id"], p["id"], {"title": "x"}), 404, "not_found")
    student = make_api(role="student")
    r = _edit(student, c["id"], p["id"], {"title": "x"})
    assert r.status_code == 403, describe(r)


@pytest.mark.parametrize("payload,field", [
    ({}, "body"),
    ({"title": ""}, "title"),
    ({"body": "   "}, "body"),
    ({"pinned": "yes"}, "pinned"),
    ({"title": "t", "extra": 1}, "extra"),
    ({"title": "x" * 201}, "title"),
])
def test_bad_body_400(api, payload, field):
    c = api.create()
    p = _post(api, c["id"])
    body = assert_problem(_edit(api, c["id"], p["id"], payload), 400, "validation")
    assert field in [e["field"] for e in body["errors"]], body


def test_replay_with_same_idempotency_key(api):
    c = api.create()
    p = _post(api, c["id"])
    key = f"edit-{uuid.uuid4()}"
    first = assert_json(_edit(api, c["id"], p["id"], {"title": "Once"}, key=key), 200)
    again = assert_json(_edit(api, c["id"], p["id"], {"title": "Once"}, key=key), 200)
    assert again == first
    assert again["version"] == 2, "the replay did not edit twice"


def test_post_updated_event(api, kafka_brokers):
    c = api.create()
    p = _post(api, c["id"])
    e = assert_json(_edit(api, c["id"], p["id"], {"pinned": False}), 200)
    evs = [it["value"] for it in read_events(kafka_brokers, [c["id"]], topic=POSTS_TOPIC)
           if it["value"]["type"] == "post.updated" and it["value"]["data"]["id"] == p["id"]]
    assert len(evs) == 1, evs
    d = evs[0]["data"]
    assert d["version"] == 2 and d["pinned"] is False and d["class_id"] == c["id"]
    assert d["lecturer_id"] == api.sub and d["title"] == e["title"]


@pytest.mark.disruptive
@pytest.mark.slow
def test_rebuild_keeps_the_edit(api, admin, base_url):
    c = api.create()
    p = _post(api, c["id"], pinned=False)
    e = assert_json(_edit(api, c["id"], p["id"], {"title": "Edited", "pinned": True}), 200)
    try:
        admin("rebuild-views", timeout=150)
    finally:
        wait_ready(base_url, timeout=60)
    got = assert_json(api.get(f"/classes/{c['id']}/posts/{p['id']}"), 200)
    assert got == e
    items = assert_json(api.get(f"/classes/{c['id']}/posts"), 200)["items"]
    assert items == [e]
