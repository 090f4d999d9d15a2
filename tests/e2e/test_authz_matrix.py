"""The authorization matrix, generated: every route the gateway registers, sent as every kind of
caller, must get the status its row in services/gateway/authz.c implies.

The route list comes from `sms-gateway --print-routes` (the router's table: method, pattern, role
mask, joined with the matrix's object rule), so a route someone adds is tested the moment it is
registered, and fails here until it has a row in authz.c and a request in REQUESTS below.

Callers: the lecturer who owns the class (owner), another lecturer, a student enrolled in the
class, a student who is not, an admin, no token, and the owner's expired token. Expected:
  no token / expired token               401 (AUTH routes)
  a role outside the route's mask         403
  a role inside it, object rule not met   404 (existence not revealed)
  a role inside it, object rule met       2xx (the request is a valid one, so only authz can fail it)
Public routes ignore tokens (200); signed-URL routes refuse every token without a signature (403)
and take a valid signed URL without any token.

Each route gets a fresh world (class, enrollment, assignment, post, ...), and the callers expected
to succeed go last, the owner last of all, so a DELETE cannot hide another caller's outcome.
"""

import os
import time
import uuid

import pytest
import requests

from helpers import HTTP_TIMEOUT, Api, describe, gateway_listing, wait_for

AUTHZ_TABLE = "services/gateway/authz.c"
CALLERS = ("anonymous", "expired", "other_student", "other_lecturer", "admin", "enrolled_student", "owner")
ROLE_OF = {"owner": "lecturer", "other_lecturer": "lecturer", "enrolled_student": "student",
           "other_student": "student", "admin": "admin"}
OK = "2xx"


MATRIX_PASSWORD = "matrix passphrase 0123"


def _iso_in(days):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + days * 86400))


def _uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------- the route table

LISTING = gateway_listing() or {"routes": [], "rows_without_route": []}
ROUTES = LISTING["routes"]


def route_id(r):
    return f"{r['method']} {r['pattern']}"


def expected(route, caller):
    """OK (any 2xx) or the exact status the matrix implies for caller on route."""
    rule = route["rule"]
    if not route["auth"]:
        return 403 if rule == "signed_url" else OK
    if caller in ("anonymous", "expired"):
        return 401
    if ROLE_OF[caller] not in route["roles"]:
        return 403
    if rule == "credential":
        return 403  # the matrix's tokens name no account: only an account's own token may change its password
    if rule in ("self", "any"):
        return OK
    allowed = {"class_owner": {"owner"}, "class_member": {"owner", "enrolled_student"},
               "enrolled": {"enrolled_student"}}
    assert rule in allowed, f"{route_id(route)}: rule {rule!r} is unknown to this test"
    return OK if caller in allowed[rule] else 404


# --------------------------------------------------------------------------- the world

class World:
    """One class of the owner with an enrolled student, and what routes need, made on first use."""

    def __init__(self, base_url, mint):
        self.base_url = base_url
        self.mint = mint
        self.ids = {c: _uid(c.split("_")[0][:3]) for c in ROLE_OF}
        self.apis = {c: Api(base_url, mint(self.ids[c], ROLE_OF[c]), sub=self.ids[c], role=ROLE_OF[c])
                     for c in ROLE_OF}
        self.apis["anonymous"] = Api(base_url)
        self.apis["expired"] = Api(base_url, mint(self.ids["owner"], "lecturer", ttl=-3600))
        self._cache = {}

    def close(self):
        for a in self.apis.values():
            a.session.close()

    def _once(self, name, make):
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    def _ok(self, r, what):
        assert 200 <= r.status_code < 300, f"setting up {what}: {describe(r)}"
        return r.json() if r.content else {}

    def new_account(self, password=None):
        body = {"email": f"{_uid('m')}@matrix.test", "name": "Matrix Account", "role": "lecturer"}
        if password:
            body["password"] = password
        return self._ok(self.apis["admin"].post("/admin/users", json=body), "an account")

    @property
    def login_body(self):
        return self._once("login", lambda: {"email": self.new_account(MATRIX_PASSWORD)["email"],
                                            "password": MATRIX_PASSWORD})

    def fresh_refresh_token(self):
        r = self.apis["anonymous"].post("/auth/login", json=self.login_body)
        return self._ok(r, "a login")["refresh_token"]

    @property
    def owner(self):
        return self.apis["owner"]

    @property
    def student(self):
        return self.ids["enrolled_student"]

    @property
    def cid(self):
        def make():
            cid = self.owner.create()["id"]
            self._ok(self.owner.post(f"/lecturer/classes/{cid}/students", json={"students": [
                {"student_id": self.student, "name": "Enrolled Student", "email": f"{self.student}@school.edu"}]}),
                "the enrollment")
            return cid
        return self._once("cid", make)

    @property
    def aid(self):
        def make():
            aid = self._ok(self.owner.post("/lecturer/assignments", json={
                "class_id": self.cid, "title": "Essay", "due_at": _iso_in(30), "max_score": 100}), "an assignment")["id"]
            # The grading service learns of it from the assignments events, a moment after the 201:
            # the world is ready once the owner can read its grade sheet.
            wait_for(lambda: (self.owner.get(f"/lecturer/assignments/{aid}/grades").status_code == 200, None),
                     "the assignment known to grading", timeout=15)
            return aid
        return self._once("aid", make)

    @property
    def graded_aid(self):
        def make():
            aid = self.aid
            self._ok(self.owner.post(f"/lecturer/assignments/{aid}/update-grades", json={
                "grades": [{"student_id": self.student, "score": 50, "feedback": "ok"}]}), "a grade")
            return aid
        return self._once("graded", make)

    @property
    def pid(self):
        return self._once("pid", lambda: self._ok(self.owner.post(f"/classes/{self.cid}/posts", json={
            "title": "Welcome", "body": "Read the syllabus."}), "a post")["id"])

    def upload(self, committed):
        """A signed upload URL of the enrolled student (committed: its bytes PUT already)."""
        def make():
            stu = self.apis["enrolled_student"]
            up = self._ok(stu.post("/student/uploads", json={"filename": "a.txt", "content_type": "text/plain",
                                                              "size": 5}), "an upload URL")
            return up
        up = self._once("upload", make)
        if committed and "committed" not in self._cache:
            r = requests.put(self.base_url + up["upload_url"], data=b"hello", timeout=HTTP_TIMEOUT)
            self._ok(r, "the upload's PUT")
            self._cache["committed"] = True
        return up

    @property
    def download_url(self):
        def make():
            up = self.upload(committed=True)
            stu = self.apis["enrolled_student"]
            self._ok(stu.post(f"/student/assignments/{self.aid}/submissions", json={"upload_ids": [up["upload_id"]]}),
                     "a submission")
            items = self._ok(self.owner.get(f"/lecturer/assignments/{self.aid}/submissions"), "the submissions")["items"]
            return items[0]["files"][0]["download_url"]
        return self._once("download", make)

    @property
    def webhook_id(self):
        return self._once("webhook", lambda: self._ok(self.apis["admin"].post("/admin/webhooks", json={
            "url": "https://hooks.example.com/sms", "events": ["post"], "secret": "whsec-0123456789abcdef"}),
            "a webhook")["id"])


# --------------------------------------------------------------------------- one request per route
# REQUESTS[method pattern](world, caller) -> (path, requests kwargs): a request that is valid in
# every respect but authorization, so an allowed caller gets a 2xx.

def _fresh_class(w, c):
    return {"json": {"code": _uid("C"), "name": "Matrix class"}}


REQUESTS = {
    "GET /healthz": lambda w, c: ("/healthz", {}),
    "GET /readyz": lambda w, c: ("/readyz", {}),
    "GET /lecturer/classes": lambda w, c: ("/lecturer/classes", {}),
    "POST /lecturer/classes": lambda w, c: ("/lecturer/classes", _fresh_class(w, c)),
    "GET /lecturer/classes/{id}": lambda w, c: (f"/lecturer/classes/{w.cid}", {}),
    "PUT /lecturer/classes/{id}": lambda w, c: (f"/lecturer/classes/{w.cid}", {"json": {"name": "Renamed"}}),
    "DELETE /lecturer/classes/{id}": lambda w, c: (f"/lecturer/classes/{w.cid}", {}),
    "POST /lecturer/classes/{id}/students": lambda w, c: (f"/lecturer/classes/{w.cid}/students", {"json": {
        "students": [{"student_id": _uid("s"), "name": "New", "email": "new@school.edu"}]}}),
    "DELETE /lecturer/classes/{id}/students/{student_id}": lambda w, c: (
        f"/lecturer/classes/{w.cid}/students/{w.student}", {}),
    "GET /lecturer/students/{class_id}": lambda w, c: (f"/lecturer/students/{w.cid}", {}),
    "GET /student/classes": lambda w, c: ("/student/classes", {}),
    "POST /lecturer/assignments": lambda w, c: ("/lecturer/assignments", {"json": {
        "class_id": w.cid, "title": "HW", "due_at": _iso_in(10)}}),
    "GET /lecturer/assignments/{id}": lambda w, c: (f"/lecturer/assignments/{w.aid}", {}),
    "PUT /lecturer/assignments/{id}": lambda w, c: (f"/lecturer/assignments/{w.aid}", {"json": {"title": "HW 2"}}),
    "DELETE /lecturer/assignments/{id}": lambda w, c: (f"/lecturer/assignments/{w.aid}", {}),
    "GET /lecturer/classes/{class_id}/assignments": lambda w, c: (f"/lecturer/classes/{w.cid}/assignments", {}),
    "POST /lecturer/assignments/{id}/update-grades": lambda w, c: (
        f"/lecturer/assignments/{w.aid}/update-grades",
        {"json": {"grades": [{"student_id": w.student, "score": 70, "feedback": "fine"}]}}),
    "POST /lecturer/assignments/{id}/release-grades": lambda w, c: (
        f"/lecturer/assignments/{w.graded_aid}/release-grades", {}),
    "GET /lecturer/assignments/{id}/grades": lambda w, c: (f"/lecturer/assignments/{w.aid}/grades", {}),
    "GET /lecturer/assignments/{id}/grades/{student_id}/history": lambda w, c: (
        f"/lecturer/assignments/{w.graded_aid}/grades/{w.student}/history", {}),
    "POST /admin/assignments/{id}/grade-corrections": lambda w, c: (
        f"/admin/assignments/{w.graded_aid}/grade-corrections",
        {"json": {"student_id": w.student, "score": 65, "reason": "authz matrix"}}),
    "GET /student/grades": lambda w, c: ("/student/grades", {}),
    "GET /student/ranking": lambda w, c: ("/student/ranking", {"params": {"class_id": w.cid}}),
    "POST /student/assignments/{id}/submissions": lambda w, c: (
        f"/student/assignments/{w.aid}/submissions", {"json": {"text": "my answer"}}),
    "GET /lecturer/assignments/{id}/submissions": lambda w, c: (f"/lecturer/assignments/{w.aid}/submissions", {}),
    "GET /student/classes/{class_id}/assignments": lambda w, c: (f"/student/classes/{w.cid}/assignments", {}),
    "POST /classes/{class_id}/posts": lambda w, c: (f"/classes/{w.cid}/posts", {"json": {
        "title": "Exam", "body": "Room 101."}}),
    "GET /classes/{class_id}/posts": lambda w, c: (f"/classes/{w.cid}/posts", {}),
    "GET /classes/{class_id}/posts/{post_id}": lambda w, c: (f"/classes/{w.cid}/posts/{w.pid}", {}),
    "PUT /classes/{class_id}/posts/{post_id}": lambda w, c: (f"/classes/{w.cid}/posts/{w.pid}", {"json": {
        "title": "Exam (moved)"}}),
    "POST /classes/{class_id}/chat": lambda w, c: (f"/classes/{w.cid}/chat", {"json": {"text": "hello"}}),
    "GET /classes/{class_id}/chat": lambda w, c: (f"/classes/{w.cid}/chat", {}),
    "POST /student/uploads": lambda w, c: ("/student/uploads", {"json": {
        "filename": "b.pdf", "content_type": "application/pdf", "size": 10}}),
    # Signed routes: every caller sends its token to the URL without its query (no signature).
    "PUT /uploads/{id}": lambda w, c: (w.upload(committed=False)["upload_url"].split("?")[0], {"data": b"hello"}),
    "GET /files/{id}": lambda w, c: (w.download_url.split("?")[0], {}),
    "GET /me/notifications": lambda w, c: ("/me/notifications", {}),
    "GET /me/notifications/unread-count": lambda w, c: ("/me/notifications/unread-count", {}),
    "POST /me/notifications/read": lambda w, c: ("/me/notifications/read", {"json": {"ids": ["0" * 26]}}),
    "GET /me/notification-preferences": lambda w, c: ("/me/notification-preferences", {}),
    "PUT /me/notification-preferences": lambda w, c: ("/me/notification-preferences", {"json": {
        "channels": {"email": False}}}),
    "GET /me/notifications/stream": lambda w, c: ("/me/notifications/stream", {"stream": True}),
    "POST /admin/webhooks": lambda w, c: ("/admin/webhooks", {"json": {
        "url": "https://hooks.example.com/matrix", "events": ["grade"], "secret": "whsec-0123456789abcdef"}}),
    "GET /admin/webhooks": lambda w, c: ("/admin/webhooks", {}),
    "DELETE /admin/webhooks/{webhook_id}": lambda w, c: (f"/admin/webhooks/{w.webhook_id}", {}),
    "GET /admin/deliveries": lambda w, c: ("/admin/deliveries", {}),
    "POST /admin/users": lambda w, c: ("/admin/users", {"json": {
        "email": f"{_uid('m')}@matrix.test", "name": "Matrix Account", "role": "lecturer"}}),
    "GET /admin/users": lambda w, c: ("/admin/users", {}),
    "DELETE /admin/users/{user_id}": lambda w, c: (f"/admin/users/{w.new_account()['id']}", {}),
    # The credential, not the bearer token, authorizes these: every caller succeeds with a good one.
    "POST /auth/login": lambda w, c: ("/auth/login", {"json": w.login_body}),
    "POST /auth/refresh": lambda w, c: ("/auth/refresh", {"json": {"refresh_token": w.fresh_refresh_token()}}),
    "POST /auth/logout": lambda w, c: ("/auth/logout", {"json": {"refresh_token": w.fresh_refresh_token()}}),
    "POST /auth/password": lambda w, c: ("/auth/password", {"json": {
        "current_password": MATRIX_PASSWORD, "new_password": "another matrix passphrase"}}),
    "GET /.well-known/jwks.json": lambda w, c: ("/.well-known/jwks.json", {}),
    "GET /docs": lambda w, c: ("/docs", {}),
    "GET /docs/redoc.standalone.js": lambda w, c: ("/docs/redoc.standalone.js", {}),
    "GET /openapi.yaml": lambda w, c: ("/openapi.yaml", {}),
    "GET /asyncapi.yaml": lambda w, c: ("/asyncapi.yaml", {}),
}

# The signed URL itself, with no token: what a signed route's holder sends (must be 2xx).
SIGNED = {
    "PUT /uploads/{id}": lambda w: ("PUT", w.upload(committed=False)["upload_url"], {"data": b"hello"}),
    "GET /files/{id}": lambda w: ("GET", w.download_url, {}),
}


def send(w, route, caller):
    path, kw = REQUESTS[route_id(route)](w, caller)
    kw.setdefault("timeout", 10)
    for attempt in range(4):
        r = w.apis[caller].request(route["method"], path, **kw)
        if kw.get("stream"):
            r.close()  # an SSE stream: the status line is the answer
        # A 503 did nothing (README "Overload"): on a busy machine, try again as a client would.
        if r.status_code != 503 or attempt == 3:
            return r
        time.sleep(min(float(r.headers.get("Retry-After", "1") or 1), 2.0))


def outcome_ok(want, r):
    """The status, and for a refusal its form: problem+json, and a 401 names the Bearer scheme."""
    if want == OK:
        return 200 <= r.status_code < 300
    if r.status_code != want or not r.headers.get("Content-Type", "").startswith("application/problem+json"):
        return False
    return want != 401 or r.headers.get("WWW-Authenticate", "").startswith("Bearer")


# --------------------------------------------------------------------------- tests

def test_route_table_is_listed():
    if not os.environ.get("SMS_BIN_DIR"):
        pytest.skip("SMS_BIN_DIR is not set (tests/run sets it)")
    assert len(ROUTES) >= 40, f"sms-gateway --print-routes listed only {len(ROUTES)} routes"


def test_every_route_has_a_matrix_row():
    """A route without a row in authz.c has no declared rule: add one before it ships."""
    if not os.environ.get("SMS_BIN_DIR"):
        pytest.skip("SMS_BIN_DIR is not set (tests/run sets it)")
    missing = [route_id(r) for r in ROUTES if r["rule"] is None]
    assert not missing, (
        f"{len(missing)} route(s) have no row in the authorization matrix ({AUTHZ_TABLE}): "
        + "; ".join(missing)
        + f". Add {{method, pattern, GW_OBJ_<rule>, object}} for each to rows[] in {AUTHZ_TABLE} "
          "(rules: authz.h), and a request for it to REQUESTS in tests/e2e/test_authz_matrix.py.")


def test_no_row_without_a_route():
    """A row for a route the gateway no longer registers (or whose pattern changed) is stale."""
    if not os.environ.get("SMS_BIN_DIR"):
        pytest.skip("SMS_BIN_DIR is not set (tests/run sets it)")
    stale = LISTING["rows_without_route"]
    assert not stale, (f"{AUTHZ_TABLE} has rows for routes the gateway does not register: {stale}; "
                       "remove them or correct their method and pattern")


def test_every_route_has_a_request():
    if not os.environ.get("SMS_BIN_DIR"):
        pytest.skip("SMS_BIN_DIR is not set (tests/run sets it)")
    missing = [route_id(r) for r in ROUTES if route_id(r) not in REQUESTS]
    assert not missing, (
        f"{len(missing)} route(s) have no request in REQUESTS (tests/e2e/test_authz_matrix.py): "
        + "; ".join(missing)
        + ". Add one that is valid in every respect but authorization, so the matrix can test the route.")
    stale = sorted(set(REQUESTS) - {route_id(r) for r in ROUTES})
    assert not stale, f"REQUESTS names routes the gateway no longer has: {stale}"


@pytest.mark.parametrize("route", [r for r in ROUTES if r["rule"] is not None and route_id(r) in REQUESTS],
                         ids=route_id)
def test_authz_matrix(route, base_url, mint):
    w = World(base_url, mint)
    try:
        wrong = []
        for caller in CALLERS:
            want = expected(route, caller)
            r = send(w, route, caller)
            if not outcome_ok(want, r):
                wrong.append(f"  {caller}: expected {want}, got {r.status_code} {r.text[:200]}")
        if route["rule"] == "signed_url":
            method, url, kw = SIGNED[route_id(route)](w)
            r = requests.request(method, base_url + url, timeout=10, **kw)
            if not 200 <= r.status_code < 300:
                wrong.append(f"  signed URL, no token: expected 2xx, got {r.status_code} {r.text[:200]}")
        assert not wrong, (f"{route_id(route)} (roles {route['roles']}, rule {route['rule']}: "
                           f"{route['object']}) answered against the matrix in {AUTHZ_TABLE}:\n"
                           + "\n".join(wrong))
    finally:
        w.close()
