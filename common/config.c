/* config.c - the one table of settings (see config.h). */
#include "config.h"

#include "net_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

typedef enum { OPT_STR, OPT_INT, OPT_INT64, OPT_LEVEL } opt_kind_t;

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
    STR(kafka_group_protocol, "SMS_KAFKA_GROUP_PROTOCOL", "classic"),
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
    INT(upload_deadline_s, "SMS_UPLOAD_DEADLINE_S", "300", 1, 86400),
    INT(upload_attach_ttl_s, "SMS_UPLOAD_ATTACH_TTL_S", "86400", 1, 31536000),
    {"SMS_UPLOAD_QUOTA_BYTES", OPT_INT64, offsetof(sms_config_t, upload_quota_bytes), 0, "1073741824", 0, 1L << 50},
    STR(smtp_url, "SMS_SMTP_URL", "smtp://127.0.0.1:2525"),
    STR(smtp_from, "SMS_SMTP_FROM", "sms@localhost"),
    INT(email_digest_window_s, "SMS_EMAIL_DIGEST_WINDOW_S", "60", 0, 86400),
    INT(webhook_retry_base_ms, "SMS_WEBHOOK_RETRY_BASE_MS", "1000", 1, 3600000),
    INT(webhook_retry_horizon_s, "SMS_WEBHOOK_RETRY_HORIZON_S", "86400", 1, 2592000),
    INT(webhook_timeout_ms, "SMS_WEBHOOK_TIMEOUT_MS", "10000", 100, 600000),
    STR(webhook_allow_hosts, "SMS_WEBHOOK_ALLOW_HOSTS", NULL),
    INT(email_retry_horizon_s, "SMS_EMAIL_RETRY_HORIZON_S", "86400", 1, 2592000),
    INT(email_held_max, "SMS_EMAIL_HELD_MAX", "100000", 1, 100000000),
    STR(health_file, "SMS_HEALTH_FILE", NULL),
    INT(sse_heartbeat_ms, "SMS_SSE_HEARTBEAT_MS", "15000", 100, 3600000),
    INT(sse_max_buffer, "SMS_SSE_MAX_BUFFER", "262144", 1024, 1 << 30),
    INT(due_reminder_scan_ms, "SMS_DUE_REMINDER_SCAN_MS", "60000", 100, 86400000),
    INT(due_reminder_window_s, "SMS_DUE_REMINDER_WINDOW_S", "86400", 60, 2592000),
    INT(ratelimit_enabled, "SMS_RATELIMIT", "1", 0, 1),
    INT(ratelimit_ip_rate, "SMS_RATELIMIT_IP_RATE", "1000", 1, 100000000),
    INT(ratelimit_ip_burst, "SMS_RATELIMIT_IP_BURST", "2000", 1, 100000000),
    INT(ratelimit_user_rate, "SMS_RATELIMIT_USER_RATE", "1000", 1, 100000000),
    INT(ratelimit_user_burst, "SMS_RATELIMIT_USER_BURST", "2000", 1, 100000000),
    INT(ratelimit_login_per_min, "SMS_RATELIMIT_LOGIN_PER_MIN", "10", 1, 100000000),
    INT(ratelimit_login_burst, "SMS_RATELIMIT_LOGIN_BURST", "5", 1, 100000000),
    INT(ratelimit_grades_per_min, "SMS_RATELIMIT_GRADES_PER_MIN", "600", 1, 100000000),
    INT(ratelimit_grades_burst, "SMS_RATELIMIT_GRADES_BURST", "100", 1, 100000000),
    INT(ratelimit_uploads_per_min, "SMS_RATELIMIT_UPLOADS_PER_MIN", "120", 1, 100000000),
    INT(ratelimit_uploads_burst, "SMS_RATELIMIT_UPLOADS_BURST", "30", 1, 100000000),
    INT(ratelimit_shared, "SMS_RATELIMIT_SHARED", "1", 0, 1),
    INT(ratelimit_sync_ms, "SMS_RATELIMIT_SYNC_MS", "20", 1, 10000),
    STR(trusted_proxies, "SMS_TRUSTED_PROXIES", NULL),
    INT(max_conns_per_ip, "SMS_MAX_CONNECTIONS_PER_IP", "1024", 1, 1000000),
    INT(max_streams_per_user, "SMS_MAX_STREAMS_PER_USER", "8", 1, 1000000),
    INT(max_longpolls_per_user, "SMS_MAX_LONGPOLLS_PER_USER", "128", 1, 1000000),
    INT(pipeline_max_bytes, "SMS_PIPELINE_MAX_BYTES", "4194304", 65536, 1 << 30),
    STR(cors_origins, "SMS_CORS_ORIGINS", NULL),
    INT(cors_credentials, "SMS_CORS_CREDENTIALS", "0", 0, 1),
    INT(cors_max_age_s, "SMS_CORS_MAX_AGE_S", "600", 0, 86400),
    INT(behind_tls, "SMS_BEHIND_TLS", "0", 0, 1),
    {"SMS_LOG_LEVEL", OPT_LEVEL, offsetof(sms_config_t, log_level), 0, "info", 0, 0},
    STR(log_file, "SMS_LOG_FILE", NULL),
    INT(log_max_bytes, "SMS_LOG_MAX_BYTES", "67108864", 0, 2147483647),
    INT(log_keep, "SMS_LOG_KEEP", "3", 1, 100),
    STR(access_log, "SMS_ACCESS_LOG", "all"),
    STR(oidc_issuer, "SMS_OIDC_ISSUER", NULL),
    STR(oidc_audience, "SMS_OIDC_AUDIENCE", NULL),
    STR(oidc_role_claim, "SMS_OIDC_ROLE_CLAIM", "roles"),
    STR(oidc_role_map, "SMS_OIDC_ROLE_MAP", NULL),
    STR(oidc_subject_claim, "SMS_OIDC_SUBJECT_CLAIM", "sub"),
    INT(oidc_max_token_bytes, "SMS_OIDC_MAX_TOKEN_BYTES", "8192", 512, 65536),
    INT(oidc_clock_skew_s, "SMS_OIDC_CLOCK_SKEW_S", "60", 0, 600),
    INT(oidc_refresh_min_s, "SMS_OIDC_REFRESH_MIN_S", "5", 1, 3600),
    INT(oidc_jwks_ttl_s, "SMS_OIDC_JWKS_TTL_S", "600", 10, 86400),
    INT(oidc_http_timeout_ms, "SMS_OIDC_HTTP_TIMEOUT_MS", "5000", 100, 60000),
    INT(argon2_opslimit, "SMS_ARGON2_OPSLIMIT", "2", 1, 100),
    INT(argon2_memlimit, "SMS_ARGON2_MEMLIMIT", "8388608", 8192, 1073741824),
    INT(access_token_ttl_s, "SMS_ACCESS_TOKEN_TTL_S", "900", 10, 86400),
    INT(refresh_token_ttl_s, "SMS_REFRESH_TOKEN_TTL_S", "2592000", 60, 31536000),
    STR(jwt_keys_dir, "SMS_JWT_KEYS_DIR", NULL),
    STR(metrics_host, "SMS_METRICS_HOST", "127.0.0.1"),
    INT(metrics_port, "SMS_METRICS_PORT", "0", 0, 65535),
    STR(metrics_token, "SMS_METRICS_TOKEN", NULL),
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
    case OPT_INT64: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max) {
            snprintf(err, errlen, "%s: '%s' is not an integer in %ld..%ld", o->env, value, o->min, o->max);
            return -1;
        }
        *(long long *)field = v;
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
    /* A wildcard origin with credentials would let any site act with a
     * user's credentials: refused, as the CORS spec forbids it too. */
    if (cfg->cors_credentials && strstr(cfg->cors_origins, "*") != NULL) {
        snprintf(err, errlen, "SMS_CORS_ORIGINS: '*' is not allowed with SMS_CORS_CREDENTIALS=1");
        return -1;
    }
    if (parse_access_log(cfg, err, errlen) != 0) return -1;
    /* classic: JoinGroup/SyncGroup, any broker; consumer: KIP-848 (Kafka 4.x, or 3.9 with the
     * protocol enabled), its timeouts set by the broker (deploy/ctl). */
    if (strcmp(cfg->kafka_group_protocol, "classic") != 0 && strcmp(cfg->kafka_group_protocol, "consumer") != 0) {
        snprintf(err, errlen, "SMS_KAFKA_GROUP_PROTOCOL: '%s' is not classic or consumer", cfg->kafka_group_protocol);
        return -1;
    }
    char why[160];
    if (sms_net_policy_set_allow(cfg->webhook_allow_hosts, why, sizeof why) != 0) {
        snprintf(err, errlen, "SMS_WEBHOOK_ALLOW_HOSTS: %s", why);
        return -1;
    }
    sms_log_output_t out = {.file = cfg->log_file, .max_bytes = cfg->log_max_bytes, .keep = cfg->log_keep,
                            .request_sample = cfg->access_log_sample};
    sms_log_output(&out);
    return 0;
}
