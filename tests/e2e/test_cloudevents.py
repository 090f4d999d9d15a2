"""CloudEvents Kafka binding, binary mode: the events on the public topics carry ce_* headers
that the stock CloudEvents SDK (PyPI `cloudevents`, its Kafka binding) reads into an event with
the same id, type and time as our msgpack envelope, with no sms-specific code.

One real flow through the HTTP API: a class (sms.events.classes, by sms-classes), a roster,
a post (sms.events.posts) that sms-notifications fans out to the students (sms.notifications),
an assignment (sms.events.assignments), grades and their release (sms.events.grades, by sms-grading).
The mapping (schemas/asyncapi.yaml, "CloudEvents headers"): ce_id = id, ce_type =
org.sms.<type>.v<v>, ce_time = time (RFC 3339), ce_source = /sms/<service>, ce_subject = key."""
import time
import uuid
from datetime import datetime, timezone

import msgpack
from cloudevents.core.bindings import kafka as ce_kafka

from helpers import describe, now_ms, read_events

CE_HEADERS = {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type"}


def _iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".000Z"


def _events(brokers, topic, keys, types):
    """The events of keys on topic, waiting until every type in types was seen."""
    def until(evs):
        seen = {e["value"].get("type") for e in evs if isinstance(e["value"], dict)}
        return set(types) <= seen
    evs = read_events(brokers, keys, until, timeout=30, topic=topic)
    assert until(evs), f"{topic}: types {types} for {keys} not all seen in 30 s: {[e['value'] for e in evs]}"
    return evs


def _check(ev, source):
    """Reads ev with the SDK only (headers, key, value bytes) and compares with the envelope."""
    env = ev["value"]
    assert CE_HEADERS <= set(ev["headers"]), f"missing CloudEvents headers: {sorted(ev['headers'])}"
    msg = ce_kafka.KafkaMessage(headers=ev["headers"], key=ev["kafka_key"], value=ev["raw_value"])
    ce = ce_kafka.from_binary_event(msg)  # validates required attributes and the spec version
    assert ce.get_specversion() == "1.0"
    assert ce.get_id() == env["id"], (ce.get_id(), env)
    assert ce.get_type() == f"org.sms.{env['type']}.v{env['v']}", (ce.get_type(), env)
    want_time = datetime.fromtimestamp(env["time"] / 1000, tz=timezone.utc)
    assert ce.get_time() == want_time, (ce.get_time(), env["time"])
    assert ce.get_source() == source, (ce.get_source(), env["type"])
    assert ce.get_subject() == env["key"], (ce.get_subject(), env)
    assert ce.get_datacontenttype() == "application/msgpack"
    # data is the record itself, byte for byte: a generic consumer decodes it by content type
    # (the SDK's default format hands non-JSON data over as bytes, or as str if it happens to be UTF-8)
    data = ce.get_data()
    data = data.encode() if isinstance(data, str) else data
    assert data == ev["raw_value"]
    assert msgpack.unpackb(data, raw=False) == env
    return ce


def test_public_events_read_by_the_cloudevents_sdk(api, kafka_brokers):
    c = api.create()
    cid = c["id"]
    students = [{"student_id": f"ce-{k}-{uuid.uuid4().hex[:6]}", "name": f"Student {k}",
                 "email": f"ce{k}@example.edu"} for k in range(2)]
    r = api.post(f"/lecturer/classes/{cid}/students", json={"students": students})
    assert r.status_code == 200, describe(r)
    r = api.post(f"/classes/{cid}/posts", json={"title": "CloudEvents", "body": "Routed by type."})
    assert r.status_code == 201, describe(r)
    r = api.post("/lecturer/assignments", json={"class_id": cid, "title": "HW CE",
                                                 "due_at": _iso(now_ms() + 86400000), "max_score": 10})
    assert r.status_code == 201, describe(r)
    aid = r.json()["id"]
    grades = [{"student_id": s["student_id"], "score": 9, "feedback": "ok"} for s in students]
    r = api.post(f"/lecturer/assignments/{aid}/update-grades", json={"grades": grades})
    assert r.status_code == 200, describe(r)
    r = api.post(f"/lecturer/assignments/{aid}/release-grades")
    assert r.status_code == 200, describe(r)

    checked = {}
    for topic, keys, types, source in [
        ("sms.events.classes", [cid], ["class.created", "class.students_enrolled"], "/sms/classes"),
        ("sms.events.posts", [cid], ["post.created"], "/sms/classes"),
        ("sms.events.assignments", [aid], ["assignment.created"], "/sms/assignments"),
        ("sms.events.grades", [aid], ["grade.changed", "grade.released"], "/sms/grading"),
        ("sms.notifications", [s["student_id"] for s in students], ["notification.created"],
         "/sms/notifications"),
    ]:
        for ev in _events(kafka_brokers, topic, keys, types):
            ce = _check(ev, source)
            checked.setdefault(topic, set()).add(ce.get_type())
    assert "org.sms.grade.released.v1" in checked["sms.events.grades"], checked
    assert "org.sms.post.created.v1" in checked["sms.events.posts"], checked
    assert "org.sms.notification.created.v1" in checked["sms.notifications"], checked


def test_traceparent_is_kept_beside_the_cloudevents_headers(api, kafka_brokers):
    """A request's traceparent still travels with its events, and the SDK ignores it (not ce_*)."""
    tp = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    r = api.post("/lecturer/classes", json={"code": f"CE{uuid.uuid4().hex[:6]}", "name": "traced"},
                 headers={"traceparent": tp})
    assert r.status_code == 201, describe(r)
    (ev,) = [e for e in _events(kafka_brokers, "sms.events.classes", [r.json()["id"]], ["class.created"])]
    assert ev["headers"].get("traceparent") == tp.encode(), ev["headers"]
    ce = _check(ev, "/sms/classes")
    assert not any("trace" in a for a in ce.get_attributes()), ce.get_attributes()
