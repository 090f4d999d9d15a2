"""Honest outcomes for writes (issue 8, section 3), at the gateway.

- Every answer to a write names its command's Idempotency-Key (the client's, or the one the
  gateway generated, which works for a retry); 503/504 problem bodies repeat it.
- Command ids are injective in (sub, key): sub lxN with key y:z and sub lxN:y with key z are
  two commands, not one.
- A key is bound to method, path and body: the same key with another request is 422
  idempotency_key_reused and nothing is done; the same request again gets the first answer.
- A 503 means nothing was done: a failed binding refuses before producing.
- A JSON body nested deeper than the bus carries is 400 at once (field and limit named), at
  any depth, instead of a command no service can unpack and a 504 after 5 s.
- A read script that fails is a 500 internal with the request id, logged with the script's
  error, not a 503 "data store is not reachable".
"""

import json
import os
import re
import time
import uuid

import pytest

from helpers import assert_class, assert_problem, describe, read_events, uniq

PATH = "/lecturer/classes"
MAX_DEPTH = 24  # SMS_JSON_MAX_DEPTH, common/json_msgpack.h
IDEM_PREFIX = "sms:gateway:idem:"
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def _key():
    return f"wo-{uuid.uuid4()}"


def _header_key(r):
    return r.headers.get("Idempotency-Key")


# --------------------------------------------------------------------------- the key on every answer

def test_every_write_answer_names_the_client_key(api):
    key = _key()
    r = api.post(PATH, json={"code": uniq(), "name": "named"}, headers={"Idempotency-Key": key})
    assert r.status_code == 201, describe(r)
    assert _header_key(r) == key, describe(r)
    cid = r.json()["id"]
    k2 = _key()
    r = api.put(f"{PATH}/{cid}", json={"name": "renamed"}, headers={"Idempotency-Key": k2})
    assert r.status_code == 200 and _header_key(r) == k2, describe(r)
    # Failures too: the service's 409, and the gateway's own 400 before any command.
    k3 = _key()
    r = api.post(PATH, json={"code": r.json()["code"], "name": "clash"}, headers={"Idempotency-Key": k3})
    assert_problem(r, 409, "code_taken")
    assert _header_key(r) == k3, describe(r)
    k4 = _key()
    r = api.post(PATH, data=b"{not json", headers={"Idempotency-Key": k4, "Content-Type": "application/json"})
    doc = assert_problem(r, 400, "malformed_json")
    assert _header_key(r) == k4 and doc.get("idempotency_key") == k4, describe(r)
    k5 = _key()
    r = api.delete(f"{PATH}/{cid}", headers={"Idempotency-Key": k5})
    assert r.status_code == 200 and _header_key(r) == k5, describe(r)
    # A read names none.
    r = api.get(f"{PATH}/{cid}", headers={"Idempotency-Key": key})
    assert r.status_code == 200 and _header_key(r) is None, describe(r)


def test_generated_key_is_named_and_retries_safely(api):
    body = {"code": uniq("GEN"), "name": "generated key"}
    r1 = api.post(PATH, json=body)
    assert r1.status_code == 201, describe(r1)
    gen = _header_key(r1)
    assert gen and ULID.match(gen), f"a generated key is a fresh id\n{describe(r1)}"
    # A client that lost this answer retries with the key it names: same class, not a 409.
    r2 = api.post(PATH, json=body, headers={"Idempotency-Key": gen})
    assert r2.status_code in (200, 201), describe(r2)
    assert r2.json() == r1.json() and _header_key(r2) == gen
    assert [c["id"] for c in api.list_all("all")] == [r1.json()["id"]]
    # Two keyless requests get two different keys.
    r3 = api.post(PATH, json={"code": uniq("GEN"), "name": "another"})
    assert r3.status_code == 201 and _header_key(r3) not in (None, gen), describe(r3)


# --------------------------------------------------------------------------- injective command ids

def test_command_ids_do_not_collide_across_users(make_api, kafka_brokers):
    base = f"lx{uuid.uuid4().hex[:8]}"
    a = make_api(base)            # sub lxN,   key y:z
    b = make_api(base + ":y")     # sub lxN:y, key z
    ra = a.post(PATH, json={"code": uniq("A"), "name": "A's class"}, headers={"Idempotency-Key": "y:z"})
    assert ra.status_code == 201, describe(ra)
    rb = b.post(PATH, json={"code": uniq("B"), "name": "B's class"}, headers={"Idempotency-Key": "z"})
    assert rb.status_code == 201, f"B's first command must be new, not A's replay\n{describe(rb)}"
    assert rb.json()["id"] != ra.json()["id"]
    assert_class(rb.json(), lecturer_id=b.sub, name="B's class")
    assert [c["id"] for c in a.list_all("all")] == [ra.json()["id"]]
    assert [c["id"] for c in b.list_all("all")] == [rb.json()["id"]]
    # The causes in the log: ordinary subs keep "<sub>:<key>"; ':' in a sub is escaped.
    ids = {ra.json()["id"], rb.json()["id"]}
    events = read_events(kafka_brokers, ids, until=lambda got: {e["value"]["key"] for e in got} >= ids,
                         timeout=30)
    cause = {e["value"]["key"]: e["value"]["cause"] for e in events if e["value"]["key"] in ids}
    assert cause[ra.json()["id"]] == f"{base}:y:z"
    assert cause[rb.json()["id"]] == f"{base}%3Ay:z"


# --------------------------------------------------------------------------- key bound to its request

def test_same_key_different_body_is_422_and_does_nothing(api):
    key = _key()
    body = {"code": uniq("ONE"), "name": "first"}
    r1 = api.post(PATH, json=body, headers={"Idempotency-Key": key})
    assert r1.status_code == 201, describe(r1)
    r2 = api.post(PATH, json={"code": uniq("TWO"), "name": "second"}, headers={"Idempotency-Key": key})
    doc = assert_problem(r2, 422, "idempotency_key_reused", fields=["Idempotency-Key"])
    assert doc.get("idempotency_key") == key and _header_key(r2) == key, describe(r2)
    assert [c["id"] for c in api.list_all("all")] == [r1.json()["id"]], "a reused key must not create"
    # The first request again: the first answer, byte for byte.
    r3 = api.post(PATH, json=body, headers={"Idempotency-Key": key})
    assert r3.status_code in (200, 201) and r3.json() == r1.json(), describe(r3)
    # Whitespace and formatting are not a different request.
    text = json.dumps(body, indent=4).encode()
    r4 = api.post(PATH, data=text, headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert r4.status_code in (200, 201) and r4.json() == r1.json(), describe(r4)


def test_same_key_other_route_is_422(api):
    key = _key()
    r1 = api.post(PATH, json={"code": uniq(), "name": "orig"}, headers={"Idempotency-Key": key})
    assert r1.status_code == 201, describe(r1)
    cid = r1.json()["id"]
    r2 = api.put(f"{PATH}/{cid}", json={"name": "must not apply"}, headers={"Idempotency-Key": key})
    assert_problem(r2, 422, "idempotency_key_reused", fields=["Idempotency-Key"])
    r3 = api.delete(f"{PATH}/{cid}", headers={"Idempotency-Key": key})
    assert_problem(r3, 422, "idempotency_key_reused")
    assert_class(api.get_class(cid), version=1, name="orig", status="active")


def test_same_key_across_users_is_not_a_reuse(api, make_api):
    key = _key()
    mine = api.post(PATH, json={"code": uniq(), "name": "mine"}, headers={"Idempotency-Key": key})
    theirs = make_api().post(PATH, json={"code": uniq(), "name": "theirs"}, headers={"Idempotency-Key": key})
    assert mine.status_code == 201 and theirs.status_code == 201, describe(theirs)
    assert mine.json()["id"] != theirs.json()["id"]


def test_rejected_request_frees_its_key_for_a_corrected_one(api):
    key = _key()
    r1 = api.post(PATH, json={"code": uniq(), "name": "x", "bogus": 1}, headers={"Idempotency-Key": key})
    assert_problem(r1, 400, "validation", fields=["bogus"])
    assert _header_key(r1) == key
    # The service recorded nothing, so the key is free again.
    r2 = api.post(PATH, json={"code": uniq(), "name": "fixed"}, headers={"Idempotency-Key": key})
    assert r2.status_code == 201, describe(r2)
    r3 = api.post(PATH, json={"code": uniq(), "name": "other"}, headers={"Idempotency-Key": key})
    assert_problem(r3, 422, "idempotency_key_reused")


def test_binding_is_stored_with_a_ttl(api, redis_client):
    key = _key()
    r = api.post(PATH, json={"code": uniq(), "name": "ttl"}, headers={"Idempotency-Key": key})
    assert r.status_code == 201, describe(r)
    rk = f"{IDEM_PREFIX}{api.sub}:{key}"
    assert re.fullmatch(rb"[0-9a-f]{32}", redis_client.get(rk) or b""), "binding holds the fingerprint"
    ttl = redis_client.ttl(rk)
    assert 86000 < ttl <= 86400, f"the binding expires after 24 h, ttl {ttl}"


# --------------------------------------------------------------------------- 503 = nothing done

def test_failed_binding_is_503_and_nothing_is_done(api, redis_client):
    key = _key()
    rk = f"{IDEM_PREFIX}{api.sub}:{key}"
    body = {"code": uniq("NB"), "name": "not bound"}
    redis_client.hset(rk, "not", "a string")  # SET ... GET on a hash: an error reply
    try:
        r = api.post(PATH, json=body, headers={"Idempotency-Key": key})
        doc = assert_problem(r, 503, "unavailable")
        assert doc.get("idempotency_key") == key and _header_key(r) == key, describe(r)
        assert "nothing was done" in doc.get("detail", ""), describe(r)
        assert r.headers.get("Retry-After"), describe(r)
        time.sleep(0.5)
        assert api.list_all("all") == [], "a 503 must mean no command was produced"
    finally:
        redis_client.delete(rk)
    r = api.post(PATH, json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, describe(r)
    assert len(api.list_all("all")) == 1


# --------------------------------------------------------------------------- nesting depth

def _nest(levels):
    """levels nested objects {"a": ... {"a": 1}}."""
    return "".join('{"a":' for _ in range(levels)) + "1" + "}" * levels


def _deep_body(depth):
    """A class body whose deepest object is at `depth` (the body itself is level 1)."""
    return ('{"code":"%s","name":"deep","extra":%s}' % (uniq("D"), _nest(depth - 1))).encode()


def test_body_at_the_limit_reaches_the_service(api):
    t0 = time.monotonic()
    r = api.post(PATH, data=_deep_body(MAX_DEPTH), headers={"Content-Type": "application/json"})
    took = time.monotonic() - t0
    # The classes service decoded the command and refused the unknown field at once
    # (the gateway's depth refusal would name extra.a.a...).
    doc = assert_problem(r, 400, "validation", fields=["extra"])
    assert [e["field"] for e in doc["errors"]] == ["extra"], describe(r)
    assert took < 3, f"answered after {took:.1f}s"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 30, 31, 32, 999, 100000])
def test_body_past_the_limit_is_400_at_the_edge(api, depth):
    key = _key()
    t0 = time.monotonic()
    r = api.post(PATH, data=_deep_body(depth), headers={"Content-Type": "application/json",
                                                        "Idempotency-Key": key})
    took = time.monotonic() - t0
    doc = assert_problem(r, 400, "validation")
    assert took < 3, f"answered after {took:.1f}s"
    (err,) = doc["errors"]
    assert err["field"] == "extra" + ".a" * (MAX_DEPTH - 1), err
    assert str(MAX_DEPTH) in err["message"], err
    assert _header_key(r) == key
    assert api.list_all("all") == []


def test_gateway_still_serves_after_deep_bodies(api):
    for depth in (1000, 5000, 100000):
        r = api.post(PATH, data=b"[" * depth + b"]" * depth, headers={"Content-Type": "application/json"})
        assert_problem(r, 400, "validation")
    api.create()
    assert len(api.list_all("all")) == 1


# --------------------------------------------------------------------------- read script errors

def _gateway_log_lines(request_id):
    run_dir = os.environ.get("SMS_RUN_DIR")
    path = os.path.join(run_dir or "", "logs", "gateway.log")
    if not run_dir or not os.path.exists(path):
        return None
    with open(path, errors="replace") as f:
        return [ln for ln in f if request_id in ln and '"event":"request"' not in ln]


def test_failing_read_script_is_500_with_request_id(api, redis_client):
    """A malformed grade record in the grading view makes the grade sheet's script fail for
    real (num() of a nil score); the answer says so instead of blaming the data store."""
    aid, cls = f"A{uuid.uuid4().hex[:12].upper()}", f"C{uuid.uuid4().hex[:12].upper()}"
    keys = [f"sms:grading:a:{aid}", f"sms:grading:students:{cls}", f"sms:grading:g:{aid}"]
    try:
        redis_client.hset(keys[0], mapping={"lecturer_id": api.sub, "class_id": cls})
        redis_client.zadd(keys[1], {"s1": 0})
        redis_client.hset(keys[2], "s1", "not a grade record")
        rid = f"wo-script-{uuid.uuid4().hex[:8]}"
        r = api.get(f"/lecturer/assignments/{aid}/grades", headers={"X-Request-Id": rid})
        doc = assert_problem(r, 500, "internal")
        assert doc.get("request_id") == rid and r.headers.get("X-Request-Id") == rid, describe(r)
        assert "not reachable" not in doc.get("detail", ""), describe(r)
        lines = _gateway_log_lines(rid)
        if lines is not None:
            assert any("read_script_failed" in ln and "user_script" in ln for ln in lines), \
                f"the script's error is logged with the request id: {lines}"
    finally:
        redis_client.delete(*keys)
    # The same read on a sound view is fine again: no lasting harm.
    r = api.get(f"/lecturer/assignments/{aid}/grades")
    assert_problem(r, 404, "not_found")


def test_wrong_type_in_a_view_is_500_not_503(api, redis_client):
    aid = f"A{uuid.uuid4().hex[:12].upper()}"
    k = f"sms:grading:a:{aid}"
    try:
        redis_client.set(k, "a string where a hash belongs")
        r = api.get(f"/lecturer/assignments/{aid}/grades/s1/history")
        assert_problem(r, 500, "internal")
    finally:
        redis_client.delete(k)
