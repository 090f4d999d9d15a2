"""Backup and restore of the record (issue 13, section 4): `deploy/ctl backup DIR` copies the
Kafka log dir, the upload store and the JWT secret (the broker stopped for the copy);
`deploy/ctl restore DIR` puts them into fresh, stopped servers: a new run dir with its own
ports, Redis empty. Once started, the fresh services rebuild their views from the restored log,
and those views must be identical (`sms-admin checksum-views` equal to the original's), the
same class reads the same through the fresh gateway with the same token, and an uploaded
file downloads byte for byte. A damaged backup is refused.
"""

import hashlib
import hmac
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest
import requests

from helpers import Api, describe, new_lecturer_id, uniq, wait_ready

pytestmark = [pytest.mark.disruptive, pytest.mark.slow, pytest.mark.drill]

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KAFKA_START_TIMEOUT_S = "150"  # a broker start took 22-60+ s at load average ~24 here
UPLOAD_KEY_LABEL = b"sms upload url signing key v1"


def _run(cmd, env, timeout=300):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def _checksums(env):
    out = _run([os.path.join(env["SMS_BIN_DIR"], "sms-admin"), "checksum-views"], env, timeout=60).stdout
    return {ln.split()[0]: (ln.split()[1], int(ln.split()[2])) for ln in out.splitlines() if ln.strip()}


def _signed_download(secret, upload_id):
    key = hmac.new(secret.encode(), UPLOAD_KEY_LABEL, hashlib.sha256).hexdigest().encode()
    expires = int(time.time()) + 300
    path = f"/files/{upload_id}"
    msg = f"sms-url-v1\nGET\n{path}\n{expires}\n\n"
    return f"{path}?expires={expires}&sig={hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()}"


@pytest.fixture(scope="module")
def restored(base_url, mint, admin, ctl, jwt_secret):
    # Something of every kind: a class with a roster, an assignment, a grade, an upload.
    sub = new_lecturer_id()
    api = Api(base_url, mint(sub), sub=sub)
    cls = api.create(code=uniq("BK"), name="backed up ✓")
    sid = f"stu-{uuid.uuid4().hex[:8]}"
    r = api.post(f"/lecturer/classes/{cls['id']}/students",
                 json={"students": [{"student_id": sid, "name": "Back Up", "email": f"{sid}@school.edu"}]})
    assert r.status_code == 200, describe(r)
    r = api.post("/lecturer/assignments", json={"class_id": cls["id"], "title": "kept", "max_score": 100,
                                                "due_at": "2030-01-01T00:00:00Z"})
    assert r.status_code == 201, describe(r)
    aid = r.json()["id"]
    r = api.post(f"/lecturer/assignments/{aid}/update-grades",
                 json={"grades": [{"student_id": sid, "score": 87.5, "feedback": "restored?"}]})
    assert r.status_code == 200, describe(r)
    student = Api(base_url, mint(sid, "student"), sub=sid, role="student")
    data = os.urandom(200_000)
    r = student.post("/student/uploads", json={"filename": "kept.bin", "content_type": "application/octet-stream",
                                               "size": len(data)})
    assert r.status_code == 201, describe(r)
    up = r.json()
    r = requests.put(base_url + up["upload_url"], data=data, timeout=30)
    assert r.status_code == 200, describe(r)
    class_body = api.get_class(cls["id"])
    reference = admin.stable_checksums()

    work = tempfile.mkdtemp(prefix="sms-backup-test-")
    backup = os.path.join(work, "backup")
    env = dict(os.environ, SMS_KAFKA_START_TIMEOUT=KAFKA_START_TIMEOUT_S)
    ctl_path = os.environ["SMS_CTL"]
    fresh_env = None
    try:
        t0 = time.monotonic()
        _run([ctl_path, "backup", backup], env, timeout=400)
        backup_s = time.monotonic() - t0
        wait_ready(base_url, timeout=120)

        ports = _run([os.path.join(REPO, "tests", "lib", "free-ports"), "5"], env).stdout.split()
        run_dir = os.path.join(work, "fresh")
        fresh_env = dict(env, SMS_RUN_DIR=run_dir, SMS_DATA_DIR=os.path.join(run_dir, "data"),
                         SMS_REDIS_PORT=ports[0], SMS_KAFKA_PORT=ports[1], SMS_KAFKA_CONTROLLER_PORT=ports[2],
                         SMS_HTTP_PORT=ports[3], SMS_SMTP_PORT=ports[4],
                         SMS_KAFKA_BROKERS=f"127.0.0.1:{ports[1]}", SMS_BASE_URL=f"http://127.0.0.1:{ports[3]}")
        fresh_env.pop("SMS_SMTP_URL", None)
        fresh_env.pop("SMS_DOCS_DIR", None)

        damaged = os.path.join(work, "damaged")
        shutil.copytree(backup, damaged)
        with open(os.path.join(damaged, "jwt_secret"), "a") as f:
            f.write("x")
        p = subprocess.run([ctl_path, "restore", damaged], capture_output=True, text=True, timeout=60, env=fresh_env)
        refused_damaged = p.returncode != 0 and "damaged" in p.stderr

        t0 = time.monotonic()
        _run([ctl_path, "restore", backup], fresh_env)
        for step in (["start-redis"], ["start-kafka"], ["start-mail-sink"], ["start-services"], ["wait-ready", "180"]):
            _run([ctl_path, *step], fresh_env, timeout=400)
        deadline = time.monotonic() + 120
        fresh = _checksums(fresh_env)
        while fresh != reference and time.monotonic() < deadline:
            time.sleep(0.5)
            fresh = _checksums(fresh_env)
        restore_s = time.monotonic() - t0

        fresh_url = fresh_env["SMS_BASE_URL"]
        fresh_api = Api(fresh_url, mint(sub), sub=sub)
        fresh_class = fresh_api.get(f"/lecturer/classes/{cls['id']}")
        download = requests.get(fresh_url + _signed_download(jwt_secret, up["upload_id"]), timeout=30)
        print(f"\nbackup {backup_s:.1f} s ({sum(1 for _ in open(os.path.join(backup, 'SHA256SUMS')))} files); "
              f"restore into fresh servers until the checksums match {restore_s:.1f} s")
        yield {"reference": reference, "fresh": fresh, "class": class_body, "fresh_class": fresh_class,
               "data": data, "download": download, "refused_damaged": refused_damaged, "damaged_out": p}
    finally:
        if fresh_env is not None:
            subprocess.run([ctl_path, "stop-all"], capture_output=True, timeout=300, env=fresh_env)
        shutil.rmtree(work, ignore_errors=True)


def test_restored_views_are_identical(restored):
    assert restored["fresh"] == restored["reference"], (
        f"views rebuilt from the restored log differ: {restored['fresh']} != {restored['reference']}")


def test_restored_gateway_answers_the_same_with_the_same_token(restored):
    r = restored["fresh_class"]
    assert r.status_code == 200, describe(r)
    assert r.json() == restored["class"]


def test_restored_upload_downloads_byte_for_byte(restored):
    r = restored["download"]
    assert r.status_code == 200, describe(r)
    assert r.content == restored["data"], f"{len(r.content)} bytes, not the {len(restored['data'])} uploaded"


def test_a_damaged_backup_is_refused(restored):
    p = restored["damaged_out"]
    assert restored["refused_damaged"], f"restore of a damaged backup: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
