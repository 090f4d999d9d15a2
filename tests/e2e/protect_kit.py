"""What the protection tests (test_ratelimit, test_client_caps, test_cors) share: extra
sms-gateway processes with their own settings beside the suite's system (same Redis and
Kafka, own port and gateway id, stopped at the end), loopback source addresses of their
own (127.x.y.z: each test is its own client IP, so the Redis-shared buckets of one test
never see another's requests), and a paced pipelined load generator on raw sockets.
"""

import os
import random
import re
import resource
import select
import socket
import subprocess
import time
import urllib.parse

import requests

import helpers

STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) ")
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_source_ip():
    """A loopback address no other test uses as its client address (127.0.0.0/8 is all local)."""
    return f"127.{random.randint(20, 250)}.{random.randint(1, 250)}.{random.randint(1, 250)}"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Gateway:
    """One sms-gateway process on a free port; env overrides the suite's settings."""

    def __init__(self, tmp_path, name="gw", **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"{name}-{self.port}.log"
        e = dict(os.environ)
        e.update({"SMS_HTTP_PORT": str(self.port), "SMS_HTTP_HOST": "127.0.0.1",
                  "SMS_GATEWAY_ID": f"gw-test-{name}-{self.port}"})
        e.pop("SMS_LOG_FILE", None)  # its own stdout, not the suite gateway's log
        for k, v in env.items():
            e[k] = str(v)
        self.env = e
        self.log = open(self.log_path, "wb")
        binary = os.path.join(os.environ["SMS_BIN_DIR"], "sms-gateway")
        self.proc = subprocess.Popen([binary], env=e, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=raise_nofile)
        self._wait_listening()

    def _wait_listening(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited {self.proc.returncode}: {self.log_text()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code in (200, 429):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gateway on {self.port} never listened: {self.log_text()[-2000:]}")

    def wait_ready(self, timeout=60.0):
        helpers.wait_ready(self.url, timeout=timeout)

    def log_text(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def connect_from(source_ip, url, timeout=10.0):
    """A TCP connection to the gateway at url from source_ip."""
    u = urllib.parse.urlsplit(url)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.bind((source_ip, 0))
    s.settimeout(timeout)
    s.connect((u.hostname, u.port))
    return s


def get_from(source_ip, url, path, headers=None, timeout=10.0):
    """One GET from source_ip; returns a helpers.RawResponse."""
    raw = helpers.RawHttp.__new__(helpers.RawHttp)
    raw.sock = connect_from(source_ip, url, timeout)
    raw.buf = b""
    try:
        raw.send(helpers.request_bytes("GET", path, headers))
        return raw.read_response()
    finally:
        raw.close()


def paced_load(source_ip, url, path, rate, seconds, headers=None, conns=4):
    """Sends `rate` GETs per second for `seconds` from source_ip, pipelined over `conns`
    keep-alive connections, in 10 ms ticks. Returns (statuses in send order per
    (the statuses in send order, elapsed seconds, the raw text of the first 429 or None)."""
    req = helpers.request_bytes("GET", path, headers)
    socks = [connect_from(source_ip, url) for _ in range(conns)]
    for s in socks:
        s.setblocking(False)
    bufs = [b""] * conns
    statuses = [[] for _ in range(conns)]
    sent = [0] * conns
    order = [[] for _ in range(conns)]  # per connection: the global send index of each request
    first_429 = None
    tick = 0.01
    t0 = time.monotonic()
    end = t0 + seconds
    i = 0
    pending_out = [b""] * conns

    def pump(wait):
        nonlocal first_429
        r, w, _ = select.select(socks, [s for k, s in enumerate(socks) if pending_out[k]], [], wait)
        for s in w:
            k = socks.index(s)
            n = s.send(pending_out[k])
            pending_out[k] = pending_out[k][n:]
        for s in r:
            k = socks.index(s)
            chunk = s.recv(1 << 20)
            if not chunk:
                raise AssertionError("the gateway closed a load connection")
            buf = bufs[k] + chunk
            at = 0
            # Every answer here is small and has Content-Length: count the complete ones.
            while True:
                head_end = buf.find(b"\r\n\r\n", at)
                if head_end < 0:
                    break
                cl = buf.find(b"Content-Length: ", at, head_end)
                body_len = int(buf[cl + 16:buf.find(b"\r\n", cl)]) if cl >= 0 else 0
                stop = head_end + 4 + body_len
                if len(buf) < stop:
                    break
                status = int(buf[at + 9:at + 12])
                if status == 429 and first_429 is None:
                    first_429 = buf[at:stop].decode("latin-1")
                statuses[k].append(status)
                at = stop
            bufs[k] = buf[at:]

    # Requests owed are counted from the clock, not per tick: a tick that runs late (a busy
    # machine) is made up at once, so the offered count is rate x time.
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int(rate * (now - t0)) - i
        for _ in range(due):
            k = i % conns
            pending_out[k] += req
            sent[k] += 1
            order[k].append(i)
            i += 1
        next_tick = now + tick
        while True:
            left = next_tick - time.monotonic()
            if left <= 0:
                break
            pump(left)
    elapsed = time.monotonic() - t0
    deadline = time.monotonic() + 15
    while sum(len(s) for s in statuses) < sum(sent) and time.monotonic() < deadline:
        pump(0.2)
    for s in socks:
        s.close()
    total = sum(sent)
    got = sum(len(s) for s in statuses)
    assert got == total, f"{got} answers for {total} requests"
    flat = [0] * total
    for k in range(conns):
        for idx, status in zip(order[k], statuses[k]):
            flat[idx] = status
    return flat, elapsed, first_429


def header(raw_text, name):
    m = re.search(rf"(?im)^{re.escape(name)}: *(.*?)\r?$", raw_text)
    return m.group(1) if m else None


def pipelined(source_ip, url, reqs_per_conn, timeout=30.0):
    """Opens one connection from source_ip per entry of reqs_per_conn (a list of request
    byte strings), sends each list pipelined in one go and reads every answer. Returns,
    per connection, a list of (status, body bytes, seconds after the start)."""
    socks = [connect_from(source_ip, url) for _ in reqs_per_conn]
    out = [[] for _ in socks]
    pending = [b"".join(r) for r in reqs_per_conn]
    bufs = [b""] * len(socks)
    for s in socks:
        s.setblocking(False)
    t0 = time.monotonic()
    deadline = t0 + timeout
    want = sum(len(r) for r in reqs_per_conn)
    while sum(len(o) for o in out) < want:
        left = deadline - time.monotonic()
        assert left > 0, f"{sum(len(o) for o in out)} of {want} answers within {timeout} s"
        r, w, _ = select.select(socks, [s for k, s in enumerate(socks) if pending[k]], [], min(left, 0.5))
        for s in w:
            k = socks.index(s)
            try:
                n = s.send(pending[k])
                pending[k] = pending[k][n:]
            except BlockingIOError:
                pass
        for s in r:
            k = socks.index(s)
            chunk = s.recv(1 << 20)
            assert chunk, f"connection {k} closed after {len(out[k])} answers"
            bufs[k] += chunk
            while True:
                head_end = bufs[k].find(b"\r\n\r\n")
                if head_end < 0:
                    break
                head = bufs[k][:head_end].decode("latin-1")
                cl = re.search(r"(?im)^content-length: *(\d+)", head)
                body_len = int(cl.group(1)) if cl else 0
                if len(bufs[k]) < head_end + 4 + body_len:
                    break
                body = bufs[k][head_end + 4:head_end + 4 + body_len]
                out[k].append((int(head.split(" ", 2)[1]), body, time.monotonic() - t0))
                bufs[k] = bufs[k][head_end + 4 + body_len:]
    for s in socks:
        s.close()
    return out


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
