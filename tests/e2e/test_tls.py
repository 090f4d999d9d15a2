"""HTTPS in front of the gateway (issue 12 §1): deploy/tls generates a local CA and a server
certificate with openssl, renders deploy/nginx/sms-tls.conf.in and starts nginx on a free
loopback port; requests go over TLS verified against that CA, an unverified client is refused,
HSTS is set, and a Server-Sent Events stream's bytes pass the proxy as they are written."""

import os
import pathlib
import socket
import ssl
import subprocess
import time
import urllib.parse

import pytest
import requests

from helpers import Api, assert_json

REPO = pathlib.Path(__file__).resolve().parents[2]
TLS = REPO / "deploy" / "tls"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls_front(base_url, tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    env = dict(os.environ, SMS_TLS_DIR=str(d / "tls"), SMS_TLS_PORT=str(_free_port()),
               SMS_HTTP_PORT=str(urllib.parse.urlsplit(base_url).port))
    r = subprocess.run([str(TLS), "start"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    url = f"https://127.0.0.1:{env['SMS_TLS_PORT']}"
    try:
        yield url, str(d / "tls" / "ca.pem")
    finally:
        subprocess.run([str(TLS), "stop"], env=env, capture_output=True, timeout=30)


def test_https_verified_against_the_generated_ca(tls_front):
    url, ca = tls_front
    r = requests.get(url + "/healthz", verify=ca, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Strict-Transport-Security"].startswith("max-age="), r.headers
    # Really TLS, with this certificate: the handshake names TLS 1.2+ and the SAN 127.0.0.1.
    ctx = ssl.create_default_context(cafile=ca)
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    with socket.create_connection((host, port), timeout=10) as raw, ctx.wrap_socket(raw, server_hostname=host) as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")
        assert ("IP Address", "127.0.0.1") in s.getpeercert()["subjectAltName"]


def test_a_client_without_the_ca_is_refused(tls_front):
    url, _ = tls_front
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url + "/healthz", timeout=10)  # the system store does not know our CA


def test_authenticated_write_and_read_over_https(tls_front, mint):
    url, ca = tls_front
    sub = f"lec-tls-{time.time_ns()}"
    api = Api(url, mint(sub, "lecturer"), sub=sub, role="lecturer")
    api.session.verify = ca
    api.session.trust_env = False  # else REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override session.verify
    try:
        c = api.create(headers={"Idempotency-Key": f"tls-{time.time_ns()}"})
        got = assert_json(api.get(f"/lecturer/classes/{c['id']}"), 200)
        assert got["id"] == c["id"] and got["code"] == c["code"]
    finally:
        api.session.close()


def test_an_sse_stream_is_not_buffered_by_the_proxy(tls_front, mint):
    """The gateway sends a heartbeat comment every SMS_SSE_HEARTBEAT_MS (tests/run: 1 s);
    it must reach the client through nginx while the stream is still open."""
    url, ca = tls_front
    heartbeat_ms = int(os.environ.get("SMS_SSE_HEARTBEAT_MS", "15000"))
    if heartbeat_ms > 5000:
        pytest.skip("needs a short SMS_SSE_HEARTBEAT_MS (tests/run sets 1000)")
    token = mint(f"s-tls-{time.time_ns()}", "student")
    with requests.get(url + "/me/notifications/stream", headers={"Authorization": f"Bearer {token}",
                                                                  "Accept": "text/event-stream"},
                      verify=ca, stream=True, timeout=10) as r:
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "text/event-stream"
        start, seen = time.monotonic(), b""
        for chunk in r.iter_content(chunk_size=None):
            seen += chunk
            if b": heartbeat" in seen:
                break
            assert time.monotonic() - start < 3 * heartbeat_ms / 1000 + 2, f"no heartbeat through nginx: {seen!r}"
        assert b": heartbeat" in seen
