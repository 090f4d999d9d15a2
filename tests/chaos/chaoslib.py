"""The chaos suite's machinery: a keyed write load that records every answer, the recovery
figures, and a verification against the event log (Kafka) and the Redis views (HTTP reads).

Used by tests/chaos/run.py (every fault, one after the other) and by
tests/e2e/test_redis_restart_outcomes.py (one fault, asserted). Nothing is mocked: the load
goes through the gateway, the log is read with confluent-kafka, the views with GETs.
"""

import os
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from helpers import lecturer_claims, mint_jwt  # noqa: E402

TOPICS = ["sms.events.classes", "sms.events.assignments", "sms.events.grades",
          "sms.events.posts", "sms.notifications"]
# Request mix per 10 requests: what each fault can hit (classes: creates, enrolments and
# posts; assignments: assignment creates; grading: update-grades; notifications: the
# fan-out of posts and new assignments).
MIX = ["class", "grade", "class", "enroll", "post", "class", "grade", "assignment", "class", "enroll"]
N_STUDENTS = 40        # graded class G
N_ASSIGNMENTS = 4      # in G, graded by the load
N_FANOUT = 3           # students of class P (posts and assignments fan out to them)
OK = range(200, 300)
# Outcome classes of an answer: 503 and a refused connection promise that nothing was
# done; 504, a timeout or a reset connection leave the outcome unknown.
NOTHING_DONE = {"503", "refused"}


def now():
    return time.monotonic()


def _iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".000Z"


def status_of(r):
    """An answer as a short string: the HTTP status, or what went wrong on the socket."""
    if isinstance(r, requests.Response):
        return str(r.status_code)
    if isinstance(r, requests.Timeout):
        return "timeout"
    if isinstance(r, requests.ConnectionError):
        s = str(r)
        if "refused" in s.lower():
            return "refused"
        return "reset"
    return type(r).__name__


class Api:
    """A bearer-token client with one requests.Session per thread."""

    def __init__(self, base_url, secret, sub):
        self.base_url = base_url.rstrip("/")
        self.sub = sub
        self.token = mint_jwt(lecturer_claims(sub, ttl=4 * 3600), secret)
        self.local = threading.local()

    def session(self):
        s = getattr(self.local, "s", None)
        if s is None:
            s = self.local.s = requests.Session()
        return s

    def call(self, method, path, key=None, timeout=30, **kw):
        h = {"Authorization": f"Bearer {self.token}"}
        if key is not None:
            h["Idempotency-Key"] = key
        try:
            return self.session().request(method, self.base_url + path, headers=h, timeout=timeout, **kw)
        except requests.RequestException as e:
            return e

    def must(self, method, path, key=None, deadline_s=60, **kw):
        """A setup write or read that must succeed: retried (same key) until a 2xx."""
        end = now() + deadline_s
        while True:
            r = self.call(method, path, key=key, **kw)
            if isinstance(r, requests.Response) and r.status_code in OK:
                return r.json()
            if now() > end:
                raise RuntimeError(f"{method} {path}: no 2xx within {deadline_s}s, last "
                                   f"{status_of(r)} {getattr(r, 'text', '')[:300]}")
            time.sleep(0.5)

    def pages(self, path, **params):
        """Every item of a paginated list (limit 100, following next_cursor)."""
        items, cursor = [], None
        for _ in range(1000):
            p = dict(params, limit=100)
            if cursor:
                p["cursor"] = cursor
            page = self.must("GET", path, params=p, deadline_s=30)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items
        raise RuntimeError(f"{path}: pagination did not end")


# --------------------------------------------------------------------------- Kafka

def _consumer(brokers):
    from confluent_kafka import Consumer
    return Consumer({"bootstrap.servers": brokers, "group.id": f"sms-chaos-{uuid.uuid4().hex}",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})


def end_offsets(brokers, topics=TOPICS, timeout=30):
    """{(topic, partition): high watermark} now: where this scenario's events begin."""
    from confluent_kafka import TopicPartition
    c = _consumer(brokers)
    out = {}
    try:
        md = c.list_topics(timeout=timeout)
        for t in topics:
            for p in md.topics[t].partitions:
                out[(t, p)] = c.get_watermark_offsets(TopicPartition(t, p), timeout=timeout)[1]
    finally:
        c.close()
    return out


def read_since(brokers, start, timeout=60):
    """Every message from the offsets in start to the current end, decoded (msgpack):
    {topic: [event map, ...]}."""
    import msgpack
    from confluent_kafka import TopicPartition
    c = _consumer(brokers)
    out = defaultdict(list)
    try:
        ends = {tp: c.get_watermark_offsets(TopicPartition(*tp), timeout=30)[1] for tp in start}
        todo = {tp for tp in start if ends[tp] > start[tp]}
        if not todo:
            return out
        c.assign([TopicPartition(t, p, start[(t, p)]) for (t, p) in todo])
        deadline = now() + timeout
        while todo:
            if now() > deadline:
                raise RuntimeError(f"could not read {sorted(todo)} to their end within {timeout}s")
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            tp = (m.topic(), m.partition())
            if tp in todo and m.offset() < ends[tp]:
                out[m.topic()].append(msgpack.unpackb(m.value(), raw=False))
                if m.offset() >= ends[tp] - 1:
                    todo.discard(tp)
    finally:
        c.close()
    return out


# --------------------------------------------------------------------------- the world and the load

class World:
    """One scenario's lecturer and classes, made while the system is healthy:
    G (N_STUDENTS students, N_ASSIGNMENTS assignments: graded), P (N_FANOUT students:
    posts and assignments), E1/E2 (enrolled into). Every payload carries the run tag."""

    def __init__(self, base_url, secret, brokers, tag=None, deadline_s=60):
        self.tag = tag or uuid.uuid4().hex[:8]
        self.brokers = brokers
        self.start = end_offsets(brokers)
        self.api = Api(base_url, secret, f"chaos-{self.tag}")
        a, t = self.api, self.tag
        mk = lambda name: a.must("POST", "/lecturer/classes", key=f"setup-{t}-{name}",  # noqa: E731
                                 json={"code": f"{name}-{t}", "name": f"chaos {name} {t}"},
                                 deadline_s=deadline_s)["id"]
        self.g, self.p, self.e = mk("G"), mk("P"), [mk("E1"), mk("E2")]
        self.students = [f"cg-{t}-{i:02d}" for i in range(N_STUDENTS)]
        self.fanout = [f"cp-{t}-{i}" for i in range(N_FANOUT)]
        for cid, sids, name in ((self.g, self.students, "g"), (self.p, self.fanout, "p")):
            a.must("POST", f"/lecturer/classes/{cid}/students", key=f"setup-{t}-roster-{name}", deadline_s=deadline_s,
                   json={"students": [{"student_id": s, "name": f"Student {s}", "email": f"{s}@example.edu"}
                                      for s in sids]})
        due = _iso(int(time.time() * 1000) + 30 * 86400000)
        self.aids = [a.must("POST", "/lecturer/assignments", key=f"setup-{t}-a{k}", deadline_s=deadline_s,
                            json={"class_id": self.g, "title": f"graded {k} {t}", "due_at": due,
                                  "max_score": 100})["id"] for k in range(N_ASSIGNMENTS)]
        # grading learns rosters and assignments from their events: one update each first.
        for k, aid in enumerate(self.aids):
            a.must("POST", f"/lecturer/assignments/{aid}/update-grades", key=f"setup-{t}-warm{k}", deadline_s=deadline_s,
                   json={"grades": [{"student_id": self.students[0], "score": 100, "feedback": "warm-up"}]})
        self.due = due
        self.n_grade = 0
        self.lock = threading.Lock()

    def request(self, i):
        """Request i of the load: (op, method, path, body, identity). identity is what
        finds the request's effect in the log and the views; unique per request."""
        t = self.tag
        op = MIX[i % len(MIX)]
        if op == "class":
            code = f"K{i}-{t}"
            return op, "/lecturer/classes", {"code": code, "name": f"chaos class {i}"}, code
        if op == "enroll":
            sid = f"ce-{t}-{i}"
            return op, f"/lecturer/classes/{self.e[i % 2]}/students", {"students": [
                {"student_id": sid, "name": f"Enrolled {i}", "email": f"{sid}@example.edu"}]}, sid
        if op == "grade":
            with self.lock:
                g = self.n_grade
                self.n_grade += 1
            aid = self.aids[g % N_ASSIGNMENTS]
            sid = self.students[(g // N_ASSIGNMENTS) % N_STUDENTS]
            fb = f"chaos {t} {i}"
            # A score no other request of the run gives this pair: each request is one change.
            return op, f"/lecturer/assignments/{aid}/update-grades", {"grades": [
                {"student_id": sid, "score": (i % 10000) / 100, "feedback": fb}]}, fb
        if op == "post":
            title = f"post {i} {t}"
            return op, f"/classes/{self.p}/posts", {"title": title, "body": "chaos"}, title
        title = f"assignment {i} {t}"
        return op, "/lecturer/assignments", {"class_id": self.p, "title": title, "due_at": self.due,
                                             "max_score": 10}, title


class Load:
    """Sends the world's requests at a fixed rate (open loop: a stalled system does not
    slow the sending) from a thread pool; records each answer."""

    def __init__(self, world, rate=20.0, workers=256, timeout=30):
        self.world, self.rate, self.timeout = world, rate, timeout
        self.cancel = False
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.reqs = []          # dicts: i op path body ident key t_send t_done status
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.thread = None

    def _send(self, rq):
        if self.stop_flag.is_set() and self.cancel:
            return  # still queued when the load stopped: never sent, dropped from the record
        rq["t_send"] = now()  # not when it was queued: a stalled system fills every thread
        r = self.world.api.call("POST", rq["path"], key=rq["key"], json=rq["body"], timeout=self.timeout)
        rq["status"] = status_of(r)
        rq["t_done"] = now()
        if isinstance(r, requests.Response) and r.status_code not in OK:
            rq["detail"] = r.text[:300]

    def _run(self):
        t0 = now()
        i = 0
        while not self.stop_flag.is_set():
            due = t0 + i / self.rate
            d = due - now()
            if d > 0:
                time.sleep(d)
            op, path, body, ident = self.world.request(i)
            rq = {"i": i, "op": op, "path": path, "body": body, "ident": ident,
                  "key": f"chaos-{self.world.tag}-{i}", "t_queued": now(), "t_send": None, "t_done": None, "status": None}
            with self.lock:
                self.reqs.append(rq)
            self.pool.submit(self._send, rq)
            i += 1

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def snapshot(self):
        with self.lock:
            return list(self.reqs)

    def stop(self, drain_s=40):
        """Stops sending; waits up to drain_s for the answers to what was sent. Requests
        still queued (never sent) are dropped; any still unanswered are 'unfinished'."""
        self.stop_flag.set()
        self.thread.join()
        self.cancel = True
        end = now() + drain_s
        while now() < end and any(r["t_send"] is not None and r["t_done"] is None for r in self.snapshot()):
            time.sleep(0.1)
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            self.reqs = [r for r in self.reqs if r["t_send"] is not None]
        for r in self.reqs:
            if r["t_done"] is None:
                r["status"], r["t_done"] = "unfinished", now()

    def steady_since(self, t, window=5.0, lag=2.0):
        """True when the requests of the last `window` seconds (at least one, all sent after
        t) that are answered are all 2xx and none older than `lag` s is still waiting."""
        n = now()
        reqs = self.snapshot()
        if any(r["t_send"] is None and n - r["t_queued"] > lag for r in reqs):
            return False  # a backlog: every thread is waiting
        recent = [r for r in reqs if r["t_send"] is not None and r["t_send"] >= max(t, n - window)]
        if n - t < window or not recent:
            return False
        for r in recent:
            if r["t_done"] is None:
                if n - r["t_send"] > lag:
                    return False
            elif not r["status"].startswith("2"):
                return False
        return True

    def run_until_steady(self, t_restored, min_s, max_s, window=5.0):
        """Keeps the load going until it is steady again after t_restored (at least min_s,
        at most max_s after it)."""
        while now() - t_restored < max_s:
            if now() - t_restored >= min_s and self.steady_since(t_restored, window):
                return True
            time.sleep(0.25)
        return False


# --------------------------------------------------------------------------- figures

def recovery(reqs, t_fault):
    """(first_ok_s, steady_s) after the fault at t_fault, both from the fault to an answer.
    first_ok_s: for each kind of request that failed after the fault, the first 2xx answer
    to a request of that kind sent after its first failure; the latest of those.
    steady_s: the first answer of the run of requests, to the end, that all got a 2xx in a
    normal time (at most 3x the p99 before the fault, and at least 0.5 s).
    0 when nothing sent after the fault failed or was slow; None when it never recovered."""
    before = sorted(r["t_done"] - r["t_send"] for r in reqs
                    if r["t_send"] < t_fault and r["t_done"] < t_fault and r["status"].startswith("2"))
    p99 = before[int(0.99 * (len(before) - 1))] if before else 0.0
    slow = max(0.5, 3 * p99)
    after = sorted((r for r in reqs if r["t_send"] >= t_fault), key=lambda r: r["t_send"])
    bad = [r for r in after if not r["status"].startswith("2")]
    first = []
    for op in {r["op"] for r in bad}:
        f = min(r["t_send"] for r in bad if r["op"] == op)
        oks = [r["t_done"] for r in after if r["op"] == op and r["t_send"] >= f and r["status"].startswith("2")]
        if not oks:
            return None, None
        first.append(min(oks) - t_fault)
    abnormal = [k for k, r in enumerate(after)
                if not r["status"].startswith("2") or r["t_done"] - r["t_send"] > slow]
    if not abnormal:
        return (max(first) if first else 0.0), 0.0
    if abnormal[-1] + 1 >= len(after):
        return (max(first) if first else None), None
    return (max(first) if first else 0.0), after[abnormal[-1] + 1]["t_done"] - t_fault


# --------------------------------------------------------------------------- verification

def _cents(x):
    return None if x is None else round(float(x) * 100)


def log_effects(world, events):
    """{identity: number of events in the log carrying it} for this world, and the
    fan-out figures {(source event id, student): set of notification ids}."""
    t = world.tag
    n = Counter()
    sources = []   # post/assignment events in P: each must reach every P student once
    for e in events.get("sms.events.classes", []):
        d = e.get("data") or {}
        if e.get("type") == "class.created" and str(d.get("code", "")).endswith(f"-{t}"):
            n[d["code"]] += 1
        elif e.get("type") == "class.students_enrolled" and d.get("class_id") in world.e:
            for s in d.get("students") or []:
                n[s["student_id"]] += 1
    for e in events.get("sms.events.grades", []):
        d = e.get("data") or {}
        if e.get("type") == "grade.changed" and d.get("assignment_id") in world.aids \
                and str(d.get("feedback", "")).startswith(f"chaos {t} "):
            n[d["feedback"]] += 1
    for e in events.get("sms.events.posts", []):
        d = e.get("data") or {}
        if e.get("type") == "post.created" and d.get("class_id") == world.p:
            n[d["title"]] += 1
            sources.append(e["id"])
    for e in events.get("sms.events.assignments", []):
        d = e.get("data") or {}
        if e.get("type") == "assignment.created" and d.get("class_id") == world.p:
            n[d["title"]] += 1
            sources.append(e["id"])
    fan = defaultdict(set)
    want = set(sources)
    for e in events.get("sms.notifications", []):
        d = e.get("data") or {}
        if d.get("source_event_id") in want and d.get("recipient_id") in world.fanout:
            fan[(d["source_event_id"], d["recipient_id"])].add(d.get("id"))
    lost = [(s, r) for s in sources for r in world.fanout if not fan.get((s, r))]
    doubled = [k for k, ids in fan.items() if len(ids) > 1]
    return n, lost, doubled


def view_effects(world):
    """{identity: times the views show it} for this world's load, read through the gateway."""
    a, t = world.api, world.tag
    v = Counter()
    for c in a.pages("/lecturer/classes", status="all"):
        if c["code"].endswith(f"-{t}"):
            v[c["code"]] += 1
    for cid in world.e:
        for s in a.pages(f"/lecturer/students/{cid}"):
            v[s["student_id"]] += 1
    for aid in world.aids:
        for sid in world.students:
            h = a.must("GET", f"/lecturer/assignments/{aid}/grades/{sid}/history", deadline_s=30)
            for it in h["items"]:
                if it.get("feedback", "").startswith(f"chaos {t} "):
                    v[it["feedback"]] += 1
    for p in a.pages(f"/classes/{world.p}/posts"):
        v[p["title"]] += 1
    for x in a.pages(f"/lecturer/classes/{world.p}/assignments", status="all"):
        v[x["title"]] += 1
    return v


def check(world, reqs, settle_s=60):
    """Counts, once the log and the views have settled (or settle_s has passed):
    lost (a 2xx whose effect is missing from the log or a view, or a fan-out that did not
    reach a student), doubled (an effect in the log or a view more than once), and for
    each non-2xx status how many were applied."""
    deadline = now() + settle_s
    while True:
        events = read_since(world.brokers, world.start)
        n, fan_lost, fan_doubled = log_effects(world, events)
        v = view_effects(world)
        acked = [r for r in reqs if r["status"].startswith("2")]
        lost_log = [r for r in acked if n[r["ident"]] == 0]
        # A view lags the log; it must hold what the log holds (whatever the answer was).
        lost_view = [r for r in reqs if n[r["ident"]] > 0 and v[r["ident"]] == 0]
        if (not lost_log and not lost_view and not fan_lost) or now() > deadline:
            break
        time.sleep(1.0)
    doubled = [r for r in reqs if n[r["ident"]] > 1 or v[r["ident"]] > 1]
    applied = Counter(r["status"] for r in reqs if n[r["ident"]] > 0)
    return {
        "lost_log": [r["i"] for r in lost_log], "lost_view": [r["i"] for r in lost_view],
        "lost_fanout": len(fan_lost), "doubled_fanout": len(fan_doubled),
        "lost_fanout_sources": sorted({s for s, _ in fan_lost}),
        "lost": len({r["i"] for r in lost_log} | {r["i"] for r in lost_view}) + len(fan_lost),
        "doubled": len(doubled) + len(fan_doubled), "doubled_reqs": [r["i"] for r in doubled],
        "applied_by_status": dict(applied),
        "applied_503": [r["i"] for r in reqs if r["status"] == "503" and n[r["ident"]] > 0],
        "applied_refused": [r["i"] for r in reqs if r["status"] == "refused" and n[r["ident"]] > 0],
    }


def retry_failed(world, reqs, deadline_s=60):
    """Sends every request that did not get a 2xx again, same Idempotency-Key and body, until
    a 2xx or a 4xx, for at most deadline_s in all: what a careful client does after a fault.
    Returns the answers' statuses {status: count}; r["final"] is each request's last answer."""
    todo = [r for r in reqs if not r["status"].startswith("2")]
    tally = Counter()
    lock = threading.Lock()
    end = now() + deadline_s

    def one(r):
        r["final"] = r["status"]
        while now() < end:
            a = world.api.call("POST", r["path"], key=r["key"], json=r["body"], timeout=15)
            s = status_of(a)
            with lock:
                tally[s] += 1
            r["final"] = s
            if s.startswith("2") or s.startswith("4"):
                return
            time.sleep(0.5)

    with ThreadPoolExecutor(max_workers=64) as ex:
        list(ex.map(one, todo))
    for r in reqs:
        r.setdefault("final", r["status"])
    return dict(tally)


def outcome(world, load, t_fault, settle_s=60, retry=True):
    """The whole verification of one scenario: recovery, first-answer counts, the log and
    views check, then (retry=True) the keyed retry of every failure and a second check
    (doubled after retries; every request then applied once)."""
    reqs = load.reqs
    first_ok, steady = recovery(reqs, t_fault)
    statuses = Counter(r["status"] for r in reqs)
    res = {"requests": len(reqs), "statuses": dict(statuses), "first_ok_s": first_ok, "steady_s": steady}
    res["first"] = check(world, reqs, settle_s)
    if retry:
        res["retries"] = retry_failed(world, reqs)
        final = [dict(r, status=r["final"]) for r in reqs]
        # If the first check had to wait out settle_s, waiting that long again shows nothing new.
        res["after_retry"] = check(world, final, min(settle_s, 20) if res["first"]["lost"] else settle_s)
        res["still_failing"] = [r["i"] for r in reqs if not r["final"].startswith("2")]
    a, b = res["first"], res.get("after_retry", res["first"])
    res["lost"] = max(a["lost"], b["lost"])
    res["doubled"] = max(a["doubled"], b["doubled"])
    res["applied_503"] = len(a["applied_503"])
    res["applied_refused"] = len(a["applied_refused"])
    res["non2xx"] = {s: c for s, c in sorted(statuses.items()) if not s.startswith("2")}
    res["applied_non2xx"] = {s: a["applied_by_status"].get(s, 0) for s in res["non2xx"]}
    return res


def examples(world, load, res, limit=3):
    """A few requests behind each failed figure, for a report a human can act on."""
    by_i = {r["i"]: r for r in load.reqs}
    out = []
    for name, ids in (("lost (log)", res["first"]["lost_log"]), ("lost (view)", res["first"]["lost_view"]),
                      ("doubled", res.get("after_retry", res["first"])["doubled_reqs"]),
                      ("applied 503", res["first"]["applied_503"])):
        for i in ids[:limit]:
            r = by_i[i]
            out.append(f"{name}: #{i} {r['op']} {r['ident']!r} answered {r['status']} "
                       f"after {r['t_done'] - r['t_send']:.2f}s {r.get('detail', '')}")
    if res["first"]["lost_fanout"]:
        out.append(f"fan-out lost: {res['first']['lost_fanout']} (source event, student) pairs without a "
                   f"notification; source events {res['first']['lost_fanout_sources'][:limit]}")
    seen = set()
    for r in load.reqs:
        if not r["status"].startswith("2") and (r["op"], r["status"]) not in seen:
            seen.add((r["op"], r["status"]))
            out.append(f"answer {r['status']} to {r['op']} #{i_of(r)} at +{r['t_send'] - load.reqs[0]['t_send']:.1f}s: "
                       f"{r.get('detail', '')}")
    return out


def i_of(r):
    return r["i"]
