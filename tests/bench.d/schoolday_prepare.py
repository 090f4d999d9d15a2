#!/usr/bin/env python3
"""Builds the request mix of the "school day" benchmark from what `sms-admin seed scale`
loaded, discovered through the public API (so it works on any seeded system).

Writes one request per line, tab-separated: METHOD, PATH, TOKEN, BODY ("" = none),
in a shuffled order following the mix (per 100 requests):

  80 reads   30 GET /student/classes/{id}/assignments
             20 GET /student/ranking?class_id=
             15 GET /classes/{id}/posts
             15 GET /classes/{id}/chat?after=0&limit=20      (a poll without wait)
  15 writes  10 POST /classes/{id}/chat
              5 POST /student/assignments/{id}/submissions
   5 update-grades with 30 items (random scores, so most are real changes)

usage: schoolday_prepare.py [--writes-only] BASE_URL JWT_SECRET RUN LECTURERS OUT [N_REQUESTS] [GRADES_ITEMS]
With GRADES_ITEMS set, writes only update-grades requests of that many items (the
"update-grades of 100 items" row). With --writes-only, writes only the mix's writes in
its proportions (per 20: 10 chat posts, 5 submissions, 5 update-grades of 30 items), the
write-only run of the capacity suite (tests/bench.d/capacity.sh).
"""
import base64
import hashlib
import hmac
import json
import random
import sys
import time

import requests


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(secret, sub, role):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps({"sub": sub, "role": role, "exp": int(time.time()) + 7200},
                             separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def get_all(s, base, path, token, limit=100):
    items, cursor = [], None
    while True:
        params = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = s.get(base + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        r.raise_for_status()
        page = r.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


WRITES = {"chat_post", "submission", "grades"}


def main():
    writes_only = "--writes-only" in sys.argv[1:]
    if writes_only:
        sys.argv.remove("--writes-only")
    base, secret, run, n_lec, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    n_req = int(sys.argv[6]) if len(sys.argv) > 6 else 20000
    grades_only = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    rnd = random.Random(42)
    s = requests.Session()
    courses = []  # (lecturer token, class id, [student ids], [(assignment id, max_score)])
    for l in range(1, n_lec + 1):
        tok = mint(secret, f"{run}-lecturer-{l}", "lecturer")
        for c in get_all(s, base, "/lecturer/classes", tok):
            roster = [x["student_id"] for x in get_all(s, base, f"/lecturer/students/{c['id']}", tok)]
            asg = [(a["id"], a["max_score"]) for a in
                   get_all(s, base, f"/lecturer/classes/{c['id']}/assignments", tok)
                   if a["status"] != "deleted"]
            if roster and asg:
                courses.append((tok, c["id"], roster, asg))
    if not courses:
        sys.exit(f"no seeded classes with students and assignments for run {run!r}: run sms-admin seed scale first")
    students = {}
    for _, cid, roster, asg in courses:
        for sid in roster:
            students.setdefault(sid, []).append((cid, asg))
    sids = sorted(students)
    stoken = {sid: mint(secret, sid, "student") for sid in sids}

    def grades(n):
        tok, cid, roster, asg = rnd.choice(courses)
        aid, mx = rnd.choice(asg)
        picked = rnd.sample(roster, min(n, len(roster)))
        body = {"grades": [{"student_id": x, "score": rnd.randint(0, int(mx)), "feedback": "bench"}
                           for x in picked], "release": True}
        return ("POST", f"/lecturer/assignments/{aid}/update-grades", tok, json.dumps(body, separators=(",", ":")))

    def student_req(kind):
        sid = rnd.choice(sids)
        tok = stoken[sid]
        cid, asg = rnd.choice(students[sid])
        if kind == "assignments":
            return ("GET", f"/student/classes/{cid}/assignments", tok, "")
        if kind == "ranking":
            return ("GET", f"/student/ranking?class_id={cid}", tok, "")
        if kind == "posts":
            return ("GET", f"/classes/{cid}/posts", tok, "")
        if kind == "chat_poll":
            return ("GET", f"/classes/{cid}/chat?after=0&limit=20", tok, "")
        if kind == "chat_post":
            return ("POST", f"/classes/{cid}/chat", tok, json.dumps({"text": f"question {rnd.randint(1, 10**6)}"}))
        aid, _ = rnd.choice(asg)
        return ("POST", f"/student/assignments/{aid}/submissions", tok,
                json.dumps({"text": f"my answer {rnd.randint(1, 10**6)}"}))

    mix = ([("assignments", 30), ("ranking", 20), ("posts", 15), ("chat_poll", 15), ("chat_post", 10),
            ("submission", 5), ("grades", 5)])
    kinds = [k for k, w in mix for _ in range(w) if not writes_only or k in WRITES]
    with open(out, "w") as f:
        for _ in range(n_req):
            k = "grades" if grades_only else rnd.choice(kinds)
            req = grades(grades_only or 30) if k == "grades" else student_req(k)
            f.write("\t".join(req) + "\n")
    print(f"{len(courses)} classes, {len(sids)} students, {n_req} requests -> {out}")


if __name__ == "__main__":
    main()
