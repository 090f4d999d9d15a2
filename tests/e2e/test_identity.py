"""Accounts and login (issue 11 §1, services/identity): POST/GET/DELETE /admin/users,
POST /auth/login, /auth/refresh, /auth/logout, /auth/password.

Every route's success and errors; a refresh token is single-use and rotated, and presenting a
used one revokes its whole family; logout revokes the family; a deactivated account can neither
refresh nor log in; the per-account throttle answers 429 with Retry-After; no password, hash or
refresh token is in any reply or in the identity service's log."""
import os
import time
import uuid

import pytest

from helpers import assert_problem, describe

RUN_DIR = os.environ.get("SMS_RUN_DIR", "/nonexistent")
PASSWORD = "correct horse battery staple"


def uniq_email(tag="u"):
    return f"{tag}-{uuid.uuid4().hex[:10]}@School.Test"


@pytest.fixture
def admin_api(make_api):
    return make_api(sub="admin-" + uuid.uuid4().hex[:8], role="admin")


def create_user(admin_api, expect=201, **fields):
    body = {"email": uniq_email(), "name": "Ada Lovelace", "role": "lecturer", "password": PASSWORD}
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    r = admin_api.post("/admin/users", json=body)
    assert r.status_code == expect, describe(r)
    return r


def login(anon, email, password=PASSWORD, expect=200):
    r = anon.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == expect, describe(r)
    return r


def assert_no_secrets(r, *secrets):
    text = r.text
    assert "$argon2" not in text, describe(r)
    for s in secrets:
        assert s not in text, f"{s!r} appears in the reply\n{describe(r)}"


# --------------------------------------------------------------------------- accounts

def test_create_account_and_log_in(admin_api, anon, make_api):
    email = uniq_email("ada")
    r = create_user(admin_api, email=email)
    user = r.json()
    assert_no_secrets(r, PASSWORD)
    assert user["email"] == email.lower()
    assert user["role"] == "lecturer" and user["status"] == "active" and user["student_id"] is None
    assert r.headers["Location"] == f"/admin/users/{user['id']}"
    assert set(user) == {"id", "email", "name", "role", "student_id", "status", "created_at"}

    r = login(anon, email.upper())  # emails are case-insensitive
    tok = r.json()
    assert_no_secrets(r, PASSWORD)
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 900
    assert len(tok["refresh_token"]) == 43
    me = make_api(sub=user["id"], token=tok["access_token"])
    r = me.get("/lecturer/classes")
    assert r.status_code == 200, describe(r)


def test_create_account_validation(admin_api):
    r = create_user(admin_api, expect=400, email="not-an-email", password="short", role="teacher", extra=1)
    assert_problem(r, 400, "validation", fields=["email", "password", "role", "extra"])
    r = create_user(admin_api, expect=400, student_id="S1")  # a lecturer has no roster id
    assert_problem(r, 400, "validation", fields=["student_id"])
    r = admin_api.post("/admin/users", json={})
    assert_problem(r, 400, "validation", fields=["email", "name", "role"])


def test_duplicate_email_is_409(admin_api):
    email = uniq_email("dup")
    create_user(admin_api, email=email)
    r = create_user(admin_api, expect=409, email=email.upper())
    assert_problem(r, 409, "email_taken", fields=["email"])


def test_accounts_are_admin_only(make_api, anon):
    r = make_api(role="lecturer").post("/admin/users", json={"email": uniq_email(), "name": "x", "role": "admin"})
    assert_problem(r, 403, "forbidden")
    assert anon.post("/admin/users", json={}).status_code == 401
    assert make_api(role="student").get("/admin/users").status_code == 403


def test_list_users_filters_and_pages(admin_api):
    tag = "lst" + uuid.uuid4().hex[:6]
    made = [create_user(admin_api, email=f"{tag}-{i}@school.test", role="student" if i % 2 else "lecturer").json()
            for i in range(5)]
    r = admin_api.get("/admin/users", params={"q": tag, "limit": 2})
    page = r.json()
    assert r.status_code == 200, describe(r)
    assert [u["email"] for u in page["items"]] == [f"{tag}-0@school.test", f"{tag}-1@school.test"]
    seen = [u["email"] for u in page["items"]]
    while page["next_cursor"]:
        page = admin_api.get("/admin/users", params={"q": tag, "limit": 2, "cursor": page["next_cursor"]}).json()
        seen += [u["email"] for u in page["items"]]
    assert seen == sorted(u["email"] for u in made)
    r = admin_api.get("/admin/users", params={"q": tag, "role": "student"})
    assert [u["email"] for u in r.json()["items"]] == [f"{tag}-1@school.test", f"{tag}-3@school.test"]
    assert "$argon2" not in r.text
    r = admin_api.get("/admin/users", params={"role": "teacher", "limit": 0})
    assert_problem(r, 400, "validation", fields=["role", "limit"])


# --------------------------------------------------------------------------- login

def test_wrong_password_and_unknown_email_look_the_same(admin_api, anon):
    email = uniq_email("same")
    create_user(admin_api, email=email)
    t0 = time.monotonic()
    wrong = login(anon, email, "not the right password", expect=401)
    t1 = time.monotonic()
    unknown = login(anon, uniq_email("nobody"), PASSWORD, expect=401)
    t2 = time.monotonic()
    a, b = assert_problem(wrong, 401, "invalid_credentials"), assert_problem(unknown, 401, "invalid_credentials")
    assert a["detail"] == b["detail"]
    # Both verify an argon2id hash (the unknown email a dummy one): neither is instant.
    # Loose bound: a shared CI machine is noisy; the point is no fast path for unknown emails.
    assert (t2 - t1) > 0.3 * (t1 - t0), f"unknown email {t2 - t1:.3f}s vs wrong password {t1 - t0:.3f}s"
    r = anon.post("/auth/login", json={"email": email})
    assert_problem(r, 400, "validation", fields=["password"])


def test_five_failures_throttle_the_account(admin_api, anon):
    email = uniq_email("thr")
    create_user(admin_api, email=email)
    for _ in range(5):
        login(anon, email, "wrong password!!", expect=401)
    r = login(anon, email, PASSWORD, expect=429)  # even the right password, for the window
    assert_problem(r, 429, "too_many_attempts")
    assert int(r.headers["Retry-After"]) > 0


def test_account_without_password_cannot_log_in(admin_api, anon):
    email = uniq_email("nopw")
    create_user(admin_api, email=email, password=None)
    assert_problem(login(anon, email, "any password at all", expect=401), 401, "invalid_credentials")


# --------------------------------------------------------------------------- refresh tokens

def test_refresh_rotates_and_reuse_revokes_the_family(admin_api, anon):
    email = uniq_email("rot")
    create_user(admin_api, email=email)
    first = login(anon, email).json()
    r = anon.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, describe(r)
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] and second["token_type"] == "Bearer"
    # The first token again: theft detected, the family is revoked...
    r = anon.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_problem(r, 401, "refresh_token_reused")
    # ...so the legitimate newest token no longer works either.
    r = anon.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert_problem(r, 401, "invalid_token")
    # Another login starts a new family that works.
    third = login(anon, email).json()
    assert anon.post("/auth/refresh", json={"refresh_token": third["refresh_token"]}).status_code == 200


def test_refresh_errors(anon):
    assert_problem(anon.post("/auth/refresh", json={"refresh_token": "made-up"}), 401, "invalid_token")
    assert_problem(anon.post("/auth/refresh", json={}), 400, "validation", fields=["refresh_token"])
    assert_problem(anon.post("/auth/refresh", json={"refresh_token": 5}), 400, "validation", fields=["refresh_token"])


def test_logout_revokes_the_family(admin_api, anon):
    email = uniq_email("out")
    create_user(admin_api, email=email)
    tok = login(anon, email).json()
    r = anon.post("/auth/logout", json={"refresh_token": tok["refresh_token"]})
    assert r.status_code == 200 and r.json() == {"revoked": True}, describe(r)
    assert_problem(anon.post("/auth/refresh", json={"refresh_token": tok["refresh_token"]}), 401)
    r = anon.post("/auth/logout", json={"refresh_token": "unknown"})
    assert r.status_code == 200 and r.json() == {"revoked": False}, describe(r)


# --------------------------------------------------------------------------- deactivation, password

def test_deactivated_account_stops_working(admin_api, anon):
    email = uniq_email("deac")
    uid = create_user(admin_api, email=email).json()["id"]
    tok = login(anon, email).json()
    r = admin_api.delete(f"/admin/users/{uid}")
    assert r.status_code == 200 and r.json()["status"] == "deactivated", describe(r)
    assert_problem(anon.post("/auth/refresh", json={"refresh_token": tok["refresh_token"]}), 401, "invalid_token")
    assert_problem(login(anon, email, expect=401), 401, "invalid_credentials")
    r = admin_api.get("/admin/users", params={"q": email.lower()})
    assert [u["status"] for u in r.json()["items"]] == ["deactivated"]
    assert_problem(admin_api.delete("/admin/users/01NOSUCHUSER0000000000000"), 404, "not_found")


def test_change_password(admin_api, anon, make_api):
    email = uniq_email("pw")
    user = create_user(admin_api, email=email).json()
    tok = login(anon, email).json()
    me = make_api(sub=user["id"], token=tok["access_token"])
    r = me.post("/auth/password", json={"current_password": "wrong one, surely", "new_password": "x" * 12})
    assert_problem(r, 403, "wrong_password", fields=["current_password"])
    r = me.post("/auth/password", json={"current_password": PASSWORD, "new_password": "short"})
    assert_problem(r, 400, "validation", fields=["new_password"])
    r = me.post("/auth/password", json={"current_password": PASSWORD, "new_password": "a brand new passphrase"})
    assert r.status_code == 200 and r.json() == {"changed": True}, describe(r)
    login(anon, email, PASSWORD, expect=401)
    login(anon, email, "a brand new passphrase")


def test_no_password_hash_or_token_in_the_logs(admin_api, anon):
    email = uniq_email("log")
    secret = "log-probe " + uuid.uuid4().hex
    create_user(admin_api, email=email, password=secret)
    tok = login(anon, email, secret).json()
    login(anon, email, secret + "x", expect=401)
    anon.post("/auth/refresh", json={"refresh_token": tok["refresh_token"]})
    logs = os.path.join(RUN_DIR, "logs")
    if not os.path.isdir(logs):
        pytest.skip("SMS_RUN_DIR/logs is not there (tests/run sets it)")
    for name in os.listdir(logs):
        with open(os.path.join(logs, name), "rb") as f:
            text = f.read().decode("utf-8", "replace")
        for needle in (secret, "$argon2id$", tok["refresh_token"], tok["access_token"]):
            assert needle not in text, f"{needle[:20]!r}... appears in {name}"


# --------------------------------------------------------------------------- the student link

def test_student_account_reached_by_roster_id_or_email(admin_api, anon, make_api):
    tag = uuid.uuid4().hex[:8]
    linked = create_user(admin_api, email=f"stu-{tag}@school.test", role="student", student_id=f"s-{tag}").json()
    bare = create_user(admin_api, email=f"bare-{tag}@school.test", role="student").json()  # no roster id
    lecturer = make_api(role="lecturer")
    cls = lecturer.create()
    rows = [
        # by the account's email (any case), whatever id the lecturer's sheet has
        {"student_id": f"sheet-{tag}", "name": "Linked Student", "email": f"STU-{tag}@school.test"},
        {"student_id": f"other-{tag}", "name": "Bare Student", "email": f"bare-{tag}@school.test"},
        {"student_id": f"plain-{tag}", "name": "No Account", "email": f"plain-{tag}@school.test"},
    ]
    r = lecturer.post(f"/lecturer/classes/{cls['id']}/students", json={"students": rows})
    assert r.status_code == 200 and r.json()["enrolled"] == 3, describe(r)
    roster = lecturer.get(f"/lecturer/students/{cls['id']}").json()["items"]
    ids = sorted(s["student_id"] for s in roster)
    assert ids == sorted([f"s-{tag}", bare["id"], f"plain-{tag}"]), roster
    # Enrolling by the roster id reaches the same person: already enrolled.
    r = lecturer.post(f"/lecturer/classes/{cls['id']}/students",
                      json={"students": [{"student_id": f"s-{tag}", "name": "Linked Student",
                                          "email": f"elsewhere-{tag}@school.test"}]})
    assert r.status_code == 200 and r.json() == {"enrolled": 0, "already_enrolled": 1}, describe(r)
    # Both accounts log in and see the class: their tokens' sub is the id the roster has.
    for acc in (linked, bare):
        tok = login(anon, acc["email"]).json()["access_token"]
        me = make_api(sub=acc["id"], role="student", token=tok)
        r = me.get("/student/classes")
        assert r.status_code == 200, describe(r)
        assert cls["id"] in [c["id"] for c in r.json()["items"]], describe(r)
