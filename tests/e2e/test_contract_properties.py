"""Property tests against the contract: schemathesis generates requests from schemas/openapi.yaml
(valid and invalid bodies, parameters, queries and headers) for every operation and sends them to
the running gateway with a valid token of a role the route allows (the role masks come from
`sms-gateway --print-routes`). Every answer must be no 5xx (not_a_server_error), a status the
operation documents (status_code_conformance), of a documented content type
(content_type_conformance) and a body its schema for that status accepts
(response_schema_conformance).

Every other example of an operation that names a class, assignment, post, student or webhook gets
the ids of a real one (a class of this file's lecturer with an enrolled student, a graded and
released assignment, a post, a webhook) and that owner's token, so 2xx bodies are checked against
the schema too, not only the 404s of random ids. DELETEs keep their random ids (the world stays
whole for the operations after them).

Bounded for CI: SMS_CONTRACT_EXAMPLES examples per operation (default 8, derandomized, so a run is
repeatable; SMS_CONTRACT_RANDOM=1 draws new ones each run, for longer local runs) and SMS_CONTRACT_BUDGET_S seconds for the whole file (default 150; operations left
when it runs out are skipped and say so). Long-lived answers are excluded: the SSE stream
(test_sse.py covers it); chat long-polls are sent without ?wait.
"""

import os
import re
import time
import uuid

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance, response_schema_conformance, status_code_conformance)

from helpers import Api, describe, gateway_routes, lecturer_claims, mint_jwt  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(REPO, "schemas", "openapi.yaml")
EXAMPLES = int(os.environ.get("SMS_CONTRACT_EXAMPLES", "8"))
BUDGET_S = float(os.environ.get("SMS_CONTRACT_BUDGET_S", "150"))
RANDOM = os.environ.get("SMS_CONTRACT_RANDOM") == "1"  # explore: new examples each run (CI: repeatable)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLE_PREFERENCE = ("lecturer", "student", "admin")

schema = schemathesis.openapi.from_path(SPEC).exclude(path="/me/notifications/stream")
_started = []
_calls = [0]


def _shape(pattern):
    return re.sub(r"\{[^}]*\}", "{}", pattern)


_ROUTES = {(r["method"], _shape(r["pattern"])): r for r in (gateway_routes() or [])}


@pytest.fixture(scope="module")
def world(base_url, jwt_secret):
    """Tokens per role and the real objects the lecturer owns and the student is enrolled in."""
    if not _ROUTES:
        pytest.skip("SMS_BIN_DIR is not set (tests/run sets it): no route table for the tokens")
    subs = {role: f"prop-{role}-{uuid.uuid4().hex[:8]}" for role in ROLE_PREFERENCE}
    tokens = {role: mint_jwt(lecturer_claims(sub, role), jwt_secret) for role, sub in subs.items()}
    lec, admin = Api(base_url, tokens["lecturer"]), Api(base_url, tokens["admin"])

    def ok(r):
        assert 200 <= r.status_code < 300, f"setting up the contract world: {describe(r)}"
        return r.json()
    sid = subs["student"]
    cid = lec.create()["id"]
    ok(lec.post(f"/lecturer/classes/{cid}/students", json={"students": [
        {"student_id": sid, "name": "Prop Student", "email": f"{sid}@school.edu"}]}))
    aid = ok(lec.post("/lecturer/assignments", json={"class_id": cid, "title": "Props", "max_score": 100,
                                                          "due_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                  time.gmtime(time.time() + 86400 * 30))}))["id"]
    ok(lec.post(f"/lecturer/assignments/{aid}/update-grades", json={
        "grades": [{"student_id": sid, "score": 90, "feedback": "good"}], "release": True}))
    pid = ok(lec.post(f"/classes/{cid}/posts", json={"title": "Props", "body": "Generated requests ahead."}))["id"]
    webhook = ok(admin.post("/admin/webhooks", json={"url": "https://hooks.example.com/props", "events": ["post"],
                                                     "secret": "whsec-0123456789abcdef"}))["id"]
    yield {"base_url": base_url, "tokens": tokens, "cid": cid, "aid": aid, "pid": pid, "sid": sid,
           "webhook": webhook}
    lec.session.close()
    admin.session.close()


def _token_for(case, world):
    """The world's token of the first role (lecturer, student, admin) the route allows; None for
    public routes."""
    route = _ROUTES.get((case.method.upper(), _shape(case.path)))
    if route is None or not route["auth"]:
        return None
    return world["tokens"][next(r for r in ROLE_PREFERENCE if r in route["roles"])]


def _use_real_ids(case, world):
    ids = {"class_id": world["cid"], "post_id": world["pid"], "student_id": world["sid"],
           "webhook_id": world["webhook"],
           "id": world["cid"] if case.path.startswith("/lecturer/classes/{id}") else world["aid"]}
    for name in list(case.path_parameters or {}):
        if name in ids:
            case.path_parameters[name] = ids[name]
    if case.path == "/student/ranking" and isinstance(case.query, dict):
        case.query["class_id"] = world["cid"]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_contract(case, world):
    if not _started:
        _started.append(time.monotonic())
    if time.monotonic() - _started[0] > BUDGET_S:
        pytest.skip(f"contract budget of {BUDGET_S:.0f} s used up (SMS_CONTRACT_BUDGET_S)")
    if case.path == "/classes/{class_id}/chat" and isinstance(case.query, dict):
        case.query.pop("wait", None)
    _calls[0] += 1
    if _calls[0] % 2 == 0 and case.method.upper() != "DELETE":
        _use_real_ids(case, world)
    token = _token_for(case, world)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    case.call_and_validate(base_url=world["base_url"], headers=headers, checks=CHECKS, timeout=15)
