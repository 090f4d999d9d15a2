"""Logs that do not fill the disk: the gateway, restarted by deploy/ctl with a small
SMS_LOG_MAX_BYTES, rotates .run/logs/gateway.log itself (gateway.log.1 .. .N), every
request line lands exactly once in the files kept, and each file stays near the limit;
SMS_ACCESS_LOG=sample:N writes one 2xx line in N (marked "sample": N) and every 4xx/5xx.
The gateway is restarted with the default settings afterwards."""

import glob
import json
import os
import subprocess
import time
import uuid

import pytest
import requests

from helpers import wait_ready

pytestmark = [pytest.mark.disruptive]

LOG_DIR = os.path.join(os.environ.get("SMS_RUN_DIR", "/nonexistent"), "logs")
GW_LOG = os.path.join(LOG_DIR, "gateway.log")


def _restart_gateway(base_url, **env):
    e = dict(os.environ)
    for k in ("SMS_LOG_MAX_BYTES", "SMS_LOG_KEEP", "SMS_ACCESS_LOG"):
        e.pop(k, None)
    e.update(env)
    subprocess.run([os.environ["SMS_CTL"], "restart", "gateway"], env=e, check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    wait_ready(base_url, timeout=60)


def _clear_rotated():
    for f in glob.glob(GW_LOG + ".*"):
        os.remove(f)


def _request_lines(files):
    """Every JSON request line in files (oldest file first), as dicts."""
    out = []
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.startswith("{"):
                    continue  # deploy/ctl's start banner
                d = json.loads(line)  # a cut line would fail here
                if d.get("event") == "request":
                    out.append(d)
    return out


@pytest.fixture
def gateway_restored(base_url):
    yield
    _restart_gateway(base_url)
    _clear_rotated()


def test_gateway_log_rotates_by_size_and_keeps_every_line(base_url, gateway_restored):
    limit, keep = 40000, 3
    _restart_gateway(base_url, SMS_LOG_MAX_BYTES=str(limit), SMS_LOG_KEEP=str(keep), SMS_ACCESS_LOG="all")
    _clear_rotated()
    tag = uuid.uuid4().hex[:8]
    n = 300  # ~300 bytes a line: ~90 KB, two or three rotations
    s = requests.Session()
    for i in range(n):
        r = s.get(f"{base_url}/nope-{tag}/{i}", timeout=10)
        assert r.status_code in (401, 404), r.status_code
    time.sleep(0.3)
    files = sorted(glob.glob(GW_LOG + ".*"), key=lambda f: -int(f.rsplit(".", 1)[1])) + [GW_LOG]
    rotated = [f for f in files if f != GW_LOG]
    assert 1 <= len(rotated) <= keep, files
    for f in files:
        # a rotation happens on the line that crosses the limit: at most one line over
        assert os.path.getsize(f) < limit + 4096, (f, os.path.getsize(f))
    seen = [d["endpoint"] for d in _request_lines(files) if d["endpoint"].startswith(f"/nope-{tag}/")]
    want = [f"/nope-{tag}/{i}" for i in range(n)]
    assert seen == want, f"{len(seen)} of {n} lines, in order: {seen[:3]}..."  # none lost, none twice
    # the rotation moved stderr too: the live file is the one the process writes now
    r = s.get(f"{base_url}/nope-{tag}/after", timeout=10)
    time.sleep(0.2)
    assert any(d["endpoint"] == f"/nope-{tag}/after" for d in _request_lines([GW_LOG]))


def test_sampled_access_log_keeps_every_error_and_one_success_in_n(base_url, gateway_restored):
    _restart_gateway(base_url, SMS_ACCESS_LOG="sample:10")
    tag = uuid.uuid4().hex[:8]
    start = os.path.getsize(GW_LOG)
    s = requests.Session()
    for i in range(200):
        assert s.get(f"{base_url}/healthz", params={"t": tag}, timeout=10).status_code == 200
    for i in range(15):
        assert s.get(f"{base_url}/nope-{tag}/{i}", timeout=10).status_code in (401, 404)
    time.sleep(0.3)
    with open(GW_LOG, encoding="utf-8") as fh:
        fh.seek(start)
        lines = [json.loads(x) for x in fh if x.startswith("{")]
    reqs = [d for d in lines if d.get("event") == "request"]
    ok = [d for d in reqs if d["endpoint"] == "/healthz"]
    errors = [d for d in reqs if d["endpoint"].startswith(f"/nope-{tag}/")]
    assert len(errors) == 15 and all("sample" not in d for d in errors)
    assert 18 <= len(ok) <= 22, len(ok)  # 1 in 10 of 200 (other clients may share the counter)
    assert all(d["sample"] == 10 for d in ok)
