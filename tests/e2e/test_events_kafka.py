"""Events on sms.events.classes: msgpack envelope, Kafka key and headers, data = the class."""

import os
import uuid

from helpers import EVENT_KEYS, CLASS_FIELDS, describe, now_ms, read_events, rfc3339_to_ms, uniq

PATH = "/lecturer/classes"
ENVELOPE_TYPES = {"id": str, "type": str, "v": int, "time": int, "actor": str, "key": str,
                  "cause": str, "data": dict}
CLASS_INT_FIELDS = {"created_at", "updated_at", "version"}


def _traceparent():
    return f"00-{uuid.uuid4().hex}-{os.urandom(8).hex()}-01"


def _events_for(brokers, cid, types):
    """Events of class cid, waiting until all the given types were seen."""
    want = list(types)

    def until(evs):
        seen = [e["value"].get("type") for e in evs if isinstance(e["value"], dict)]
        return all(seen.count(t) >= want.count(t) for t in set(want))

    evs = read_events(brokers, [cid], until, timeout=20)
    assert until(evs), (f"events {want} for class {cid} not found within 20 s; found: "
                        f"{[e['value'] for e in evs]}")
    return evs


def _check_envelope(ev, etype, sub, cid):
    v = ev["value"]
    assert isinstance(v, dict), v
    assert ev["raw_keys"] == EVENT_KEYS, f"envelope keys/order {ev['raw_keys']} != {EVENT_KEYS}"
    for k, t in ENVELOPE_TYPES.items():
        assert type(v[k]) is t, f"{k} must be {t.__name__}: {v}"
    assert v["type"] == etype, v
    assert v["v"] == 1, v
    assert v["actor"] == sub, v
    assert v["key"] == cid, v
    assert v["id"] and v["cause"], v
    assert abs(v["time"] - now_ms()) < 5 * 60 * 1000, f"time is not ms since epoch near now: {v}"
    assert ev["kafka_key"] == cid.encode(), f"Kafka key {ev['kafka_key']!r} != class id {cid!r}"
    assert ev["headers"].get("content-type") == b"application/msgpack", \
        f"content-type header: {ev['headers']}"


def _check_data(data, cls, extra=()):
    """data equals the HTTP class, with timestamps as int ms."""
    assert set(data) == CLASS_FIELDS | set(extra), f"data keys {sorted(data)}"
    for k in CLASS_FIELDS:
        if k in CLASS_INT_FIELDS:
            assert type(data[k]) is int, f"data.{k} must be an int: {data}"
        else:
            assert type(data[k]) is str, f"data.{k} must be a str: {data}"
    for k in ("id", "code", "name", "description", "term", "status", "lecturer_id", "version"):
        assert data[k] == cls[k], f"data.{k} {data[k]!r} != HTTP {cls[k]!r}"
    assert data["created_at"] == rfc3339_to_ms(cls["created_at"]), (data, cls)
    assert data["updated_at"] == rfc3339_to_ms(cls["updated_at"]), (data, cls)


def test_class_created_event(api, kafka_brokers):
    body = {"code": uniq("EV"), "name": "Événement 🎓", "description": "d", "term": "t"}
    r = api.post(PATH, json=body)
    assert r.status_code == 201, describe(r)
    cls = r.json()
    evs = _events_for(kafka_brokers, cls["id"], ["class.created"])
    created = [e for e in evs if e["value"]["type"] == "class.created"]
    assert len(created) == 1, f"exactly one class.created for {cls['id']}: {[e['value'] for e in created]}"
    ev = created[0]
    _check_envelope(ev, "class.created", api.sub, cls["id"])
    _check_data(ev["value"]["data"], cls)


def test_idempotency_key_becomes_the_cause(api, kafka_brokers):
    key = f"cause-{uuid.uuid4()}"
    body = {"code": uniq(), "name": "caused"}
    r = api.post(PATH, json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, describe(r)
    r2 = api.post(PATH, json=body, headers={"Idempotency-Key": key})  # a replay: the same request
    assert r2.status_code in (200, 201) and r2.json()["id"] == r.json()["id"], describe(r2)
    cid = r.json()["id"]
    _events_for(kafka_brokers, cid, ["class.created"])
    evs = read_events(kafka_brokers, [cid])  # the whole log, to see a (wrong) second event
    created = [e for e in evs if e["value"]["type"] == "class.created"]
    assert len(created) == 1, "a replayed command must not produce a second event"
    assert created[0]["value"]["cause"] == f"{api.sub}:{key}"


def test_traceparent_is_carried_to_the_event(api, kafka_brokers):
    tp = _traceparent()
    r = api.post(PATH, json={"code": uniq("TP"), "name": "traced"}, headers={"traceparent": tp})
    assert r.status_code == 201, describe(r)
    cid = r.json()["id"]
    tp2 = _traceparent()
    u = api.put(f"{PATH}/{cid}", json={"name": "traced again"}, headers={"traceparent": tp2})
    assert u.status_code == 200, describe(u)
    evs = _events_for(kafka_brokers, cid, ["class.created", "class.updated"])
    by_type = {e["value"]["type"]: e for e in evs}
    assert by_type["class.created"]["headers"].get("traceparent") == tp.encode(), \
        f"headers: {by_type['class.created']['headers']}"
    assert by_type["class.updated"]["headers"].get("traceparent") == tp2.encode(), \
        f"headers: {by_type['class.updated']['headers']}"


def test_update_and_deactivate_events(api, kafka_brokers):
    c = api.create(code=uniq("LIFE"), name="before", term="2025-fall")
    u = api.update(c["id"], name="after")
    d = api.deactivate(c["id"])
    api.deactivate(c["id"])  # idempotent: must not produce another event
    _events_for(kafka_brokers, c["id"], ["class.created", "class.updated", "class.deactivated"])
    evs = read_events(kafka_brokers, [c["id"]])  # the whole log: no 4th event
    types = [e["value"]["type"] for e in evs]
    assert types == ["class.created", "class.updated", "class.deactivated"], \
        f"events of one class, in log order: {types}"
    assert len({e["partition"] for e in evs}) == 1, "one aggregate's events share a partition"
    assert len({e["value"]["id"] for e in evs}) == 3, "event ids must be unique"
    created, updated, deactivated = evs
    _check_envelope(updated, "class.updated", api.sub, c["id"])
    _check_envelope(deactivated, "class.deactivated", api.sub, c["id"])
    _check_data(created["value"]["data"], c)
    _check_data(updated["value"]["data"], u, extra=("changed",))
    changed = updated["value"]["data"]["changed"]
    assert isinstance(changed, list) and all(isinstance(x, str) for x in changed), changed
    assert "name" in changed and "code" not in changed and "term" not in changed, changed
    _check_data(deactivated["value"]["data"], d)
    assert deactivated["value"]["data"]["status"] == "inactive"
    assert deactivated["value"]["data"]["version"] == 3


def test_failed_commands_produce_no_event(api, kafka_brokers):
    c = api.create(code=uniq("NOEV"))
    r = api.put(f"{PATH}/{c['id']}", json={"name": "x"}, headers={"If-Match": "7"})
    assert r.status_code == 412, describe(r)
    r = api.post(PATH, json={"code": c["code"], "name": "dup"})
    assert r.status_code == 409, describe(r)
    evs = read_events(kafka_brokers, [c["id"]])
    assert [e["value"]["type"] for e in evs] == ["class.created"], [e["value"] for e in evs]
