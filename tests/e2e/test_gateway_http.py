"""The gateway as an HTTP/1.1 server: routing, probes, request ids, pipelining,
keep-alive, header limits and slow clients (raw sockets where requests cannot go)."""

import json
import socket
import time
import urllib.parse

import pytest

from helpers import RawHttp, assert_json, assert_problem, describe, request_bytes


def _allow(r_headers):
    return {m.strip().upper() for m in r_headers.get("Allow", r_headers.get("allow", "")).split(",") if m.strip()}


# ----------------------------------------------------------------------------- probes

def test_healthz(anon):
    r = anon.get("/healthz")
    body = assert_json(r, 200)
    assert body.get("status") == "ok", describe(r)


def test_readyz(anon):
    r = anon.get("/readyz")
    body = assert_json(r, 200)
    assert body.get("status") == "ready", describe(r)
    assert body.get("checks") == {"kafka": "ok", "redis": "ok", "views": "ok"}, describe(r)


# ----------------------------------------------------------------------------- routing

@pytest.mark.parametrize("path", ["/no-such-route", "/lecturer", "/lecturer/classes/a/b",
                                  "/healthz/extra", "/"])
def test_unknown_route_is_404(api, path):
    assert_problem(api.get(path), 404, "not_found")


def test_unknown_route_without_token_is_404(anon):
    assert_problem(anon.get("/no-such-route"), 404, "not_found")


def test_wrong_method_on_collection_is_405(api):
    r = api.request("PATCH", "/lecturer/classes", json={"name": "x"})
    assert_problem(r, 405, "method_not_allowed")
    allow = _allow(r.headers)
    assert {"GET", "POST"} <= allow and "PATCH" not in allow, f"Allow: {r.headers.get('Allow')!r}"
    r = api.delete("/lecturer/classes")
    assert_problem(r, 405, "method_not_allowed")
    assert {"GET", "POST"} <= _allow(r.headers)


def test_wrong_method_on_item_is_405(api):
    c = api.create()
    r = api.request("PATCH", f"/lecturer/classes/{c['id']}", json={"name": "x"})
    assert_problem(r, 405, "method_not_allowed")
    allow = _allow(r.headers)
    assert {"GET", "PUT", "DELETE"} <= allow and "PATCH" not in allow, f"Allow: {r.headers.get('Allow')!r}"
    r = api.post(f"/lecturer/classes/{c['id']}", json={"name": "x"})
    assert_problem(r, 405, "method_not_allowed")
    assert api.get_class(c["id"]) == c


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_wrong_method_on_probe_is_405(anon, path):
    r = anon.post(path, json={})
    assert_problem(r, 405, "method_not_allowed")
    assert "GET" in _allow(r.headers), f"Allow: {r.headers.get('Allow')!r}"


def test_query_string_does_not_break_routing(anon):
    assert_json(anon.get("/healthz?probe=1"), 200)


# ----------------------------------------------------------------------------- request ids

def test_every_response_has_a_unique_request_id(api, anon):
    c = api.create()
    responses = [
        anon.get("/healthz"), anon.get("/readyz"), api.get("/lecturer/classes"),
        api.get(f"/lecturer/classes/{c['id']}"), api.get("/lecturer/classes/nope"),
        anon.get("/lecturer/classes"), api.request("PATCH", "/lecturer/classes"),
        api.post("/lecturer/classes", json={"bad": 1}),
        api.post("/lecturer/classes", json={"code": c["code"], "name": "dup"}),
        api.put(f"/lecturer/classes/{c['id']}", json={"name": "x"}),
        api.delete(f"/lecturer/classes/{c['id']}"),
    ]
    ids = []
    for r in responses:
        rid = r.headers.get("X-Request-Id")
        assert rid, f"X-Request-Id missing\n{describe(r)}"
        ids.append(rid)
        if r.headers.get("Content-Type", "").startswith("application/problem+json"):
            doc = r.json()
            if "request_id" in doc:
                assert doc["request_id"] == rid, describe(r)
    assert len(set(ids)) == len(ids), f"request ids repeat: {ids}"


# ----------------------------------------------------------------------------- raw HTTP/1.1

def test_pipelining_three_requests_in_one_write(base_url):
    req = request_bytes("GET", "/healthz")
    with RawHttp(base_url) as c:
        c.send(req * 3)
        responses = [c.read_response() for _ in range(3)]
    for resp in responses:
        assert resp.status == 200, resp
        assert resp.json().get("status") == "ok", resp
    rids = [r.headers.get("x-request-id") for r in responses]
    assert all(rids) and len(set(rids)) == 3, rids


def test_pipelined_responses_keep_request_order(base_url):
    reqs = (request_bytes("GET", "/healthz") + request_bytes("GET", "/no-such-route")
            + request_bytes("GET", "/readyz") + request_bytes("POST", "/healthz"))
    with RawHttp(base_url) as c:
        c.send(reqs)
        responses = [c.read_response() for _ in range(4)]
    assert [r.status for r in responses] == [200, 404, 200, 405], responses
    assert "checks" in responses[2].json(), responses[2]


def test_pipelined_requests_with_bodies(base_url, api):
    tok = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
    bodies = [json.dumps({"code": f"PIPE{i}", "name": f"pipelined {i}"}).encode() for i in range(3)]
    data = b"".join(request_bytes("POST", "/lecturer/classes", tok, b) for b in bodies)
    data += request_bytes("GET", "/lecturer/classes?limit=10", {"Authorization": f"Bearer {api.token}"})
    with RawHttp(base_url, timeout=30) as c:
        c.send(data)
        responses = [c.read_response() for _ in range(4)]
    assert [r.status for r in responses] == [201, 201, 201, 200], responses
    assert [r.json()["code"] for r in responses[:3]] == ["PIPE0", "PIPE1", "PIPE2"]
    listed = {x["id"] for x in responses[3].json()["items"]}
    assert listed == {r.json()["id"] for r in responses[:3]}, "read-your-writes on one connection"


def test_keep_alive(base_url):
    with RawHttp(base_url) as c:
        for i in range(5):
            c.send(request_bytes("GET", "/healthz"))
            resp = c.read_response()
            assert resp.status == 200, (i, resp)
            assert resp.headers.get("connection", "").lower() != "close", (i, resp)
        c.send(request_bytes("GET", "/healthz", {"Connection": "close"}))
        resp = c.read_response()
        assert resp.status == 200, resp
        closed, secs, extra = c.wait_closed(5)
        assert closed and extra == b"", f"Connection: close must close after the response ({secs:.1f}s, {extra!r})"


def test_request_split_across_writes(base_url):
    req = request_bytes("GET", "/healthz")
    with RawHttp(base_url) as c:
        for b in (req[:5], req[5:20], req[20:-1], req[-1:]):
            c.send(b)
            time.sleep(0.05)
        assert c.read_response().status == 200


@pytest.mark.parametrize("shape", ["one-big-header", "many-headers"])
def test_headers_over_limit_are_431(base_url, header_limit, shape):
    if shape == "one-big-header":
        extra = {"X-Big": "a" * (header_limit + 1024)}
    else:
        n = header_limit // 100 + 20
        extra = {f"X-H{i:04d}": "b" * 90 for i in range(n)}
    data = request_bytes("GET", "/healthz", extra)
    assert len(data) > header_limit
    with RawHttp(base_url) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            resp = c.read_response()
        except (ConnectionResetError, EOFError) as e:
            raise AssertionError(f"no 431 response before the connection ended: {e!r}")
    assert resp.status == 431, resp
    assert resp.headers.get("content-type", "").startswith("application/problem+json"), resp
    assert resp.json()["type"].endswith("/headers_too_large"), resp
    assert resp.headers.get("x-request-id"), resp


def test_headers_under_limit_are_fine(base_url, header_limit):
    data = request_bytes("GET", "/healthz", {"X-Big": "a" * (header_limit // 2)})
    with RawHttp(base_url) as c:
        c.send(data)
        assert c.read_response().status == 200


def test_gateway_survives_garbage(base_url, anon):
    with RawHttp(base_url) as c:
        c.send(b"\x00\x01\x02 this is not HTTP\r\n\r\n")
        try:
            resp = c.read_response()
            assert resp.status == 400, resp
        except (EOFError, ConnectionResetError, AssertionError):
            pass  # closing the connection is fine too
    assert_json(anon.get("/healthz"), 200)


def test_slow_client_is_disconnected(base_url, header_timeout_ms, anon):
    limit = header_timeout_ms / 1000 + 3
    with RawHttp(base_url) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: sms\r\n")  # no blank line: the head never ends
        closed, secs, data = c.wait_closed(limit)
    assert closed, f"a client that stopped mid-head was still connected after {limit:.1f} s"
    assert secs >= header_timeout_ms / 1000 * 0.5, \
        f"disconnected after {secs:.2f} s, well before the {header_timeout_ms} ms header timeout"
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), f"unexpected bytes: {data[:200]!r}"
    assert_json(anon.get("/healthz"), 200)


def test_trickling_client_is_disconnected(base_url, header_timeout_ms, anon):
    # A byte every 200 ms keeps the connection busy but the head never completes: the
    # header timeout covers the whole head, not the gap between bytes.
    limit = header_timeout_ms / 1000 + 3
    with RawHttp(base_url) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: sms\r\nX-Slow: ")
        c.sock.setblocking(False)
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < limit:
            try:
                c.sock.send(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            except BlockingIOError:
                pass
            if c.readable(0.2):
                try:
                    chunk = c.sock.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    chunk = b""
                if not chunk or chunk.startswith(b"HTTP/1.1 408"):
                    closed = True
                    break
        secs = time.monotonic() - t0
        c.sock.setblocking(True)
    assert closed, f"a trickling client was still connected after {secs:.1f} s"
    assert_json(anon.get("/healthz"), 200)


def test_many_connections_at_once(base_url):
    socks = []
    try:
        for _ in range(50):
            socks.append(RawHttp(base_url))
        for c in socks:
            c.send(request_bytes("GET", "/healthz"))
        for c in socks:
            assert c.read_response().status == 200
    finally:
        for c in socks:
            c.close()


def test_client_disconnect_mid_request_does_not_hurt(base_url, api):
    for _ in range(5):
        u = urllib.parse.urlsplit(base_url)
        s = socket.create_connection((u.hostname, u.port or 80), timeout=5)
        s.sendall(b"POST /lecturer/classes HTTP/1.1\r\nHost: sms\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer " + api.token.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"co")
        s.close()
    assert_json(api.get("/lecturer/classes"), 200)
    assert api.list_all("all") == []
