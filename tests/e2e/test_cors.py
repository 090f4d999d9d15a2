"""CORS and security headers (issue 12 §1): the SMS_CORS_ORIGINS allow-list, preflights
answered with Access-Control-Allow-* and Access-Control-Max-Age, Vary: Origin, no wildcard
with credentials; X-Content-Type-Options on every answer, Cache-Control: no-store on
authenticated ones, Strict-Transport-Security behind TLS (SMS_BEHIND_TLS, or a trusted
proxy's X-Forwarded-Proto: https).

Runs its own gateway processes (protect_kit.Gateway) with the settings under test.
"""

import os
import subprocess

import pytest
import requests

import protect_kit as kit

APP = "https://app.example"


@pytest.fixture
def cors_gw(gateways):
    return gateways("cors", SMS_CORS_ORIGINS=f"{APP}, http://localhost:3000", SMS_CORS_MAX_AGE_S=900)


def _preflight(url, path, origin, method="POST", headers="authorization, content-type, idempotency-key"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(url + path, headers=h, timeout=10)


def test_preflight_from_an_allowed_origin(cors_gw):
    r = _preflight(cors_gw.url, "/lecturer/classes", APP)
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == APP
    methods = [m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")]
    assert "POST" in methods and "GET" in methods
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert r.headers["Access-Control-Max-Age"] == "900"
    assert "Origin" in r.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in r.headers  # SMS_CORS_CREDENTIALS=0
    # No token needed: a browser never sends one on a preflight.
    r = _preflight(cors_gw.url, "/lecturer/classes/01HZY3M0000000000000000000", "http://localhost:3000", "DELETE")
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_preflight_from_another_origin_is_refused(cors_gw):
    for origin in ("https://evil.example", "https://app.example.evil.test", "null"):
        r = _preflight(cors_gw.url, "/lecturer/classes", origin)
        assert r.status_code == 403, (origin, r.status_code)
        assert "Access-Control-Allow-Origin" not in r.headers
        assert r.headers["Content-Type"] == "application/problem+json"
        assert r.json()["type"].endswith("/cors_origin_not_allowed")


def test_preflight_for_a_method_the_path_lacks(cors_gw):
    r = _preflight(cors_gw.url, "/lecturer/classes", APP, "PATCH")
    assert r.status_code == 403 and r.json()["type"].endswith("/cors_method_not_allowed")


def test_options_without_preflight_headers_is_still_405(cors_gw):
    r = requests.options(cors_gw.url + "/lecturer/classes", timeout=10)
    assert r.status_code == 405 and "Allow" in r.headers


def test_actual_requests_carry_cors_for_allowed_origins_only(cors_gw, mint):
    token = mint(sub=f"lec-{os.urandom(4).hex()}")
    auth = {"Authorization": f"Bearer {token}"}
    r = requests.get(cors_gw.url + "/lecturer/classes", headers={**auth, "Origin": APP}, timeout=10)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert "RateLimit" in r.headers["Access-Control-Expose-Headers"]
    assert "Origin" in r.headers["Vary"]
    r = requests.get(cors_gw.url + "/lecturer/classes", headers={**auth, "Origin": "https://evil.example"}, timeout=10)
    assert r.status_code == 200  # CORS is the browser's check; the server only withholds the grant
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Origin" in r.headers["Vary"]  # a cache must not serve one origin's answer to another
    r = requests.get(cors_gw.url + "/healthz", timeout=10)
    assert "Access-Control-Allow-Origin" not in r.headers and "Origin" in r.headers["Vary"]


def test_credentials_echo_the_origin_never_a_wildcard(gateways):
    gw = gateways("cors-cred", SMS_CORS_ORIGINS=APP, SMS_CORS_CREDENTIALS=1)
    r = requests.get(gw.url + "/healthz", headers={"Origin": APP}, timeout=10)
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert r.headers["Access-Control-Allow-Credentials"] == "true"


def test_wildcard_without_credentials(gateways):
    gw = gateways("cors-any", SMS_CORS_ORIGINS="*")
    r = requests.get(gw.url + "/healthz", headers={"Origin": "https://anyone.example"}, timeout=10)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_wildcard_with_credentials_is_refused_at_start(tmp_path):
    env = dict(os.environ, SMS_CORS_ORIGINS="*", SMS_CORS_CREDENTIALS="1", SMS_HTTP_PORT=str(kit.free_port()))
    p = subprocess.run([os.path.join(os.environ["SMS_BIN_DIR"], "sms-gateway")], env=env, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "SMS_CORS_ORIGINS" in p.stderr


def test_no_cors_headers_when_not_configured(anon):
    r = anon.get("/healthz", headers={"Origin": APP})
    assert "Access-Control-Allow-Origin" not in r.headers


# ------------------------------------------------------------------ security headers

def test_nosniff_on_every_answer_and_no_store_on_authenticated_ones(anon, api):
    for r in (anon.get("/healthz"), anon.get("/no/such/route"), anon.get("/lecturer/classes")):
        assert r.headers["X-Content-Type-Options"] == "nosniff", (r.status_code, r.headers)
    assert "no-store" not in anon.get("/healthz").headers.get("Cache-Control", "")
    r = api.get("/lecturer/classes")
    assert r.status_code == 200
    assert "no-store" in r.headers["Cache-Control"]
    r = api.get("/lecturer/classes/01HZY3M0000000000000000000")  # an error to a token holder: personal too
    assert "no-store" in r.headers["Cache-Control"]
    assert "Strict-Transport-Security" not in r.headers  # plain HTTP, no TLS in front


def test_hsts_behind_tls(gateways):
    gw = gateways("tls", SMS_BEHIND_TLS=1)
    r = requests.get(gw.url + "/healthz", timeout=10)
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_hsts_from_a_trusted_proxy_saying_https(gateways):
    proxy = kit.fresh_source_ip()
    gw = gateways("xfp", SMS_TRUSTED_PROXIES=proxy)
    r = kit.get_from(proxy, gw.url, "/healthz", {"X-Forwarded-Proto": "https"})
    assert r.headers["strict-transport-security"].startswith("max-age=")
    r = kit.get_from(kit.fresh_source_ip(), gw.url, "/healthz", {"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in r.headers  # an untrusted peer's word counts for nothing
