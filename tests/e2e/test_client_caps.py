"""Per-client resource caps (issue 12 §1, hostile clients): connections per IP against
20,000 idle sockets from one address while another client is served, a slowloris, 5,000
long-polls from one user, open SSE streams per user and their end at token expiry, and
pipelined request bodies held per connection.

Each test runs its own gateway (protect_kit.Gateway) and attacks from a loopback address
of its own. The 20,000 sockets are opened by two child processes of 10,000 each: one
process may hold at most RLIMIT_NOFILE descriptors (20,000 here, hard), and the test
process needs a few of its own.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests

import protect_kit as kit
from helpers import request_bytes

pytestmark = pytest.mark.slow

# A child that opens N idle connections from one address, says how many, waits for a
# line on stdin, then says how many the gateway had closed (reset or FIN) and exits.
IDLE_CHILD = textwrap.dedent("""
    import resource, select, socket, sys
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    src, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    socks, reset, failed = [], 0, 0
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24), 1)
        try:
            s.bind((src, 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            socks.append(s)
        except ConnectionResetError:
            reset += 1  # handshake done, and the gateway's reset came before connect() returned
            s.close()
        except OSError:
            failed += 1
            s.close()
    print("opened", len(socks), reset, failed, flush=True)
    sys.stdin.readline()
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    print("closed", closed, flush=True)
""")


def _served_quickly(gw, ip, n=20, budget_s=1.0):
    worst = 0.0
    for _ in range(n):
        t = time.monotonic()
        r = kit.get_from(ip, gw.url, "/healthz", timeout=5)
        worst = max(worst, time.monotonic() - t)
        assert r.status == 200, r
    assert worst < budget_s, f"the other client waited {worst:.2f} s"
    return worst


def test_20000_idle_sockets_from_one_ip_while_another_client_is_served(gateways):
    hard = kit.raise_nofile()
    per_child = 10000
    assert hard >= per_child + 100, f"RLIMIT_NOFILE hard limit {hard}: cannot hold 10,000 sockets per process"
    # Idle sockets that the gateway accepted stay open for the whole test.
    gw = gateways("idle", SMS_HEADER_TIMEOUT_MS=120000, SMS_IDLE_TIMEOUT_MS=120000)
    attacker, other = kit.fresh_source_ip(), kit.fresh_source_ip()
    cap = 1024  # SMS_MAX_CONNECTIONS_PER_IP default
    children = [subprocess.Popen([sys.executable, "-c", IDLE_CHILD, attacker, str(gw.port), str(per_child)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        opened = reset_early = failed = 0
        for c in children:
            line = c.stdout.readline().split()
            assert line and line[0] == "opened", line
            opened += int(line[1])
            reset_early += int(line[2])
            failed += int(line[3])
        assert opened + reset_early + failed == 2 * per_child
        # The kernel completed (nearly) every handshake: the gateway had to deal with each.
        assert opened + reset_early >= 2 * per_child * 0.95, \
            f"only {opened} + {reset_early} of 20,000 connects completed ({failed} failed otherwise)"
        # The gateway holds at most the cap for that address (plus its own few descriptors)...
        fds = gw.open_fds()
        assert fds < cap + 200, f"the gateway holds {fds} descriptors with 20,000 sockets from one address"
        # ...and another client is served at once meanwhile.
        worst = _served_quickly(gw, other)
        closed = 0
        for c in children:
            c.stdin.write("report\n")
            c.stdin.flush()
            line = c.stdout.readline().split()
            assert line and line[0] == "closed", line
            closed += int(line[1])
        assert closed + reset_early >= opened + reset_early - cap, \
            f"only {closed} + {reset_early} of {opened + reset_early} refused with a cap of {cap}"
        assert opened - closed <= cap, f"{opened - closed} sockets from one address still open (cap {cap})"
        print(f"20,000 connects: {opened} returned, {reset_early} reset before connect() returned, {failed} failed;"
              f" {closed} of the returned ones closed by the gateway; gateway fds {fds}; other client worst {worst:.3f} s")
    finally:
        for c in children:
            c.kill()
            c.wait()
    # The cap counts open connections: once the attacker's are gone, that address is served again.
    deadline = time.monotonic() + 10
    while True:
        try:
            if kit.get_from(attacker, gw.url, "/healthz", timeout=2).status == 200:
                break
        except (OSError, EOFError):
            pass
        assert time.monotonic() < deadline, "the address stayed refused after its sockets closed"
        time.sleep(0.2)


def test_slowloris_is_cut_off_at_the_header_timeout(gateways):
    """300 connections that each trickle a head one byte every 300 ms: every one is ended
    when SMS_HEADER_TIMEOUT_MS (2 s here) has passed since its first byte, however steady
    the trickle, and another client is served all along."""
    gw = gateways("slowloris", SMS_HEADER_TIMEOUT_MS=2000)
    attacker, other = kit.fresh_source_ip(), kit.fresh_source_ip()
    socks = [kit.connect_from(attacker, gw.url) for _ in range(300)]
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    t0 = time.monotonic()
    alive = set(range(len(socks)))
    ended_at = {}
    i = 0
    while alive and time.monotonic() - t0 < 8:
        for k in list(alive):
            s = socks[k]
            try:
                s.send(head[i:i + 1] if i < len(head) else b"a")
            except OSError:
                alive.discard(k)
                ended_at[k] = time.monotonic() - t0
                continue
            s.setblocking(False)
            try:
                data = s.recv(65536)
                alive.discard(k)  # an answer (408) or the close
                ended_at[k] = time.monotonic() - t0
                assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:80]
            except BlockingIOError:
                pass
            except OSError:
                alive.discard(k)
                ended_at[k] = time.monotonic() - t0
            s.setblocking(True)
        i += 1
        if i % 3 == 0:
            _served_quickly(gw, other, n=1)
        time.sleep(0.3)
    for s in socks:
        s.close()
    assert not alive, f"{len(alive)} trickling connections still open after 8 s"
    assert max(ended_at.values()) < 5.0, f"the last one was ended after {max(ended_at.values()):.1f} s"
    assert min(ended_at.values()) >= 1.5, "ended before the header timeout"


def test_5000_long_polls_from_one_user_are_refused_beyond_the_cap(gateways, api):
    """One user sends 5,000 chat long-polls (?wait=3) at once: 128 (SMS_MAX_LONGPOLLS_PER_USER,
    default) are held and answered 200 after their wait, the rest get 429 too_many_open; then
    the slots are free again. Rate limits are raised so that only the cap decides."""
    cap = 128
    cls = api.create()
    gw = gateways("longpoll", SMS_RATELIMIT_USER_BURST=100000, SMS_RATELIMIT_IP_BURST=100000)
    ip = kit.fresh_source_ip()
    path = f"/classes/{cls['id']}/chat?wait=3"
    auth = {"Authorization": f"Bearer {api.token}"}
    req = request_bytes("GET", path, auth)
    out = kit.pipelined(ip, gw.url, [[req] * 50 for _ in range(100)], timeout=60)
    answers = [a for conn in out for a in conn]
    assert len(answers) == 5000
    held = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    assert len(held) == cap, f"{len(held)} long-polls held (cap {cap}); statuses {set(a[0] for a in answers)}"
    assert len(refused) == 5000 - cap
    assert {json.loads(b)["type"].rsplit("/", 1)[1] for _, b, _ in refused} == {"too_many_open"}
    assert all(t >= 2.5 for _, _, t in held), "a held long-poll answered before its wait"
    # The slots came back: as many are held again (wait=1).
    req = request_bytes("GET", f"/classes/{cls['id']}/chat?wait=1", auth)
    again = kit.pipelined(ip, gw.url, [[req] * 8 for _ in range(cap // 8)], timeout=30)
    assert [a[0] for conn in again for a in conn] == [200] * cap


def _open_stream(url, token, timeout=10):
    r = requests.get(url + "/me/notifications/stream", headers={"Authorization": f"Bearer {token}"},
                     stream=True, timeout=timeout)
    return r


def test_sse_streams_per_user_capped(gateways, mint):
    gw = gateways("sse-cap", SMS_MAX_STREAMS_PER_USER=2)
    token = mint(sub=f"stu-{os.urandom(4).hex()}", role="student")
    a, b = _open_stream(gw.url, token), _open_stream(gw.url, token)
    try:
        assert a.status_code == 200 and b.status_code == 200
        c = _open_stream(gw.url, token)
        assert c.status_code == 429, c.text
        assert c.json()["type"].endswith("/too_many_open")
        other = _open_stream(gw.url, mint(sub=f"stu-{os.urandom(4).hex()}", role="student"))
        assert other.status_code == 200, "another user is not affected"
        other.close()
    finally:
        a.close()
    # Closing one gives its slot back (the hub notices the vanished client within 50 ms).
    deadline = time.monotonic() + 5
    while True:
        d = _open_stream(gw.url, token)
        if d.status_code == 200:
            d.close()
            break
        d.close()
        assert time.monotonic() < deadline, "the closed stream's slot never came back"
        time.sleep(0.2)
    b.close()


def test_sse_stream_ends_when_its_token_expires(gateways, mint):
    gw = gateways("sse-exp", SMS_SSE_HEARTBEAT_MS=1000)
    token = mint(sub=f"stu-{os.urandom(4).hex()}", role="student", ttl=3)
    t0 = time.monotonic()
    r = _open_stream(gw.url, token)
    assert r.status_code == 200
    lines = []
    for line in r.iter_lines(decode_unicode=True):
        lines.append(line)
        assert time.monotonic() - t0 < 10, "the stream outlived its token by far"
    elapsed = time.monotonic() - t0
    assert "event: token_expired" in lines, lines
    assert ": heartbeat" in lines  # it was a live stream until then
    assert 1.5 <= elapsed <= 6, f"ended after {elapsed:.1f} s for a 3 s token"


def test_pipelined_bodies_are_bounded_per_connection(gateways, api):
    """Eight pipelined GET long-polls (wait=1) each carrying a 512 KiB body on one connection:
    with SMS_PIPELINE_MAX_BYTES=1 MiB the gateway reads on only as earlier ones are answered
    (so they take several waits), while the control without the bound holds them all at once."""
    cls = api.create()
    auth = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/octet-stream"}
    body = b"x" * (512 * 1024)
    req = request_bytes("GET", f"/classes/{cls['id']}/chat?wait=1", {**auth, "Content-Length": len(body)}) + body
    # request_bytes adds no Content-Length for GET: it is in the headers above.

    def run(limit):
        gw = gateways(f"pipe-{limit}", SMS_PIPELINE_MAX_BYTES=limit, SMS_RATELIMIT_IP_BURST=100000,
                      SMS_MAX_LONGPOLLS_PER_USER=100)
        out = kit.pipelined(kit.fresh_source_ip(), gw.url, [[req] * 8], timeout=60)
        assert [a[0] for a in out[0]] == [200] * 8, [a[0] for a in out[0]]
        return out[0][-1][2]

    bounded = run(1 << 20)
    unbounded = run(1 << 30)
    assert unbounded < 2.5, f"control: 8 long-polls of 1 s took {unbounded:.1f} s"
    assert bounded >= 2.5, f"with a 1 MiB bound all 8 were held at once ({bounded:.1f} s)"
