/* config.c - the one table of settings (see config.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

typedef enum { OPT_STR, OPT_INT, OPT_LEVEL } opt_kind_t;

typedef struct {
    const char *env;
    opt_kind_t kind;
    size_t offset;
    size_t size;      /* OPT_STR: capacity */
    const char *def;  /* NULL: no default (left empty) */
    long min, max;    /* OPT_INT bounds */
} opt_t;

#define STR(field, env, def) {env, OPT_STR, offsetof(sms_config_t, field), sizeof(((sms_config_t *)0)->field), def, 0, 0}
#define INT(field, env, def, lo, hi) {env, OPT_INT, offsetof(sms_config_t, field), 0, def, lo, hi}

static const opt_t options[] = {
    STR(kafka_brokers, "SMS_KAFKA_BROKERS", "127.0.0.1:9092"),
    STR(redis_host, "SMS_REDIS_HOST", "127.0.0.1"),
    INT(redis_port, "SMS_REDIS_PORT", "6379", 1, 65535),
    INT(redis_timeout_ms, "SMS_REDIS_TIMEOUT_MS", "2000", 10, 600000),
    STR(http_host, "SMS_HTTP_HOST", "127.0.0.1"),
    INT(http_port, "SMS_HTTP_PORT", "8080", 0, 65535),
    STR(jwt_secret, "SMS_JWT_SECRET", NULL),
    STR(gateway_id, "SMS_GATEWAY_ID", NULL),
    INT(reply_timeout_ms, "SMS_REPLY_TIMEOUT_MS", "5000", 10, 600000),
    INT(gateway_max_inflight, "SMS_GATEWAY_MAX_INFLIGHT", "1024", 1, 1000000),
    INT(gateway_max_wait_ms, "SMS_GATEWAY_MAX_WAIT_MS", "0", 0, 600000), /* 0: see sms_config_load */
    INT(command_deadline_margin_ms, "SMS_COMMAND_DEADLINE_MARGIN_MS", "1000", -1, 3600000),
    INT(body_limit, "SMS_BODY_LIMIT", "1048576", 1, 1 << 30),
    INT(header_limit, "SMS_HEADER_LIMIT", "16384", 256, 1 << 20),
    INT(header_timeout_ms, "SMS_HEADER_TIMEOUT_MS", "10000", 10, 600000),
    INT(idle_timeout_ms, "SMS_IDLE_TIMEOUT_MS", "60000", 10, 3600000),
    INT(max_connections, "SMS_MAX_CONNECTIONS", "20000", 1, 1000000),
    INT(topic_partitions, "SMS_TOPIC_PARTITIONS", "4", 1, 1024),
    STR(data_dir, "SMS_DATA_DIR", "./.run/data"),
    STR(upload_secret, "SMS_UPLOAD_SECRET", NULL), /* unset: derived from SMS_JWT_SECRET, see derive_upload_secret */
    INT(upload_limit, "SMS_UPLOAD_LIMIT", "26214400", 1, 2147483647),
    INT(upload_ttl_s, "SMS_UPLOAD_TTL_S", "900", 1, 604800),
    STR(smtp_url, "SMS_SMTP_URL", "smtp://127.0.0.1:2525"),
    STR(smtp_from, "SMS_SMTP_FROM", "sms@localhost"),
    INT(email_digest_window_s, "SMS_EMAIL_DIGEST_WINDOW_S", "60", 0, 86400),
    INT(webhook_retry_base_ms, "SMS_WEBHOOK_RETRY_BASE_MS", "1000", 1, 3600000),
    INT(webhook_retry_horizon_s, "SMS_WEBHOOK_RETRY_HORIZON_S", "86400", 1, 2592000),
    INT(webhook_timeout_ms, "SMS_WEBHOOK_TIMEOUT_MS", "10000", 100, 600000),
    INT(email_retry_horizon_s, "SMS_EMAIL_RETRY_HORIZON_S", "86400", 1, 2592000),
    INT(email_held_max, "SMS_EMAIL_HELD_MAX", "100000", 1, 100000000),
    STR(health_file, "SMS_HEALTH_FILE", NULL),
    INT(sse_heartbeat_ms, "SMS_SSE_HEARTBEAT_MS", "15000", 100, 3600000),
    INT(sse_max_buffer, "SMS_SSE_MAX_BUFFER", "262144", 1024, 1 << 30),
    INT(due_reminder_scan_ms, "SMS_DUE_REMINDER_SCAN_MS", "60000", 100, 86400000),
    INT(due_reminder_window_s, "SMS_DUE_REMINDER_WINDOW_S", "86400", 60, 2592000),
    {"SMS_LOG_LEVEL", OPT_LEVEL, offsetof(sms_config_t, log_level), 0, "info", 0, 0},
    STR(log_file, "SMS_LOG_FILE", NULL),
    INT(log_max_bytes, "SMS_LOG_MAX_BYTES", "67108864", 0, 2147483647),
    INT(log_keep, "SMS_LOG_KEEP", "3", 1, 100),
    STR(access_log, "SMS_ACCESS_LOG", "all"),
    STR(docs_dir, "SMS_DOCS_DIR", NULL),
};

/* SMS_ACCESS_LOG: "all" (1), "errors" (0) or "sample:N" (N, 1..1000000). */
static int parse_access_log(sms_config_t *cfg, char *err, size_t errlen) {
    const char *v = cfg->access_log;
    if (strcmp(v, "all") == 0) cfg->access_log_sample = 1;
    else if (strcmp(v, "errors") == 0) cfg->access_log_sample = 0;
    else {
        char *end;
        errno = 0;
        long n = strncmp(v, "sample:", 7) == 0 ? strtol(v + 7, &end, 10) : -1;
        if (n < 1 || n > 1000000 || errno || *end) {
            snprintf(err, errlen, "SMS_ACCESS_LOG: '%s' is not all, errors or sample:N (N in 1..1000000)", v);
            return -1;
        }
        cfg->access_log_sample = (int)n;
    }
    return 0;
}

static int set_option(sms_config_t *cfg, const opt_t *o, const char *value, char *err, size_t errlen) {
    char *field = (char *)cfg + o->offset;
    switch (o->kind) {
    case OPT_STR:
        if (strlen(value) >= o->size) {
            snprintf(err, errlen, "%s: longer than %zu bytes", o->env, o->size - 1);
            return -1;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max) {
            snprintf(err, errlen, "%s: '%s' is not an integer in %ld..%ld", o->env, value, o->min, o->max);
            return -1;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case OPT_LEVEL:
        if (sms_log_level_parse(value, (sms_log_level_t *)field) != 0) {
            snprintf(err, errlen, "%s: '%s' is not one of debug, info, warn, error", o->env, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* When SMS_UPLOAD_SECRET is unset, the URL-signing key is derived from
 * SMS_JWT_SECRET: hex(HMAC-SHA256(key = SMS_JWT_SECRET, "sms upload url
 * signing key v1")). A separate key, so that a signed URL can never be
 * replayed as (or forged from) a token signature; derived, so that a
 * deployment with only SMS_JWT_SECRET still works. Set SMS_UPLOAD_SECRET to
 * rotate the two independently. With no JWT secret either it stays empty (the
 * gateway refuses to start without SMS_JWT_SECRET anyway). */
static void derive_upload_secret(sms_config_t *cfg) {
    static const char label[] = "sms upload url signing key v1";
    unsigned char mac[32];
    unsigned int n = 0;
    if (cfg->upload_secret[0] != '\0' || cfg->jwt_secret[0] == '\0') return;
    if (HMAC(EVP_sha256(), cfg->jwt_secret, (int)strlen(cfg->jwt_secret), (const unsigned char *)label,
             sizeof label - 1, mac, &n) == NULL || n != sizeof mac)
        return; /* left empty: signing then fails closed (every URL is refused) */
    for (unsigned i = 0; i < n; i++) snprintf(cfg->upload_secret + 2 * i, 3, "%02x", mac[i]);
}

int sms_config_load(sms_config_t *cfg, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        const opt_t *o = &options[i];
        const char *value = getenv(o->env);
        if (value == NULL || *value == '\0') value = o->def;
        if (value == NULL) continue;
        if (set_option(cfg, o, value, err, errlen) != 0) return -1;
    }
    if (cfg->gateway_id[0] == '\0') {
        char host[64] = "localhost";
        if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
        /* Topic names allow [a-zA-Z0-9._-]; hostnames may hold nothing else but keep it safe. */
        for (char *p = host; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
                *p = '-';
        snprintf(cfg->gateway_id, sizeof cfg->gateway_id, "gw-%s-%d", host, cfg->http_port);
    }
    derive_upload_secret(cfg);
    /* A command admitted while the oldest has waited half the reply timeout
     * has the other half left: past that, admitting more mostly makes 504s. */
    if (cfg->gateway_max_wait_ms == 0) cfg->gateway_max_wait_ms = cfg->reply_timeout_ms / 2;
    if (parse_access_log(cfg, err, errlen) != 0) return -1;
    sms_log_output_t out = {.file = cfg->log_file, .max_bytes = cfg->log_max_bytes, .keep = cfg->log_keep,
                            .request_sample = cfg->access_log_sample};
    sms_log_output(&out);
    return 0;
}
