#!/usr/bin/env python3
"""Live push latency and stream memory (issue 4's SSE benchmark), the `sse` suite of
tests/bench. Seeds one class of `--students` (default 1,000), opens one
GET /me/notifications/stream per student (asyncio, raw sockets, one process), then POSTs
`--posts` announcements one at a time and stamps, on every stream, when the event of each
post arrives:

  201 -> event   from the POST's 201 to the event on each stream (p50, p99, worst over
                 every stream and post): what a student's browser sees;
  POST -> event  the same from the moment the POST was sent.

Every stream must get every post exactly once (checked: a missing or doubled event fails
the run). Then it opens idle streams for other users until `--idle` (default 10,000)
streams are open in all and reads the gateway's RSS (/proc) at 0, `--students` and
`--idle` open streams. Prints a markdown table.

usage: sse.py BASE_URL JWT_SECRET OUT_MD [--students 1000] [--posts 5] [--idle 10000]
"""
import argparse
import asyncio
import base64
import datetime
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
import urllib.parse
import uuid

import requests

TIMEOUT_S = 60


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(secret, sub, role):
    now = int(time.time())
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": sub, "role": role, "iat": now, "exp": now + 7200}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def gateway_rss_mb():
    pid = open(os.path.join(os.environ["SMS_RUN_DIR"], "gateway.pid")).read().strip()
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Stream:
    """One SSE connection; arrival times of its events by title."""

    def __init__(self):
        self.arrived = {}   # title -> [monotonic arrival, ...]
        self.ready = asyncio.Event()
        self.task = None
        self.writer = None

    async def run(self, host, port, token):
        reader, self.writer = await asyncio.open_connection(host, port)
        self.writer.write((f"GET /me/notifications/stream HTTP/1.1\r\nHost: {host}\r\n"
                           f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"stream refused: {head[:200]!r}")
        buf = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            at = time.monotonic()
            buf += chunk
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                for line in block.split(b"\n"):
                    if line.startswith(b"id: "):
                        self.ready.set()
                    elif line.startswith(b"data: "):
                        title = json.loads(line[6:])["title"]
                        self.arrived.setdefault(title, []).append(at)

    def close(self):
        if self.writer:
            self.writer.close()
        if self.task:
            self.task.cancel()


async def open_streams(host, port, tokens, batch=500):
    out = []
    for at in range(0, len(tokens), batch):
        group = [Stream() for _ in tokens[at:at + batch]]
        for s, t in zip(group, tokens[at:at + batch]):
            s.task = asyncio.ensure_future(s.run(host, port, t))
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in group)), TIMEOUT_S)
        out += group
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("secret")
    ap.add_argument("out")
    ap.add_argument("--students", type=int, default=1000)
    ap.add_argument("--posts", type=int, default=5)
    ap.add_argument("--idle", type=int, default=10000)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.base)
    lec = f"bench-sse-{uuid.uuid4().hex[:8]}"
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {mint(a.secret, lec, 'lecturer')}"
    r = s.post(f"{a.base}/lecturer/classes", json={"code": f"SSE-{uuid.uuid4().hex[:6]}", "name": "SSE bench",
                                                   "term": "2025-fall"}, timeout=30)
    r.raise_for_status()
    cid = r.json()["id"]
    sids = [f"sse-{lec[-8:]}-{i:05d}" for i in range(a.students)]
    for at in range(0, len(sids), 500):
        rows = [{"student_id": x, "name": f"Student {x[-5:]}", "email": f"{x}@school.edu"} for x in sids[at:at + 500]]
        r = s.post(f"{a.base}/lecturer/classes/{cid}/students", json={"students": rows}, timeout=120)
        r.raise_for_status()
    rss0 = gateway_rss_mb()
    t0 = time.monotonic()
    streams = await open_streams(u.hostname, u.port, [mint(a.secret, x, "student") for x in sids])
    print(f"==> sse: {len(streams)} streams open in {time.monotonic() - t0:.1f}s", flush=True)
    await asyncio.sleep(1)
    rss_active = gateway_rss_mb()
    from_201, from_post = [], []
    loop = asyncio.get_running_loop()
    for n in range(a.posts + 1):  # post 0 warms up and is not counted
        title = f"SSE bench {lec} #{n}"
        t_post = time.monotonic()
        r = await loop.run_in_executor(None, lambda: s.post(f"{a.base}/classes/{cid}/posts",
                                                            json={"title": title, "body": "Read me."}, timeout=60))
        t_201 = time.monotonic()
        r.raise_for_status()
        deadline = t_201 + TIMEOUT_S
        while any(title not in st.arrived for st in streams) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)  # a duplicate would come right behind
        got = [st.arrived.get(title, []) for st in streams]
        if any(len(g) != 1 for g in got):
            sys.exit(f"post {n}: {sum(1 for g in got if not g)} streams missed it, "
                     f"{sum(1 for g in got if len(g) > 1)} got it twice")
        if n:
            from_201 += [(g[0] - t_201) * 1000 for g in got]
            from_post += [(g[0] - t_post) * 1000 for g in got]
        print(f"==> sse: post {n}: 201 -> last stream {(max(g[0] for g in got) - t_201) * 1000:.0f} ms", flush=True)
    t0 = time.monotonic()
    extra = [mint(a.secret, f"sse-idle-{lec[-8:]}-{i:05d}", "student") for i in range(max(0, a.idle - len(streams)))]
    idle = await open_streams(u.hostname, u.port, extra)
    print(f"==> sse: {len(streams) + len(idle)} streams open ({time.monotonic() - t0:.1f}s for the idle ones)",
          flush=True)
    await asyncio.sleep(2)
    rss_idle = gateway_rss_mb()
    for st in streams + idle:
        st.close()
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with open(a.out, "w") as f:
        f.write(f"Run: {when}, loopback, everything on this 2-core machine; load average at the end {load}.\n\n")
        f.write("| open streams | posts | events | 201 -> event p50 ms | p99 ms | worst ms "
                "| POST -> event p50 ms | p99 ms | target p99 <= 100 ms |\n|---|---|---|---|---|---|---|---|---|\n")
        f.write(f"| {len(streams)} | {a.posts} | {len(from_201)} | {pct(from_201, 50):.1f} | {pct(from_201, 99):.1f} "
                f"| {max(from_201):.1f} | {pct(from_post, 50):.1f} | {pct(from_post, 99):.1f} "
                f"| {'met' if pct(from_201, 99) <= 100 else 'missed'} |\n\n")
        f.write("| gateway RSS | MB |\n|---|---|\n")
        f.write(f"| no streams | {rss0:.1f} |\n| {len(streams)} streams | {rss_active:.1f} |\n"
                f"| {len(streams) + len(idle)} streams | {rss_idle:.1f} |\n")
    print(open(a.out).read())


if __name__ == "__main__":
    asyncio.run(main())
