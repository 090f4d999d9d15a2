"""Upload holes of issue 12 §2 and the storage quotas of §1: a PUT is bound by its signed
URL's expiry and by SMS_UPLOAD_DEADLINE_S however steadily a slow client trickles bytes
(real slow clients over raw sockets), and leaves nothing behind when cut off."""

import os
import select
import time

import pytest

from helpers import RawHttp, env_int
from test_uploads import files_of, new_upload, put, student, uploads_dir  # noqa: F401

DEADLINE_S = env_int("SMS_UPLOAD_DEADLINE_S", 300)


def _trickle(base_url, url, size, interval_s, give_up_s):
    """PUTs url with Content-Length size, one byte every interval_s, until the gateway
    answers or give_up_s pass. Returns (response, seconds until it came, bytes sent)."""
    with RawHttp(base_url, timeout=give_up_s + 10) as c:
        c.send(f"PUT {url} HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n".encode())
        start = time.monotonic()
        sent = 0
        while sent < size and time.monotonic() - start < give_up_s:
            ready, _, _ = select.select([c.sock], [], [], interval_s)
            if ready:
                break  # the answer (or the close) is there
            try:
                c.send(b"x")
                sent += 1
            except (BrokenPipeError, ConnectionResetError):
                break
        return c.read_response(), time.monotonic() - start, sent


def _assert_timed_out(r):
    assert r.status == 408, r
    assert r.json()["type"] == "https://sms.example/problems/request_timeout", r


def test_a_trickling_put_is_cut_off_at_the_urls_expiry(base_url, student):
    up = new_upload(student, 1000, ttl_s=2)
    r, took, sent = _trickle(base_url, up["upload_url"], 1000, 0.5, give_up_s=20)
    _assert_timed_out(r)
    assert took < 4, f"answered after {took:.1f} s, {sent} bytes: the URL's expiry (2 s) did not bind"
    if uploads_dir():
        deadline = time.monotonic() + 5
        while files_of(up["upload_id"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert files_of(up["upload_id"]) == [], "a cut-off upload left files behind"


@pytest.mark.skipif(DEADLINE_S > 30, reason="needs a short SMS_UPLOAD_DEADLINE_S (tests/run sets 8)")
def test_a_trickling_put_is_cut_off_at_the_whole_transfer_deadline(base_url, student):
    """A byte a second keeps the per-read timeout (SMS_HEADER_TIMEOUT_MS) happy forever;
    the whole-transfer deadline does not move."""
    up = new_upload(student, 1000)  # the URL lives SMS_UPLOAD_TTL_S (900 s)
    r, took, sent = _trickle(base_url, up["upload_url"], 1000, 1.0, give_up_s=DEADLINE_S + 20)
    _assert_timed_out(r)
    assert DEADLINE_S - 1.5 < took < DEADLINE_S + 3, f"answered after {took:.1f} s ({sent} bytes)"
    # The URL itself is still good for a prompt upload.
    assert put(base_url, up["upload_url"], os.urandom(1000)).status_code == 200


# ----------------------------------------------------------------------------- quota

QUOTA = env_int("SMS_UPLOAD_QUOTA_BYTES", 1 << 30)


@pytest.mark.skipif(QUOTA > 64 * 1024 * 1024, reason="needs a small SMS_UPLOAD_QUOTA_BYTES (tests/run sets 30 MiB)")
def test_the_per_user_upload_quota_is_413_upload_quota_exceeded(base_url, student, make_api):
    big = 20 * 1024 * 1024
    up = new_upload(student, big, filename="big.bin", content_type="application/octet-stream")
    assert put(base_url, up["upload_url"], os.urandom(big)).status_code == 200
    left = QUOTA - big
    r = student.post("/student/uploads", json={"filename": "more.bin", "content_type": "application/octet-stream",
                                                "size": left + 1})
    assert r.status_code == 413, r.text
    doc = r.json()
    assert doc["type"] == "https://sms.example/problems/upload_quota_exceeded", doc
    assert [e["field"] for e in doc["errors"]] == ["size"], doc
    new_upload(student, left)  # what is left still fits
    # The quota is per user: another student is not affected.
    other = make_api(sub=f"stu-q-{time.time_ns()}", role="student")
    new_upload(other, left + 1)


# ----------------------------------------------------------------------------- storage full

def _gateway_log():
    run_dir = os.environ.get("SMS_RUN_DIR")
    path = os.path.join(run_dir, "logs", "gateway.log") if run_dir else None
    if not path or not os.path.exists(path):
        pytest.skip("SMS_RUN_DIR/logs/gateway.log is not there (tests/run provides it)")
    with open(path, errors="replace") as f:
        return f.read()


def test_redis_runs_with_maxmemory_and_noeviction(redis_client):
    assert redis_client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    assert int(redis_client.config_get("maxmemory")["maxmemory"]) > 0


def test_a_full_redis_refuses_writes_with_503_and_an_alert_upload_urls_still_work(redis_client, api, student):
    before = redis_client.config_get("maxmemory")["maxmemory"]
    logged = _gateway_log().count('"redis_oom"')
    key = {"Idempotency-Key": f"oom-{time.time_ns()}"}  # a keyed write binds its key in Redis first
    redis_client.config_set("maxmemory", "1")  # already past it: every write is refused
    try:
        r = api.post("/lecturer/classes", json={"code": "OOM1", "name": "Full", "term": "2026-fall"}, headers=key)
        assert r.status_code == 503, r.text
        assert r.json()["type"] == "https://sms.example/problems/unavailable", r.text
        # Signing an upload URL needs no Redis write.
        new_upload(student, 10)
    finally:
        redis_client.config_set("maxmemory", before)
    assert _gateway_log().count('"redis_oom"') > logged, "no redis_oom alert in the gateway's log"
    r = api.post("/lecturer/classes", json={"code": "OOM1", "name": "Full", "term": "2026-fall"}, headers=key)
    assert r.status_code == 201, r.text  # nothing was done before: the same class can be made now


def test_a_full_disk_answers_507_to_an_upload(base_url, student):
    d = uploads_dir()
    if not d or os.geteuid() != 0:
        pytest.skip("needs SMS_DATA_DIR and root (mounts a 1 MiB tmpfs over the upload directory)")
    import subprocess
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        up = new_upload(student, 2 * 1024 * 1024)
        r = put(base_url, up["upload_url"], os.urandom(2 * 1024 * 1024))
        assert r.status_code == 507, r.text
        assert r.json()["type"] == "https://sms.example/problems/insufficient_storage", r.text
        deadline = time.monotonic() + 5
        while files_of(up["upload_id"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert files_of(up["upload_id"]) == [], "a refused upload left files behind"
    finally:
        if subprocess.run(["umount", d]).returncode != 0:
            subprocess.run(["umount", "-l", d])
    assert '"blobstore_full"' in _gateway_log()


# ----------------------------------------------------------------------------- unattached uploads expire

ATTACH_TTL_S = 4


@pytest.fixture
def short_attach_ttl(ctl, base_url):
    """sms-assignments (the expiry scan) and the gateway (the pruning of the bytes) restarted
    with SMS_UPLOAD_ATTACH_TTL_S=4 for one test, then restarted again as they were."""
    from helpers import wait_ready
    old = os.environ.get("SMS_UPLOAD_ATTACH_TTL_S")
    os.environ["SMS_UPLOAD_ATTACH_TTL_S"] = str(ATTACH_TTL_S)
    try:
        ctl("restart", "assignments", timeout=120)
        ctl("restart", "gateway", timeout=120)
        wait_ready(base_url, timeout=60)
        yield
    finally:
        if old is None:
            os.environ.pop("SMS_UPLOAD_ATTACH_TTL_S", None)
        else:
            os.environ["SMS_UPLOAD_ATTACH_TTL_S"] = old
        ctl("restart", "assignments", timeout=120)
        ctl("restart", "gateway", timeout=120)
        wait_ready(base_url, timeout=60)


@pytest.mark.disruptive
@pytest.mark.slow
def test_an_unattached_upload_expires_and_its_bytes_go_an_attached_one_stays(short_attach_ttl, make_api, base_url,
                                                                             kafka_brokers, redis_client):
    from helpers import assert_problem, read_events
    from test_submissions import _assignment, _enroll, _sid, _submit, _upload
    lec = make_api()
    cid = lec.create()["id"]
    aid = _assignment(lec, cid)["id"]
    stu = make_api(_sid(), role="student")
    _enroll(lec, cid, [stu.sub])
    kept = _upload(stu, b"kept bytes")
    _submit(stu, aid, upload_ids=[kept])
    lost = _upload(stu, b"lost!")
    assert int(redis_client.hget("sms:assignments:ubytes", stu.sub)) == len(b"kept bytes") + len(b"lost!")
    evs = read_events(kafka_brokers, [lost], until=lambda got: any(e["value"]["type"] == "upload.expired" for e in got),
                      timeout=ATTACH_TTL_S + 30, topic="sms.events.assignments")
    expired = [e["value"] for e in evs if e["value"]["type"] == "upload.expired"]
    assert len(expired) == 1 and expired[0]["data"]["student_id"] == stu.sub, expired
    assert expired[0]["data"]["size"] == len(b"lost!") and expired[0]["actor"] == "system"
    # The view let it go: it cannot be attached, and its bytes no longer count.
    r = _submit(stu, aid, expect=422, upload_ids=[lost])
    assert_problem(r, 422, "invalid_uploads", fields=["upload_ids[0]"])
    assert int(redis_client.hget("sms:assignments:ubytes", stu.sub)) == len(b"kept bytes")
    if uploads_dir():
        deadline = time.monotonic() + ATTACH_TTL_S + 30
        while files_of(lost) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert files_of(lost) == [], "the expired upload's bytes are still stored"
        assert files_of(kept) == [f"{kept}.bin", f"{kept}.json"], files_of(kept)
