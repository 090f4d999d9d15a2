"""ES256 access tokens and their keys (issue 11 §1): login tokens are ES256 JWTs with a kid that
GET /.well-known/jwks.json publishes; any JOSE library verifies them with that JWKS; the gateway
still accepts the HS256 tokens sms-admin mints; `sms-admin keys rotate` adds a key that signs from
then on while a token signed by the old key keeps working until it expires."""
import json
import uuid

import jwt  # PyJWT (with cryptography): an independent ES256 verifier
import pytest

from helpers import assert_problem, describe, b64url, b64url_decode, mint_jwt

PASSWORD = "correct horse battery staple"


@pytest.fixture
def account(make_api, anon):
    admin_api = make_api(sub="admin-" + uuid.uuid4().hex[:8], role="admin")
    email = f"keys-{uuid.uuid4().hex[:10]}@school.test"
    r = admin_api.post("/admin/users", json={"email": email, "name": "Key Tester", "role": "lecturer",
                                             "password": PASSWORD})
    assert r.status_code == 201, describe(r)
    return email, r.json()["id"]


def login(anon, email):
    r = anon.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, describe(r)
    return r.json()["access_token"]


def header(token):
    return json.loads(b64url_decode(token.split(".")[0]))


def jwks(anon):
    r = anon.get("/.well-known/jwks.json")
    assert r.status_code == 200, describe(r)
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()["keys"]


def test_login_token_is_es256_and_verifies_with_the_jwks(anon, account):
    email, uid = account
    token = login(anon, email)
    h = header(token)
    assert h["alg"] == "ES256" and h["kid"], h
    keys = jwks(anon)
    assert keys, "the JWKS lists no key"
    for k in keys:
        assert k["kty"] == "EC" and k["crv"] == "P-256" and k["use"] == "sig" and k["alg"] == "ES256", k
        assert set(k) == {"kty", "crv", "kid", "use", "alg", "x", "y"}, k  # no private part ("d")
    key = next(k for k in keys if k["kid"] == h["kid"])
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["ES256"])
    assert claims["sub"] == uid and claims["role"] == "lecturer"
    assert claims["exp"] - claims["iat"] == 900


def test_es256_token_used_on_the_api_beside_hs256(anon, account, make_api):
    email, uid = account
    es = make_api(sub=uid, token=login(anon, email))
    assert es.get("/lecturer/classes").status_code == 200
    hs = make_api(sub=uid)  # HS256, minted with SMS_JWT_SECRET like the rest of the suite
    assert hs.get("/lecturer/classes").status_code == 200


def test_forged_es256_tokens_are_refused(anon, account, make_api, jwt_secret):
    email, uid = account
    token = login(anon, email)
    h, p, s = token.split(".")
    # Unknown kid.
    bad_kid = b64url(json.dumps({"alg": "ES256", "typ": "JWT", "kid": "k-not-ours"}).encode())
    r = make_api(sub=uid, token=f"{bad_kid}.{p}.{s}").get("/lecturer/classes")
    assert_problem(r, 401, "unauthorized")
    # Claims changed (role admin) under the original signature.
    claims = json.loads(b64url_decode(p))
    claims["role"] = "admin"
    forged = f"{h}.{b64url(json.dumps(claims).encode())}.{s}"
    assert_problem(make_api(sub=uid, token=forged).get("/admin/users"), 401, "unauthorized")
    # Algorithm confusion: HS256 "signed" with the public key's JWK text as the secret.
    kid = header(token)["kid"]
    pub = next(k for k in jwks(anon) if k["kid"] == kid)
    confused = mint_jwt({"sub": uid, "role": "admin", "exp": claims["exp"]}, json.dumps(pub),
                        header={"alg": "HS256", "typ": "JWT", "kid": kid})
    assert_problem(make_api(sub=uid, token=confused).get("/admin/users"), 401, "unauthorized")


def test_key_rotation_old_kid_still_works_new_token_new_kid(anon, account, admin, make_api):
    email, uid = account
    old = login(anon, email)
    old_kid = header(old)["kid"]
    new_kid = admin("keys", "rotate", timeout=30).stdout.strip().splitlines()[-1]
    assert new_kid != old_kid and new_kid > old_kid
    new = login(anon, email)
    assert header(new)["kid"] == new_kid
    kids = [k["kid"] for k in jwks(anon)]
    assert old_kid in kids and new_kid in kids, kids
    for token in (old, new):
        r = make_api(sub=uid, token=token).get("/lecturer/classes")
        assert r.status_code == 200, describe(r)
