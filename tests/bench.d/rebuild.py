#!/usr/bin/env python3
"""tests/bench --suite rebuild: the RTO of a Redis loss, at seed scale and with N events in the log.

RTO = from FLUSHALL until every service has rebuilt its view from the log (its "built"
marker is back), then checked: `sms-admin checksum-views` must equal the checksums taken just
before the wipe (the reference), else the figure is marked wrong.

  1. seed scale: `sms-admin seed scale` (idempotent), reference, FLUSHALL, RTO.
  2. N events (default 1,000,000): class.created events for synthetic lecturers produced
     straight to sms.events.classes (confluent-kafka, batched, the wire format of
     schemas/vectors/class.created.v1.json), until the log holds at least N events in all;
     the classes service's tailer applies them; reference, FLUSHALL, RTO.

usage: rebuild.py BASE_URL SMS_ADMIN OUT_MD [--events N]   (environment of deploy/ctl env)
"""

import argparse
import os
import subprocess
import sys
import time

import msgpack
import redis
from confluent_kafka import Consumer, Producer, TopicPartition

ENV = os.environ
MARKERS = ["sms:classes:meta", "sms:assignments:meta", "sms:grading:meta", "sms:notifications:meta"]
EVENT_TOPICS = ["sms.events.classes", "sms.events.assignments", "sms.events.grades", "sms.events.chat",
                "sms.events.posts", "sms.events.notifications"]
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CLASSES_PER_LECTURER = 1000


def log(msg):
    print(f"[rebuild {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def b32(n, width):
    s = ""
    for _ in range(width):
        s = CROCKFORD[n % 32] + s
        n //= 32
    return s


def events_in_log(brokers):
    c = Consumer({"bootstrap.servers": brokers, "group.id": "sms-bench-rebuild-probe", "enable.auto.commit": False})
    total = 0
    try:
        md = c.list_topics(timeout=30)
        for t in EVENT_TOPICS:
            if t not in md.topics:
                continue
            for p in md.topics[t].partitions:
                lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=30)
                total += hi - lo
    finally:
        c.close()
    return total


def checksums(admin):
    out = subprocess.run([admin, "checksum-views"], capture_output=True, text=True, timeout=900, check=True).stdout
    return {ln.split()[0]: (ln.split()[1], int(ln.split()[2])) for ln in out.splitlines() if ln.strip()}


def stable_checksums(admin, timeout=900):
    deadline = time.monotonic() + timeout
    prev = checksums(admin)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        cur = checksums(admin)
        if cur == prev:
            return cur
        prev = cur
    raise SystemExit("view checksums keep changing: the services are still applying events")


def rto(r, admin, reference, timeout=1800):
    """FLUSHALL, the seconds until every built marker is back, and whether the views then
    equal the reference."""
    t0 = time.monotonic()
    r.flushall()
    while time.monotonic() - t0 < timeout:
        if all(r.hexists(m, "built") for m in MARKERS):
            break
        time.sleep(0.02)
    else:
        return None, False
    secs = time.monotonic() - t0
    return secs, checksums(admin) == reference


def produce_classes(brokers, n):
    """n class.created events, keys = class ids, CLASSES_PER_LECTURER per synthetic lecturer."""
    p = Producer({"bootstrap.servers": brokers, "acks": "all", "enable.idempotence": True, "linger.ms": 50,
                  "batch.num.messages": 10000, "queue.buffering.max.messages": 500000,
                  "compression.type": "lz4"})
    run = b32(int(time.time()) % (32 ** 4), 4)
    now = int(time.time() * 1000)
    errors = []

    def dr(err, _msg):
        if err is not None:
            errors.append(err)

    for i in range(n):
        lecturer = "BNCH" + run + b32(i // CLASSES_PER_LECTURER, 18)
        cid = "BC" + run + b32(i, 20)
        ev = {"id": "BE" + run + b32(i, 20), "type": "class.created", "v": 1, "time": now, "actor": lecturer,
              "key": cid, "cause": f"{lecturer}:bench-{run}-{i}",
              "data": {"id": cid, "code": f"B{i}", "name": f"bench class {i}", "description": "", "term": "bench",
                       "status": "active", "lecturer_id": lecturer, "created_at": now, "updated_at": now,
                       "version": 1}}
        while True:
            try:
                p.produce("sms.events.classes", key=cid, value=msgpack.packb(ev, use_bin_type=True),
                          headers=[("content-type", b"application/msgpack")], on_delivery=dr)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    left = p.flush(300)
    if left or errors:
        raise SystemExit(f"produce: {left} undelivered, {len(errors)} errors (first: {errors[:1]})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("admin")
    ap.add_argument("out")
    ap.add_argument("--events", type=int, default=1_000_000)
    a = ap.parse_args()
    brokers = ENV["SMS_KAFKA_BROKERS"]
    r = redis.Redis(host=ENV.get("SMS_REDIS_HOST", "127.0.0.1"), port=int(ENV["SMS_REDIS_PORT"]), socket_timeout=30)
    rows = []

    log("seed scale: sms-admin seed scale")
    # The seed is idempotent (keyed requests): on a busy machine some of its writes get 503
    # overloaded after its own retries, and running it again sends only what is missing.
    for attempt in range(1, 6):
        if subprocess.run([a.admin, "seed", "scale"], timeout=1800, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            break
        log(f"seed scale: some writes refused (attempt {attempt}); again")
        time.sleep(5)
    else:
        raise SystemExit("sms-admin seed scale did not complete in 5 attempts")
    ref = stable_checksums(a.admin)
    n_events = events_in_log(brokers)
    secs, same = rto(r, a.admin, ref)
    keys = sum(c for _, c in ref.values())
    log(f"seed scale: {n_events} events, {keys} keys: RTO {secs} s, checksums equal: {same}")
    rows.append(("seed scale (`sms-admin seed scale`, plus whatever the log held)", n_events, keys, secs, same, "5"))

    missing = a.events - events_in_log(brokers)
    if missing > 0:
        log(f"producing {missing} class.created events to sms.events.classes")
        t0 = time.monotonic()
        produce_classes(brokers, missing)
        log(f"produced in {time.monotonic() - t0:.1f} s; waiting for the classes view to apply them")
    ref = stable_checksums(a.admin, timeout=1800)
    n_events = events_in_log(brokers)
    secs, same = rto(r, a.admin, ref)
    keys = sum(c for _, c in ref.values())
    log(f"{n_events} events, {keys} keys: RTO {secs} s, checksums equal: {same}")
    rows.append((f"{a.events:,} events (synthetic class.created produced to Kafka)", n_events, keys, secs, same, "60"))

    with open(a.out, "w") as f:
        f.write("| log | events in the log | view keys | RTO (FLUSHALL -> every view built) | checksums = reference | goal |\n")
        f.write("|---|---|---|---|---|---|\n")
        for what, n, k, s, ok, goal in rows:
            f.write(f"| {what} | {n:,} | {k:,} | {'not rebuilt' if s is None else f'{s:.1f} s'} | "
                    f"{'yes' if ok else 'NO'} | <= {goal} s |\n")
        f.write(f"\nRun {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on a 2-core machine shared with other "
                f"sessions' builds and tests (load average {os.getloadavg()[0]:.0f} at the end): the figures are upper "
                f"bounds of a quiet machine's.\n")
    return 0 if all(s is not None and ok for _, _, _, s, ok, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
