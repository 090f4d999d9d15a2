/* config.h - every setting of every sms process, read once from the
 * environment. The table in config.c lists name, variable, default and
 * bounds; processes read this struct and never call getenv. */
#ifndef SMS_CONFIG_H
#define SMS_CONFIG_H

#include <stddef.h>

#include "log.h"

typedef struct sms_config_s {
    char kafka_brokers[256];   /* SMS_KAFKA_BROKERS */
    char kafka_group_protocol[16]; /* SMS_KAFKA_GROUP_PROTOCOL: classic | consumer (KIP-848) */
    char redis_host[128];      /* SMS_REDIS_HOST */
    int redis_port;            /* SMS_REDIS_PORT */
    int redis_timeout_ms;      /* SMS_REDIS_TIMEOUT_MS: a command unanswered this long fails */
    char http_host[64];        /* SMS_HTTP_HOST */
    int http_port;             /* SMS_HTTP_PORT */
    char jwt_secret[256];      /* SMS_JWT_SECRET (empty = unset) */
    char gateway_id[128];      /* SMS_GATEWAY_ID (default gw-<hostname>-<port>) */
    int reply_timeout_ms;      /* SMS_REPLY_TIMEOUT_MS */
    /* Gateway admission (bus.c): a command topic refuses writes with 503
     * overloaded at this many in flight, or once its service is behind by
     * this long (0 in the environment: half of SMS_REPLY_TIMEOUT_MS). */
    int gateway_max_inflight;  /* SMS_GATEWAY_MAX_INFLIGHT, per command topic */
    int gateway_max_wait_ms;   /* SMS_GATEWAY_MAX_WAIT_MS */
    /* Services drop a command this long past its envelope deadline (clock
     * skew allowance; -1: never drop). */
    int command_deadline_margin_ms; /* SMS_COMMAND_DEADLINE_MARGIN_MS */
    int body_limit;            /* SMS_BODY_LIMIT bytes */
    int header_limit;          /* SMS_HEADER_LIMIT bytes */
    int header_timeout_ms;     /* SMS_HEADER_TIMEOUT_MS: whole request head must arrive within */
    int idle_timeout_ms;       /* SMS_IDLE_TIMEOUT_MS: keep-alive connection with nothing to do */
    int max_connections;       /* SMS_MAX_CONNECTIONS */
    int topic_partitions;      /* SMS_TOPIC_PARTITIONS (topic creation) */
    char data_dir[256];        /* SMS_DATA_DIR */
    char upload_secret[256];   /* SMS_UPLOAD_SECRET: signs upload/download URLs (default: derived, see config.c) */
    int upload_limit;          /* SMS_UPLOAD_LIMIT bytes: largest file a signed upload URL accepts */
    int upload_deadline_s;     /* SMS_UPLOAD_DEADLINE_S: a PUT's whole transfer must end within this (and the URL's expiry) */
    int upload_attach_ttl_s;   /* SMS_UPLOAD_ATTACH_TTL_S: a completed upload no submission lists within this expires (deleted) */
    long long upload_quota_bytes; /* SMS_UPLOAD_QUOTA_BYTES: bytes one user may hold in uploads (0 = no quota) */
    int upload_ttl_s;          /* SMS_UPLOAD_TTL_S: lifetime of a signed URL, and the most a client may ask for */
    /* Notification delivery (sms-notify-email, sms-notify-webhook). */
    char smtp_url[256];        /* SMS_SMTP_URL: smtp://host:port the email consumer sends through */
    char smtp_from[256];       /* SMS_SMTP_FROM: envelope and header sender */
    int email_digest_window_s; /* SMS_EMAIL_DIGEST_WINDOW_S: mails to one user within it are batched */
    int webhook_retry_base_ms; /* SMS_WEBHOOK_RETRY_BASE_MS: first backoff ceiling (doubles per attempt) */
    int webhook_retry_horizon_s; /* SMS_WEBHOOK_RETRY_HORIZON_S: retried this long, then dead-lettered */
    int webhook_timeout_ms;    /* SMS_WEBHOOK_TIMEOUT_MS: one POST attempt's whole time limit */
    /* SMS_WEBHOOK_ALLOW_HOSTS: IP[:port] literals webhooks may target although
     * loopback/private (common/net_policy.h; tests: "127.0.0.1"). */
    char webhook_allow_hosts[512];
    int email_retry_horizon_s; /* SMS_EMAIL_RETRY_HORIZON_S: mail held this long past its notification is dead-lettered */
    int email_held_max;        /* SMS_EMAIL_HELD_MAX: mails held in Redis (relay down) before consumption pauses */
    char health_file[256];     /* SMS_HEALTH_FILE: the delivery consumers' status file (empty = none) */
    int sse_heartbeat_ms;      /* SMS_SSE_HEARTBEAT_MS: comment line sent on an idle notification stream */
    int sse_max_buffer;        /* SMS_SSE_MAX_BUFFER: bytes a stream may hold for a client that does not read, then it is dropped */
    /* Due-date reminders (sms-assignments). */
    int due_reminder_scan_ms;  /* SMS_DUE_REMINDER_SCAN_MS: how often open assignments are scanned */
    int due_reminder_window_s; /* SMS_DUE_REMINDER_WINDOW_S: reminded once due within this long */
    /* Gateway protection (services/gateway/ratelimit.c, client_caps.c, cors.c). */
    int ratelimit_enabled;     /* SMS_RATELIMIT: 1 on, 0 off (benchmark A/B) */
    int ratelimit_ip_rate;     /* SMS_RATELIMIT_IP_RATE: requests/s per client IP */
    int ratelimit_ip_burst;    /* SMS_RATELIMIT_IP_BURST */
    int ratelimit_user_rate;   /* SMS_RATELIMIT_USER_RATE: requests/s per token subject */
    int ratelimit_user_burst;  /* SMS_RATELIMIT_USER_BURST */
    int ratelimit_login_per_min;   /* SMS_RATELIMIT_LOGIN_PER_MIN: POST /auth/login per client IP */
    int ratelimit_login_burst;     /* SMS_RATELIMIT_LOGIN_BURST */
    int ratelimit_grades_per_min;  /* SMS_RATELIMIT_GRADES_PER_MIN: update-grades per user */
    int ratelimit_grades_burst;    /* SMS_RATELIMIT_GRADES_BURST */
    int ratelimit_uploads_per_min; /* SMS_RATELIMIT_UPLOADS_PER_MIN: POST /student/uploads per user */
    int ratelimit_uploads_burst;   /* SMS_RATELIMIT_UPLOADS_BURST */
    int ratelimit_shared;      /* SMS_RATELIMIT_SHARED: 1 = buckets shared by gateways through Redis */
    int ratelimit_sync_ms;     /* SMS_RATELIMIT_SYNC_MS: how often local counts are sent to Redis */
    char trusted_proxies[512]; /* SMS_TRUSTED_PROXIES: addresses/CIDRs whose X-Forwarded-For is believed */
    int max_conns_per_ip;      /* SMS_MAX_CONNECTIONS_PER_IP (trusted proxies exempt) */
    int max_streams_per_user;  /* SMS_MAX_STREAMS_PER_USER: open SSE streams */
    int max_longpolls_per_user; /* SMS_MAX_LONGPOLLS_PER_USER: held chat long-polls */
    int pipeline_max_bytes;    /* SMS_PIPELINE_MAX_BYTES: request bytes queued per connection before it stops being read */
    char cors_origins[1024];   /* SMS_CORS_ORIGINS: comma-separated allowed origins ("*": any, without credentials) */
    int cors_credentials;      /* SMS_CORS_CREDENTIALS: 1 = Access-Control-Allow-Credentials: true */
    int cors_max_age_s;        /* SMS_CORS_MAX_AGE_S: preflight cache lifetime */
    int behind_tls;            /* SMS_BEHIND_TLS: 1 = clients reach us over HTTPS (adds Strict-Transport-Security) */
    sms_log_level_t log_level; /* SMS_LOG_LEVEL */
    /* Log output (applied by sms_config_load, see log.h sms_log_output). */
    char log_file[256];        /* SMS_LOG_FILE: the file stdout appends to; set = rotate it by size */
    int log_max_bytes;         /* SMS_LOG_MAX_BYTES: rotate past this size (0 = never) */
    int log_keep;              /* SMS_LOG_KEEP: rotated files kept (<file>.1 newest .. <file>.N) */
    char access_log[32];       /* SMS_ACCESS_LOG: all | errors | sample:N (gateway request lines) */
    int access_log_sample;     /* parsed SMS_ACCESS_LOG: 1 = every line, 0 = errors only, N = 1 in N below 400 */
    /* School SSO (the gateway's services/gateway/oidc.h): tokens of this
     * OpenID Connect issuer are accepted beside the gateway's own. */
    char oidc_issuer[256];     /* SMS_OIDC_ISSUER: exact "iss"; empty = no OIDC */
    char oidc_audience[256];   /* SMS_OIDC_AUDIENCE: must be in "aud" (required with an issuer) */
    char oidc_role_claim[128]; /* SMS_OIDC_ROLE_CLAIM: claim name or dotted path (realm_access.roles) */
    char oidc_role_map[1024];  /* SMS_OIDC_ROLE_MAP: "value=role,..." (empty: the values lecturer|student|admin) */
    char oidc_subject_claim[64]; /* SMS_OIDC_SUBJECT_CLAIM: the claim that becomes our user id */
    int oidc_max_token_bytes;  /* SMS_OIDC_MAX_TOKEN_BYTES: longer tokens of the issuer are refused */
    int oidc_clock_skew_s;     /* SMS_OIDC_CLOCK_SKEW_S: leeway on exp and nbf */
    int oidc_refresh_min_s;    /* SMS_OIDC_REFRESH_MIN_S: unknown-kid refreshes at most this often */
    int oidc_jwks_ttl_s;       /* SMS_OIDC_JWKS_TTL_S: keys are fetched again this often */
    int oidc_http_timeout_ms;  /* SMS_OIDC_HTTP_TIMEOUT_MS: one discovery or JWKS fetch */
    /* Identity (sms-identity, and the gateway's ES256 verification). */
    int argon2_opslimit;       /* SMS_ARGON2_OPSLIMIT: argon2id passes (services/identity/README.md: how chosen) */
    int argon2_memlimit;       /* SMS_ARGON2_MEMLIMIT: argon2id memory, bytes */
    int access_token_ttl_s;    /* SMS_ACCESS_TOKEN_TTL_S: lifetime of an access token login/refresh issues */
    int refresh_token_ttl_s;   /* SMS_REFRESH_TOKEN_TTL_S: lifetime of a refresh token (each rotation renews it) */
    char jwt_keys_dir[256];    /* SMS_JWT_KEYS_DIR: ES256 keys, <kid>.pem (private) and <kid>.pub.pem (empty = none) */
    /* Prometheus (metrics.h): the gateway serves GET /metrics on its HTTP
     * port; a process without one (worker, delivery consumer) listens on
     * SMS_METRICS_HOST:SMS_METRICS_PORT (0 = no listener). */
    char metrics_host[64];     /* SMS_METRICS_HOST */
    int metrics_port;          /* SMS_METRICS_PORT */
    char metrics_token[256];   /* SMS_METRICS_TOKEN: bearer token a scrape must send (empty = none) */
    /* The gateway's GET /docs, /openapi.yaml and /asyncapi.yaml (routes_docs.c)
     * serve openapi.yaml, asyncapi.yaml and redoc.standalone.js from this
     * directory, read once at start (deploy/ctl fills it; empty = not served). */
    char docs_dir[256];        /* SMS_DOCS_DIR */
} sms_config_t;

/* Fills cfg from the environment and defaults. Returns 0, or -1 with a
 * message naming the variable in err. Also hands the log settings to the
 * logger (sms_log_output), so every process that loads its configuration
 * rotates its log and samples request lines as configured. */
int sms_config_load(sms_config_t *cfg, char *err, size_t errlen);

#endif
