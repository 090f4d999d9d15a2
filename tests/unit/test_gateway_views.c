/* test_gateway_views.c - the gateway's Lua read scripts against the Redis
 * layouts the services state in their view.h: every key a script names
 * (a 'sms:<svc>:...' literal, or p .. '<part>' after `local p = '<prefix>'`)
 * must be a key that service's view.h declares, and every
 * string.sub(member, N) offset one of its member formats gives. The routes
 * build their scripts from the same macros, so this catches what they do not:
 * a literal that slipped back in, a key or offset a view.h no longer has, a
 * member format whose id offset constant was not moved with it. The scripts
 * are the compiled ones (gw_<file>_scripts, route_kit.h), not source text.
 * `test_gateway_views --dump` prints them all (to diff a refactoring). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "assignments/view.h"
#include "classes/view.h"
#include "grading/view.h"
#include "notifications/view.h"
#include "route_kit.h"
#include "upload_prune.h"

typedef struct route_file_s {
    const char *name;
    gw_script_t *const *scripts;
} route_file_t;

static const route_file_t route_files[] = {
    {"assignments", gw_assignments_scripts},     {"chat", gw_chat_scripts},
    {"classes", gw_classes_scripts},             {"grading", gw_grading_scripts},
    {"notifications", gw_notifications_scripts}, {"posts", gw_posts_scripts},
    {"roster", gw_roster_scripts},               {"stream", gw_stream_scripts},
    {"submissions", gw_submissions_scripts},     {"webhooks", gw_webhooks_scripts},
    {"files", gw_files_scripts},                 {"upload_prune", gw_upload_prune_scripts},
};
#define N_ROUTE_FILES (sizeof route_files / sizeof route_files[0])

/* ---- the layouts, from the view.h files ---- */

/* One view as the gateway may read it: its prefix, the whole keys (prefix
 * and part; a part ending in ':' is followed by an id) and channels its
 * view.h declares, and the byte offsets (as Lua's string.sub counts) at
 * which the ids of its list members start. Lists end with NULL. */
typedef struct view_layout_s {
    const char *prefix;
    const char *const *keys;
    const char *const *member_id_at;
} view_layout_t;

static const char *const assignments_keys[] = {
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_ASSIGNMENT),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_BY_DUE),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_BY_CREATION),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_CLASS),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_ROSTER),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_SUBMISSION_VERSIONS),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_SUBMISSIONS),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_MY_SUBMISSION),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_SUBMITTERS),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_UPLOAD),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_UPLOAD_BYTES),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_REMIND),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_REMINDED),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_GRADES),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_CMDS),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_OFFSETS),
    ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_META),
    NULL,
};
static const char *const assignments_offsets[] = {ASSIGNMENTS_VIEW_MEMBER_ID_AT, NULL};

static const char *const grading_keys[] = {
    GRADING_VIEW_KEY(GRADING_VIEW_ASSIGNMENT),   GRADING_VIEW_KEY(GRADING_VIEW_ROSTER),
    GRADING_VIEW_KEY(GRADING_VIEW_STUDENTS),     GRADING_VIEW_KEY(GRADING_VIEW_NAMES),
    GRADING_VIEW_KEY(GRADING_VIEW_GRADES),       GRADING_VIEW_KEY(GRADING_VIEW_HISTORY),
    GRADING_VIEW_KEY(GRADING_VIEW_STUDENT_GRADES), GRADING_VIEW_KEY(GRADING_VIEW_TOTALS),
    GRADING_VIEW_KEY(GRADING_VIEW_RANK),         GRADING_VIEW_KEY(GRADING_VIEW_CMDS),
    GRADING_VIEW_KEY(GRADING_VIEW_OFFSETS),      GRADING_VIEW_KEY(GRADING_VIEW_META),
    GRADING_VIEW_KEY(GRADING_VIEW_QUARANTINE),   GRADING_VIEW_KEY(GRADING_VIEW_INCOMPLETE),
    NULL,
};
static const char *const no_offsets[] = {NULL};

/* classes/view.h names whole keys (prefix and part) and its channel. */
static const char *const classes_keys[] = {
    CLASSES_KEY_CLASS,  CLASSES_KEY_DOCS,  CLASSES_KEY_LIST,    CLASSES_KEY_CODE,   CLASSES_KEY_ROSTER,
    CLASSES_KEY_RDOC,   CLASSES_KEY_SCLASSES, CLASSES_KEY_POSTS, CLASSES_KEY_POST,  CLASSES_KEY_CHAT,
    CLASSES_KEY_CMDS,   CLASSES_KEY_OFFSETS, CLASSES_CHAT_CHANNEL, NULL,
};
/* Its member formats are stated in comments only; route_kit.h states the offsets. */
static const char *const classes_offsets[] = {GW_CLASSES_MEMBER_ID_AT, GW_CLASSES_POST_ID_AT, NULL};

static const char *const notifications_keys[] = {
    NOTIF_VIEW_KEY(NOTIF_VIEW_ROSTER),   NOTIF_VIEW_KEY(NOTIF_VIEW_EMAILS),   NOTIF_VIEW_KEY(NOTIF_VIEW_RV),
    NOTIF_VIEW_KEY(NOTIF_VIEW_WEBHOOKS), NOTIF_VIEW_KEY(NOTIF_VIEW_WHSECRET), NOTIF_VIEW_KEY(NOTIF_VIEW_ITEM),
    NOTIF_VIEW_KEY(NOTIF_VIEW_COUNT),    NOTIF_VIEW_KEY(NOTIF_VIEW_INBOX),    NOTIF_VIEW_KEY(NOTIF_VIEW_UNREAD),
    NOTIF_VIEW_KEY(NOTIF_VIEW_FEED),     NOTIF_VIEW_KEY(NOTIF_VIEW_READ),     NOTIF_VIEW_KEY(NOTIF_VIEW_READ_ALL),
    NOTIF_VIEW_KEY(NOTIF_VIEW_PREFS),    NOTIF_VIEW_KEY(NOTIF_VIEW_CMDS),     NOTIF_VIEW_KEY(NOTIF_VIEW_OFFSETS),
    NOTIF_VIEW_KEY(NOTIF_VIEW_META),     NOTIF_VIEW_CHANNEL_NEW,              NULL,
};

static const view_layout_t layouts[] = {
    {ASSIGNMENTS_VIEW_PREFIX, assignments_keys, assignments_offsets},
    {GRADING_VIEW_PREFIX, grading_keys, no_offsets},
    {CLASSES_KEY_PREFIX, classes_keys, classes_offsets},
    {NOTIF_VIEW_PREFIX, notifications_keys, no_offsets},
};
#define N_LAYOUTS (sizeof layouts / sizeof layouts[0])

/* The worker's bookkeeping under every view's prefix that GW_LUA_VIEW_STATE
 * reads (common/worker.h, common/quarantine.h state it in comments only). */
static const char *const worker_parts[] = {"meta", "incomplete:", NULL};

/* State no view.h describes, which the gateway reads all the same: its keys
 * (and the offsets of scripts reading it) are not checked. */
static const char *const unstated_prefixes[] = {
    "sms:delivery:", /* sms-notify-webhook's delivery state (services/notifications/webhook.c): no view.h */
    NULL,
};

static bool listed(const char *const *list, const char *s, size_t n) {
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0) return true;
    return false;
}

static bool starts(const char *s, size_t n, const char *prefix) {
    size_t pn = strlen(prefix);
    return n >= pn && memcmp(s, prefix, pn) == 0;
}

static const view_layout_t *layout_of(const char *key, size_t n) {
    for (size_t i = 0; i < N_LAYOUTS; i++)
        if (starts(key, n, layouts[i].prefix)) return &layouts[i];
    return NULL;
}

static bool unstated(const char *key, size_t n) {
    for (size_t i = 0; unstated_prefixes[i]; i++)
        if (starts(key, n, unstated_prefixes[i])) return true;
    return false;
}

/* ---- the checker ---- */

/* What a scan of one script found wrong, counted and printed with where. */
typedef struct scan_s {
    const char *where;
    const char *p;  /* the script's `local p`, or NULL */
    size_t p_len;
    bool named[N_LAYOUTS]; /* [i]: the script names a key of layouts[i] */
    bool unstated;  /* it names a key of an unstated_prefixes view */
    const char *offsets[16]; /* the string.sub id offsets it uses */
    size_t offset_lens[16];
    size_t n_offsets;
    int problems;
} scan_t;

static void problem(scan_t *sc, const char *what, const char *s, size_t n) {
    printf("%s: %s '%.*s'\n", sc->where, what, (int)n, s);
    sc->problems++;
}

/* A whole key (the prefix and one part) named by a script. */
static void check_key(scan_t *sc, const char *key, size_t n) {
    const view_layout_t *v = layout_of(key, n);
    if (v == NULL) {
        if (unstated(key, n)) sc->unstated = true;
        else problem(sc, "a key under no view.h's prefix", key, n);
        return;
    }
    sc->named[v - layouts] = true;
    size_t pn = strlen(v->prefix);
    if (n == pn) return; /* the prefix itself (local p = ...) */
    if (listed(v->keys, key, n) || listed(worker_parts, key + pn, n - pn)) return;
    problem(sc, "a key its view.h does not declare", key, n);
}

/* A string literal of src (lit, n bytes, inside src): p's value when it
 * follows `local p =`, a part when it follows `p ..` (checked as p's value
 * and the part), a whole key when it starts with "sms:"; else nothing. */
static void check_literal(scan_t *sc, const char *src, const char *lit, size_t n) {
    const char *b = lit - 1; /* the opening quote */
    while (b > src && b[-1] == ' ') b--;
    if (b - src >= 9 && memcmp(b - 9, "local p =", 9) == 0) {
        sc->p = lit;
        sc->p_len = n;
    }
    if (b - src >= 4 && memcmp(b - 4, "p ..", 4) == 0 && (b - src == 4 || !isalnum((unsigned char)b[-5]))) {
        if (sc->p == NULL) {
            problem(sc, "p .. before any local p", lit, n);
            return;
        }
        char key[256];
        if (sc->p_len + n >= sizeof key) {
            problem(sc, "an overlong key", lit, n);
            return;
        }
        memcpy(key, sc->p, sc->p_len);
        memcpy(key + sc->p_len, lit, n);
        check_key(sc, key, sc->p_len + n);
        return;
    }
    if (starts(lit, n, "sms:")) check_key(sc, lit, n);
}

/* string.sub(x, N) with a number N and no third argument: an id taken from a
 * list member, at an offset a view the script names (before or after) must
 * declare: kept in sc->offsets, checked by check_offsets once the whole
 * script is read. */
static void check_sub(scan_t *sc, const char *at) {
    const char *a = at + strlen("string.sub(");
    const char *comma = NULL;
    int depth = 0;
    for (; *a && !(depth == 0 && *a == ')'); a++) {
        if (*a == '(') depth++;
        else if (*a == ')') depth--;
        else if (*a == ',' && depth == 0) {
            if (comma) return; /* a third argument: not an id offset */
            comma = a;
        }
    }
    if (comma == NULL) return;
    const char *num = comma + 1;
    while (*num == ' ') num++;
    size_t n = (size_t)(a - num);
    if (n == 0 || strspn(num, "0123456789") != n) return;
    if (sc->n_offsets < sizeof sc->offsets / sizeof sc->offsets[0]) {
        sc->offsets[sc->n_offsets] = num;
        sc->offset_lens[sc->n_offsets++] = n;
    } else {
        problem(sc, "more member offsets than this test keeps", num, n);
    }
}

static void check_offsets(scan_t *sc) {
    for (size_t i = 0; i < sc->n_offsets; i++) {
        bool declared = false;
        for (size_t v = 0; v < N_LAYOUTS; v++)
            if (sc->named[v] && listed(layouts[v].member_id_at, sc->offsets[i], sc->offset_lens[i])) declared = true;
        if (!declared && !sc->unstated)
            problem(sc, "a member offset no view it names declares", sc->offsets[i], sc->offset_lens[i]);
    }
}

/* Skips a Lua string literal starting at its quote; returns the byte after
 * its closing quote, and its body in *lit (n bytes). */
static const char *lua_string(const char *s, const char **lit, size_t *n) {
    char q = *s++;
    *lit = s;
    while (*s && *s != q) s += (*s == '\\' && s[1]) ? 2 : 1;
    *n = (size_t)(s - *lit);
    return *s ? s + 1 : s;
}

/* Checks one script; returns its problems' count. */
static int check_script(const char *where, const char *src) {
    scan_t sc = {.where = where};
    for (const char *s = src; *s;) {
        if (*s == '\'' || *s == '"') {
            const char *lit;
            size_t n;
            const char *next = lua_string(s, &lit, &n);
            check_literal(&sc, src, lit, n);
            s = next;
        } else if (s[0] == '-' && s[1] == '-') {
            s += strcspn(s, "\n"); /* a comment may hold an apostrophe */
        } else {
            if (strncmp(s, "string.sub(", 11) == 0) check_sub(&sc, s);
            s++;
        }
    }
    check_offsets(&sc);
    return sc.problems;
}

/* ---- tests ---- */

static void test_every_script_reads_declared_keys(void **state) {
    (void)state;
    int problems = 0, scripts = 0;
    for (size_t f = 0; f < N_ROUTE_FILES; f++)
        for (size_t i = 0; route_files[f].scripts[i]; i++) {
            char where[64];
            snprintf(where, sizeof where, "routes_%s.c script %zu", route_files[f].name, i);
            problems += check_script(where, route_files[f].scripts[i]->source);
            scripts++;
        }
    assert_true(scripts >= 17);
    assert_int_equal(problems, 0);
}

/* The checker refuses what it should (so a pass above means something). */
static void test_checker_refuses(void **state) {
    (void)state;
    assert_int_equal(check_script("t", "local p = '" GRADING_VIEW_PREFIX "'\nreturn redis.call('GET', p .. 'gx:')"), 1);
    assert_int_equal(check_script("t", "return redis.call('HLEN', 'sms:grading:gx:' .. id)"), 1);
    assert_int_equal(check_script("t", "return redis.call('HLEN', 'sms:nosuchview:x')"), 1);
    assert_int_equal(check_script("t", "local p = '" ASSIGNMENTS_VIEW_PREFIX "'\nlocal id = string.sub(m, 15)"), 1);
    assert_int_equal(check_script("t", "local p = '" ASSIGNMENTS_VIEW_PREFIX "'\n"
                                       "local id = string.sub(m, " ASSIGNMENTS_VIEW_MEMBER_ID_AT ")\n"
                                       "local ok = string.sub(m, 1, 3) -- p .. 'not a key' in Lua's comment\n"
                                       "return redis.call('HGET', p .. '" ASSIGNMENTS_VIEW_ASSIGNMENT "' .. id)"),
                     0);
}

/* Where a member format puts its id: the byte (1-based, as string.sub
 * counts) after the formatted number, for a member format of "<n>:<id>"-like
 * shape printed from a long long and an id. */
static int id_at(const char *format) {
    char member[64];
    snprintf(member, sizeof member, format, 0LL, "ID");
    const char *id = strstr(member, "ID");
    assert_non_null(id);
    return (int)(id - member) + 1;
}

/* Each member offset constant is where its format puts the id. */
static void test_member_offsets_match_formats(void **state) {
    (void)state;
    assert_int_equal(id_at(ASSIGNMENTS_VIEW_MEMBER_FORMAT), atoi(ASSIGNMENTS_VIEW_MEMBER_ID_AT));
}

static void dump(void) {
    for (size_t f = 0; f < N_ROUTE_FILES; f++)
        for (size_t i = 0; route_files[f].scripts[i]; i++)
            printf("==== routes_%s.c script %zu\n%s", route_files[f].name, i, route_files[f].scripts[i]->source);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--dump") == 0) {
        dump();
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_script_reads_declared_keys),
        cmocka_unit_test(test_checker_refuses),
        cmocka_unit_test(test_member_offsets_match_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
