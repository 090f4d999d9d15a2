#!/usr/bin/env python3
"""seeds.py - writes the initial seed corpora in tests/fuzz.d/corpus/<target>/ (run once;
the corpora then grow by tests/fuzz's merges). Inputs: schemas/vectors (envelopes, JSON
bodies), hand-written CSV and HTTP requests, HS256 tokens for the fuzz targets' secret."""
import base64, glob, hashlib, hmac, json, os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SECRET = b"fuzz-secret"  # fuzz_http.c and fuzz_token.c verify with this


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(claims, alg="HS256", secret=SECRET):
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()) if alg == "HS256" else ""
    return f"{head}.{body}.{sig}"


FAR = 4102444800  # 2100-01-01: valid for fuzz_token's fixed now and the real clock
LECTURER = token({"sub": "lec-1", "role": "lecturer", "exp": FAR})
STUDENT = token({"sub": "stu-1", "role": "student", "exp": FAR})
ADMIN = token({"sub": "adm-1", "role": "admin", "exp": FAR})

# token
put("token", "lecturer", LECTURER)
put("token", "student", STUDENT)
put("token", "admin", ADMIN)
put("token", "expired", token({"sub": "x", "role": "lecturer", "exp": 1}))
put("token", "none", token({"sub": "x", "role": "admin", "exp": FAR}, alg="none"))
put("token", "badrole", token({"sub": "x", "role": "root", "exp": FAR}))
put("token", "nosub", token({"role": "student", "exp": FAR}))
put("token", "wrongsecret", token({"sub": "x", "role": "student", "exp": FAR}, secret=b"other"))

# envelope + json_msgpack: the golden vectors
for p in sorted(glob.glob(os.path.join(REPO, "schemas", "vectors", "*.msgpack"))):
    put("envelope", os.path.basename(p), open(p, "rb").read())
for p in sorted(glob.glob(os.path.join(REPO, "schemas", "vectors", "*.json"))):
    put("json_msgpack", os.path.basename(p), open(p, "rb").read())
put("json_msgpack", "numbers", '{"a":1,"b":-1.5,"c":1e308,"d":9223372036854775807,"e":-9223372036854775808,"f":18446744073709551616}')
put("json_msgpack", "strings", '{"s":"\\u00e9\\ud83d\\ude00\\n\\"","t":[true,false,null],"u":""}')
put("json_msgpack", "deep", "[" * 24 + "]" * 24)

# csv
put("csv", "roster", "student_id,name,email\r\ns1,Ann,ann@x.test\r\ns2,\"Bo, B\",bo@x.test\r\n")
put("csv", "bom_lf", "\ufeffstudent_id,email\ns1,a@x.test\n\ns2,b@x.test")
put("csv", "quoted", 'a,"b ""q"" c","multi\nline"\n,,\n"",x\n')
put("csv", "bad_quote", 'a,"b\n')
put("csv", "after_quote", '"a"b,c\n')
put("csv", "bare", 'a,b"c\n')

# http: one request per route pattern, plus protocol corners
def req(method, path, body=b"", headers=()):
    h = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"] + list(headers)
    if body:
        h.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body

auth = lambda t: f"Authorization: Bearer {t}"
J = "Content-Type: application/json"
put("http", "healthz", req("GET", "/healthz"))
put("http", "classes_list", req("GET", "/lecturer/classes?status=all&limit=20&q=CS%20", headers=[auth(LECTURER)]))
put("http", "classes_post", req("POST", "/lecturer/classes", b'{"code":"CS101","name":"Intro","term":"2026-fall"}',
                                [auth(LECTURER), J, "Idempotency-Key: k-1"]))
put("http", "class_put", req("PUT", "/lecturer/classes/c%2D1", b'{"name":"x"}', [auth(LECTURER), J, "If-Match: 3"]))
put("http", "roster_csv", req("POST", "/lecturer/classes/c1/students", b"student_id,email\ns1,a@x.test\n",
                              [auth(LECTURER), "Content-Type: text/csv"]))
put("http", "student_grades", req("GET", "/student/ranking?class_id=c1", headers=[auth(STUDENT)]))
put("http", "admin", req("GET", "/admin/deliveries?limit=5", headers=[auth(ADMIN)]))
put("http", "chat_wait", req("GET", "/classes/c1/chat?after=0&wait=1", headers=[auth(STUDENT)]))
put("http", "stream", req("GET", "/me/notifications/stream", headers=[auth(STUDENT), "Last-Event-ID: 12"]))
put("http", "upload_put", req("PUT", "/uploads/u1?expires=1&sig=ab", b"0123456789", ["Expect: 100-continue"]))
put("http", "chunked", b"POST /me/notifications/read HTTP/1.1\r\nHost: x\r\n" + auth(STUDENT).encode() +
    b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"ids\r\n3\r\n\":[\r\n2\r\n]}\r\n0\r\n\r\n")
put("http", "pipelined", req("GET", "/healthz") + req("HEAD", "/readyz") + req("DELETE", "/healthz"))
put("http", "http10", b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
put("http", "expired", req("GET", "/me/notifications", headers=[auth(token({"sub": "x", "role": "student", "exp": 1}))]))
put("http", "deep_json", req("POST", "/lecturer/assignments", b"[" * 30 + b"]" * 30, [auth(LECTURER), J]))
put("http", "bad_pct", req("GET", "/lecturer/classes/%zz?q=%", headers=[auth(LECTURER)]))
