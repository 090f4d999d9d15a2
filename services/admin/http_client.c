/* http_client.c - runs batches of gateway requests for `sms-admin seed` over
 * libcurl's multi interface: up to `concurrency` transfers at once, sharing
 * the multi handle's keep-alive connection pool. Called by seed_demo.c and
 * seed_scale.c; calls libcurl and common/buf. */
#include "http_client.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"

#define MAX_ATTEMPTS 5
#define RETRY_BASE_MS 250
#define TICK_MS 100
/* Longer than the gateway's reply deadline (SMS_REPLY_TIMEOUT_MS, 5 s by
 * default), so a slow command is answered 504 by the gateway, not cut here. */
#define REQUEST_TIMEOUT_MS 30000

struct admin_http_s {
    CURLM *multi;
    char *base_url;
    int concurrency;
    admin_http_tick_fn tick;
    admin_http_fail_fn fail;
    void *ctx;
};

admin_http_t *admin_http_new(const char *base_url, int concurrency, admin_http_tick_fn tick,
                             admin_http_fail_fn fail, void *ctx) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
    CURLM *multi = curl_multi_init();
    if (!multi) {
        curl_global_cleanup();
        return NULL;
    }
    /* One connection per concurrent request, kept open between batches. */
    if (curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency) != CURLM_OK ||
        curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)concurrency) != CURLM_OK) {
        curl_multi_cleanup(multi);
        curl_global_cleanup();
        return NULL;
    }
    admin_http_t *c = sms_calloc(1, sizeof *c);
    c->multi = multi;
    c->base_url = sms_strdup(base_url);
    size_t len = strlen(c->base_url);
    while (len > 0 && c->base_url[len - 1] == '/') c->base_url[--len] = '\0';
    c->concurrency = concurrency;
    c->tick = tick;
    c->fail = fail;
    c->ctx = ctx;
    return c;
}

void admin_http_free(admin_http_t *c) {
    if (!c) return;
    curl_multi_cleanup(c->multi);
    curl_global_cleanup();
    sms_free(c->base_url);
    sms_free(c);
}

void admin_http_batch_init(admin_http_batch_t *b) { memset(b, 0, sizeof *b); }

void admin_http_batch_close(admin_http_batch_t *b) {
    for (size_t i = 0; i < b->n; i++) {
        admin_http_req_t *r = b->reqs[i];
        sms_free(r->path);
        sms_free(r->idem_key);
        sms_free(r->body);
        sms_buf_close(&r->resp);
        sms_free(r);
    }
    sms_free(b->reqs);
    memset(b, 0, sizeof *b);
}

admin_http_req_t *admin_http_batch_add(admin_http_batch_t *b, const char *method, const char *token,
                                       const char *idem_key, char *body, const char *path_fmt, ...) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->reqs = sms_realloc(b->reqs, b->cap * sizeof *b->reqs);
    }
    admin_http_req_t *r = sms_calloc(1, sizeof *r);
    sms_buf_t path;
    sms_buf_init(&path);
    va_list ap;
    va_start(ap, path_fmt);
    sms_buf_vprintf(&path, path_fmt, ap);
    va_end(ap);
    r->path = sms_buf_take(&path, NULL);
    r->method = method;
    r->token = token;
    r->idem_key = idem_key ? sms_strdup(idem_key) : NULL;
    r->body = body;
    sms_buf_init(&r->resp);
    b->reqs[b->n++] = r;
    return r;
}

int admin_http_ok(const admin_http_req_t *r) { return r->status >= 200 && r->status < 300; }

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp) {
    admin_http_req_t *r = userp;
    sms_buf_append(&r->resp, data, size * nmemb);
    return size * nmemb;
}

/* Builds the easy handle of one attempt and adds it to the multi handle. */
static int start(admin_http_t *c, admin_http_req_t *r) {
    CURL *e = curl_easy_init();
    if (!e) return -1;
    char url[2048];
    snprintf(url, sizeof url, "%s%s", c->base_url, r->path);
    struct curl_slist *h = NULL;
    char line[1024];
    snprintf(line, sizeof line, "Authorization: Bearer %s", r->token);
    h = curl_slist_append(h, line);
    if (r->idem_key) {
        snprintf(line, sizeof line, "Idempotency-Key: %s", r->idem_key);
        h = curl_slist_append(h, line);
    }
    if (r->body) h = curl_slist_append(h, "Content-Type: application/json");
    /* libcurl 7.x sends "Expect: 100-continue" for bodies over 1 KiB and then
     * waits up to a second for an interim answer; the gateway reads the body
     * straight away, so the wait would only slow every roster upload. */
    h = curl_slist_append(h, "Expect:");
    if (!h) {
        curl_easy_cleanup(e);
        return -1;
    }
    r->err[0] = '\0';
    r->status = 0;
    sms_buf_reset(&r->resp);
    int bad = curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
              curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method) != CURLE_OK ||
              curl_easy_setopt(e, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
              curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
              curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK ||
              curl_easy_setopt(e, CURLOPT_PRIVATE, r) != CURLE_OK ||
              curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->err) != CURLE_OK ||
              curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS) != CURLE_OK ||
              curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    if (!bad && r->body)
        bad = curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body) != CURLE_OK ||
              curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body)) != CURLE_OK;
    if (bad || curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        curl_slist_free_all(h);
        curl_easy_cleanup(e);
        return -1;
    }
    r->easy = e;
    r->headers = h;
    r->attempts++;
    return 0;
}

static void finish(admin_http_t *c, admin_http_req_t *r) {
    (void)curl_multi_remove_handle(c->multi, r->easy); /* cannot fail for a handle it holds */
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    r->easy = NULL;
    r->headers = NULL;
}

/* Worth another attempt: the gateway was overloaded or timed out waiting for
 * the service (503/504), or the connection broke before an answer. */
static int retryable(const admin_http_req_t *r, CURLcode res) {
    if (r->attempts >= MAX_ATTEMPTS) return 0;
    if (res != CURLE_OK) return 1;
    return r->status == 503 || r->status == 504;
}

size_t admin_http_run(admin_http_t *c, admin_http_batch_t *b) {
    size_t next = 0, running = 0, done = 0, failed = 0;
    admin_http_req_t **retry = sms_calloc(b->n ? b->n : 1, sizeof *retry);
    size_t n_retry = 0;
    uint64_t last_tick = sms_mono_ms();
    while (done < b->n) {
        uint64_t now = sms_mono_ms();
        /* Fill free slots: due retries first, then requests not yet sent. */
        for (size_t i = 0; i < n_retry && running < (size_t)c->concurrency;) {
            if (retry[i]->not_before_ms > now) {
                i++;
                continue;
            }
            admin_http_req_t *r = retry[i];
            retry[i] = retry[--n_retry];
            if (start(c, r) != 0) {
                snprintf(r->err, sizeof r->err, "could not set up the request");
                done++, failed++;
                if (c->fail) c->fail(c->ctx, r);
                continue;
            }
            running++;
        }
        while (next < b->n && running < (size_t)c->concurrency) {
            admin_http_req_t *r = b->reqs[next++];
            if (start(c, r) != 0) {
                snprintf(r->err, sizeof r->err, "could not set up the request");
                done++, failed++;
                if (c->fail) c->fail(c->ctx, r);
                continue;
            }
            running++;
        }
        int still = 0;
        CURLMcode mc = curl_multi_perform(c->multi, &still);
        if (mc == CURLM_OK) mc = curl_multi_poll(c->multi, NULL, 0, 50, NULL);
        if (mc != CURLM_OK) {
            /* The multi handle itself is broken: fail what is left. */
            fprintf(stderr, "sms-admin: libcurl: %s\n", curl_multi_strerror(mc));
            break;
        }
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            admin_http_req_t *r = NULL;
            (void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r); /* set in start() */
            CURLcode res = m->data.result;
            if (res == CURLE_OK) (void)curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &r->status);
            else if (r->err[0] == '\0') snprintf(r->err, sizeof r->err, "%s", curl_easy_strerror(res));
            finish(c, r);
            running--;
            if (retryable(r, res)) {
                r->not_before_ms = sms_mono_ms() + (uint64_t)RETRY_BASE_MS * (uint64_t)r->attempts;
                retry[n_retry++] = r;
                continue;
            }
            done++;
            if (!admin_http_ok(r)) {
                failed++;
                if (c->fail) c->fail(c->ctx, r);
            }
        }
        now = sms_mono_ms();
        if (c->tick && now - last_tick >= TICK_MS) {
            last_tick = now;
            c->tick(c->ctx, done, failed);
        }
    }
    /* Only reached early if libcurl broke: count and release what is unfinished. */
    for (size_t i = 0; i < b->n && done < b->n; i++) {
        admin_http_req_t *r = b->reqs[i];
        int unfinished = r->easy != NULL || i >= next;
        for (size_t j = 0; j < n_retry; j++) unfinished |= retry[j] == r;
        if (!unfinished) continue;
        if (r->easy) finish(c, r);
        r->status = 0;
        snprintf(r->err, sizeof r->err, "not sent: the HTTP client failed");
        done++, failed++;
        if (c->fail) c->fail(c->ctx, r);
    }
    sms_free(retry);
    if (c->tick) c->tick(c->ctx, done, failed);
    return failed;
}
