/* routes_files.c - file uploads and downloads through signed URLs, the
 * seed's S3 presigned URLs served by the gateway itself:
 *
 *   POST /student/uploads   a student describes a file; answers an upload URL
 *   PUT  /uploads/{id}?...  the file's bytes, streamed to the blob store; then the
 *                           upload.complete command, whose reply answers the PUT
 *   GET  /files/{id}?...    the file, streamed back (gw_files_download_url mints these)
 *
 * The URLs carry their own authorization (common/signed_url.h, keyed with
 * SMS_UPLOAD_SECRET); bytes go through common/blobstore.h under
 * SMS_DATA_DIR/uploads, never whole in memory: the PUT uses the server's
 * streaming-body mode (GW_ROUTE_STREAM_BODY), the GET gw_respond_stream. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "assignments/view.h"
#include "blobstore.h"
#include "buf.h"
#include "clock.h"
#include "id.h"
#include "log.h"
#include "number.h"
#include "route_kit.h"
#include "routes.h"
#include "signed_url.h"
#include "upload_prune.h"

#define FILENAME_MAX_CHARS 255
#define CONTENT_TYPE_MAX 127
#define DOWNLOAD_CHUNK (64 * 1024)
#define EXPIRES_MAX_S INT64_C(253402300799) /* 9999-12-31T23:59:59Z: the last time sms_rfc3339 writes */

/* The routes' state: one per process, set up by gw_routes_files before the
 * loop runs. No heap: nothing to free at exit. */
static struct {
    gw_app_t *app;
    const sms_config_t *cfg;
    sms_blobstore_t store;
} files;

static int64_t now_s(void) { return sms_now_ms() / 1000; }

static const char *secret(size_t *len) {
    *len = strlen(files.cfg->upload_secret);
    return files.cfg->upload_secret;
}

/* ---- validation ---- */

/* Upload ids are ours (sms_id_new): the route kit's id check. */
static int upload_id_valid(const char *id) { return id != NULL && gw_valid_ulid(id); }

/* 1..255 characters of valid UTF-8 without '/', controls (C0, DEL, C1). */
static const char *filename_problem(const char *s) {
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, cp;
        int extra;
        if (c < 0x80) cp = c, extra = 0;
        else if ((c & 0xE0) == 0xC0) cp = c & 0x1F, extra = 1;
        else if ((c & 0xF0) == 0xE0) cp = c & 0x0F, extra = 2;
        else if ((c & 0xF8) == 0xF0) cp = c & 0x07, extra = 3;
        else return "must be valid UTF-8";
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xC0) != 0x80) return "must be valid UTF-8";
            cp = cp << 6 | (*p & 0x3F);
        }
        /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return "must be valid UTF-8";
        if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) return "must not contain control characters";
        if (cp == '/') return "must not contain '/'";
        chars++;
    }
    if (chars == 0 || chars > FILENAME_MAX_CHARS) return "must be 1 to 255 characters";
    return NULL;
}

/* RFC 6838 restricted-name characters (type, subtype) and RFC 9110 tchar. */
static int restricted_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("!#$&-^_.+", c));
}

static int tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t restricted_name(const char *s) {
    size_t n = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9'))) return 0;
    while (s[n] && restricted_char(s[n])) n++;
    return n <= 63 ? n : 0;
}

/* type "/" subtype, then optional "; name=value" parameters (token or a
 * quoted string of printable ASCII); at most 127 characters. The result
 * goes out verbatim as a Content-Type header, so nothing else is allowed. */
static int content_type_valid(const char *s) {
    if (s == NULL || strlen(s) > CONTENT_TYPE_MAX) return 0;
    size_t n = restricted_name(s);
    if (n == 0 || s[n] != '/') return 0;
    s += n + 1;
    if ((n = restricted_name(s)) == 0) return 0;
    s += n;
    while (*s) {
        while (*s == ' ') s++;
        if (*s++ != ';') return 0;
        while (*s == ' ') s++;
        if (!tchar(*s)) return 0;
        while (tchar(*s)) s++;
        if (*s++ != '=') return 0;
        if (*s == '"') {
            for (s++; *s != '"'; s++)
                if (*s < 0x20 || *s > 0x7E || *s == '\\') return 0;
            s++;
        } else {
            if (!tchar(*s)) return 0;
            while (tchar(*s)) s++;
        }
        while (*s == ' ') s++;
    }
    return 1;
}

/* cJSON ends a string at an escaped NUL ("\u0000") without a word, so
 * look for one in the raw body. Returns 1 and the top-level member's key
 * (raw, truncated to cap) whose value holds one. */
static int nul_member(const char *s, size_t n, char *key, size_t cap) {
    int depth = 0, expect_key = 0;
    char last[64] = "";
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '"') {
            size_t start = ++i;
            int nul = 0;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\') {
                    if (i + 5 < n && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0) nul = 1;
                    i += 2;
                    continue;
                }
                i++;
            }
            if (depth == 1 && expect_key) {
                size_t k = i - start < sizeof last - 1 ? i - start : sizeof last - 1;
                memcpy(last, s + start, k);
                last[k] = '\0';
                expect_key = 0;
            } else if (nul) {
                snprintf(key, cap, "%s", last);
                return 1;
            }
        } else if (ch == '{' || ch == '[') {
            if (++depth == 1 && ch == '{') expect_key = 1;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == ',' && depth == 1) {
            expect_key = 1;
        }
    }
    return 0;
}

/* ---- signed URLs ---- */

/* What an upload URL binds besides method, path, expiry and size: the
 * file's type and name (for its metadata) and the uploader. */
static void upload_bound(sms_buf_t *b, const char *ctype, const char *filename, const char *user) {
    sms_buf_puts(b, "type=");
    sms_buf_puts(b, ctype);
    sms_buf_puts(b, "\nname=");
    sms_buf_puts(b, filename);
    sms_buf_puts(b, "\nuser=");
    sms_buf_puts(b, user); /* last: may hold anything */
}

static int upload_url(const char *id, int64_t expires, int64_t size, const char *ctype, const char *filename,
                      const char *user, sms_buf_t *out) {
    char path[16 + SMS_ID_SIZE];
    snprintf(path, sizeof path, "/uploads/%s", id);
    sms_buf_t bound, extra;
    sms_buf_init(&bound);
    sms_buf_init(&extra);
    upload_bound(&bound, ctype, filename, user);
    sms_buf_puts(&extra, "&type=");
    sms_url_encode(&extra, ctype, strlen(ctype));
    sms_buf_puts(&extra, "&name=");
    sms_url_encode(&extra, filename, strlen(filename));
    sms_buf_puts(&extra, "&user=");
    sms_url_encode(&extra, user, strlen(user));
    size_t klen;
    const char *key = secret(&klen);
    sms_signed_url_t u = {.method = "PUT", .path = path, .expires = expires, .size = size, .bound = bound.data};
    int rc = sms_signed_url_build(key, klen, &u, extra.data, out);
    sms_buf_close(&bound);
    sms_buf_close(&extra);
    return rc;
}

int gw_files_download_url(const gw_app_t *app, const char *upload_id, int64_t ttl_s, sms_buf_t *out,
                          int64_t *expires_out) {
    const sms_config_t *cfg = app->cfg;
    if (!upload_id_valid(upload_id)) return -EINVAL;
    if (ttl_s < 1 || ttl_s > cfg->upload_ttl_s) ttl_s = cfg->upload_ttl_s;
    char path[16 + SMS_ID_SIZE];
    snprintf(path, sizeof path, "/files/%s", upload_id);
    int64_t expires = now_s() + ttl_s;
    sms_signed_url_t u = {.method = "GET", .path = path, .expires = expires, .size = -1, .bound = NULL};
    int rc = sms_signed_url_build(cfg->upload_secret, strlen(cfg->upload_secret), &u, NULL, out);
    if (rc == 0 && expires_out) *expires_out = expires;
    return rc;
}

void gw_files_render(const gw_app_t *app, const redisReply *docs, sms_buf_t *out) {
    sms_buf_putc(out, '[');
    size_t n = 0;
    for (size_t i = 0; docs && docs->type == REDIS_REPLY_ARRAY && i < docs->elements; i++) {
        const redisReply *d = docs->element[i];
        if (d->type != REDIS_REPLY_STRING || d->len < 2 || d->str[d->len - 1] != '}') continue;
        /* The document starts {"upload_id":"<26 characters>" (schema.c's order). */
        static const char head[] = "{\"upload_id\":\"";
        char id[SMS_ID_SIZE];
        if (d->len < sizeof head + SMS_ID_LEN || memcmp(d->str, head, sizeof head - 1) != 0) continue;
        memcpy(id, d->str + sizeof head - 1, SMS_ID_LEN);
        id[SMS_ID_LEN] = '\0';
        sms_buf_t url;
        sms_buf_init(&url);
        int64_t expires;
        if (gw_files_download_url(app, id, 0, &url, &expires) == 0) {
            char when[SMS_RFC3339_LEN];
            if (n++) sms_buf_putc(out, ',');
            sms_buf_append(out, d->str, d->len - 1);
            sms_buf_puts(out, ",\"download_url\":");
            sms_buf_json_str(out, url.data, url.len);
            sms_buf_puts(out, ",\"download_expires_at\":");
            sms_rfc3339(expires * 1000, when);
            sms_buf_json_str(out, when, strlen(when));
            sms_buf_putc(out, '}');
        }
        sms_buf_close(&url);
    }
    sms_buf_putc(out, ']');
}

/* Checks the request's expires and sig against u (whose expires is filled
 * in here). Answers 403 and returns -1 unless the URL is genuine and live. */
static int check_signature(gw_request_t *req, sms_signed_url_t *u) {
    const char *exp = gw_req_query(req, "expires"), *sig = gw_req_query(req, "sig");
    int64_t e = 0;
    int r = SMS_EBADSIG;
    /* Bounded (an expiry before year 10000), so e * 1000 below cannot overflow. */
    if (exp && sms_number_parse_int(exp, strlen(exp), 0, EXPIRES_MAX_S, &e) == SMS_OK && sig) {
        u->expires = e;
        size_t klen;
        const char *key = secret(&klen);
        r = sms_signed_url_verify(key, klen, u, sig, now_s());
    }
    if (r == SMS_OK) return 0;
    if (r == SMS_EEXPIRED) {
        char detail[96], when[SMS_RFC3339_LEN];
        snprintf(detail, sizeof detail, "The URL expired at %s; ask for a new one.", sms_rfc3339(e * 1000, when));
        gw_respond_problem(req, 403, "url_expired", detail, NULL, 0);
    } else {
        gw_respond_problem(req, 403, "bad_signature",
                           "The URL's signature does not match it; use the URL exactly as it was issued.", NULL, 0);
    }
    return -1;
}

static void respond_storage_error(gw_request_t *req, const char *what, int err) {
    int e = err < 0 ? -err : err;
    if (e == ENOSPC || e == EDQUOT) {
        /* The disk (or its quota) is full: alert-worthy, and not the client's fault nor a retry-now. */
        sms_log(SMS_LOG_ERROR, "blobstore_full", "ALERT: the upload store is full (%s at %s): %s (request %s)",
                files.store.root, what, strerror(e), gw_req_id(req));
        gw_respond_problem(req, 507, "insufficient_storage", "The file store is full; nothing was kept.", NULL, 0);
        return;
    }
    sms_log(SMS_LOG_ERROR, "blobstore_error", "%s: %s (request %s)", what, strerror(e), gw_req_id(req));
    gw_respond_problem(req, 500, "storage_error", "The file store failed; try again.", NULL, 0);
}

/* ---- POST /student/uploads ---- */

static void mint_upload(gw_request_t *req, const char *filename, const char *ctype, int64_t size, int64_t ttl_s);
static void quota_check(gw_request_t *req, const char *filename, const char *ctype, int64_t size, int64_t ttl_s);

static void create_upload(gw_request_t *req, void *data) {
    (void)data;
    cJSON *body = gw_parse_json_object(req);
    if (!body) return;
    sms_problem_error_t errs[8];
    size_t n_errs = 0;
    int too_large = 0;
    char size_msg[64], ttl_msg[64], nul_key[64];
    size_t raw_len;
    const char *raw = gw_req_body(req, &raw_len);
    int has_nul = nul_member(raw, raw_len, nul_key, sizeof nul_key);

    const cJSON *it;
    cJSON_ArrayForEach(it, body) {
        if (strcmp(it->string, "filename") && strcmp(it->string, "content_type") && strcmp(it->string, "size") &&
            strcmp(it->string, "ttl_s") && n_errs < 4)
            errs[n_errs++] = (sms_problem_error_t){it->string, "unknown field"};
    }
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(body, "filename");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(body, "content_type");
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(body, "size");
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(body, "ttl_s");
    const char *problem;
    if (!cJSON_IsString(fn)) errs[n_errs++] = (sms_problem_error_t){"filename", "is required and must be a string"};
    else if (has_nul && strcmp(nul_key, "filename") == 0)
        errs[n_errs++] = (sms_problem_error_t){"filename", "must not contain control characters"};
    else if ((problem = filename_problem(fn->valuestring)) != NULL)
        errs[n_errs++] = (sms_problem_error_t){"filename", problem};
    if (!cJSON_IsString(ct) || !content_type_valid(ct->valuestring) || (has_nul && strcmp(nul_key, "content_type") == 0))
        errs[n_errs++] = (sms_problem_error_t){"content_type",
                                               "must be a media type such as application/pdf (type/subtype, at most 127 characters)"};
    int64_t size = 0, ttl_s = files.cfg->upload_ttl_s;
    snprintf(size_msg, sizeof size_msg, "must be an integer from 1 to %d (bytes)", files.cfg->upload_limit);
    /* Whole numbers only, range-checked on the double (common/number.h): 2^64 is refused, not converted. */
    int size_rc = sms_number_json_int(sz, 1, files.cfg->upload_limit, &size);
    if (size_rc != SMS_OK) {
        /* A finite number over the limit (1e308 included) is too large; anything else is invalid. */
        too_large = size_rc == SMS_ERANGE && sz->valuedouble > files.cfg->upload_limit;
        errs[n_errs++] = (sms_problem_error_t){"size", size_msg};
    }
    snprintf(ttl_msg, sizeof ttl_msg, "must be an integer from 1 to %d (seconds)", files.cfg->upload_ttl_s);
    if (ttl && sms_number_json_int(ttl, 1, files.cfg->upload_ttl_s, &ttl_s) != SMS_OK)
        errs[n_errs++] = (sms_problem_error_t){"ttl_s", ttl_msg};
    if (n_errs) {
        /* 413 only when the size limit is the one thing wrong. */
        if (too_large && n_errs == 1) {
            char detail[96];
            snprintf(detail, sizeof detail, "Files may be at most %d bytes.", files.cfg->upload_limit);
            gw_respond_problem(req, 413, "payload_too_large", detail, errs, n_errs);
        } else {
            gw_respond_problem(req, 400, "validation", "The request has invalid fields.", errs, n_errs);
        }
        cJSON_Delete(body);
        return;
    }

    if (files.cfg->upload_quota_bytes > 0) {
        quota_check(req, fn->valuestring, ct->valuestring, size, ttl_s);
    } else {
        mint_upload(req, fn->valuestring, ct->valuestring, size, ttl_s);
    }
    cJSON_Delete(body);
}

/* Answers 201 with a new upload URL for the file described. */
static void mint_upload(gw_request_t *req, const char *filename, const char *ctype, int64_t size, int64_t ttl_s) {
    char id[SMS_ID_SIZE], when[SMS_RFC3339_LEN];
    sms_id_new(id);
    int64_t expires = now_s() + ttl_s;
    sms_buf_t url, out;
    sms_buf_init(&url);
    sms_buf_init(&out);
    if (upload_url(id, expires, size, ctype, filename, gw_req_user(req), &url) != 0) {
        /* Only an empty secret gets here, which config.c rules out. */
        sms_log(SMS_LOG_ERROR, "upload_url_failed", "cannot sign an upload URL (is SMS_UPLOAD_SECRET empty?)");
        gw_respond_problem(req, 500, "internal", "Upload URLs cannot be signed.", NULL, 0);
    } else {
        sms_buf_puts(&out, "{\"upload_id\":");
        sms_buf_json_str(&out, id, strlen(id));
        sms_buf_puts(&out, ",\"upload_url\":");
        sms_buf_json_str(&out, url.data, url.len);
        sms_buf_puts(&out, ",\"expires_at\":");
        sms_rfc3339(expires * 1000, when);
        sms_buf_json_str(&out, when, strlen(when));
        sms_buf_putc(&out, '}');
        /* The URL is a credential: keep it out of caches. */
        gw_respond(req, 201, "application/json", out.data, out.len, "Cache-Control: no-store\r\n");
    }
    sms_buf_close(&url);
    sms_buf_close(&out);
}

/* ARGV: student. The bytes of the student's completed uploads (the
 * assignments view's ubytes), or {3} while the view is being rebuilt. */
static gw_script_t quota_script = {.source =
    "local p = '" ASSIGNMENTS_VIEW_PREFIX "'\n"
    GW_LUA_VIEW_STATE
    "local vs = view_state({})\n"
    "if vs then return vs end\n"
    "return tonumber(redis.call('HGET', p .. '" ASSIGNMENTS_VIEW_UPLOAD_BYTES "', ARGV[1])) or 0\n"};

/* An upload request waiting for its owner's usage. */
typedef struct quota_check_s {
    gw_request_t *req;
    char *filename, *ctype;
    int64_t size, ttl_s;
} quota_check_t;

static void quota_check_free(quota_check_t *q) {
    sms_free(q->filename);
    sms_free(q->ctype);
    sms_free(q);
}

static void on_quota(redisReply *r, void *data) {
    quota_check_t *q = data;
    gw_request_t *req = q->req;
    if (r && r->type == REDIS_REPLY_ARRAY && gw_respond_view_state(req, r, "assignments")) {
        quota_check_free(q);
        return;
    }
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        gw_respond_redis_down(req);
        quota_check_free(q);
        return;
    }
    long long used = r->integer, quota = files.cfg->upload_quota_bytes;
    if (used + q->size > quota) {
        char detail[160], msg[128];
        snprintf(detail, sizeof detail, "Your uploads hold %lld of your %lld bytes; this file (%lld bytes) does not fit.",
                 used, quota, (long long)q->size);
        snprintf(msg, sizeof msg, "must be at most %lld (bytes left of the upload quota)", used < quota ? quota - used : 0);
        sms_problem_error_t err = {"size", msg};
        gw_respond_problem(req, 413, "upload_quota_exceeded", detail, &err, 1);
    } else {
        mint_upload(req, q->filename, q->ctype, q->size, q->ttl_s);
    }
    quota_check_free(q);
}

/* The per-user quota (SMS_UPLOAD_QUOTA_BYTES) against the bytes the user's
 * completed uploads hold: a URL is minted only for a file that fits. (URLs
 * minted and not used yet are not counted: the quota bounds what is kept.) */
static void quota_check(gw_request_t *req, const char *filename, const char *ctype, int64_t size, int64_t ttl_s) {
    quota_check_t *q = sms_calloc(1, sizeof *q);
    *q = (quota_check_t){req, sms_strdup(filename), sms_strdup(ctype), size, ttl_s};
    const char *user = gw_req_user(req);
    size_t len = strlen(user);
    if (gw_script_call(files.app, &quota_script, 1, &user, &len, on_quota, q) != 0) {
        gw_respond_redis_down(req);
        quota_check_free(q);
    }
}

/* ---- PUT /uploads/{id} ---- */

/* One upload in progress: the request (until it is answered), the blob
 * writer, and the chunk being written (the sink's data is only valid
 * during on_data). */
typedef struct upload_s {
    gw_request_t *req;
    sms_blob_writer_t *w;
    char id[SMS_ID_SIZE];
    char *ctype, *filename, *user;
    uint64_t size;
    int64_t expires_ms; /* the signed URL's expiry */
    char *buf;
    size_t buf_cap;
    char sha[65];       /* set by on_end */
    int64_t stored_at;  /* ms, set by on_end */
    unsigned writing : 1; /* an append is in flight */
    unsigned aborted : 1; /* the server answered req (on_abort): free once the append is back */
} upload_t;

static void upload_free(upload_t *up) {
    sms_free(up->ctype);
    sms_free(up->filename);
    sms_free(up->user);
    sms_free(up->buf);
    sms_free(up);
}

/* Answers 500 (which ends the body stream), discards the blob, frees up. */
static void upload_fail(upload_t *up, const char *what, int err) {
    respond_storage_error(up->req, what, err);
    if (up->w) sms_blob_abort(up->w);
    upload_free(up);
}

static void up_on_appended(void *data, int status) {
    upload_t *up = data;
    up->writing = 0;
    if (up->aborted) { /* the writer was aborted meanwhile and cleans up itself */
        upload_free(up);
        return;
    }
    if (status < 0) {
        upload_fail(up, "append", status);
        return;
    }
    gw_req_body_resume(up->req);
}

static void up_on_data(gw_request_t *req, const char *data, size_t len, void *ctx) {
    upload_t *up = ctx;
    (void)req;
    if (up->buf_cap < len) {
        sms_free(up->buf);
        up->buf = sms_malloc(len);
        up->buf_cap = len;
    }
    memcpy(up->buf, data, len);
    int rc = sms_blob_append(up->w, up->buf, len, up_on_appended, up);
    if (rc != 0) {
        upload_fail(up, "append", rc);
        return;
    }
    up->writing = 1;
}

/* The bytes are durable: record the metadata as an event (upload.complete
 * to the assignments service, on behalf of the owner the signed URL names)
 * and answer the PUT with the service's reply, so a 200 means the upload is
 * visible to the next submission. If that fails (503/504), the bytes stay
 * but the upload cannot be attached: the student asks for a new URL. */
static void announce_upload(upload_t *up) {
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "upload_id", up->id);
    cJSON_AddStringToObject(body, "filename", up->filename);
    cJSON_AddStringToObject(body, "content_type", up->ctype);
    cJSON_AddNumberToObject(body, "size", (double)up->size);
    cJSON_AddStringToObject(body, "sha256", up->sha);
    cJSON_AddNumberToObject(body, "stored_at", (double)up->stored_at);
    gw_bus_send_from(files.app->bus, up->req, "assignments", "upload.complete", up->id, body,
                     &(gw_bus_from_t){.actor = up->user, .role = "student"});
    cJSON_Delete(body);
}

static void up_on_committed(void *data, int status) {
    upload_t *up = data;
    gw_request_t *req = up->req;
    if (status == -EEXIST) {
        gw_respond_problem(req, 409, "upload_exists", "This upload was completed meanwhile; ask for a new upload URL.",
                           NULL, 0);
    } else if (status != 0) {
        respond_storage_error(req, "commit", status);
    } else {
        announce_upload(up);
    }
    upload_free(up);
}

static void up_on_end(gw_request_t *req, void *ctx) {
    upload_t *up = ctx;
    char *sha = up->sha, when[SMS_RFC3339_LEN];
    int rc = sms_blob_writer_sha256(up->w, sha);
    if (rc != 0) {
        upload_fail(up, "sha256", rc);
        return;
    }
    /* The sidecar metadata document: what the upload.complete command carries, plus who and when. */
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"upload_id\":");
    sms_buf_json_str(&b, up->id, strlen(up->id));
    sms_buf_puts(&b, ",\"size\":");
    sms_buf_put_i64(&b, (int64_t)sms_blob_writer_size(up->w));
    sms_buf_puts(&b, ",\"sha256\":\"");
    sms_buf_puts(&b, sha);
    sms_buf_puts(&b, "\",\"content_type\":");
    sms_buf_json_str(&b, up->ctype, strlen(up->ctype));
    sms_buf_puts(&b, ",\"filename\":");
    sms_buf_json_str(&b, up->filename, strlen(up->filename));
    sms_buf_puts(&b, ",\"owner\":");
    sms_buf_json_str(&b, up->user, strlen(up->user));
    sms_buf_puts(&b, ",\"created_at\":");
    up->stored_at = sms_now_ms();
    sms_rfc3339(up->stored_at, when); /* before strlen: argument order is unspecified */
    sms_buf_json_str(&b, when, strlen(when));
    sms_buf_putc(&b, '}');
    rc = sms_blob_commit(up->w, b.data, b.len, up_on_committed, up);
    if (rc != 0) {
        sms_buf_close(&b);
        upload_fail(up, "commit", rc);
        return;
    }
    up->w = NULL; /* the commit has it now */
    sms_buf_close(&b);
    (void)req;
}

static void up_on_abort(gw_request_t *req, int status, void *ctx) {
    upload_t *up = ctx;
    (void)req;
    (void)status; /* the server answers it; the request log says why */
    up->req = NULL;
    sms_blob_abort(up->w); /* waits for an append in flight; leaves nothing behind */
    up->w = NULL;
    if (up->writing) up->aborted = 1;
    else upload_free(up);
}

static const gw_body_sink_t upload_sink = {
    .on_data = up_on_data,
    .on_end = up_on_end,
    .on_abort = up_on_abort,
};

static void up_on_created(void *data, sms_blob_writer_t *w, int status) {
    upload_t *up = data;
    gw_request_t *req = up->req;
    if (status == -EEXIST) {
        gw_respond_problem(req, 409, "upload_exists",
                           "This upload was already sent (or is being sent right now); ask for a new upload URL.",
                           NULL, 0);
        upload_free(up);
        return;
    }
    if (status != 0) {
        respond_storage_error(req, "create", status);
        upload_free(up);
        return;
    }
    up->w = w;
    /* The URL's expiry and SMS_UPLOAD_DEADLINE_S bind the whole transfer: a
     * client sending a byte every few seconds no longer holds the
     * connection, the writer and the file open for as long as it likes. */
    int64_t left_ms = up->expires_ms - sms_now_ms(), cap_ms = (int64_t)files.cfg->upload_deadline_s * 1000;
    gw_req_stream_deadline(req, (uint64_t)(left_ms < 1 ? 1 : left_ms < cap_ms ? left_ms : cap_ms));
    if (gw_req_stream_body(req, &upload_sink, up, up->size) != 0) {
        /* The client left while the file was being created. */
        gw_respond_problem(req, 400, "bad_request", "The connection closed.", NULL, 0);
        sms_blob_abort(w);
        upload_free(up);
    }
}

static void put_upload(gw_request_t *req, void *data) {
    (void)data;
    const char *id = gw_req_param(req, "id");
    const char *size_s = gw_req_query(req, "size"), *ctype = gw_req_query(req, "type");
    const char *name = gw_req_query(req, "name"), *user = gw_req_query(req, "user");
    int64_t size = -1;
    if (!size_s || sms_number_parse_int(size_s, strlen(size_s), 1, SMS_NUMBER_SAFE_MAX, &size) != SMS_OK ||
        !ctype || !name || !user)
        size = -1; /* not a URL we made */
    char path[16 + SMS_ID_SIZE + 64];
    snprintf(path, sizeof path, "/uploads/%s", id);
    sms_buf_t bound;
    sms_buf_init(&bound);
    if (size > 0) upload_bound(&bound, ctype, name, user);
    sms_signed_url_t u = {.method = "PUT", .path = path, .size = size, .bound = bound.data};
    int rc = size > 0 ? check_signature(req, &u) : -1;
    sms_buf_close(&bound);
    if (rc != 0) {
        if (size <= 0)
            gw_respond_problem(req, 403, "bad_signature", "This is not an upload URL the API issued.", NULL, 0);
        return;
    }
    if (!upload_id_valid(id)) { /* signed, so only a changed secret or a bug gets here */
        gw_respond_problem(req, 404, "not_found", "No such upload.", NULL, 0);
        return;
    }
    char detail[128];
    if (size > files.cfg->upload_limit) {
        snprintf(detail, sizeof detail, "Files may be at most %d bytes.", files.cfg->upload_limit);
        gw_respond_problem(req, 413, "payload_too_large", detail, NULL, 0);
        return;
    }
    int64_t cl = gw_req_content_length(req);
    if (cl < 0) {
        snprintf(detail, sizeof detail, "Send the file with Content-Length: %lld (not chunked).", (long long)size);
        gw_respond_problem(req, 411, "length_required", detail, NULL, 0);
        return;
    }
    if (cl != size) {
        snprintf(detail, sizeof detail, "This URL takes exactly %lld bytes; the body has %lld.", (long long)size, (long long)cl);
        sms_problem_error_t err = {"Content-Length", "must equal the size the upload URL was issued for"};
        if (cl > size) gw_respond_problem(req, 413, "payload_too_large", detail, &err, 1);
        else gw_respond_problem(req, 400, "validation", detail, &err, 1);
        return;
    }
    upload_t *up = sms_calloc(1, sizeof *up);
    up->req = req;
    memcpy(up->id, id, SMS_ID_SIZE);
    up->ctype = sms_strdup(ctype);
    up->filename = sms_strdup(name);
    up->user = sms_strdup(user);
    up->size = (uint64_t)size;
    up->expires_ms = u.expires * 1000;
    rc = sms_blob_create(&files.store, id, up_on_created, up);
    if (rc != 0) {
        respond_storage_error(req, "create", rc);
        upload_free(up);
    }
}

/* ---- GET /files/{id} ---- */

typedef struct download_s {
    gw_request_t *req;
    sms_blob_reader_t *r;
    uint64_t left;
    char *buf;
    unsigned reading : 1; /* a read is in flight */
    unsigned done : 1;    /* on_done ran: free once the read is back */
} download_t;

static void download_free(download_t *dl) {
    if (dl->r) sms_blob_close(dl->r);
    sms_free(dl->buf);
    sms_free(dl);
}

static void dl_on_read(void *data, ssize_t n) {
    download_t *dl = data;
    dl->reading = 0;
    if (dl->done) {
        download_free(dl);
        return;
    }
    if (n <= 0 || (uint64_t)n > dl->left) {
        /* The file changed under us: the answer cannot be finished. */
        sms_log(SMS_LOG_ERROR, "download_read_failed", "request %s: %s", gw_req_id(dl->req),
                n < 0 ? strerror((int)-n) : "file shorter than its size");
        gw_stream_abort(dl->req); /* runs dl_on_done, which frees dl */
        return;
    }
    dl->left -= (uint64_t)n;
    if (gw_stream_write(dl->req, dl->buf, (size_t)n) != 0) gw_stream_abort(dl->req);
}

static void dl_on_ready(gw_request_t *req, void *ctx) {
    download_t *dl = ctx;
    dl->req = req;
    size_t want = dl->left < DOWNLOAD_CHUNK ? (size_t)dl->left : DOWNLOAD_CHUNK;
    if (sms_blob_read(dl->r, dl->buf, want, dl_on_read, dl) != 0) {
        gw_stream_abort(req);
        return;
    }
    dl->reading = 1;
}

static void dl_on_done(void *ctx, int status) {
    download_t *dl = ctx;
    (void)status; /* a cut-short download is in the request log (and the client sees it) */
    dl->done = 1;
    if (!dl->reading) download_free(dl);
}

static const gw_body_source_t download_source = {
    .on_ready = dl_on_ready,
    .on_done = dl_on_done,
};

/* Content-Disposition for a UTF-8 name: an ASCII filename="..." with quotes
 * and backslashes escaped and other bytes as '_', plus the exact name as
 * filename*=UTF-8''... (RFC 6266) when it is not plain ASCII. */
static void content_disposition(sms_buf_t *b, const char *name) {
    int ascii = 1;
    sms_buf_puts(b, "Content-Disposition: attachment; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p == '"' || *p == '\\') {
            sms_buf_putc(b, '\\');
            sms_buf_putc(b, (char)*p);
        } else if (*p >= 0x20 && *p < 0x7F) {
            sms_buf_putc(b, (char)*p);
        } else {
            ascii = 0;
            sms_buf_putc(b, '_');
        }
    }
    sms_buf_putc(b, '"');
    if (!ascii) {
        sms_buf_puts(b, "; filename*=UTF-8''");
        sms_url_encode(b, name, strlen(name));
    }
    sms_buf_puts(b, "\r\n");
}

static void dl_on_open(void *data, sms_blob_reader_t *r, int status) {
    download_t *dl = data;
    gw_request_t *req = dl->req;
    if (status != 0) {
        if (status == -ENOENT) gw_respond_problem(req, 404, "not_found", "No such file.", NULL, 0);
        else respond_storage_error(req, "open", status);
        download_free(dl);
        return;
    }
    dl->r = r;
    dl->left = sms_blob_reader_size(r);
    size_t mlen;
    const char *meta = sms_blob_reader_meta(r, &mlen);
    cJSON *doc = cJSON_ParseWithLength(meta, mlen);
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(doc, "content_type");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(doc, "filename");
    /* Both were checked when the URL was issued; check again, they become headers. */
    const char *ctype = cJSON_IsString(ct) && content_type_valid(ct->valuestring) ? ct->valuestring
                                                                                 : "application/octet-stream";
    const char *name = cJSON_IsString(fn) && filename_problem(fn->valuestring) == NULL ? fn->valuestring : "download";
    sms_buf_t h;
    sms_buf_init(&h);
    content_disposition(&h, name);
    /* Uploaded bytes are served from the API's origin: never let a browser
     * sniff them into something executable, and keep them out of caches. */
    sms_buf_puts(&h, "X-Content-Type-Options: nosniff\r\nCache-Control: private, no-store\r\n");
    dl->buf = sms_malloc(DOWNLOAD_CHUNK);
    gw_respond_stream(req, 200, ctype, dl->left, h.data, &download_source, dl); /* dl belongs to the stream now */
    sms_buf_close(&h);
    cJSON_Delete(doc);
}

static void get_file(gw_request_t *req, void *data) {
    (void)data;
    const char *id = gw_req_param(req, "id");
    char path[16 + SMS_ID_SIZE + 64];
    snprintf(path, sizeof path, "/files/%s", id);
    /* "GET" whatever the method: HEAD takes the same URL. */
    sms_signed_url_t u = {.method = "GET", .path = path, .size = -1, .bound = NULL};
    if (check_signature(req, &u) != 0) return;
    if (!upload_id_valid(id)) {
        gw_respond_problem(req, 404, "not_found", "No such file.", NULL, 0);
        return;
    }
    download_t *dl = sms_calloc(1, sizeof *dl);
    dl->req = req;
    int rc = sms_blob_open(&files.store, id, dl_on_open, dl);
    if (rc != 0) {
        respond_storage_error(req, "open", rc);
        sms_free(dl);
    }
}

/* ---- registration ---- */

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_files_scripts[] = {&quota_script, NULL};

int gw_routes_files(gw_app_t *app, gw_router_t *router) {
    char root[sizeof files.store.root];
    files.app = app;
    files.cfg = app->cfg;
    gw_script_init(&quota_script);
    if (snprintf(root, sizeof root, "%s/uploads", app->cfg->data_dir) >= (int)sizeof root) {
        sms_log(SMS_LOG_ERROR, "blobstore_failed", "SMS_DATA_DIR is too long");
        return -1;
    }
    int rc = sms_blobstore_init(&files.store, app->loop, root);
    if (rc != 0) {
        sms_log(SMS_LOG_ERROR, "blobstore_failed", "%s: %s", root, strerror(-rc));
        return -1;
    }
    /* Deletes the bytes of uploads never attached in time (upload_prune.h). */
    if ((rc = gw_upload_prune_start(app, &files.store)) != 0) {
        sms_log(SMS_LOG_ERROR, "upload_prune_failed", "cannot start: %s", uv_strerror(rc));
        return -1;
    }
    rc = 0;
    rc |= gw_router_add(router, "POST", "/student/uploads", GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY, GW_ROLE_STUDENT,
                        create_upload, app);
    /* The signature is the authorization: no token on these two. */
    rc |= gw_router_add(router, "PUT", "/uploads/{id}", GW_ROUTE_PUBLIC | GW_ROUTE_STREAM_BODY, 0, put_upload, app);
    rc |= gw_router_add(router, "GET", "/files/{id}", GW_ROUTE_PUBLIC, 0, get_file, app);
    return rc ? -1 : 0;
}
