"""Authentication and authorisation at the gateway: HS256 JWT with sub/role/exp."""

import base64
import hashlib
import hmac
import json
import time

import pytest

from helpers import assert_class, assert_json, assert_problem, b64url_decode, describe, lecturer_claims, mint_jwt, poll, uniq

# Every /lecturer route, as (method, path template, needs a JSON body).
ROUTES = [
    ("GET", "/lecturer/classes", False),
    ("POST", "/lecturer/classes", True),
    ("GET", "/lecturer/classes/{id}", False),
    ("PUT", "/lecturer/classes/{id}", True),
    ("DELETE", "/lecturer/classes/{id}", False),
]
ROUTE_IDS = [f"{m} {p}" for m, p, _ in ROUTES]


@pytest.fixture
def existing_class(api):
    return api.create()


def _call(client, method, path, cid, with_body):
    kw = {}
    if with_body:
        kw["json"] = {"code": uniq(), "name": "auth probe"}
    return client.request(method, path.format(id=cid), **kw)


def _assert_401(r):
    assert_problem(r, 401, "unauthorized")
    www = r.headers.get("WWW-Authenticate", "")
    assert www.lower().startswith("bearer"), f"401 needs WWW-Authenticate: Bearer...\n{describe(r)}"


@pytest.mark.parametrize("method,path,with_body", ROUTES, ids=ROUTE_IDS)
def test_no_token_is_401(anon, existing_class, method, path, with_body):
    _assert_401(_call(anon, method, path, existing_class["id"], with_body))


@pytest.mark.parametrize("method,path,with_body", ROUTES, ids=ROUTE_IDS)
def test_expired_token_is_401(api, existing_class, expired_token, method, path, with_body):
    _assert_401(_call(api.with_token(expired_token(api.sub)), method, path, existing_class["id"], with_body))


@pytest.mark.parametrize("method,path,with_body", ROUTES, ids=ROUTE_IDS)
def test_wrong_secret_is_401(api, existing_class, wrong_secret_token, method, path, with_body):
    _assert_401(_call(api.with_token(wrong_secret_token(api.sub)), method, path, existing_class["id"], with_body))


@pytest.mark.parametrize("method,path,with_body", ROUTES, ids=ROUTE_IDS)
def test_alg_none_is_401(api, existing_class, alg_none_token, method, path, with_body):
    _assert_401(_call(api.with_token(alg_none_token(api.sub)), method, path, existing_class["id"], with_body))


def test_alg_none_with_a_valid_hs256_signature_is_401(api, jwt_secret):
    # Header says "none" but a correct HS256 signature over it is attached: still rejected.
    tok = mint_jwt(lecturer_claims(api.sub), jwt_secret, alg="HS256", header={"alg": "none", "typ": "JWT"})
    _assert_401(api.with_token(tok).get("/lecturer/classes"))


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_hmac_algorithms_are_401(api, jwt_secret, alg):
    tok = mint_jwt(lecturer_claims(api.sub), jwt_secret, alg=alg)
    _assert_401(api.with_token(tok).get("/lecturer/classes"))


def test_tampered_payload_is_401(api, mint):
    tok = mint(api.sub)
    h, p, s = tok.split(".")
    claims = json.loads(b64url_decode(p))
    claims["sub"] = "someone-else"
    p2 = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _assert_401(api.with_token(f"{h}.{p2}.{s}").get("/lecturer/classes"))


@pytest.mark.parametrize("authorization", [
    "Bearer",
    "Bearer ",
    "Bearer not-a-jwt",
    "Bearer a.b.c",
    "Bearer ....",
    "Basic dXNlcjpwYXNz",
    "Token abc",
], ids=["bearer-only", "bearer-empty", "garbage", "abc", "dots", "basic", "other-scheme"])
def test_malformed_authorization_is_401(anon, authorization):
    r = anon.get("/lecturer/classes", headers={"Authorization": authorization})
    _assert_401(r)


@pytest.mark.parametrize("drop", ["sub", "role", "exp"])
def test_token_missing_a_claim_is_401(api, mint, drop):
    claims = lecturer_claims(api.sub)
    del claims[drop]
    _assert_401(api.with_token(mint(claims=claims)).get("/lecturer/classes"))


@pytest.mark.parametrize("claims_patch", [
    {"role": "superuser"},
    {"role": ""},
    {"sub": ""},
    {"sub": 12345},
    {"exp": "tomorrow"},
], ids=["unknown-role", "empty-role", "empty-sub", "int-sub", "string-exp"])
def test_token_with_bad_claims_is_401(api, mint, claims_patch):
    claims = lecturer_claims(api.sub)
    claims.update(claims_patch)
    _assert_401(api.with_token(mint(claims=claims)).get("/lecturer/classes"))


@pytest.mark.parametrize("role", ["student", "admin"])
@pytest.mark.parametrize("method,path,with_body", ROUTES, ids=ROUTE_IDS)
def test_non_lecturer_role_is_403(make_api, existing_class, mint, role, method, path, with_body):
    other = make_api(existing_class["lecturer_id"], role=role)
    r = _call(other, method, path, existing_class["id"], with_body)
    assert_problem(r, 403, "forbidden")


def test_forbidden_write_changes_nothing(make_api, api):
    # A student whose sub equals a lecturer's id must not be able to act for them.
    student = make_api(api.sub, role="student")
    r = student.post("/lecturer/classes", json={"code": uniq(), "name": "sneaky"})
    assert_problem(r, 403, "forbidden")
    assert api.list_all("all") == [], "a 403 create must not create a class"


def test_valid_token_works_and_owner_is_sub(api):
    c = api.create()
    assert_class(c, lecturer_id=api.sub)


def test_lecturer_id_in_body_is_rejected(api):
    r = api.post("/lecturer/classes", json={"code": uniq(), "name": "x", "lecturer_id": "someone-else"})
    assert_problem(r, 400, "validation", fields=["lecturer_id"])
    assert api.list_all("all") == [], "the rejected create must not create a class"


@pytest.mark.parametrize("field,value", [("lecturer_id", "someone-else"), ("id", "my-own-id"),
                                         ("status", "inactive"), ("version", 7),
                                         ("created_at", "2020-01-01T00:00:00.000Z")])
def test_server_owned_fields_in_put_are_rejected(api, field, value):
    c = api.create()
    r = api.put(f"/lecturer/classes/{c['id']}", json={"name": "new name", field: value})
    assert_problem(r, 400, "validation", fields=[field])
    assert api.get_class(c["id"]) == c, "a rejected update must change nothing"


def test_health_probes_need_no_token(anon):
    assert_json(anon.get("/healthz"), 200)
    assert_json(anon.get("/readyz"), 200)


def test_sms_admin_token(admin, base_url, jwt_secret):
    from helpers import Api, new_lecturer_id
    sub = new_lecturer_id()
    tok = admin.token(sub, "lecturer")
    parts = tok.split(".")
    assert len(parts) == 3, f"not a compact JWS: {tok!r}"
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    assert header.get("alg") == "HS256", header
    assert claims.get("sub") == sub and claims.get("role") == "lecturer", claims
    assert isinstance(claims.get("exp"), int) and claims["exp"] > time.time(), claims
    a = Api(base_url, tok, sub=sub)
    c = a.create()
    assert c["lecturer_id"] == sub
    # The CLI signs with SMS_JWT_SECRET (HMAC-SHA256 over the first two segments).
    want = hmac.new(jwt_secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    assert b64url_decode(parts[2]) == want, "sms-admin token is not signed with SMS_JWT_SECRET"
    student = admin.token(sub, "student")
    assert_problem(Api(base_url, student).get("/lecturer/classes"), 403, "forbidden")


def test_sms_admin_token_ttl_expires(admin, base_url):
    from helpers import Api, new_lecturer_id
    sub = new_lecturer_id()
    tok = admin.token(sub, "lecturer", ttl=1)
    claims = json.loads(b64url_decode(tok.split(".")[1]))
    assert claims["exp"] <= int(time.time()) + 2, f"--ttl 1 should give exp about now+1: {claims}"
    a = Api(base_url, tok, sub=sub)
    # Valid at first (or already expired on a slow machine), then 401 once exp has passed.
    poll(lambda: a.get("/lecturer/classes").status_code == 401, timeout=6, interval=0.25,
         what="token minted with --ttl 1 being rejected")
    _assert_401(a.get("/lecturer/classes"))
