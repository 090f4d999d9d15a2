"""OpenID Connect test support: a small real issuer on loopback and a second sms-gateway
configured for it (used by test_oidc.py and tests/keycloak/).

The issuer is a Python http.server serving a discovery document and a JWKS whose keys the
test generates with `cryptography`; tokens are minted with PyJWT. The gateway is a real
sms-gateway process from SMS_BIN_DIR on a free port, pointed at the suite's Redis and
Kafka with SMS_OIDC_* set; its log goes to $SMS_RUN_DIR/logs/<name>.log (so the sanitizer
stage of tests/run reads it) and it is stopped with SIGTERM.
"""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Issuer:
    """An OIDC provider on 127.0.0.1: /realms/test/.well-known/openid-configuration and
    /realms/test/jwks. keys: kid -> (private key, alg); published: the kids in the JWKS."""

    AUDIENCE = "sms-api"

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/realms/test"
        self.keys = {}
        self.published = []
        self.jwks_fetches = 0
        self.lock = threading.Lock()
        self.add_key("rsa-1", "RS256")
        self.add_key("ec-1", "ES256")
        self.server = None

    def add_key(self, kid, alg, publish=True):
        key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if alg == "RS256"
               else ec.generate_private_key(ec.SECP256R1()))
        with self.lock:
            self.keys[kid] = (key, alg)
            if publish:
                self.published.append(kid)
        return key

    def publish(self, kid):
        with self.lock:
            self.published.append(kid)

    def jwks(self):
        out = []
        with self.lock:
            for kid in self.published:
                key, alg = self.keys[kid]
                algo = RSAAlgorithm if alg == "RS256" else ECAlgorithm
                jwk = json.loads(algo.to_jwk(key.public_key()))
                jwk.update({"kid": kid, "use": "sig", "alg": alg})
                out.append(jwk)
            # An encryption key, as Keycloak publishes one: must be left out, never used.
            enc = json.loads(RSAAlgorithm.to_jwk(self.keys["rsa-1"][0].public_key()))
            enc.update({"kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"})
            out.append(enc)
        return {"keys": out}

    def start(self):
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/realms/test/.well-known/openid-configuration":
                    doc = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks",
                           "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
                elif self.path == "/realms/test/jwks":
                    with issuer.lock:
                        issuer.jwks_fetches += 1
                    doc = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def claims(self, sub, groups=("teachers",), ttl=300, **extra):
        now = int(time.time())
        c = {"iss": self.url, "aud": self.AUDIENCE, "sub": sub, "iat": now, "exp": now + ttl,
             "realm_access": {"roles": list(groups)}}
        c.update(extra)
        return c

    def token(self, sub, kid="rsa-1", claims=None, alg=None, **kw):
        key, key_alg = self.keys[kid]
        return jwt.encode(claims if claims is not None else self.claims(sub, **kw), key,
                          algorithm=alg or key_alg, headers={"kid": kid})


class Gateway:
    """A second sms-gateway with extra environment (the SMS_OIDC_* settings)."""

    def __init__(self, name, env):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        run_dir = os.environ.get("SMS_RUN_DIR") or "/tmp"
        log_dir = os.path.join(run_dir, "logs")
        os.makedirs(log_dir, exist_ok=True)
        self.log_path = os.path.join(log_dir, f"{name}.log")
        e = dict(os.environ)
        e.update({"SMS_HTTP_HOST": "127.0.0.1", "SMS_HTTP_PORT": str(self.port),
                  "SMS_GATEWAY_ID": f"{name}-{uuid.uuid4().hex[:8]}", "SMS_LOG_FILE": self.log_path})
        e.update(env)
        binary = os.path.join(os.environ["SMS_BIN_DIR"], "sms-gateway")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([binary], env=e, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                r = requests.get(self.url + "/readyz", timeout=2)
                if r.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready within {timeout}s:\n{self.log_tail()}")

    def wait_accepts(self, token, path="/lecturer/classes?limit=1", timeout=30):
        """Polls until token is accepted (the provider's keys have been fetched)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = requests.get(self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=5)
            if last.status_code == 200:
                return
            time.sleep(0.2)
        raise AssertionError(f"{self.name} never accepted the token: {last.status_code} {last.text}\n"
                             f"{self.log_tail()}")

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError as e:
            return f"<no log: {e}>"

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()
        return self.proc.returncode
