"""`sms-admin seed demo|scale` loads data through the public HTTP API: what it prints is
what the API then returns, a second run changes nothing (same view checksums, same ids),
and the views it produced are rebuilt byte for byte from the log.

Module fixtures run each seed once; tests check one property each, in file order (the
rebuild test comes last because it replays every view).
"""

import re
import uuid

import pytest

from helpers import Api, describe, wait_checksums

pytestmark = [pytest.mark.slow]

DEMO_CODES = {"CS101", "MATH201", "PHYS110", "ENG105", "HIST210"}
SCALE_ARGS = {"--classes": 4, "--students": 30, "--assignments": 8, "--lecturers": 2}


def _counts(stdout):
    """{"classes": 5, ...} from the '<name> <integer>' lines the seed prints."""
    out = {}
    for ln in stdout.splitlines():
        m = re.fullmatch(r"([a-z_]+) (\d+)", ln.strip())
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def _tokens(stdout):
    """{"TOKEN": ..., "STUDENT_TOKEN": ..., "STUDENT2_TOKEN": ...} from the 'export X=' lines."""
    return dict(re.findall(r"^\s*export ([A-Z0-9_]+)=(\S+)$", stdout, re.M))


def _all_items(api, path, limit=100, max_pages=200):
    items, cursor = [], None
    for _ in range(max_pages):
        params = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = api.get(path, params=params)
        assert r.status_code == 200, describe(r)
        body = r.json()
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return items
    raise AssertionError(f"{path}: more than {max_pages} pages")


def _lecturer_world(api):
    """Classes of the caller with their rosters, assignments, grade sheets, submissions, posts."""
    world = []
    for c in _all_items(api, "/lecturer/classes", limit=100):
        cid = c["id"]
        asgs = _all_items(api, f"/lecturer/classes/{cid}/assignments")
        world.append({
            "class": c,
            "roster": _all_items(api, f"/lecturer/students/{cid}"),
            "assignments": asgs,
            "grades": {a["id"]: _all_items(api, f"/lecturer/assignments/{a['id']}/grades", limit=1000)
                       for a in asgs},
            "submissions": {a["id"]: _all_items(api, f"/lecturer/assignments/{a['id']}/submissions")
                            for a in asgs},
            "posts": _all_items(api, f"/classes/{cid}/posts"),
        })
    return world


def _seed(admin, base_url, *args, timeout=120):
    p = admin("seed", *args, "--url", base_url, timeout=timeout, check=False)
    assert p.returncode == 0, (f"sms-admin seed {' '.join(map(str, args))} exited {p.returncode}\n"
                               f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}")
    return p


@pytest.fixture(scope="module")
def demo(admin, base_url):
    p = _seed(admin, base_url, "demo")
    tokens = _tokens(p.stdout)
    assert {"TOKEN", "STUDENT_TOKEN", "STUDENT2_TOKEN"} <= set(tokens), f"tokens not printed:\n{p.stdout}"
    return {"proc": p, "counts": _counts(p.stdout), "tokens": tokens,
            "lecturer": Api(base_url, tokens["TOKEN"])}


@pytest.fixture(scope="module")
def demo_again(demo, admin, base_url):
    """The demo seeded a second time, with the checksums and the lecturer's data around it."""
    api = demo["lecturer"]
    before_world = _lecturer_world(api)
    before = admin.stable_checksums()
    p = admin("seed", "demo", "--url", base_url, timeout=120, check=False)
    after = admin.stable_checksums()
    return {"proc": p, "before": before, "after": after, "before_world": before_world,
            "after_world": _lecturer_world(api.clone())}


def test_seed_demo_lecturer_sees_five_classes_with_rosters_and_assignments(demo):
    world = _lecturer_world(demo["lecturer"])
    counts = demo["counts"]
    assert {w["class"]["code"] for w in world} == DEMO_CODES
    assert counts["classes"] == len(world) == 5
    for w in world:
        assert len(w["roster"]) == 8, f"{w['class']['code']}: roster {w['roster']}"
        assert len(w["assignments"]) == 2, f"{w['class']['code']}: assignments {w['assignments']}"
        assert len(w["posts"]) == 1, f"{w['class']['code']}: posts {w['posts']}"
    assert counts["enrollments"] == sum(len(w["roster"]) for w in world)
    assert counts["assignments"] == sum(len(w["assignments"]) for w in world) == 10
    assert counts["posts"] == sum(len(w["posts"]) for w in world) == 5
    students = {s["student_id"] for w in world for s in w["roster"]}
    assert counts["students"] == len(students) == 20
    graded = [g for w in world for sheet in w["grades"].values() for g in sheet if g["score"] is not None]
    assert counts["grades"] == len(graded)
    assert all(g["feedback"] for g in graded), "every demo grade has feedback"
    assert {g["released"] for g in graded} == {True, False}, "the demo has released grades and drafts"
    subs = [s for w in world for sheet in w["submissions"].values() for s in sheet]
    assert counts["submissions"] == len(subs)
    assert all(s["text"] for s in subs)
    # Some assignments are past due (the seed's "various due dates").
    states = {a["status"] for w in world for a in w["assignments"]}
    assert states == {"open", "closed"}, states


def test_seed_demo_student_sees_released_grades_only(demo, base_url):
    # s-1001 is in CS101 and PHYS110 (both released); s-1002 in MATH201 (released) and
    # ENG105 (drafts, not shown).
    # Only the demo lecturer's classes count: the demo ids (s-1001, ...) are also the API
    # reference's examples, which the contract tests send as they are (class codes included).
    seeded = {c["id"] for c in _all_items(Api(base_url, demo["tokens"]["TOKEN"]), "/lecturer/classes")}
    for token, n in ((demo["tokens"]["STUDENT_TOKEN"], 2), (demo["tokens"]["STUDENT2_TOKEN"], 1)):
        api = Api(base_url, token)
        r = api.get("/student/grades")
        assert r.status_code == 200, describe(r)
        items = [it for it in r.json()["items"] if it["class_id"] in seeded]
        assert len(items) == n, items
        assert all(it["feedback"] and it["score"] is not None for it in items), items
    r = Api(base_url, demo["tokens"]["STUDENT_TOKEN"]).get("/student/classes")
    assert r.status_code == 200, describe(r)
    assert {c["code"] for c in r.json()["items"] if c["id"] in seeded} == {"CS101", "PHYS110"}


def test_seed_demo_twice_exits_0(demo_again):
    p = demo_again["proc"]
    assert p.returncode == 0, f"second seed demo exited {p.returncode}\nstderr: {p.stderr[-3000:]}"


def test_seed_demo_twice_changes_no_view(demo_again):
    assert demo_again["after"] == demo_again["before"]


def test_seed_demo_twice_gives_the_same_data(demo_again, demo):
    assert demo_again["after_world"] == demo_again["before_world"]
    assert _counts(demo_again["proc"].stdout) == demo["counts"]


@pytest.fixture(scope="module")
def scale(admin, base_url, mint):
    run = "t" + uuid.uuid4().hex[:10]
    args = [a for kv in SCALE_ARGS.items() for a in kv]
    p = _seed(admin, base_url, "scale", "--run", run, *args)
    counts = _counts(p.stdout)
    world = []
    for i in range(1, SCALE_ARGS["--lecturers"] + 1):
        world += _lecturer_world(Api(base_url, mint(f"{run}-lecturer-{i}")))
    return {"run": run, "proc": p, "counts": counts, "world": world}


def test_seed_scale_counts_match_the_api(scale):
    c, world = scale["counts"], scale["world"]
    assert c["failed"] == 0
    assert c["lecturers"] == SCALE_ARGS["--lecturers"]
    assert c["classes"] == len(world) == SCALE_ARGS["--classes"]
    assert c["enrollments"] == sum(len(w["roster"]) for w in world)
    assert c["students"] == len({s["student_id"] for w in world for s in w["roster"]}) == SCALE_ARGS["--students"]
    assert c["assignments"] == sum(len(w["assignments"]) for w in world) == SCALE_ARGS["--assignments"]
    assert c["posts"] == sum(len(w["posts"]) for w in world)
    sheets = [g for w in world for sheet in w["grades"].values() for g in sheet]
    assert c["grades"] == len(sheets), "one grade per enrolled student per assignment"
    assert all(g["score"] is not None and g["released"] for g in sheets), "every grade set and released"
    assert c["submissions"] == sum(len(s) for w in world for s in w["submissions"].values())
    assert c["submissions"] > 0


def test_seed_scale_students_are_in_several_classes(scale):
    per_student = {}
    for w in scale["world"]:
        for s in w["roster"]:
            per_student[s["student_id"]] = per_student.get(s["student_id"], 0) + 1
    assert set(per_student.values()) == {3}, per_student


def test_seed_scale_rerun_adds_nothing(scale, admin, base_url):
    before = admin.stable_checksums()
    args = [a for kv in SCALE_ARGS.items() for a in kv]
    p = _seed(admin, base_url, "scale", "--run", scale["run"], *args)
    assert _counts(p.stdout)["failed"] == 0
    assert admin.stable_checksums() == before


@pytest.mark.disruptive
def test_seed_views_rebuild_to_identical_checksums(demo, scale, admin, base_url):
    before = admin.stable_checksums()
    for svc in sorted(before):
        p = admin("rebuild-views", svc, timeout=300, check=False)
        assert p.returncode == 0, f"rebuild-views {svc} exited {p.returncode}\nstderr: {p.stderr[-2000:]}"
    wait_checksums(admin, before, timeout=60)
