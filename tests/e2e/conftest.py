"""Fixtures for the sms end-to-end tests.

The tests drive the real system that tests/run (or deploy/up) started; the environment
says where it is:

  SMS_BASE_URL        gateway, e.g. http://127.0.0.1:8080   (unset: every system test is skipped)
  SMS_JWT_SECRET      the gateway's HS256 secret (tokens are minted here in Python)
  SMS_KAFKA_BROKERS   Kafka bootstrap servers
  SMS_REDIS_HOST/PORT Redis
  SMS_BIN_DIR         sms-admin, sms-classes, sms-gateway
  SMS_CTL             deploy/ctl (kill9/start/stop/restart <svc>, wait-ready N)
  SMS_HEADER_TIMEOUT_MS, SMS_HEADER_LIMIT, SMS_BODY_LIMIT  the gateway's limits, if not default

Every test gets a fresh random lecturer id, so tests never see each other's classes.
Tests marked `disruptive` kill or restart services and leave the system ready.
test_schema_vectors.py needs no server and is never skipped here.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402
from helpers import Admin, Api, Tool, lecturer_claims, mint_jwt, new_lecturer_id  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OFFLINE_FILES = {"test_schema_vectors.py"}
SKIP_REASON = ("SMS_BASE_URL is not set: the e2e tests need a running sms system "
               "(./tests/run starts one and sets it; or export SMS_BASE_URL and friends "
               "after ./deploy/up)")


def pytest_configure(config):
    config.addinivalue_line("markers", "disruptive: kills or restarts sms services (leaves them ready)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "drill: a disaster-recovery drill (broker kills, Redis wipes, backup and "
                            "restore); minutes long, so tests/run runs it in the plain pass only")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SMS_BASE_URL"):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        path = os.path.abspath(str(item.path))
        if os.path.dirname(path) != HERE:
            continue
        if os.path.basename(path) in OFFLINE_FILES and "base_url" not in item.fixturenames:
            continue
        item.add_marker(skip)


# --------------------------------------------------------------------------- environment

@pytest.fixture(scope="session")
def base_url():
    url = os.environ.get("SMS_BASE_URL")
    if not url:
        pytest.skip(SKIP_REASON)
    url = url.rstrip("/")
    # tests/run waits for readiness already; this only guards a manual run.
    helpers.wait_ready(url, timeout=60)
    return url


def _need_env(name):
    v = os.environ.get(name)
    if not v:
        pytest.skip(f"{name} is not set (tests/run sets it)")
    return v


@pytest.fixture(scope="session")
def jwt_secret():
    return _need_env("SMS_JWT_SECRET")


@pytest.fixture(scope="session")
def kafka_brokers():
    return _need_env("SMS_KAFKA_BROKERS")


@pytest.fixture(scope="session")
def redis_client():
    import redis
    host = os.environ.get("SMS_REDIS_HOST", "127.0.0.1")
    port = int(os.environ.get("SMS_REDIS_PORT", "6379"))
    c = redis.Redis(host=host, port=port, socket_timeout=10)
    c.ping()
    yield c
    c.close()


@pytest.fixture(scope="session")
def ctl(base_url):
    path = _need_env("SMS_CTL")
    assert os.access(path, os.X_OK), f"SMS_CTL={path} is not executable"
    return Tool(path)


@pytest.fixture(scope="session")
def admin(base_url):
    bin_dir = _need_env("SMS_BIN_DIR")
    path = os.path.join(bin_dir, "sms-admin")
    assert os.access(path, os.X_OK), f"{path} is not executable"
    return Admin(path)


@pytest.fixture(scope="session")
def header_timeout_ms():
    return helpers.env_int("SMS_HEADER_TIMEOUT_MS", 10000)


@pytest.fixture(scope="session")
def header_limit():
    return helpers.env_int("SMS_HEADER_LIMIT", 16384)


@pytest.fixture(scope="session")
def body_limit():
    return helpers.env_int("SMS_BODY_LIMIT", 1048576)


# --------------------------------------------------------------------------- tokens and clients

@pytest.fixture(scope="session")
def mint(jwt_secret):
    """mint(sub, role="lecturer", ttl=3600, secret=None, alg="HS256", claims=None) -> token.
    claims replaces the standard claims entirely when given."""
    def _mint(sub="x", role="lecturer", ttl=3600, secret=None, alg="HS256", claims=None,
              header=None):
        c = claims if claims is not None else lecturer_claims(sub, role, ttl)
        return mint_jwt(c, secret if secret is not None else jwt_secret, alg=alg, header=header)
    return _mint


@pytest.fixture(scope="session")
def expired_token(mint):
    return lambda sub: mint(sub, ttl=-3600)


@pytest.fixture(scope="session")
def wrong_secret_token(mint, jwt_secret):
    return lambda sub: mint(sub, secret=jwt_secret + "-not-the-secret")


@pytest.fixture(scope="session")
def alg_none_token(jwt_secret):
    return lambda sub: mint_jwt(lecturer_claims(sub), jwt_secret, alg="none",
                                header={"alg": "none", "typ": "JWT"})


@pytest.fixture
def lecturer():
    """A fresh random lecturer id: this test's classes are its own."""
    return new_lecturer_id()


@pytest.fixture
def make_api(base_url, mint):
    """make_api(sub=None, role="lecturer", token=None) -> Api. sub None = a fresh lecturer."""
    made = []

    def _make(sub=None, role="lecturer", token=None):
        sub = sub or new_lecturer_id()
        a = Api(base_url, token if token is not None else mint(sub, role), sub=sub, role=role)
        made.append(a)
        return a
    yield _make
    for a in made:
        a.session.close()


@pytest.fixture
def api(make_api, lecturer):
    """Client authenticated as this test's lecturer."""
    return make_api(lecturer)


@pytest.fixture
def anon(base_url):
    a = Api(base_url)
    yield a
    a.session.close()


@pytest.fixture
def gateways(tmp_path, base_url):
    """start(name, **env) -> an extra gateway (protect_kit.Gateway) on the suite's Redis and Kafka
    with env overriding its settings; every one started is stopped after the test."""
    import protect_kit

    started = []

    def start(name="gw", **env):
        g = protect_kit.Gateway(tmp_path, name=name, **env)
        started.append(g)
        return g

    yield start
    for g in started:
        g.stop()
