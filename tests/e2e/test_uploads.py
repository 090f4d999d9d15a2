"""File uploads and downloads through signed URLs, the seed's S3 presigned URLs served by
the gateway: POST /student/uploads mints an upload URL, PUT streams the bytes to the data
directory, GET /files/{id} streams them back. The bytes and their SHA-256 survive the round
trip, the gateway's memory does not grow with the file, and every misuse of a URL is refused.

Download URLs are minted here the way the gateway does (gw_files_download_url): the message
layout is in common/signed_url.h and the key is derived from SMS_JWT_SECRET unless
SMS_UPLOAD_SECRET is set (common/config.c)."""

import hashlib
import hmac
import json
import os
import socket
import struct
import time
import urllib.parse
import uuid

import pytest
import requests

from helpers import HTTP_TIMEOUT, RFC3339_MS, RawHttp, assert_problem, describe, env_int, rfc3339_to_ms

UPLOAD_KEY_LABEL = b"sms upload url signing key v1"
MIB = 1024 * 1024
ULID_CHARS = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


@pytest.fixture(scope="module")
def upload_key(jwt_secret):
    explicit = os.environ.get("SMS_UPLOAD_SECRET")
    if explicit:
        return explicit.encode()
    return hmac.new(jwt_secret.encode(), UPLOAD_KEY_LABEL, hashlib.sha256).hexdigest().encode()


@pytest.fixture(scope="module")
def upload_limit():
    return env_int("SMS_UPLOAD_LIMIT", 26214400)


@pytest.fixture
def student(make_api):
    return make_api(sub=f"stu-{uuid.uuid4().hex[:8]}", role="student")


def sign(key, method, path, expires, size=None, bound=""):
    msg = f"sms-url-v1\n{method}\n{path}\n{expires}\n{'' if size is None else size}\n{bound}"
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


def download_url(key, upload_id, expires=None):
    expires = int(time.time()) + 300 if expires is None else expires
    path = f"/files/{upload_id}"
    return f"{path}?expires={expires}&sig={sign(key, 'GET', path, expires)}"


def new_upload(student, size, filename="essay.pdf", content_type="application/pdf", **extra):
    body = {"filename": filename, "content_type": content_type, "size": size, **extra}
    r = student.post("/student/uploads", json=body)
    assert r.status_code == 201, describe(r)
    doc = r.json()
    assert set(doc) == {"upload_id", "upload_url", "expires_at"}, describe(r)
    return doc


def put(base_url, url, data, headers=None):
    """The upload PUT carries no token: the URL is the authorization."""
    return requests.put(base_url + url, data=data, headers=headers or {}, timeout=HTTP_TIMEOUT)


def with_param(url, name, value):
    """url with one query parameter replaced (value already as it should appear)."""
    path, _, query = url.partition("?")
    pairs = [p.split("=", 1) for p in query.split("&")]
    return path + "?" + "&".join(f"{k}={value if k == name else v}" for k, v in pairs)


def raw_put_head(base_url, url, content_length=None, extra=""):
    """Sends only the head of a PUT and reads the answer (given before any body byte)."""
    head = f"PUT {url} HTTP/1.1\r\nHost: t\r\n"
    if content_length is not None:
        head += f"Content-Length: {content_length}\r\n"
    with RawHttp(base_url) as c:
        c.send((head + extra + "\r\n").encode("latin-1"))
        return c.read_response()


def raw_problem(r, status, code):
    assert r.status == status, r
    assert r.headers.get("content-type", "").startswith("application/problem+json"), r
    doc = r.json()
    assert doc["type"] == "https://sms.example/problems/" + code, r
    return doc


def uploads_dir():
    d = os.environ.get("SMS_DATA_DIR")
    return os.path.join(d, "uploads") if d else None


def files_of(upload_id):
    d = uploads_dir()
    return sorted(f for f in os.listdir(d) if f.startswith(upload_id)) if d and os.path.isdir(d) else []


# ----------------------------------------------------------------------------- the round trip

def test_upload_and_download_roundtrip(base_url, student, upload_key):
    data = os.urandom(3 * MIB + 123)
    t0 = int(time.time())
    r = student.post("/student/uploads",
                     json={"filename": "essay.pdf", "content_type": "application/pdf", "size": len(data)})
    assert r.status_code == 201, describe(r)
    assert "no-store" in r.headers.get("Cache-Control", ""), describe(r)
    up = r.json()
    uid = up["upload_id"]
    assert len(uid) == 26 and set(uid) <= ULID_CHARS, up
    assert up["upload_url"].startswith(f"/uploads/{uid}?"), up
    assert RFC3339_MS.match(up["expires_at"]), up
    assert abs(rfc3339_to_ms(up["expires_at"]) // 1000 - (t0 + 900)) <= 5, up  # SMS_UPLOAD_TTL_S

    r = put(base_url, up["upload_url"], data)
    assert r.status_code == 200, describe(r)
    done = r.json()
    assert done == {"upload_id": uid, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                    "content_type": "application/pdf", "filename": "essay.pdf"}, describe(r)

    if uploads_dir():  # the metadata sidecar next to the blob, and nothing else
        assert files_of(uid) == [f"{uid}.bin", f"{uid}.json"]
        with open(os.path.join(uploads_dir(), f"{uid}.json")) as f:
            meta = json.load(f)
        assert {k: meta[k] for k in done} == done and meta["owner"] == student.sub, meta
        assert os.path.getsize(os.path.join(uploads_dir(), f"{uid}.bin")) == len(data)

    url = download_url(upload_key, uid)
    r = requests.get(base_url + url, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, describe(r)
    assert r.content == data, f"downloaded {len(r.content)} bytes differ from the {len(data)} uploaded"
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Length"] == str(len(data))
    assert r.headers["Content-Disposition"] == 'attachment; filename="essay.pdf"'
    assert r.headers["X-Content-Type-Options"] == "nosniff"

    r = requests.head(base_url + url, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.headers["Content-Length"] == str(len(data)) and r.content == b""


def test_download_escapes_the_file_name(base_url, student, upload_key):
    name = 'na\u00efve "draft" \\ v2.txt'
    up = new_upload(student, 5, filename=name, content_type="text/plain; charset=utf-8")
    r = put(base_url, up["upload_url"], b"hello")
    assert r.status_code == 200 and r.json()["filename"] == name, describe(r)
    r = requests.get(base_url + download_url(upload_key, up["upload_id"]), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.content == b"hello", describe(r)
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["Content-Disposition"] == (
        'attachment; filename="na__ve \\"draft\\" \\\\ v2.txt"; '
        "filename*=UTF-8''" + urllib.parse.quote(name, safe="-._~")), r.headers


def test_reput_of_a_completed_upload_is_409(base_url, student):
    up = new_upload(student, 1000)
    assert put(base_url, up["upload_url"], os.urandom(1000)).status_code == 200
    r = raw_put_head(base_url, up["upload_url"], 1000)
    raw_problem(r, 409, "upload_exists")
    assert r.headers.get("connection") == "close", r  # the body was never read


# ----------------------------------------------------------------------------- refusals

def test_only_students_may_ask_for_upload_urls(make_api, anon):
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 10}
    for role in ("lecturer", "admin"):
        assert_problem(make_api(role=role).post("/student/uploads", json=body), 403, "forbidden")
    assert_problem(anon.post("/student/uploads", json=body), 401, "unauthorized")


@pytest.mark.parametrize("field,value", [
    ("filename", None), ("filename", ""), ("filename", "a/b.pdf"), ("filename", "a\u0001b"),
    ("filename", "a\u0000b"), ("filename", "x" * 256), ("filename", 7),
    ("content_type", None), ("content_type", "pdf"), ("content_type", "text/plain\r\nX-A: b"),
    ("content_type", "a/" + "b" * 130), ("content_type", "text/plain; charset"),
    ("size", None), ("size", 0), ("size", -5), ("size", 1.5), ("size", "10"),
    ("ttl_s", 0), ("ttl_s", 10 ** 6), ("color", "red"),
])
def test_upload_request_validation(student, field, value):
    body = {"filename": "ok.pdf", "content_type": "application/pdf", "size": 10}
    if value is None:
        del body[field]
    else:
        body[field] = value
    assert_problem(student.post("/student/uploads", json=body), 400, "validation", fields=[field])


def test_filename_limits_count_characters(student):
    new_upload(student, 10, filename="\u00e9" * 255)  # 510 bytes, 255 characters: fine


def test_oversize(base_url, student, upload_limit):
    # Refused when the URL is asked for ...
    r = student.post("/student/uploads",
                     json={"filename": "big.bin", "content_type": "application/octet-stream",
                           "size": upload_limit + 1})
    assert_problem(r, 413, "payload_too_large", fields=["size"])
    # ... and when the PUT is bigger than the size the URL was signed for (on the head alone).
    up = new_upload(student, 1000)
    raw_problem(raw_put_head(base_url, up["upload_url"], 1001), 413, "payload_too_large")
    raw_problem(raw_put_head(base_url, up["upload_url"], 999), 400, "validation")
    raw_problem(raw_put_head(base_url, up["upload_url"], None, "Transfer-Encoding: chunked\r\n"),
                411, "length_required")
    # None of that used the URL up.
    r = put(base_url, up["upload_url"], os.urandom(1000))
    assert r.status_code == 200, describe(r)


def test_tampered_urls_are_403(base_url, student, upload_key):
    up = new_upload(student, 16)
    url, uid = up["upload_url"], up["upload_id"]
    data = os.urandom(16)
    sig = urllib.parse.parse_qs(url.split("?", 1)[1])["sig"][0]
    other = "0" * 26
    tampered = [
        with_param(url, "sig", sig[:-1] + ("0" if sig[-1] != "0" else "1")),
        with_param(url, "sig", sig[:40]),
        with_param(url, "sig", ""),
        url.replace(f"&sig={sig}", ""),
        with_param(url, "expires", str(int(time.time()) + 86400)),
        with_param(url, "name", "other.pdf"),
        with_param(url, "type", "text%2Fhtml"),
        with_param(url, "user", "stu-someone-else"),
        url.replace(f"/uploads/{uid}", f"/uploads/{other}"),
    ]
    for t in tampered:
        assert_problem(put(base_url, t, data), 403, "bad_signature")
    # The size is signed too: claiming another one fails even with a matching body.
    assert_problem(put(base_url, with_param(url, "size", "17"), data + b"x"), 403, "bad_signature")
    # The untouched URL still works.
    assert put(base_url, url, data).status_code == 200

    good = download_url(upload_key, uid)
    dsig = urllib.parse.parse_qs(good.split("?", 1)[1])["sig"][0]
    for t in (with_param(good, "sig", dsig[::-1]), with_param(good, "expires", str(int(time.time()) + 9000)),
              good.replace(uid, other)):
        r = requests.get(base_url + t, timeout=HTTP_TIMEOUT)
        assert_problem(r, 403, "bad_signature")
    # An upload URL is no download URL (the method is signed).
    r = requests.get(base_url + url.replace("/uploads/", "/files/"), timeout=HTTP_TIMEOUT)
    assert_problem(r, 403, "bad_signature")
    assert requests.get(base_url + good, timeout=HTTP_TIMEOUT).content == data


def test_expired_urls_are_403(base_url, student, upload_key):
    # A URL minted with a 1 s lifetime (ttl_s is capped by SMS_UPLOAD_TTL_S) ...
    up = new_upload(student, 8, ttl_s=1)
    assert rfc3339_to_ms(up["expires_at"]) - time.time() * 1000 <= 1500, up
    time.sleep(2.2)
    assert_problem(put(base_url, up["upload_url"], b"12345678"), 403, "url_expired")
    # ... and download URLs signed for a moment in the past: genuine ones say "expired",
    # forged ones only "bad signature".
    up = new_upload(student, 8)
    assert put(base_url, up["upload_url"], b"12345678").status_code == 200
    past = int(time.time()) - 5
    r = requests.get(base_url + download_url(upload_key, up["upload_id"], expires=past), timeout=HTTP_TIMEOUT)
    assert_problem(r, 403, "url_expired")
    r = requests.get(f"{base_url}/files/{up['upload_id']}?expires={past}&sig={'ab' * 32}", timeout=HTTP_TIMEOUT)
    assert_problem(r, 403, "bad_signature")


def test_unknown_file_is_404(base_url, upload_key):
    r = requests.get(base_url + download_url(upload_key, "01ARZ3NDEKTSV4RRFFQ69G5FAV"), timeout=HTTP_TIMEOUT)
    assert_problem(r, 404, "not_found")


def test_aborted_upload_leaves_nothing_behind(base_url, student):
    if not uploads_dir():
        pytest.skip("SMS_DATA_DIR is not set")
    up = new_upload(student, 2 * MIB)
    with RawHttp(base_url) as c:
        c.send(f"PUT {up['upload_url']} HTTP/1.1\r\nHost: t\r\nContent-Length: {2 * MIB}\r\n\r\n".encode()
               + os.urandom(MIB))
        deadline = time.monotonic() + 5
        while files_of(up["upload_id"]) != [f"{up['upload_id']}.part"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert files_of(up["upload_id"]) == [f"{up['upload_id']}.part"]
        # A reset, not a FIN: the client is gone.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    deadline = time.monotonic() + 5
    while files_of(up["upload_id"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert files_of(up["upload_id"]) == [], "an aborted upload left files behind"
    # The URL is still good for a complete upload.
    assert put(base_url, up["upload_url"], os.urandom(2 * MIB)).status_code == 200


# ----------------------------------------------------------------------------- streaming

def _gateway_rss_kib():
    run_dir = os.environ.get("SMS_RUN_DIR")
    if not run_dir or not os.path.exists(os.path.join(run_dir, "gateway.pid")):
        pytest.skip("SMS_RUN_DIR/gateway.pid is not there (tests/run provides it)")
    with open(os.path.join(run_dir, "gateway.pid")) as f:
        pid = f.read().strip()
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/<gateway>/status")


@pytest.mark.slow
def test_gateway_memory_does_not_grow_with_the_file(base_url, student):
    size = 20 * MIB
    data = os.urandom(size)
    # Warm up once, so buffers that are allocated on first use are not counted.
    warm = new_upload(student, MIB)
    assert put(base_url, warm["upload_url"], data[:MIB]).status_code == 200
    up = new_upload(student, size, filename="big.bin", content_type="application/octet-stream")
    before = _gateway_rss_kib()
    peak = before
    with RawHttp(base_url, timeout=60) as c:
        c.send(f"PUT {up['upload_url']} HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n".encode())
        for off in range(0, size, MIB):
            c.send(data[off:off + MIB])
            peak = max(peak, _gateway_rss_kib())
        r = c.read_response()
    after = _gateway_rss_kib()
    assert r.status == 200, r
    assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()
    growth = (max(peak, after) - before) / 1024
    print(f"gateway RSS {before} KiB before, peak {peak}, after {after} ({growth:.1f} MiB growth)")
    assert growth < 6, f"the gateway's RSS grew by {growth:.1f} MiB during a 20 MiB upload"
