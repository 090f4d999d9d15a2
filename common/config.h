/* config.h - every setting of every sms process, read once from the
 * environment. The table in config.c lists name, variable, default and
 * bounds; processes read this struct and never call getenv. */
#ifndef SMS_CONFIG_H
#define SMS_CONFIG_H

#include <stddef.h>

#include "log.h"

typedef struct sms_config_s {
    char kafka_brokers[256];   /* SMS_KAFKA_BROKERS */
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
    int upload_ttl_s;          /* SMS_UPLOAD_TTL_S: lifetime of a signed URL, and the most a client may ask for */
    /* Notification delivery (sms-notify-email, sms-notify-webhook). */
    char smtp_url[256];        /* SMS_SMTP_URL: smtp://host:port the email consumer sends through */
    char smtp_from[256];       /* SMS_SMTP_FROM: envelope and header sender */
    int email_digest_window_s; /* SMS_EMAIL_DIGEST_WINDOW_S: mails to one user within it are batched */
    int webhook_retry_base_ms; /* SMS_WEBHOOK_RETRY_BASE_MS: first backoff ceiling (doubles per attempt) */
    int webhook_retry_horizon_s; /* SMS_WEBHOOK_RETRY_HORIZON_S: retried this long, then dead-lettered */
    int webhook_timeout_ms;    /* SMS_WEBHOOK_TIMEOUT_MS: one POST attempt's whole time limit */
    int email_retry_horizon_s; /* SMS_EMAIL_RETRY_HORIZON_S: mail held this long past its notification is dead-lettered */
    int email_held_max;        /* SMS_EMAIL_HELD_MAX: mails held in Redis (relay down) before consumption pauses */
    char health_file[256];     /* SMS_HEALTH_FILE: the delivery consumers' status file (empty = none) */
    int sse_heartbeat_ms;      /* SMS_SSE_HEARTBEAT_MS: comment line sent on an idle notification stream */
    int sse_max_buffer;        /* SMS_SSE_MAX_BUFFER: bytes a stream may hold for a client that does not read, then it is dropped */
    /* Due-date reminders (sms-assignments). */
    int due_reminder_scan_ms;  /* SMS_DUE_REMINDER_SCAN_MS: how often open assignments are scanned */
    int due_reminder_window_s; /* SMS_DUE_REMINDER_WINDOW_S: reminded once due within this long */
    sms_log_level_t log_level; /* SMS_LOG_LEVEL */
    /* Log output (applied by sms_config_load, see log.h sms_log_output). */
    char log_file[256];        /* SMS_LOG_FILE: the file stdout appends to; set = rotate it by size */
    int log_max_bytes;         /* SMS_LOG_MAX_BYTES: rotate past this size (0 = never) */
    int log_keep;              /* SMS_LOG_KEEP: rotated files kept (<file>.1 newest .. <file>.N) */
    char access_log[32];       /* SMS_ACCESS_LOG: all | errors | sample:N (gateway request lines) */
    int access_log_sample;     /* parsed SMS_ACCESS_LOG: 1 = every line, 0 = errors only, N = 1 in N below 400 */
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
