/* oidc_fetch.c - the OIDC verifier's fetch thread: discovery document, then
 * the JWKS, over libcurl, off the event loop (see oidc.h for when it runs).
 *
 * Started by gw_oidc_new, stopped by gw_oidc_close (oidc.c). A parsed set is
 * left in o->pending under o->mu and the loop is woken with uv_async_send;
 * the loop takes it (oidc.c, on_keys_ready). */
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "oidc_internal.h"

#define FETCH_MAX_BYTES (1024 * 1024) /* a discovery document or a JWKS larger than this is refused */
#define BACKOFF_MAX_MS 30000

typedef struct body_s {
    sms_buf_t buf;
    int too_big;
} body_t;

static size_t on_body(char *p, size_t size, size_t n, void *data) {
    body_t *b = data;
    size_t len = size * n;
    if (b->buf.len + len > FETCH_MAX_BYTES) {
        b->too_big = 1;
        return 0; /* aborts the transfer */
    }
    sms_buf_append(&b->buf, p, len);
    return len;
}

/* Called by libcurl at least once a second during a transfer: a stopping
 * gateway need not wait for a slow provider. */
static int on_progress(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    gw_oidc_t *o = data;
    return __atomic_load_n(&o->stop, __ATOMIC_ACQUIRE);
}

/* GETs url into b (a 200 only). Returns 0, or -1 with why in err. */
static int http_get(gw_oidc_t *o, const char *url, body_t *b, char *err, size_t errlen) {
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->http_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->http_timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sms-gateway");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, o);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (b->too_big) {
        snprintf(err, errlen, "%.300s: larger than %d bytes", url, FETCH_MAX_BYTES);
        return -1;
    }
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%.300s: %.200s", url, curl_err[0] ? curl_err : curl_easy_strerror(rc));
        return -1;
    }
    if (status != 200) {
        snprintf(err, errlen, "%.300s: HTTP %ld", url, status);
        return -1;
    }
    return 0;
}

static int is_web_url(const char *s) { return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0; }

/* Reads the discovery document into o->jwks_uri. Its issuer must be ours
 * exactly (OpenID Connect Discovery 1.0, 4.3). */
static int discover(gw_oidc_t *o, char *err, size_t errlen) {
    body_t b = {0};
    sms_buf_init(&b.buf);
    int rc = http_get(o, o->discovery_url, &b, err, errlen);
    cJSON *doc = rc == 0 ? cJSON_ParseWithLength(b.buf.data, b.buf.len) : NULL;
    if (rc == 0) {
        const cJSON *iss = cJSON_GetObjectItemCaseSensitive(doc, "issuer");
        const cJSON *uri = cJSON_GetObjectItemCaseSensitive(doc, "jwks_uri");
        rc = -1;
        if (!cJSON_IsObject(doc)) snprintf(err, errlen, "%.300s: not a JSON object", o->discovery_url);
        else if (!cJSON_IsString(iss) || strcmp(iss->valuestring, o->issuer) != 0)
            snprintf(err, errlen, "%.200s: its issuer is not SMS_OIDC_ISSUER (%.200s)", o->discovery_url, o->issuer);
        else if (!cJSON_IsString(uri) || !is_web_url(uri->valuestring) ||
                 strlen(uri->valuestring) >= sizeof o->jwks_uri)
            snprintf(err, errlen, "%.300s: no usable jwks_uri", o->discovery_url);
        else {
            memcpy(o->jwks_uri, uri->valuestring, strlen(uri->valuestring) + 1);
            rc = 0;
        }
    }
    cJSON_Delete(doc);
    sms_buf_close(&b.buf);
    return rc;
}

/* One fetch: discovery when needed, then the JWKS. Returns 0 and *out. */
static int fetch_keys(gw_oidc_t *o, sms_jwks_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (o->jwks_uri[0] == '\0' && discover(o, err, errlen) != 0) return -1;
    body_t b = {0};
    sms_buf_init(&b.buf);
    size_t skipped = 0;
    char perr[128];
    int rc = http_get(o, o->jwks_uri, &b, err, errlen);
    if (rc == 0 && sms_jwks_parse(b.buf.data, b.buf.len, out, &skipped, perr, sizeof perr) != SMS_OK) {
        snprintf(err, errlen, "%.300s: %.120s", o->jwks_uri, perr);
        rc = -1;
    }
    if (rc == 0 && sms_jwks_count(*out) == 0) {
        snprintf(err, errlen, "%.300s: no RS256 or ES256 signing key among %zu", o->jwks_uri, skipped);
        sms_jwks_free(*out);
        *out = NULL;
        rc = -1;
    }
    sms_buf_close(&b.buf);
    if (rc == 0) {
        sms_log(SMS_LOG_INFO, "oidc_keys_fetched", "%zu signing keys from %s (%zu others left out)",
                sms_jwks_count(*out), o->jwks_uri, skipped);
    } else {
        o->jwks_uri[0] = '\0'; /* the provider may have moved its keys: discover again next time */
    }
    return rc;
}

static struct timespec mono_deadline(uint64_t at_ms) {
    struct timespec ts = {.tv_sec = (time_t)(at_ms / 1000), .tv_nsec = (long)(at_ms % 1000) * 1000000L};
    return ts;
}

static uint64_t mono_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *fetch_main(void *arg) {
    gw_oidc_t *o = arg;
    uint64_t next_ms = 0; /* at once */
    unsigned failures = 0;
    char err[512];
    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (!o->stop && !o->refresh_wanted && mono_now_ms() < next_ms) {
            struct timespec until = mono_deadline(next_ms);
            (void)pthread_cond_timedwait(&o->cv, &o->mu, &until); /* ETIMEDOUT: the loop test decides */
        }
        if (o->stop) break;
        o->refresh_wanted = 0;
        pthread_mutex_unlock(&o->mu);

        sms_jwks_t *set = NULL;
        int rc = fetch_keys(o, &set, err, sizeof err);
        if (rc != 0) {
            failures++;
            uint64_t backoff = 1000u << (failures < 6 ? failures - 1 : 5);
            if (backoff > BACKOFF_MAX_MS) backoff = BACKOFF_MAX_MS;
            /* Once per failure streak at warn, then debug: a provider that is down must not flood the log. */
            if (failures == 1 || failures % 10 == 0)
                sms_log(SMS_LOG_WARN, "oidc_fetch_failed", "%s (try %u; again in %llu ms)", err, failures,
                        (unsigned long long)backoff);
            next_ms = mono_now_ms() + backoff;
        } else {
            failures = 0;
            next_ms = mono_now_ms() + (uint64_t)o->ttl_s * 1000u;
        }

        pthread_mutex_lock(&o->mu);
        if (set) {
            sms_jwks_free(o->pending); /* a set the loop never took is simply older */
            o->pending = set;
            /* Only fails on a closing handle, which gw_oidc_close never does before joining us. */
            (void)uv_async_send(&o->keys_ready);
        }
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

int gw_oidc_fetch_start(gw_oidc_t *o) {
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc != 0) return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(&o->cv, &ca);
    (void)pthread_condattr_destroy(&ca); /* cannot fail on an initialised attr */
    if (rc != 0) return rc;
    if ((rc = pthread_mutex_init(&o->mu, NULL)) != 0) {
        (void)pthread_cond_destroy(&o->cv); /* unused: cannot fail */
        return rc;
    }
    o->sync_init = 1;
    if ((rc = pthread_create(&o->thread, NULL, fetch_main, o)) != 0) return rc;
    o->thread_started = 1;
    return 0;
}

void gw_oidc_fetch_wake(gw_oidc_t *o) {
    pthread_mutex_lock(&o->mu);
    o->refresh_wanted = 1;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

void gw_oidc_fetch_stop(gw_oidc_t *o) {
    if (!o->thread_started) return;
    pthread_mutex_lock(&o->mu);
    __atomic_store_n(&o->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    int rc = pthread_join(o->thread, NULL);
    if (rc != 0) sms_log(SMS_LOG_ERROR, "oidc_join_failed", "pthread_join: %s", strerror(rc));
    o->thread_started = 0;
}

void gw_oidc_fetch_destroy(gw_oidc_t *o) {
    if (!o->sync_init) return;
    (void)pthread_mutex_destroy(&o->mu); /* unlocked and unused once the thread is joined */
    (void)pthread_cond_destroy(&o->cv);
    o->sync_init = 0;
}
