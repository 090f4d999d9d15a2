"""Shared helpers for the sms end-to-end tests (imported by conftest.py and the tests).

Nothing here talks to a mock: every helper drives the real gateway (HTTP, raw sockets),
the real Kafka broker (confluent_kafka) or the real CLI tools (sms-admin, deploy/ctl).
"""

import base64
import calendar
import hashlib
import hmac
import json
import os
import re
import select
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

import requests

PROBLEM_BASE = "https://sms.example/problems/"
CLASS_FIELDS = {"id", "code", "name", "description", "term", "status", "lecturer_id",
                "created_at", "updated_at", "version"}
EVENT_KEYS = ["id", "type", "v", "time", "actor", "key", "cause", "data"]
EVENTS_TOPIC = "sms.events.classes"
RFC3339_MS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$")
HTTP_TIMEOUT = float(os.environ.get("SMS_E2E_HTTP_TIMEOUT", "20"))


# --------------------------------------------------------------------------- small utilities

def new_lecturer_id():
    return f"lec-{uuid.uuid4().hex[:8]}"


def uniq(prefix="C"):
    """A short unique class code (fits the 64-char limit)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def env_int(name, default):
    v = os.environ.get(name, "")
    try:
        return int(v) if v.strip() else default
    except ValueError:
        return default


def rfc3339_to_ms(s):
    m = RFC3339_MS.match(s)
    assert m, f"not an RFC 3339 UTC timestamp with milliseconds and Z: {s!r}"
    y, mo, d, h, mi, sec, ms = (int(x) for x in m.groups())
    return calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0)) * 1000 + ms


def now_ms():
    return int(time.time() * 1000)


def describe(r):
    """Everything useful about a requests.Response for an assertion message."""
    if r is None:
        return "<no response>"
    if isinstance(r, BaseException):
        return f"<exception {type(r).__name__}: {r}>"
    req = r.request
    body = r.text
    if len(body) > 1500:
        body = body[:1500] + f"... ({len(r.text)} chars)"
    return (f"{req.method} {req.url} -> {r.status_code} {r.reason}\n"
            f"  response headers: {dict(r.headers)}\n  response body: {body}")


# --------------------------------------------------------------------------- JWT

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def mint_jwt(claims, secret, alg="HS256", header=None):
    """Encodes claims as a compact JWS. alg HS256/HS384/HS512 sign with secret; "none"
    gives an empty signature (an unsigned token)."""
    hdr = header if header is not None else {"alg": alg, "typ": "JWT"}
    signing_input = (b64url(json.dumps(hdr, separators=(",", ":")).encode())
                     + "." + b64url(json.dumps(claims, separators=(",", ":")).encode()))
    digests = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    if alg in digests:
        sig = hmac.new(secret.encode(), signing_input.encode(), digests[alg]).digest()
    elif alg == "none":
        sig = b""
    else:
        raise ValueError(alg)
    return signing_input + "." + b64url(sig)


def lecturer_claims(sub, role="lecturer", ttl=3600):
    return {"sub": sub, "role": role, "exp": int(time.time()) + ttl}


# --------------------------------------------------------------------------- problem / class checks

def assert_problem(r, status, code=None, fields=None):
    """r is an RFC 9457 problem+json response with this status and (optionally) code
    (type == https://sms.example/problems/<code>); fields: names that errors[] must list
    (compared case-insensitively, so header names work too). Returns the document."""
    ctx = describe(r)
    assert r.status_code == status, f"expected {status}\n{ctx}"
    ct = r.headers.get("Content-Type", "")
    assert ct.split(";")[0].strip().lower() == "application/problem+json", \
        f"problem Content-Type expected\n{ctx}"
    rid = r.headers.get("X-Request-Id")
    assert rid, f"X-Request-Id missing\n{ctx}"
    try:
        doc = r.json()
    except ValueError:
        raise AssertionError(f"problem body is not JSON\n{ctx}")
    assert isinstance(doc, dict), ctx
    assert isinstance(doc.get("type"), str) and doc["type"].startswith(PROBLEM_BASE), \
        f"type must be a URI under {PROBLEM_BASE}\n{ctx}"
    if code is not None:
        assert doc["type"] == PROBLEM_BASE + code, f"expected problem code {code!r}\n{ctx}"
    assert isinstance(doc.get("title"), str) and doc["title"], f"title missing\n{ctx}"
    assert doc.get("status") == status and type(doc.get("status")) is int, \
        f"status member must be the int {status}\n{ctx}"
    if "detail" in doc:
        assert isinstance(doc["detail"], str), f"detail must be a string\n{ctx}"
    if "request_id" in doc:
        assert doc["request_id"] == rid, f"request_id must equal X-Request-Id\n{ctx}"
    if fields:
        errs = doc.get("errors")
        assert isinstance(errs, list) and errs, f"errors[] expected\n{ctx}"
        for e in errs:
            assert isinstance(e, dict) and isinstance(e.get("field"), str) \
                and isinstance(e.get("message"), str), f"bad errors[] entry {e!r}\n{ctx}"
        named = {e["field"].lower() for e in errs}
        for f in fields:
            assert f.lower() in named, f"errors[] does not name {f!r}\n{ctx}"
    return doc


def assert_class(c, **expected):
    """c has exactly the Class fields with the right types and formats; expected maps
    field -> value."""
    assert isinstance(c, dict), c
    assert set(c) == CLASS_FIELDS, f"class fields {sorted(c)} != {sorted(CLASS_FIELDS)}: {c}"
    for k in CLASS_FIELDS - {"version"}:
        assert isinstance(c[k], str), f"{k} must be a string: {c}"
    assert type(c["version"]) is int and c["version"] >= 1, c
    assert c["id"], c
    assert c["status"] in ("active", "inactive"), c
    created = rfc3339_to_ms(c["created_at"])
    updated = rfc3339_to_ms(c["updated_at"])
    assert updated >= created, f"updated_at before created_at: {c}"
    for k, v in expected.items():
        assert c[k] == v, f"{k}: expected {v!r}, got {c[k]!r} in {c}"
    return c


def assert_json(r, status):
    ctx = describe(r)
    assert r.status_code == status, f"expected {status}\n{ctx}"
    ct = r.headers.get("Content-Type", "")
    assert ct.split(";")[0].strip().lower() == "application/json", f"JSON Content-Type expected\n{ctx}"
    assert r.headers.get("X-Request-Id"), f"X-Request-Id missing\n{ctx}"
    return r.json()


# --------------------------------------------------------------------------- HTTP client

class Api:
    """requests.Session bound to the gateway and (optionally) a bearer token."""

    def __init__(self, base_url, token=None, sub=None, role=None, timeout=HTTP_TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.sub = sub
        self.role = role
        self.timeout = timeout
        self.session = requests.Session()

    def clone(self):
        """Same identity, new connection pool (requests.Session is not thread-safe)."""
        return Api(self.base_url, self.token, self.sub, self.role, self.timeout)

    def with_token(self, token):
        return Api(self.base_url, token, self.sub, self.role, self.timeout)

    def request(self, method, path, headers=None, **kw):
        h = {}
        if self.token is not None:
            h["Authorization"] = f"Bearer {self.token}"
        for k, v in (headers or {}).items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        kw.setdefault("timeout", self.timeout)
        return self.session.request(method, self.base_url + path, headers=h, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # ---- classes shortcuts
    def create(self, code=None, name=None, expect=201, headers=None, **fields):
        body = {"code": code or uniq(), "name": name or "Class " + uuid.uuid4().hex[:6]}
        body.update(fields)
        r = self.post("/lecturer/classes", json=body, headers=headers)
        assert r.status_code == expect, f"create expected {expect}\n{describe(r)}"
        return r.json()

    def get_class(self, cid):
        r = self.get(f"/lecturer/classes/{cid}")
        assert r.status_code == 200, describe(r)
        return r.json()

    def update(self, cid, expect=200, headers=None, **fields):
        r = self.put(f"/lecturer/classes/{cid}", json=fields, headers=headers)
        assert r.status_code == expect, f"update expected {expect}\n{describe(r)}"
        return r.json()

    def deactivate(self, cid, expect=200):
        r = self.delete(f"/lecturer/classes/{cid}")
        assert r.status_code == expect, f"delete expected {expect}\n{describe(r)}"
        return r.json()

    def list_page(self, **params):
        r = self.get("/lecturer/classes", params=params)
        page = assert_json(r, 200)
        assert set(page) == {"items", "next_cursor"}, f"page keys {sorted(page)}\n{describe(r)}"
        assert isinstance(page["items"], list), describe(r)
        assert page["next_cursor"] is None or isinstance(page["next_cursor"], str), describe(r)
        return page

    def list_all(self, status="all", q=None, limit=100, max_pages=1000):
        """Walks every page; fails on a repeated id or a runaway cursor."""
        items, seen, cursor = [], set(), None
        for _ in range(max_pages):
            params = {"status": status, "limit": limit}
            if q is not None:
                params["q"] = q
            if cursor is not None:
                params["cursor"] = cursor
            page = self.list_page(**params)
            assert len(page["items"]) <= limit, f"page larger than limit {limit}: {page}"
            for it in page["items"]:
                assert it["id"] not in seen, f"class {it['id']} listed twice while paginating"
                seen.add(it["id"])
                items.append(it)
            cursor = page["next_cursor"]
            if cursor is None:
                return items
            assert page["items"], f"empty page with a non-null next_cursor: {page}"
        raise AssertionError(f"pagination did not end within {max_pages} pages")


def wait_ready(base_url, timeout=60.0):
    """Polls GET /readyz until 200 {"status":"ready"}; returns the seconds it took."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    last = None
    while True:
        try:
            r = requests.get(base_url.rstrip("/") + "/readyz", timeout=5)
            if r.status_code == 200:
                try:
                    if r.json().get("status") == "ready":
                        return time.monotonic() - t0
                except ValueError:
                    pass
            last = describe(r)
        except requests.RequestException as e:
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            raise AssertionError(f"/readyz not 200 ready within {timeout:.0f}s; last: {last}")
        time.sleep(0.2)


def poll(fn, timeout, interval=0.1, what="condition"):
    """Calls fn() until it returns a truthy value; returns it, or fails at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")
        time.sleep(interval)


def wait_for(fn, what, timeout=30.0):
    """Calls fn() -> (ok, value) every 0.1 s until ok; returns value, or fails at the
    deadline naming what and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = fn()
        if ok:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} not seen within {timeout}s; last: {last}")


def wait_checksums(admin, expected, timeout=30.0):
    """Polls `sms-admin checksum-views` until it equals expected; on failure the
    message names the views that differ (before -> last seen)."""
    deadline = time.monotonic() + timeout
    while True:
        last = admin.checksums()
        if last == expected:
            return last
        if time.monotonic() >= deadline:
            diff = {svc: (expected.get(svc), last.get(svc)) for svc in set(expected) | set(last)
                    if expected.get(svc) != last.get(svc)}
            raise AssertionError(f"view checksums differ after {timeout}s: {diff}")
        time.sleep(0.2)


# --------------------------------------------------------------------------- CLI tools

class Tool:
    """Runs an executable (deploy/ctl or sms-admin) with the test environment."""

    def __init__(self, path):
        self.path = path

    def __call__(self, *args, timeout=120, check=True):
        cmd = [self.path, *[str(a) for a in args]]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"{' '.join(cmd)} did not finish within {timeout}s\n"
                                 f"stdout: {e.stdout}\nstderr: {e.stderr}")
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}\n"
                                 f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}")
        return p


class Admin(Tool):
    def token(self, sub, role="lecturer", ttl=None):
        args = ["token", "--sub", sub, "--role", role]
        if ttl is not None:
            args += ["--ttl", ttl]
        out = self(*args, timeout=30).stdout
        lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
        assert lines, f"sms-admin token printed nothing: {out!r}"
        return lines[-1]

    def checksums(self):
        """{service: (sha256hex, key_count)} from `sms-admin checksum-views`."""
        p = self("checksum-views", timeout=60)
        out = {}
        for ln in p.stdout.splitlines():
            if not ln.strip():
                continue
            parts = ln.split()
            assert len(parts) == 3, f"checksum-views line is not '<service> <sha256> <count>': {ln!r}"
            svc, sha, count = parts
            assert re.fullmatch(r"[0-9a-f]{64}", sha), f"not a sha256 hex: {ln!r}"
            assert count.isdigit(), f"key count not an integer: {ln!r}"
            assert svc not in out, f"service {svc} printed twice:\n{p.stdout}"
            out[svc] = (sha, int(count))
        assert out, f"checksum-views printed nothing\nstderr: {p.stderr}"
        return out

    def stable_checksums(self, timeout=15.0):
        """Checksums once two consecutive runs agree (nothing still being applied)."""
        deadline = time.monotonic() + timeout
        prev = self.checksums()
        while True:
            cur = self.checksums()
            if cur == prev:
                return cur
            if time.monotonic() >= deadline:
                raise AssertionError(f"view checksums keep changing: {prev} -> {cur}")
            prev = cur
            time.sleep(0.3)


# --------------------------------------------------------------------------- Kafka

def read_events(brokers, keys, until=None, timeout=20.0, topic=EVENTS_TOPIC):
    """Reads topic from the beginning of every partition (fresh random group id, nothing
    committed) and collects the events whose Kafka key is in keys, decoded with
    msgpack.unpackb(raw=False); keys=None collects every event.

    until=None: read to the current end of every partition, then return.
    until=fn:   return as soon as fn(collected) is true.
    Either way, return what was collected at the deadline. Each item is a dict:
    {kafka_key, headers (dict name -> bytes), value (decoded map), raw_value (bytes), raw_keys,
    partition, offset};
    items keep per-partition offset order."""
    import msgpack
    from confluent_kafka import Consumer, KafkaError, TopicPartition, OFFSET_BEGINNING

    if keys is not None:
        keys = {k.encode() if isinstance(k, str) else k for k in keys}
    c = Consumer({
        "bootstrap.servers": brokers,
        "group.id": f"sms-e2e-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    collected = []
    try:
        md = c.list_topics(topic, timeout=10)
        t = md.topics.get(topic)
        assert t is not None and t.error is None and t.partitions, \
            f"topic {topic} not found on {brokers}: {t and t.error}"
        parts = sorted(t.partitions)
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        at_end = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    if until is None and len(at_end) == len(parts):
                        break
                    continue
                raise AssertionError(f"Kafka error reading {topic}: {msg.error()}")
            at_end.discard(msg.partition())
            if keys is not None and msg.key() not in keys:
                continue
            value = msgpack.unpackb(msg.value(), raw=False)
            collected.append({
                "kafka_key": msg.key(),
                "headers": {k: v for k, v in (msg.headers() or [])},
                "value": value,
                "raw_value": msg.value(),
                "raw_keys": list(value.keys()) if isinstance(value, dict) else None,
                "partition": msg.partition(),
                "offset": msg.offset(),
            })
            if until is not None and until(collected):
                break
        else:
            if until is None:
                raise AssertionError(f"could not read {topic} to its end within {timeout}s")
    finally:
        c.close()
    return collected


# --------------------------------------------------------------------------- raw HTTP

class RawResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.header_list = headers
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<RawResponse {self.status} {self.reason} {self.headers} {self.body[:300]!r}>"


class RawHttp:
    """A bare TCP connection to the gateway for what requests cannot do (pipelining,
    oversized heads, slow clients)."""

    def __init__(self, base_url, timeout=10.0):
        u = urllib.parse.urlsplit(base_url)
        self.host = u.hostname
        self.port = u.port or 80
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the gateway")
        self.buf += chunk

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        assert len(parts) >= 2 and parts[0].startswith("HTTP/1."), f"bad status line {lines[0]!r}"
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for ln in lines[1:]:
            name, _, value = ln.partition(":")
            headers.append((name.strip(), value.strip()))
        h = {k.lower(): v for k, v in headers}
        if head_request or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in h.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size = int(self._read_line().split(b";")[0], 16)
                if size == 0:
                    while self._read_line():
                        pass
                    break
                body += self._read_exact(size)
                self._read_exact(2)
        elif "content-length" in h:
            body = self._read_exact(int(h["content-length"]))
        else:
            body = self.buf
            self.buf = b""
            try:
                while True:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            except OSError:
                pass
        return RawResponse(status, reason, headers, body)

    def wait_closed(self, timeout):
        """Waits until the peer closes (EOF or reset). Returns (closed, seconds, bytes read)."""
        t0 = time.monotonic()
        data = b""
        self.sock.settimeout(0.2)
        try:
            while time.monotonic() - t0 < timeout:
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    return True, time.monotonic() - t0, data
                if not chunk:
                    return True, time.monotonic() - t0, data
                data += chunk
            return False, time.monotonic() - t0, data
        finally:
            self.sock.settimeout(10.0)

    def readable(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)


def request_bytes(method, path, headers=None, body=b"", host="127.0.0.1"):
    h = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for k, v in (headers or {}).items():
        h.append(f"{k}: {v}")
    if body or method in ("POST", "PUT"):
        h.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + body


# --------------------------------------------------------------------------- threads

class Counter:
    def __init__(self):
        self._n = 0
        self._lock = threading.Lock()

    def inc(self):
        with self._lock:
            self._n += 1
            return self._n

    @property
    def value(self):
        with self._lock:
            return self._n


def gateway_listing():
    """`sms-gateway --print-routes` (services/gateway/authz.h): {"routes": [{method, pattern, auth,
    roles, json_body, stream_body, rule, object}], "rows_without_route": [...]}: the route table
    joined with the authorization matrix; None when SMS_BIN_DIR is not set."""
    import tempfile
    bin_dir = os.environ.get("SMS_BIN_DIR")
    if not bin_dir:
        return None
    env = dict(os.environ)
    env["SMS_DATA_DIR"] = tempfile.mkdtemp(prefix="sms-print-routes-")  # registration makes its upload dir
    # A one-shot listing: under the sanitized build, what it leaves allocated at exit is no finding.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    out = subprocess.run([os.path.join(bin_dir, "sms-gateway"), "--print-routes"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"sms-gateway --print-routes failed ({out.returncode}): {out.stderr}"
    return json.loads(out.stdout)


def gateway_routes():
    """The routes of gateway_listing(), or None when SMS_BIN_DIR is not set."""
    listing = gateway_listing()
    return None if listing is None else listing["routes"]
