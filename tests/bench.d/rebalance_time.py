#!/usr/bin/env python3
"""Rebalance time of a consumer restart, classic vs KIP-848 (issue 14).

Two members of one group share a 4-partition topic; the second is restarted (closed, then a new
one subscribes) N times. Prints, per protocol, the seconds from the new member's subscribe to
the moment both members own their share again (every partition owned, the new one has some).
Uses the venv's confluent-kafka (its own librdkafka >= 2.12), against the broker given:

    rebalance_time.py BOOTSTRAP [N]
"""
import statistics
import sys
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic


def member(bootstrap, group, protocol, assigned):
    conf = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    if protocol == "consumer":
        conf["group.protocol"] = "consumer"
    else: # as common/kafka.c sets them
        conf.update({"session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                     "partition.assignment.strategy": "range,roundrobin"})

    def on_assign(c, parts):
        assigned.update(p.partition for p in parts)
        if protocol == "consumer":
            c.incremental_assign(parts)

    def on_revoke(c, parts):
        assigned.difference_update(p.partition for p in parts)
        if protocol == "consumer":
            c.incremental_unassign(parts)
    return Consumer(conf), on_assign, on_revoke


def wait_balanced(members, deadline):
    while time.monotonic() < deadline:
        for c, _ in members:
            c.poll(0.02)
        owned = [a for _, a in members]
        if all(owned) and set().union(*owned) == {0, 1, 2, 3} and sum(map(len, owned)) == 4:
            return True
    return False


def run(bootstrap, protocol, n):
    topic = f"rebalance-{protocol}-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(30)
    group = f"g-{topic}"
    members = []
    for _ in range(2):
        a = set()
        c, on_a, on_r = member(bootstrap, group, protocol, a)
        c.subscribe([topic], on_assign=on_a, on_revoke=on_r)
        members.append((c, a))
    assert wait_balanced(members, time.monotonic() + 60), "first join never balanced"
    times = []
    for _ in range(n):
        old, _ = members.pop()
        old.close()
        a = set()
        c, on_a, on_r = member(bootstrap, group, protocol, a)
        t0 = time.monotonic()
        c.subscribe([topic], on_assign=on_a, on_revoke=on_r)
        members.append((c, a))
        assert wait_balanced(members, t0 + 60), "restart never balanced"
        times.append(time.monotonic() - t0)
    for c, _ in members:
        c.close()
    admin.delete_topics([topic])
    return times


def main():
    bootstrap, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    for protocol in ("classic", "consumer"):
        t = run(bootstrap, protocol, n)
        print(f"{protocol:8s} restart→balanced s: median {statistics.median(t):.3f} "
              f"min {min(t):.3f} max {max(t):.3f}  ({' '.join(f'{x:.3f}' for x in t)})")


if __name__ == "__main__":
    main()
