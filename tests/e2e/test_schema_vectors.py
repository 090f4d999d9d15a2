"""Golden msgpack vectors in schemas/vectors/ against their JSON twins and asyncapi.yaml.

Needs no server: it only reads files. For every vector NAME:
  * msgpack.unpackb(NAME.msgpack, raw=False) equals NAME.json, with the same key
    order in every map and the same value types;
  * msgpack.packb(NAME.json, use_bin_type=True) gives the very same bytes;
  * events, commands and replies have their documented keys, order and types.
And every event message of asyncapi.yaml has a vector (PyYAML is used when it is
importable; without it a plain text scan of the file stands in).
"""

import importlib.util
import json
import os
import re

import msgpack
import pytest

try:
    import yaml
except ImportError:  # the e2e venv may not have PyYAML
    yaml = None

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMAS = os.path.join(ROOT, "schemas")
VECTORS = os.path.join(SCHEMAS, "vectors")
ASYNCAPI = os.path.join(SCHEMAS, "asyncapi.yaml")

EVENT_KEYS = ["id", "type", "v", "time", "actor", "key", "cause", "data"]
EVENT_TYPES = {"id": str, "type": str, "v": int, "time": int, "actor": str,
               "key": str, "cause": str, "data": dict}
CLASS_KEYS = ["id", "code", "name", "description", "term", "status", "lecturer_id",
              "created_at", "updated_at", "version"]
CLASS_TYPES = {"id": str, "code": str, "name": str, "description": str, "term": str,
               "status": str, "lecturer_id": str, "created_at": int, "updated_at": int,
               "version": int}
COMMAND_KEYS = ["id", "type", "v", "time", "actor", "role", "key", "reply_to", "data"]
COMMAND_OPTIONAL_KEYS = ["if_match", "traceparent", "deadline"]
COMMAND_TYPES = {"id": str, "type": str, "v": int, "time": int, "actor": str, "role": str,
                 "key": str, "reply_to": str, "data": dict, "if_match": int,
                 "traceparent": str, "deadline": int}
REPLY_KEYS = ["id", "status", "body"]
REPLY_TYPES = {"id": str, "status": int, "body": dict, "location": str}

CLASS_EVENT_VECTORS = ["class.created.v1", "class.updated.v1", "class.deactivated.v1"]
ROSTER_EVENT_VECTORS = ["class.students_enrolled.v1", "class.student_unenrolled.v1"]
ASSIGNMENT_EVENT_VECTORS = ["assignment.created.v1", "assignment.updated.v1", "assignment.deleted.v1"]
DUE_SOON_VECTORS = ["assignment.due_soon.v1"]
ASSIGNMENT_KEYS = ["id", "class_id", "lecturer_id", "title", "description", "due_at", "max_score",
                   "status", "created_at", "updated_at", "version"]
GRADE_EVENT_VECTORS = ["grade.changed.v1", "grade.released.v1", "grade.corrected.v1"]
SUBMISSION_EVENT_VECTORS = ["submission.created.v1"]
SUBMISSION_KEYS = ["assignment_id", "class_id", "student_id", "version", "text", "upload_ids",
                   "submitted_at", "late"]
GRADE_KEYS = {
    "grade.changed": ["assignment_id", "class_id", "student_id", "previous_score", "score",
                      "previous_feedback", "feedback", "released", "changed_by", "changed_at",
                      "grade_version"],
    "grade.released": ["assignment_id", "class_id", "student_id", "score", "feedback", "grade_version"],
    "grade.corrected": ["assignment_id", "class_id", "student_id", "previous_score", "score",
                        "previous_feedback", "feedback", "released", "changed_by", "changed_at",
                        "grade_version", "reason", "repairs"],
}
POST_EVENT_VECTORS = ["post.created.v1", "post.updated.v1"]
POST_KEYS = ["id", "class_id", "lecturer_id", "author_id", "title", "body", "pinned", "created_at"]
EVENT_VECTORS = CLASS_EVENT_VECTORS + ROSTER_EVENT_VECTORS + ASSIGNMENT_EVENT_VECTORS + GRADE_EVENT_VECTORS + SUBMISSION_EVENT_VECTORS
EVENT_VECTORS += DUE_SOON_VECTORS
CHAT_EVENT_VECTORS = ["chat.message_posted.v1"]
CHAT_KEYS = ["id", "class_id", "seq", "author_id", "author_role", "text", "created_at"]
EVENT_VECTORS += POST_EVENT_VECTORS + CHAT_EVENT_VECTORS + ["upload.completed.v1", "upload.expired.v1"]
NOTIFICATION_EVENT_VECTORS = ["notifications.read.v1", "notifications.preferences_set.v1",
                              "webhook.registered.v1", "webhook.deleted.v1"]
EVENT_VECTORS += NOTIFICATION_EVENT_VECTORS
IDENTITY_EVENT_VECTORS = ["user.created.v1", "user.password_set.v1", "user.deactivated.v1",
                          "session.started.v1", "session.rotated.v1", "session.revoked.v1"]
EVENT_VECTORS += IDENTITY_EVENT_VECTORS
ALL_VECTORS = EVENT_VECTORS + ["command.class.create.v1", "reply.201.v1", "notification.created.v1",
                               "notification.dead_lettered.v1"]


def _load(name):
    with open(os.path.join(VECTORS, name + ".json"), encoding="utf-8") as f:
        obj = json.load(f)  # json keeps the file's key order
    with open(os.path.join(VECTORS, name + ".msgpack"), "rb") as f:
        raw = f.read()
    return obj, raw


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _assert_same(a, b, path="$"):
    """Deep equality that also demands the same key order and the same types."""
    if isinstance(a, dict):
        assert isinstance(b, dict), "%s: map vs %s" % (path, type(b).__name__)
        assert list(a.keys()) == list(b.keys()), "%s: key order differs" % path
        for k in a:
            _assert_same(a[k], b[k], "%s.%s" % (path, k))
    elif isinstance(a, list):
        assert isinstance(b, list), "%s: array vs %s" % (path, type(b).__name__)
        assert len(a) == len(b), "%s: array lengths differ" % path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, "%s[%d]" % (path, i))
    else:
        assert type(a) is type(b), "%s: %s vs %s" % (path, type(a).__name__, type(b).__name__)
        assert a == b, "%s: %r != %r" % (path, a, b)


def _assert_types(obj, types, where):
    for k, want in types.items():
        if k not in obj:
            continue
        v = obj[k]
        ok = _int(v) if want is int else isinstance(v, want)
        assert ok, "%s.%s: want %s, got %r" % (where, k, want.__name__, v)


def _no_bytes(obj, path="$"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, str), "%s: non-str key %r" % (path, k)
            _no_bytes(v, "%s.%s" % (path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _no_bytes(v, "%s[%d]" % (path, i))
    else:
        assert not isinstance(obj, (bytes, bytearray)), "%s: bin, want str" % path
        assert not isinstance(obj, float), "%s: float" % path


def test_vector_files_present():
    names = sorted(f[:-5] for f in os.listdir(VECTORS) if f.endswith(".json"))
    assert set(ALL_VECTORS) <= set(names)
    for name in names:
        assert os.path.isfile(os.path.join(VECTORS, name + ".msgpack")), name


@pytest.mark.parametrize("name", ALL_VECTORS)
def test_unpack_equals_json(name):
    obj, raw = _load(name)
    decoded = msgpack.unpackb(raw, raw=False)
    _no_bytes(decoded)
    assert decoded == obj
    _assert_same(decoded, obj)


@pytest.mark.parametrize("name", ALL_VECTORS)
def test_repack_is_byte_identical(name):
    obj, raw = _load(name)
    assert msgpack.packb(obj, use_bin_type=True) == raw


@pytest.mark.parametrize("name", ROSTER_EVENT_VECTORS)
def test_roster_event(name):
    obj, raw = _load(name)
    ev = msgpack.unpackb(raw, raw=False)
    assert list(ev.keys()) == EVENT_KEYS
    _assert_types(ev, EVENT_TYPES, name)
    data = ev["data"]
    if ev["type"] == "class.students_enrolled":
        assert list(data.keys()) == ["class_id", "lecturer_id", "roster_version", "students", "already_enrolled"]
        for s in data["students"]:
            assert list(s.keys()) == ["student_id", "name", "email", "enrolled_at"]
            assert _int(s["enrolled_at"]) and s["enrolled_at"] == ev["time"]
        assert _int(data["already_enrolled"])
    else:
        assert list(data.keys()) == ["class_id", "lecturer_id", "roster_version", "student_id"]
    assert data["class_id"] == ev["key"], "the event key is the class id"
    assert _int(data["roster_version"]) and data["roster_version"] >= 1


@pytest.mark.parametrize("name", ASSIGNMENT_EVENT_VECTORS)
def test_assignment_event(name):
    obj, raw = _load(name)
    ev = msgpack.unpackb(raw, raw=False)
    assert list(ev.keys()) == EVENT_KEYS
    _assert_types(ev, EVENT_TYPES, name)
    etype = name.rsplit(".v", 1)[0]
    assert ev["type"] == etype and ev["v"] == 1
    data = ev["data"]
    assert list(data.keys()) == ASSIGNMENT_KEYS + (["changed"] if etype == "assignment.updated" else [])
    assert data["id"] == ev["key"], "the event key is the assignment id"
    for k in ("due_at", "created_at", "updated_at", "version"):
        assert _int(data[k]), "%s.data.%s" % (name, k)
    assert data["max_score"] > 0
    assert data["status"] == ("deleted" if etype == "assignment.deleted" else "open")
    if etype == "assignment.updated":
        assert data["changed"] and set(data["changed"]) <= {"title", "description", "due_at", "max_score"}


def _derived_id(time_ms, seed):
    """common/id.c sms_id_derive: the ULID layout with time_ms and the first 80 bits of SHA-256(seed)."""
    import hashlib
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    head = "".join(alphabet[(time_ms >> (45 - 5 * i)) & 31] for i in range(10))
    bits = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:10], "big")
    return head + "".join(alphabet[(bits >> (75 - 5 * i)) & 31] for i in range(16))


def test_assignment_due_soon_event():
    obj, raw = _load("assignment.due_soon.v1")
    ev = msgpack.unpackb(raw, raw=False)
    assert list(ev.keys()) == EVENT_KEYS
    _assert_types(ev, EVENT_TYPES, "assignment.due_soon.v1")
    assert ev["type"] == "assignment.due_soon" and ev["v"] == 1
    assert ev["actor"] == "system" and ev["cause"] == ""
    data = ev["data"]
    assert list(data.keys()) == ASSIGNMENT_KEYS + ["window_s"]
    assert data["id"] == ev["key"] and data["status"] == "open" and _int(data["window_s"])
    # the id is derived from (assignment, due_at); time = when it entered the window
    assert ev["time"] == max(data["due_at"] - data["window_s"] * 1000, data["updated_at"])
    seed = "assignment.due_soon\n%s\n%d" % (data["id"], data["due_at"])
    assert ev["id"] == _derived_id(ev["time"], seed)


@pytest.mark.parametrize("name", GRADE_EVENT_VECTORS)
def test_grade_event(name):
    obj, raw = _load(name)
    ev = msgpack.unpackb(raw, raw=False)
    assert list(ev.keys()) == EVENT_KEYS
    _assert_types(ev, EVENT_TYPES, name)
    etype = name.rsplit(".v", 1)[0]
    assert ev["type"] == etype and ev["v"] == 1
    data = ev["data"]
    assert list(data.keys()) == GRADE_KEYS[etype]
    assert data["assignment_id"] == ev["key"], "the event key is the assignment id"
    assert _int(data["grade_version"]) and data["grade_version"] >= 1
    if etype == "grade.changed":
        assert _int(data["changed_at"]) and type(data["released"]) is bool


def test_submission_event():
    obj, raw = _load("submission.created.v1")
    ev = msgpack.unpackb(raw, raw=False)
    assert list(ev.keys()) == EVENT_KEYS
    _assert_types(ev, EVENT_TYPES, "submission.created.v1")
    assert ev["type"] == "submission.created" and ev["v"] == 1
    data = ev["data"]
    assert list(data.keys()) == SUBMISSION_KEYS
    assert data["assignment_id"] == ev["key"], "the event key is the assignment id"
    assert data["student_id"] == ev["actor"], "the student submits"
    assert _int(data["version"]) and data["version"] >= 1 and _int(data["submitted_at"])
    assert type(data["late"]) is bool and all(isinstance(u, str) for u in data["upload_ids"])


UPLOAD_KEYS = ["upload_id", "student_id", "filename", "content_type", "size", "sha256", "stored_at"]


def test_upload_event():
    obj, raw = _load("upload.completed.v1")
    ev = msgpack.unpackb(raw, raw=False)
    assert list(ev.keys()) == EVENT_KEYS
    _assert_types(ev, EVENT_TYPES, "upload.completed.v1")
    assert ev["type"] == "upload.completed" and ev["v"] == 1
    data = ev["data"]
    assert list(data.keys()) == UPLOAD_KEYS
    assert data["upload_id"] == ev["key"], "the event key is the upload id"
    assert data["student_id"] == ev["actor"], "the owner completes the upload"
    assert _int(data["size"]) and data["size"] >= 1 and _int(data["stored_at"])
    assert re.fullmatch(r"[0-9a-f]{64}", data["sha256"])


def test_post_event():
    obj, raw = _load("post.created.v1")
    ev = msgpack.unpackb(raw, raw=False)
    assert list(ev.keys()) == EVENT_KEYS
    _assert_types(ev, EVENT_TYPES, "post.created.v1")
    assert ev["type"] == "post.created" and ev["v"] == 1
    data = ev["data"]
    assert list(data.keys()) == POST_KEYS
    assert data["class_id"] == ev["key"], "the event key is the class id (topic sms.events.posts)"
    assert data["author_id"] == ev["actor"]
    assert _int(data["created_at"]) and type(data["pinned"]) is bool


def test_chat_event():
    obj, raw = _load("chat.message_posted.v1")
    ev = msgpack.unpackb(raw, raw=False)
    assert list(ev.keys()) == EVENT_KEYS
    _assert_types(ev, EVENT_TYPES, "chat.message_posted.v1")
    assert ev["type"] == "chat.message_posted" and ev["v"] == 1
    data = ev["data"]
    assert list(data.keys()) == CHAT_KEYS
    assert data["class_id"] == ev["key"], "the event key is the class id (topic sms.events.chat)"
    assert data["author_id"] == ev["actor"]
    assert data["author_role"] in ("lecturer", "student")
    assert _int(data["seq"]) and data["seq"] >= 1 and _int(data["created_at"])
    assert 1 <= len(data["text"]) <= 2000


@pytest.mark.parametrize("name", CLASS_EVENT_VECTORS)
def test_event_envelope(name):
    obj, raw = _load(name)
    ev = msgpack.unpackb(raw, raw=False)
    assert list(ev.keys()) == EVENT_KEYS
    _assert_types(ev, EVENT_TYPES, name)
    etype, version = name.rsplit(".v", 1)
    assert ev["type"] == etype
    assert ev["v"] == int(version)
    assert ev["time"] > 0
    for k in ("id", "actor", "key", "cause"):
        assert ev[k], "%s: empty %s" % (name, k)

    data = ev["data"]
    want = CLASS_KEYS + (["changed"] if etype == "class.updated" else [])
    assert list(data.keys()) == want
    _assert_types(data, CLASS_TYPES, name + ".data")
    assert data["id"] == ev["key"], "the event key is the class id"
    assert data["status"] in ("active", "inactive")
    assert data["version"] >= 1
    assert data["created_at"] <= data["updated_at"]
    if etype == "class.created":
        assert data["status"] == "active" and data["version"] == 1
        assert data["created_at"] == data["updated_at"] == ev["time"]
    if etype == "class.updated":
        assert isinstance(data["changed"], list)
        assert all(f in ("code", "name", "description", "term") for f in data["changed"])
        assert data["version"] >= 2
    if etype == "class.deactivated":
        assert data["status"] == "inactive"


def test_command_envelope():
    obj, raw = _load("command.class.create.v1")
    cmd = msgpack.unpackb(raw, raw=False)
    keys = list(cmd.keys())
    assert keys[:len(COMMAND_KEYS)] == COMMAND_KEYS
    extra = keys[len(COMMAND_KEYS):]
    assert extra == [k for k in COMMAND_OPTIONAL_KEYS if k in extra], "optional keys out of order"
    _assert_types(cmd, COMMAND_TYPES, "command")
    assert cmd["type"] == "class.create" and cmd["v"] == 1
    assert cmd["key"] == "", "create commands have an empty class id"
    assert cmd["role"] in ("lecturer", "student", "admin")
    assert cmd["reply_to"].startswith("sms.replies.")
    assert cmd["id"].startswith(cmd["actor"] + ":"), "id is <sub>:<Idempotency-Key>"
    assert set(cmd["data"]) <= {"code", "name", "description", "term"}


def test_reply():
    obj, raw = _load("reply.201.v1")
    rep = msgpack.unpackb(raw, raw=False)
    keys = list(rep.keys())
    assert keys[:3] == REPLY_KEYS and keys[3:] in ([], ["location"])
    _assert_types(rep, REPLY_TYPES, "reply")
    assert rep["status"] == 201
    cmd = msgpack.unpackb(_load("command.class.create.v1")[1], raw=False)
    assert rep["id"] == cmd["id"], "a reply carries its command's id"
    body = rep["body"]
    assert list(body.keys()) == CLASS_KEYS
    assert rep["location"] == "/lecturer/classes/" + body["id"]
    for k in ("created_at", "updated_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body[k]), body[k]


def test_generator_reproduces_vectors():
    """The committed files are exactly what generate.py writes."""
    spec = importlib.util.spec_from_file_location("sms_vectors_generate",
                                                  os.path.join(VECTORS, "generate.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    built = gen.build()
    assert sorted(built) == sorted(ALL_VECTORS)
    for name, obj in built.items():
        want_json, want_raw = _load(name)
        _assert_same(obj, want_json, name)
        assert msgpack.packb(obj, use_bin_type=True) == want_raw, name
        with open(os.path.join(VECTORS, name + ".json"), encoding="utf-8") as f:
            assert f.read() == json.dumps(obj, indent=2, ensure_ascii=False) + "\n", name


# ---- asyncapi.yaml ---------------------------------------------------------

def _resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), "only local refs expected: %s" % ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _schema_const(doc, schema, prop):
    """const of property prop in schema, looking through allOf."""
    schema = _resolve(doc, schema)
    found = None
    p = _resolve(doc, schema.get("properties", {}).get(prop, {}))
    if "const" in p:
        found = p["const"]
    for sub in schema.get("allOf", []):
        c = _schema_const(doc, sub, prop)
        if c is not None:
            found = c
    return found


def _event_messages_yaml():
    """(message id, message, vector name) for every message of an sms.events.* channel."""
    with open(ASYNCAPI, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    out = []
    for channel in doc["channels"].values():
        if not str(channel.get("address", "")).startswith("sms.events."):
            continue
        for ref in channel.get("messages", {}).values():
            msg_id = ref["$ref"].rsplit("/", 1)[1]
            msg = _resolve(doc, ref)
            v = _schema_const(doc, msg["payload"], "v")
            assert _int(v), "%s: payload has no integer const v" % msg_id
            assert _schema_const(doc, msg["payload"], "type") == msg["name"], msg_id
            out.append((msg_id, msg, "%s.v%d" % (msg["name"], v)))
    return doc, out


def _event_messages_text():
    """Fallback without PyYAML: indentation-based scan of asyncapi.yaml."""
    with open(ASYNCAPI, encoding="utf-8") as f:
        lines = f.read().splitlines()
    ids, in_events = [], False
    for line in lines:
        if re.match(r"^  \S", line):
            in_events = False
        if re.match(r"^    address: sms\.events\.", line):
            in_events = True
        m = re.search(r"\$ref: '#/components/messages/([A-Za-z0-9_.-]+)'", line)
        if in_events and m:
            ids.append(m.group(1))
    out = []
    for msg_id in ids:
        start = lines.index("    %s:" % msg_id)
        block = []
        for line in lines[start + 1:]:
            if re.match(r"^ {0,4}\S", line):
                break
            block.append(line)
        name = next(re.match(r"^      name: (\S+)$", l).group(1)
                    for l in block if re.match(r"^      name: (\S+)$", l))
        version = next(re.match(r"^      title: \S+ v(\d+)$", l).group(1)
                       for l in block if re.match(r"^      title: \S+ v(\d+)$", l))
        out.append((msg_id, None, "%s.v%s" % (name, version)))
    return None, out


def _event_messages():
    return _event_messages_yaml() if yaml is not None else _event_messages_text()


def test_every_asyncapi_event_has_a_vector():
    _, msgs = _event_messages()
    names = [vec for _, _, vec in msgs]
    assert sorted(names) == sorted(EVENT_VECTORS), names
    for vec in names:
        for ext in (".json", ".msgpack"):
            assert os.path.isfile(os.path.join(VECTORS, vec + ext)), vec + ext


@pytest.mark.skipif(yaml is None, reason="PyYAML not installed")
def test_asyncapi_examples_and_key_order_match_vectors():
    doc, msgs = _event_messages()
    examples = {}
    for msg in _resolve(doc, doc["components"]["messages"]).values():
        for ex in msg.get("examples", []):
            examples.setdefault(msg["name"], []).append(ex["payload"])
    # components.messages -> vector
    by_name = {"class.create": "command.class.create.v1", "reply": "reply.201.v1",
               "notification.created": "notification.created.v1",
               "notification.dead_lettered": "notification.dead_lettered.v1"}
    by_name.update({m["name"]: vec for _, m, vec in msgs})
    for msg_name, vec in by_name.items():
        obj, _ = _load(vec)
        assert obj in examples.get(msg_name, []), "%s: asyncapi example differs from %s" % (msg_name, vec)

    schemas = doc["components"]["schemas"]
    assert schemas["EventEnvelope"]["x-key-order"] == EVENT_KEYS
    assert schemas["ClassData"]["x-key-order"] == CLASS_KEYS
    assert schemas["CommandEnvelope"]["x-key-order"] == COMMAND_KEYS + COMMAND_OPTIONAL_KEYS
    assert schemas["Reply"]["x-key-order"] == REPLY_KEYS + ["location"]
    assert schemas["ClassView"]["x-key-order"] == CLASS_KEYS
    for _, msg, vec in msgs:
        payload = _resolve(doc, msg["payload"])
        assert payload["x-key-order"] == EVENT_KEYS, vec
        obj, _ = _load(vec)
        assert list(obj.keys()) == payload["x-key-order"], vec
        data_orders = []
        for sub in payload.get("allOf", []):
            data = _resolve(doc, _resolve(doc, sub).get("properties", {}).get("data", {}))
            if "x-key-order" in data:
                data_orders.append(data["x-key-order"])
        assert data_orders, "%s: no x-key-order for data" % vec
        assert list(obj["data"].keys()) == data_orders[-1], vec
