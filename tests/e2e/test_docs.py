"""The API documented where operators and integrators look (issue 13, section 6).

GET /openapi.yaml and /asyncapi.yaml serve the contracts byte for byte as schemas/ holds them
(application/yaml, an ETag, 304 on If-None-Match, no token); GET /docs is Redoc's page, which
loads /docs/redoc.standalone.js from the gateway itself. Headless Chromium (Debian's
chromium-headless-shell, installed by deploy/install) loads /docs with every host but 127.0.0.1
unresolvable, so a CDN or telemetry fetch could not help it render; every operationId of
openapi.yaml must then be in the rendered DOM. The screenshot is kept as
build/docs-screenshot.png (a CI artifact).
"""

import os
import re
import shutil
import subprocess
import tempfile

import pytest
import requests
import yaml

from helpers import describe

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCHEMAS = os.path.join(REPO, "schemas")
SCREENSHOT = os.path.join(REPO, "build", "docs-screenshot.png")
BROWSERS = ("chromium-headless-shell", "chromium")
# Nothing but the gateway resolves: a page that needed a CDN would not render.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
RENDER_BUDGET_MS = 30000  # virtual time Chromium gives the page's scripts before dumping

pytestmark = [pytest.mark.slow]


def _contract(name):
    with open(os.path.join(SCHEMAS, name), "rb") as f:
        return f.read()


@pytest.mark.parametrize("name", ["openapi.yaml", "asyncapi.yaml"])
def test_contract_served_as_in_schemas(base_url, name):
    r = requests.get(f"{base_url}/{name}", timeout=10)
    assert r.status_code == 200, describe(r)
    assert r.headers["Content-Type"] == "application/yaml", describe(r)
    assert r.content == _contract(name), f"/{name} differs from schemas/{name}"
    assert yaml.safe_load(r.content)[name.split(".")[0]], f"/{name} does not parse as the contract"
    etag = r.headers.get("ETag", "")
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag), describe(r)
    assert r.headers.get("Cache-Control") == "no-cache", describe(r)

    again = requests.get(f"{base_url}/{name}", headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b"", describe(again)
    assert again.headers.get("ETag") == etag, describe(again)
    weak = requests.get(f"{base_url}/{name}", headers={"If-None-Match": f'"other", W/{etag}'}, timeout=10)
    assert weak.status_code == 304, describe(weak)
    stale = requests.get(f"{base_url}/{name}", headers={"If-None-Match": '"0123"'}, timeout=10)
    assert stale.status_code == 200 and stale.content == r.content, describe(stale)


def test_docs_page_is_redoc_served_here(base_url):
    r = requests.get(f"{base_url}/docs", timeout=10)
    assert r.status_code == 200, describe(r)
    assert r.headers["Content-Type"] == "text/html; charset=utf-8", describe(r)
    page = r.text
    assert '<redoc spec-url="/openapi.yaml"' in page, page
    assert '<script src="/docs/redoc.standalone.js"></script>' in page, page
    assert not re.search(r'(src|href)="(https?:)?//', page), f"the page loads something from elsewhere:\n{page}"

    js = requests.get(f"{base_url}/docs/redoc.standalone.js", timeout=30)
    assert js.status_code == 200, describe(js)
    assert js.headers["Content-Type"] == "text/javascript; charset=utf-8", describe(js)
    assert len(js.content) > 200_000 and b"Redoc" in js.content, f"{len(js.content)} bytes: not Redoc's bundle"


def test_docs_routes_need_no_token_and_refuse_writes(base_url):
    r = requests.post(f"{base_url}/openapi.yaml", data=b"x", timeout=10)
    assert r.status_code == 405, describe(r)
    assert r.headers["Content-Type"].startswith("application/problem+json"), describe(r)
    h = requests.head(f"{base_url}/asyncapi.yaml", timeout=10)
    assert h.status_code == 200 and h.content == b"", describe(h)
    assert int(h.headers["Content-Length"]) == len(_contract("asyncapi.yaml")), describe(h)


def _browser():
    for b in BROWSERS:
        path = shutil.which(b)
        if path:
            return path
    pytest.fail(f"none of {BROWSERS} is installed: deploy/install installs chromium-headless-shell")


def _chromium(url, *args, timeout=120):
    with tempfile.TemporaryDirectory(prefix="sms-chromium-") as profile:
        cmd = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}", OFFLINE,
               f"--virtual-time-budget={RENDER_BUDGET_MS}", "--window-size=1280,1600", *args, url]
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=profile)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode()[-2000:]}"
    return p


def test_docs_render_every_operation_in_chromium(base_url):
    spec = yaml.safe_load(_contract("openapi.yaml"))
    ops = [op["operationId"] for item in spec["paths"].values() for m, op in item.items()
           if m in ("get", "put", "post", "delete", "patch")]
    assert len(ops) >= 40, f"only {len(ops)} operations in openapi.yaml"

    dom = _chromium(f"{base_url}/docs", "--dump-dom").stdout.decode()
    rendered = set(re.findall(r'id="operation/([A-Za-z0-9_]+)"', dom))
    missing = [op for op in ops if op not in rendered]
    assert not missing, (f"{len(missing)} of {len(ops)} operations not rendered by Redoc: {missing[:10]}; "
                         f"DOM {len(dom)} bytes: {dom[:500]}")
    assert spec["info"]["title"] in dom, "the API's title is not on the page"

    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    if os.path.exists(SCREENSHOT):
        os.remove(SCREENSHOT)
    _chromium(f"{base_url}/docs", f"--screenshot={SCREENSHOT}")
    with open(SCREENSHOT, "rb") as f:
        png = f.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, f"{SCREENSHOT}: {len(png)} bytes, not a page"
