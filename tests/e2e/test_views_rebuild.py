"""Views are a pure function of the event log: wiping Redis or replaying from offset 0
gives the very same view (same checksums, same JSON bodies).

Module fixtures run each scenario once (they restart services); tests check one
property each. Tests run in file order: FLUSHALL + restart first, then rebuild-views.
"""

import time
import uuid

import pytest

from helpers import Api, assert_problem, describe, new_lecturer_id, uniq, wait_ready

pytestmark = [pytest.mark.disruptive, pytest.mark.slow]

PATH = "/lecturer/classes"


@pytest.fixture(scope="module")
def world(base_url, mint, admin):
    """A lecturer with classes in every state; their bodies and the checksums before."""
    sub = new_lecturer_id()
    api = Api(base_url, mint(sub), sub=sub)
    key = f"rebuild-{uuid.uuid4()}"
    r = api.post(PATH, json={"code": uniq("RB"), "name": "keyed"}, headers={"Idempotency-Key": key})
    assert r.status_code == 201, describe(r)
    keyed = r.json()
    a = api.create(code=uniq("RB"), name="plain", description="desc ✓", term="2025-fall")
    b = api.create(code=uniq("RB"), name="updated twice")
    api.update(b["id"], name="updated once more")
    api.update(b["id"], code=b["code"].lower(), term="t2")
    gone = api.create(code="REUSED", name="deleted")
    api.deactivate(gone["id"])
    reborn = api.create(code="reused", name="same code, new class")
    api.update(reborn["id"], description="after the delete")
    # Chat in class a (sms.events.chat, the view's zset and the class's chat_seq), by the
    # lecturer and an enrolled student; b's chat is closed by its deactivation below.
    sid = f"stu-{uuid.uuid4().hex[:8]}"
    r = api.post(f"{PATH}/{a['id']}/students",
                 json={"students": [{"student_id": sid, "name": "Chat Ter", "email": f"{sid}@school.edu"}]})
    assert r.status_code == 200, describe(r)
    student = Api(base_url, mint(sid, "student"), sub=sid, role="student")
    for i, who in enumerate([api, student, api, student]):
        r = who.post(f"/classes/{a['id']}/chat", json={"text": f"chat {i} ✓"})
        assert r.status_code == 201, describe(r)
    ids = [keyed["id"], a["id"], b["id"], gone["id"], reborn["id"]]
    return {"api": api, "ids": ids, "keyed": keyed, "key": key}


def _snapshot(api, ids):
    bodies = {}
    for cid in ids:
        r = api.get(f"{PATH}/{cid}")
        assert r.status_code == 200, describe(r)
        bodies[cid] = r.json()
    r = api.get(f"/classes/{ids[1]}/chat", params={"limit": 200})
    assert r.status_code == 200, describe(r)
    assert len(r.json()["items"]) >= 4, describe(r)
    return {"bodies": bodies, "all": api.list_all("all"), "active": api.list_all("active"),
            "inactive": api.list_all("inactive"), "chat": r.json()}


def _settle(admin, want, timeout=30.0):
    """Checksums now, and (if they differ) whether they converge later."""
    now = admin.checksums()
    if now == want:
        return now, now
    deadline = time.monotonic() + timeout
    later = now
    while time.monotonic() < deadline:
        later = admin.checksums()
        if later == want:
            break
        time.sleep(0.5)
    return now, later


@pytest.fixture(scope="module")
def flushed(base_url, world, admin, ctl, redis_client):
    api = world["api"]
    before = _snapshot(api, world["ids"])
    sums_before = admin.stable_checksums()
    assert "classes" in sums_before, f"no classes line in checksum-views: {sums_before}"
    assert sums_before["classes"][1] > 0, f"classes view has no keys: {sums_before}"
    try:
        redis_client.flushall()
        ctl("restart", "classes", timeout=120)
        ready_s = wait_ready(base_url, timeout=60)
    finally:
        wait_ready(base_url, timeout=60)
    sums_now, sums_later = _settle(admin, sums_before)
    after = _snapshot(api.clone(), world["ids"])
    return {"before": before, "after": after, "sums_before": sums_before, "sums_now": sums_now,
            "sums_later": sums_later, "ready_s": ready_s}


def test_flushall_restart_gives_identical_checksums(flushed):
    f = flushed
    assert f["sums_now"] == f["sums_before"], (
        f"checksums differ once /readyz said ready ({f['ready_s']:.1f} s after the restart)\n"
        f"before: {f['sums_before']}\nat ready: {f['sums_now']}\n"
        + ("they converged later: /readyz was 200 before the rebuild finished"
           if f["sums_later"] == f["sums_before"]
           else f"and still differ 30 s later: {f['sums_later']}"))


def test_flushall_restart_gives_identical_bodies(flushed):
    b, a = flushed["before"], flushed["after"]
    for cid, body in b["bodies"].items():
        assert a["bodies"][cid] == body, f"class {cid} changed by the rebuild"
    for status in ("all", "active", "inactive"):
        assert a[status] == b[status], f"?status={status} list changed by the rebuild"
    assert a["chat"] == b["chat"], "the chat changed by the rebuild"


def test_idempotency_key_still_replays_after_flushall(flushed, world):
    # The dedupe record is derivable from the log (event cause = command id): a replay of
    # the first create must still return the same class, not a 409 or a new class.
    api = world["api"]
    keyed = world["keyed"]
    r = api.post(PATH, json={"code": keyed["code"], "name": "keyed"},
                 headers={"Idempotency-Key": world["key"]})
    assert r.status_code in (200, 201), describe(r)
    assert r.json()["id"] == keyed["id"]
    same_code = [c for c in api.list_all("all") if c["code"].lower() == keyed["code"].lower()]
    assert [c["id"] for c in same_code] == [keyed["id"]]


def test_writes_work_after_flushall(flushed, world):
    api = world["api"]
    # the rebuilt view continues the class's chat sequence
    r = api.post(f"/classes/{world['ids'][1]}/chat", json={"text": "after the flush"})
    assert r.status_code == 201, describe(r)
    assert r.json()["cursor"] == "5", describe(r)
    c = api.create()
    assert api.get_class(c["id"]) == c
    # The rebuilt view still knows which codes are taken.
    assert_problem(api.post(PATH, json={"code": "REUSED", "name": "x"}), 409, "code_taken")
    api.deactivate(c["id"])


@pytest.fixture(scope="module")
def rebuilt(base_url, world, admin, flushed):
    api = world["api"]
    ids = world["ids"]
    before = _snapshot(api, ids)
    sums_before = admin.stable_checksums()
    try:
        p = admin("rebuild-views", timeout=150, check=False)
    finally:
        wait_ready(base_url, timeout=60)
    sums_now, sums_later = _settle(admin, sums_before)
    after = _snapshot(api.clone(), ids)
    return {"proc": p, "before": before, "after": after, "sums_before": sums_before,
            "sums_now": sums_now, "sums_later": sums_later}


def test_rebuild_views_exits_0(rebuilt):
    p = rebuilt["proc"]
    assert p.returncode == 0, f"sms-admin rebuild-views exited {p.returncode}\n" \
                              f"stdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}"


def test_rebuild_views_gives_identical_checksums(rebuilt):
    r = rebuilt
    assert r["sums_now"] == r["sums_before"], (
        f"checksums differ right after rebuild-views exited\nbefore: {r['sums_before']}\n"
        f"after: {r['sums_now']}\n"
        + ("they converged later: rebuild-views returned before the replay finished"
           if r["sums_later"] == r["sums_before"] else f"still differ 30 s later: {r['sums_later']}"))


def test_rebuild_views_gives_identical_bodies(rebuilt):
    b, a = rebuilt["before"], rebuilt["after"]
    for cid, body in b["bodies"].items():
        assert a["bodies"][cid] == body, f"class {cid} changed by rebuild-views"
    for status in ("all", "active", "inactive"):
        assert a[status] == b[status], f"?status={status} list changed by rebuild-views"
    assert a["chat"] == b["chat"], "the chat changed by rebuild-views"
