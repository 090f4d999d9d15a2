"""Two of everything (deploy/ctl SMS_INSTANCES=2: `tests/run --instances 2`): every service twice
in its consumer group, two gateways behind nginx on SMS_BASE_URL.

- Commands spread: both gateways log requests of one run, and both instances of classes handle
  commands (sms_worker_commands_total on each instance's /metrics).
- A keyed write burst (tests/chaos/chaoslib.py's load and checks) through a kill -9 of
  classes@2 and gateway@2, their restart (a rebalance on join), a clean stop and start of
  grading@2 (leave, join): nothing lost, nothing doubled, no 503 applied.
- An SSE stream and a chat long-poll on gateway@2 get what was written through gateway 1.
- FLUSHALL with both instances running: exactly one instance of each service replays its view
  (the other waits on the rebuild lock) and the checksums equal the ones before.
- `deploy/ctl restart --rolling` under a wrk load through nginx: 0 failed requests.
Skipped unless SMS_INSTANCES >= 2."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chaos"))
import chaoslib as cl  # noqa: E402

from helpers import Api, new_lecturer_id, wait_checksums, wait_ready  # noqa: E402
from test_sse import SseClient  # noqa: E402

pytestmark = [pytest.mark.disruptive, pytest.mark.slow]

INSTANCES = int(os.environ.get("SMS_INSTANCES", "1"))
WORKERS = ["classes", "assignments", "grading", "notifications", "notify-email", "notify-webhook", "identity"]
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


@pytest.fixture(scope="module", autouse=True)
def _two_instances():
    if INSTANCES < 2:
        pytest.skip("needs SMS_INSTANCES >= 2 (tests/run --instances 2)")


def _log(name):
    path = os.path.join(os.environ["SMS_RUN_DIR"], "logs", f"{name}.log")
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _log_size(name):
    try:
        return os.path.getsize(os.path.join(os.environ["SMS_RUN_DIR"], "logs", f"{name}.log"))
    except FileNotFoundError:
        return 0


def _log_since(name, offset):
    return _log(name)[offset:]


@pytest.fixture(scope="module")
def targets(ctl):
    """{NAME[@N]: "127.0.0.1:PORT"} from `deploy/ctl metrics-targets`."""
    out = {}
    for ln in ctl("metrics-targets").stdout.splitlines():
        name, addr = ln.split()
        out[name] = addr
    return out


def _commands_handled(addr):
    text = requests.get(f"http://{addr}/metrics", timeout=5).text
    return sum(float(m.group(1)) for m in re.finditer(r'^sms_worker_commands_total\{[^}]*\} (\S+)$', text, re.M))


def test_every_instance_runs_and_is_listed(ctl, targets):
    status = ctl("status").stdout
    for s in WORKERS + ["gateway"]:
        for n in (s, f"{s}@2"):
            assert re.search(rf"^{re.escape(n)}\s+\d+\s+running", status, re.M), f"{n} not running:\n{status}"
            assert n in targets, f"metrics-targets does not list {n}: {targets}"
    assert re.search(r"^lb\s+\d+\s+running", status, re.M), f"the balancer is not running:\n{status}"
    ports = list(targets.values())
    assert len(ports) == len(set(ports)), f"two instances share a /metrics port: {targets}"


def test_commands_spread_over_both_instances(base_url, mint, targets):
    before = {n: _commands_handled(targets[n]) for n in ("classes", "classes@2")}
    gw_before = {n: _log_size(n) for n in ("gateway", "gateway@2")}
    subs = [new_lecturer_id() for _ in range(8)]
    for k in range(40):
        sub = subs[k % len(subs)]
        body, key = {"code": f"SP{k}-{uuid.uuid4().hex[:6]}", "name": "spread"}, f"spread-{uuid.uuid4().hex}"
        deadline = time.monotonic() + 60
        while True:  # a 503/504 on a busy machine: retried with its key, as a client does
            r = Api(base_url, mint(sub), sub=sub).post("/lecturer/classes", json=body,
                                                      headers={"Idempotency-Key": key})
            if r.status_code not in (502, 503, 504) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert r.status_code == 201, r.text
    handled = {n: _commands_handled(targets[n]) - before[n] for n in before}
    assert all(v > 0 for v in handled.values()), f"commands handled per instance of classes: {handled}"
    assert sum(handled.values()) >= 40, handled
    for n, off in gw_before.items():
        lines = [ln for ln in _log_since(n, off).splitlines() if '"endpoint"' in ln and any(s in ln for s in subs)]
        assert lines, f"{n} logged none of the 40 requests: nginx did not balance over both gateways"


@pytest.fixture(scope="module")
def burst(base_url, jwt_secret, kafka_brokers, ctl):
    """The chaos suite's keyed load at 20 writes/s (its own rate) through: kill -9 classes@2 and gateway@2,
    start them again (join), stop grading@2 (leave) and start it (join)."""
    world = cl.World(base_url, jwt_secret, kafka_brokers)
    load = cl.Load(world, rate=20.0)
    load.start()
    steps = [("kill9", "classes@2"), ("kill9", "gateway@2"), ("start", "classes@2"), ("start", "gateway@2"),
             ("stop", "grading@2"), ("start", "grading@2")]
    done = []
    try:
        time.sleep(3)
        t_fault = time.monotonic()
        for action, name in steps:
            ctl(action, name, timeout=120)
            done.append((action, name))
            time.sleep(2.5)
        steady = load.run_until_steady(time.monotonic(), min_s=3, max_s=45)
    finally:
        load.stop()
        for name in ("classes@2", "gateway@2", "grading@2"):
            ctl("start", name, timeout=120, check=False)
        wait_ready(base_url, timeout=60)
    res = cl.outcome(world, load, t_fault)
    res["steady_at_end"] = steady
    res["steps"] = done
    print(f"instances burst: {res['requests']} writes, statuses {res['statuses']}, lost {res['lost']}, "
          f"doubled {res['doubled']}, retries {res.get('retries')}")
    return res, cl.examples(world, load, res)


def test_burst_through_kill9_and_rebalances_loses_nothing(burst):
    res, ex = burst
    assert res["lost"] == 0, f"{res['lost']} acknowledged writes lost\n" + "\n".join(ex)


def test_burst_through_kill9_and_rebalances_doubles_nothing(burst):
    res, ex = burst
    assert res["doubled"] == 0, f"{res['doubled']} writes applied twice\n" + "\n".join(ex)
    assert res["applied_503"] == 0, f"{res['applied_503']} writes answered 503 were applied\n" + "\n".join(ex)


def test_burst_every_write_ends_acknowledged(burst):
    res, ex = burst
    assert not res["still_failing"], f"writes without a 2xx after keyed retries: {res['still_failing'][:10]}\n" \
        + "\n".join(ex)
    if not res["steady_at_end"]:
        # Liveness on a loaded machine (load average 44 in one run: the gateways shed with 503
        # for longer than 45 s) is the chaos suite's figure; what must hold is above.
        print(f"instances burst: the load was not steady again within 45 s: {res['statuses']}")


@pytest.fixture
def room(base_url, mint):
    lec_sub, stu_sub = new_lecturer_id(), f"s-{uuid.uuid4().hex[:10]}"
    gw = {}
    lec = Api(base_url, mint(lec_sub), sub=lec_sub)
    c = lec.create()
    r = lec.post(f"/lecturer/classes/{c['id']}/students",
                 json={"students": [{"student_id": stu_sub, "name": "Two Gateways", "email": f"{stu_sub}@school.edu"}]})
    assert r.status_code in (200, 201), r.text
    gw["cid"], gw["lec_sub"], gw["stu_sub"] = c["id"], lec_sub, stu_sub
    return gw


def test_sse_on_gateway_2_gets_a_post_made_through_gateway_1(room, targets, mint):
    g1, g2 = f"http://{targets['gateway']}", f"http://{targets['gateway@2']}"
    stream = SseClient(g2, mint(room["stu_sub"], "student"))
    try:
        assert stream.status == 200, stream.body
        title = f"across gateways {uuid.uuid4().hex[:6]}"
        lec = Api(g1, mint(room["lec_sub"]), sub=room["lec_sub"])
        deadline = time.monotonic() + 30
        while True:  # the enrollment reaches the posts view first
            r = lec.post(f"/classes/{room['cid']}/posts", json={"title": title, "body": "hello"},
                         headers={"Idempotency-Key": f"sse-{title[-6:]}"})
            if r.status_code == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert r.status_code == 201, r.text
        stream.wait(lambda s: any(title in str(ev[3]) for ev in s.events), 15, f"post {title!r} on gateway@2's stream")
    finally:
        stream.close()


def test_long_poll_on_gateway_2_gets_a_chat_message_sent_through_gateway_1(room, targets, mint):
    g1, g2 = f"http://{targets['gateway']}", f"http://{targets['gateway@2']}"
    stu = Api(g2, mint(room["stu_sub"], "student"), sub=room["stu_sub"])
    lec = Api(g1, mint(room["lec_sub"]), sub=room["lec_sub"])
    out = {}

    def waiter():
        r = stu.get(f"/classes/{room['cid']}/chat", params={"after": "0", "wait": 20}, timeout=30)
        out["r"], out["at"] = r, time.monotonic()

    t = threading.Thread(target=waiter, daemon=True)
    t.start()
    time.sleep(0.7)
    assert t.is_alive(), f"the long-poll returned at once: {out.get('r') and out['r'].text}"
    text = f"hello across gateways {uuid.uuid4().hex[:6]}"
    sent = time.monotonic()
    r = lec.post(f"/classes/{room['cid']}/chat", json={"text": text}, headers={"Idempotency-Key": f"chat-{text[-6:]}"})
    assert r.status_code == 201, r.text
    t.join(25)
    assert not t.is_alive(), "the long-poll on gateway@2 never returned"
    assert out["r"].status_code == 200, out["r"].text
    assert [m["text"] for m in out["r"].json()["items"]] == [text]
    assert out["at"] - sent < 5, f"the waiter was answered {out['at'] - sent:.1f} s after the message"


def _count(text, event):
    return text.count(f'"event":"{event}"')


def test_flushall_is_rebuilt_once_per_service_and_checksums_match(admin, redis_client, base_url):
    before = admin.stable_checksums()
    assert before.get("classes", (None, 0))[1] > 0, f"no classes view to rebuild: {before}"
    names = [n for s in ("classes", "assignments", "grading") for n in (s, f"{s}@2")]
    offsets = {n: _log_size(n) for n in names}
    redis_client.flushall()
    wait_checksums(admin, before, timeout=90)
    wait_ready(base_url, timeout=60)
    time.sleep(1.5)  # both instances looked at the marker again (once a second)
    for s in ("classes", "assignments", "grading"):
        logs = {n: _log_since(n, offsets[n]) for n in (s, f"{s}@2")}
        replays = {n: _count(t, "view_rebuild") for n, t in logs.items()}
        assert sum(replays.values()) == 1, (
            f"{s}: replays after FLUSHALL per instance {replays} (one instance must replay, "
            f"the other wait on the rebuild lock)")
        for n, t in logs.items():
            assert _count(t, "view_rebuild_failed") == 0 and _count(t, "rebuild_lock_lost") == 0, f"{n}:\n{t[-2000:]}"
    assert admin.stable_checksums() == before


def _wrk_segment(base_url, tokens_file, seconds, run):
    env = dict(os.environ, BENCH_TOKENS=tokens_file, BENCH_RUN=run, BENCH_DELAY_MS="10")
    p = subprocess.run(["wrk", "-t", "2", "-c", "8", "-d", f"{seconds}s", "--timeout", "10s", "--latency", "-s",
                        os.path.join(REPO, "tests", "bench.d", "mixed_keyed.lua"), base_url],
                       capture_output=True, text=True, timeout=seconds + 30, env=env)
    out = p.stdout
    m = re.search(r"(\d+) requests in", out)
    assert m, f"wrk printed no summary:\n{out}\n{p.stderr}"
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": int(m.group(1)), "socket_errors": sum(int(x) for x in errs.groups()) if errs else 0,
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def test_rolling_restart_under_wrk_has_no_failed_request(base_url, mint, ctl):
    if shutil.which("wrk") is None:
        pytest.fail("wrk not found (deploy/install installs it)")
    subs = [new_lecturer_id() for _ in range(4)]
    with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as f:
        f.write("\n".join(mint(s) for s in subs) + "\n")
        tokens = f.name
    run = uuid.uuid4().hex[:6]
    result = {}

    def roll():
        t0 = time.monotonic()
        result["p"] = ctl("restart", "--rolling", timeout=900, check=False)
        result["s"] = time.monotonic() - t0

    segs = [_wrk_segment(base_url, tokens, 3, f"{run}w")]  # warm: the load works before the restart
    roller = threading.Thread(target=roll, daemon=True)
    roller.start()
    k = 0
    while roller.is_alive():
        segs.append(_wrk_segment(base_url, tokens, 5, f"{run}{k}"))
        k += 1
    segs.append(_wrk_segment(base_url, tokens, 3, f"{run}z"))  # and after it
    os.unlink(tokens)
    p = result["p"]
    total = {key: sum(s[key] for s in segs) for key in ("requests", "socket_errors", "non2xx")}
    print(f"rolling restart: {result['s']:.1f} s, wrk through nginx {total} in {len(segs)} segments")
    with open(os.path.join(os.environ["SMS_RUN_DIR"], "rolling-restart.txt"), "w") as f:
        f.write(f"rolling restart {result['s']:.1f} s; wrk {total}; segments {segs}\n")
    assert p.returncode == 0, f"restart --rolling exited {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    restarted = re.findall(r"rolling: (\S+) restarted and ready", p.stdout)
    assert len(restarted) == 2 * (len(WORKERS) + 1), f"not every instance was restarted: {restarted}"
    assert total["requests"] > 100, f"the load hardly ran: {segs}"
    assert total["non2xx"] == 0 and total["socket_errors"] == 0, f"failed requests during the rolling restart: {segs}"
