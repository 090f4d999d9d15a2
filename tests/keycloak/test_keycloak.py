"""School SSO against a real OpenID Connect provider: Keycloak (./tests/run --keycloak).

tests/run starts the suite's system and Keycloak (deploy/keycloak/start, realm
deploy/keycloak/realm-sms.json) and sets SMS_KEYCLOAK_URL. A second sms-gateway is pointed
at the realm (SMS_OIDC_ISSUER=<keycloak>/realms/sms, audience sms-api added by the client's
audience mapper, role from the "groups" claim: teachers=lecturer, pupils=student, it=admin).
Each user logs in with the password grant of the public client sms-cli and the access token
is used on our API.
"""

import base64
import json
import os
import sys
import uuid

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from helpers import assert_json, assert_problem, uniq  # noqa: E402
from oidc_support import Gateway  # noqa: E402

USERS = {"lecturer": "lecturer-pass-123", "student": "student-pass-123", "admin": "admin-pass-1234"}


@pytest.fixture(scope="module")
def keycloak():
    url = os.environ.get("SMS_KEYCLOAK_URL")
    if not url:
        pytest.fail("SMS_KEYCLOAK_URL is not set: run ./tests/run --keycloak")
    return url.rstrip("/") + "/realms/sms"


@pytest.fixture(scope="module")
def gw(keycloak):
    g = Gateway("gateway-keycloak", {
        "SMS_OIDC_ISSUER": keycloak,
        "SMS_OIDC_AUDIENCE": "sms-api",
        "SMS_OIDC_ROLE_CLAIM": "groups",
        "SMS_OIDC_ROLE_MAP": "teachers=lecturer,pupils=student,it=admin",
    })
    try:
        g.wait_ready()
        g.wait_accepts(login(keycloak, "lecturer"))
        yield g
    finally:
        rc = g.stop()
        assert rc == 0, f"gateway-keycloak exit status {rc} after SIGTERM:\n{g.log_tail()}"


def login(keycloak, user, password=None):
    """The password grant (direct access) of client sms-cli: Keycloak's access token."""
    r = requests.post(keycloak + "/protocol/openid-connect/token", timeout=30, data={
        "grant_type": "password", "client_id": "sms-cli", "username": user,
        "password": password or USERS[user], "scope": "openid"})
    assert r.status_code == 200, f"login of {user}: {r.status_code} {r.text}"
    doc = r.json()
    assert doc["token_type"].lower() == "bearer", doc
    return doc["access_token"]


def claims(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def call(gw, method, path, token, **kw):
    h = {"Authorization": f"Bearer {token}"}
    h.update(kw.pop("headers", {}))
    return requests.request(method, gw.url + path, headers=h, timeout=20, **kw)


def test_keycloak_token_is_what_we_expect(keycloak):
    c = claims(login(keycloak, "lecturer"))
    assert c["iss"] == keycloak, c
    aud = c["aud"] if isinstance(c["aud"], list) else [c["aud"]]
    assert "sms-api" in aud, c
    assert c["groups"] == ["teachers"], c


def test_lecturer_logs_in_and_creates_a_class(gw, keycloak):
    tok = login(keycloak, "lecturer")
    code = uniq("KC")
    key = uuid.uuid4().hex
    for _ in range(3):  # a 504 (a just-started gateway on a loaded machine) is retried with the same key
        r = call(gw, "POST", "/lecturer/classes", tok, json={"code": code, "name": "Keycloak class"},
                 headers={"Idempotency-Key": key})
        if r.status_code != 504:
            break
    created = assert_json(r, 201)
    assert created["lecturer_id"] == claims(tok)["sub"], created
    page = assert_json(call(gw, "GET", "/lecturer/classes?limit=100&status=all", tok), 200)
    assert code in [c["code"] for c in page["items"]], page


def test_student_role_from_keycloak_group(gw, keycloak):
    tok = login(keycloak, "student")
    assert_json(call(gw, "GET", "/student/classes", tok), 200)
    assert_problem(call(gw, "GET", "/lecturer/classes", tok), 403, "forbidden")


def test_admin_role_from_keycloak_group(gw, keycloak):
    tok = login(keycloak, "admin")
    assert_json(call(gw, "GET", "/admin/webhooks", tok), 200)
    assert_problem(call(gw, "GET", "/student/classes", tok), 403, "forbidden")


def test_wrong_password_gets_no_token(keycloak):
    r = requests.post(keycloak + "/protocol/openid-connect/token", timeout=30, data={
        "grant_type": "password", "client_id": "sms-cli", "username": "lecturer", "password": "nope"})
    assert r.status_code == 401, r.text


def test_tampered_keycloak_token_refused(gw, keycloak):
    tok = login(keycloak, "student")
    hdr, payload, sig = tok.split(".")
    c = claims(tok)
    c["groups"] = ["it"]
    forged = base64.urlsafe_b64encode(json.dumps(c).encode()).rstrip(b"=").decode()
    r = call(gw, "GET", "/admin/webhooks", f"{hdr}.{forged}.{sig}")
    doc = assert_problem(r, 401, "unauthorized")
    assert "bad signature" in doc["detail"], doc
