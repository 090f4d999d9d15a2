/* main.c - sms-admin, the operator's command line: tokens, topic creation,
 * view checksums and rebuilds, seeding through the HTTP API (seed.c). Blocking clients; prints progress to stderr
 * and results to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "config.h"
#include "dlq.h"
#include "token.h"
#include "kafka.h"
#include "quarantine.h"
#include "redis.h"
#include "seed.h"
#include "topics.h"
#include "views.h"

static void usage(void) {
    fprintf(stderr,
            "usage: sms-admin <command> [options]\n"
            "  token --sub ID --role lecturer|student|admin [--ttl SECONDS]   print a signed JWT (SMS_JWT_SECRET)\n"
            "  keys rotate|ensure|list                                       ES256 signing keys in SMS_JWT_KEYS_DIR: add a new\n"
            "                                                                one (it signs; older ones still verify), add one if\n"
            "                                                                there is none, print the kids (newest last)\n"
            "  create-topics                                                 create the shared Kafka topics\n"
            "  checksum-views [SERVICE]                                      '<service> <sha256> <keys>' per view\n"
            "  rebuild-views [SERVICE] [--timeout SECONDS]                   drop views; wait until services replayed the log\n"
            "  dlq list                                                      print the dead-lettered webhook deliveries (JSON lines)\n"
            "  dlq replay --id DELIVERY_ID | --all                           re-drive them through sms-notify-webhook\n"
            "  quarantine list [SERVICE]                                     events a view could not apply (JSON lines)\n"
            "  quarantine retry [SERVICE] [--timeout SECONDS]                replay the log to apply them with today's binaries\n"
            "  seed demo|scale [options]                                     load demo or bulk data through the HTTP API\n"
            "                                                                (sms-admin seed --help)\n");
}

static int cmd_token(const sms_config_t *cfg, int argc, char **argv) {
    const char *sub = NULL, *role = NULL;
    long ttl = 3600;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--sub")) sub = argv[i + 1];
        else if (!strcmp(argv[i], "--role")) role = argv[i + 1];
        else if (!strcmp(argv[i], "--ttl")) ttl = strtol(argv[i + 1], NULL, 10);
        else { usage(); return 2; }
    }
    if (argc % 2 || !sub || !role || ttl <= 0) { usage(); return 2; }
    if (strcmp(role, "lecturer") && strcmp(role, "student") && strcmp(role, "admin")) {
        fprintf(stderr, "sms-admin: role must be lecturer, student or admin\n");
        return 2;
    }
    if (cfg->jwt_secret[0] == '\0') {
        fprintf(stderr, "sms-admin: SMS_JWT_SECRET is not set\n");
        return 2;
    }
    char *token = NULL;
    if (sms_token_mint(sub, role, sms_now_ms() / 1000, ttl, cfg->jwt_secret, &token) != 0) {
        fprintf(stderr, "sms-admin: could not sign the token\n");
        return 1;
    }
    printf("%s\n", token);
    sms_free(token);
    return 0;
}

static int cmd_create_topics(const sms_config_t *cfg) {
    sms_topic_spec_t specs[16];
    size_t n = admin_topics(cfg->topic_partitions, specs, 16);
    char err[512];
    fprintf(stderr, "creating %zu topics on %s\n", n, cfg->kafka_brokers);
    if (sms_kafka_create_topics(cfg, specs, n, 15000, err, sizeof err) != 0) {
        fprintf(stderr, "sms-admin: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < n; i++) printf("%s partitions=%d\n", specs[i].name, specs[i].partitions);
    return 0;
}

/* Runs fn for the named view or all of them. */
static int for_views(const char *service, int (*fn)(redisContext *, const admin_view_t *, void *), redisContext *rc,
                     void *arg) {
    if (service) {
        const admin_view_t *v = admin_view_find(service);
        if (!v) {
            fprintf(stderr, "sms-admin: no view named %s\n", service);
            return 2;
        }
        return fn(rc, v, arg);
    }
    for (size_t i = 0; i < admin_n_views; i++) {
        int rc_out = fn(rc, &admin_views[i], arg);
        if (rc_out) return rc_out;
    }
    return 0;
}

static int checksum_one(redisContext *rc, const admin_view_t *v, void *arg) {
    (void)arg;
    char hex[65];
    long n = admin_view_checksum(rc, v, hex);
    if (n < 0) {
        fprintf(stderr, "sms-admin: reading the %s view failed\n", v->service);
        return 1;
    }
    printf("%s %s %ld\n", v->service, hex, n);
    return 0;
}

static int rebuild_one(redisContext *rc, const admin_view_t *v, void *arg) {
    if (admin_view_rebuild(rc, v, *(long *)arg) != 0) return 1;
    return checksum_one(rc, v, NULL);
}

/* keys rotate|ensure|list: the key directory of common/token.h. */
static int cmd_keys(const sms_config_t *cfg, int argc, char **argv) {
    const char *dir = cfg->jwt_keys_dir;
    char err[256], kid[SMS_TOKEN_KID_MAX];
    if (argc != 1 || (strcmp(argv[0], "rotate") && strcmp(argv[0], "ensure") && strcmp(argv[0], "list"))) {
        usage();
        return 2;
    }
    if (dir[0] == '\0') {
        fprintf(stderr, "sms-admin: SMS_JWT_KEYS_DIR is not set\n");
        return 2;
    }
    sms_token_keys_t *keys = NULL;
    bool have = sms_token_keys_load(dir, false, &keys, err, sizeof err) == 0;
    size_t n = have ? sms_token_keys_count(keys) : 0;
    int rc = 0;
    if (!strcmp(argv[0], "list")) {
        char *jwks = NULL;
        if (!have || sms_token_jwks(keys, &jwks) != 0) {
            fprintf(stderr, "sms-admin: %s\n", err);
            rc = 1;
        } else {
            printf("%s\n", jwks);
            sms_free(jwks);
        }
    } else if (!strcmp(argv[0], "rotate") || n == 0) {
        if (sms_token_key_generate(dir, kid, err, sizeof err) != 0) {
            fprintf(stderr, "sms-admin: %s\n", err);
            rc = 1;
        } else {
            printf("%s\n", kid);
        }
    }
    sms_token_keys_free(keys);
    return rc;
}

int main(int argc, char **argv) {
    sms_config_t cfg;
    char err[256];
    if (argc < 2) { usage(); return 2; }
    if (sms_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "sms-admin: %s\n", err);
        return 2;
    }
    sms_log_init("admin", SMS_LOG_WARN);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "token")) return cmd_token(&cfg, argc - 2, argv + 2);
    if (!strcmp(cmd, "create-topics")) return cmd_create_topics(&cfg);
    if (!strcmp(cmd, "keys")) return cmd_keys(&cfg, argc - 2, argv + 2);
    if (!strcmp(cmd, "dlq")) return admin_dlq_main(&cfg, argc - 2, argv + 2);
    if (!strcmp(cmd, "quarantine")) return admin_quarantine_main(&cfg, argc - 2, argv + 2);
    if (!strcmp(cmd, "seed")) return admin_seed_main(&cfg, argc - 2, argv + 2);
    if (!strcmp(cmd, "checksum-views") || !strcmp(cmd, "rebuild-views")) {
        const char *service = NULL;
        long timeout_s = 300;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout_s = strtol(argv[++i], NULL, 10);
            else if (argv[i][0] != '-' && !service) service = argv[i];
            else { usage(); return 2; }
        }
        redisContext *rc = sms_redis_connect(&cfg, err, sizeof err);
        if (!rc) {
            fprintf(stderr, "sms-admin: %s\n", err);
            return 1;
        }
        int rc_out = cmd[0] == 'c' ? for_views(service, checksum_one, rc, NULL)
                                   : for_views(service, rebuild_one, rc, &timeout_s);
        redisFree(rc);
        return rc_out;
    }
    usage();
    return 2;
}
