/* routes_roster.c - class rosters at the gateway: the lecturer's enroll
 * (JSON, or text/csv parsed here into the same JSON) and unenroll become
 * roster.* commands for the classes service; the lecturer's roster list and
 * the student's classes are read from the classes view (sms:classes:*, see
 * services/classes/view.h) with one Lua script each. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "buf.h"
#include "classes/view.h"
#include "csv.h"
#include "route_kit.h"
#include "routes.h"

#define ROSTER_MAX 500        /* rows per enroll; the service enforces it too */
#define LIST_LIMIT_DEFAULT 20
#define LIST_LIMIT_MAX 100
#define CURSOR_HEX_MAX 2048   /* hex of "<lowered name>\0<student id>" */
#define CSV_MAX_ERRORS 16

/* ARGV: class, lecturer, lower-case prefix ("" = none), cursor member ("" = start), limit.
 * Returns 0 when the class is not the lecturer's; else {item JSON..., next member or false}.
 * Members are "<lowered name>\0<student id>", so lex order is name order. */
static gw_script_t roster_script = {.source =
    "local cid = ARGV[1]\n"
    "if redis.call('HGET', '" CLASSES_KEY_CLASS "' .. cid, '" CLASSES_FIELD_LECTURER "') ~= ARGV[2] then return 0 end\n"
    "local key, docs = '" CLASSES_KEY_ROSTER "' .. cid, '" CLASSES_KEY_RDOC "' .. cid\n"
    "local q, limit = ARGV[3], tonumber(ARGV[5])\n"
    "local min = '-'\n"
    "if ARGV[4] ~= '' then min = '(' .. ARGV[4] end\n"
    "local function sid(m) return string.sub(m, string.find(m, '\\0', 1, true) + 1) end\n"
    "if q == '' then\n"
    "  local members = redis.call('ZRANGEBYLEX', key, min, '+', 'LIMIT', 0, limit + 1)\n"
    "  local n = math.min(#members, limit)\n"
    "  if n == 0 then return {{}, false} end\n"
    "  local ids = {}\n"
    "  for i = 1, n do ids[i] = sid(members[i]) end\n"
    "  local d = redis.call('HMGET', docs, unpack(ids))\n"
    "  if #members > limit then return {d, members[limit]} end\n"
    "  return {d, false}\n"
    "end\n"
    /* Filtered: walk in name order until the page is full. */
    GW_LUA_SCAN
    "return scan('ZRANGEBYLEX', key, min, '+', limit, function(m)\n"
    "  local id = sid(m)\n"
    "  local doc = redis.call('HGET', docs, id)\n"
    "  local hit = string.sub(m, 1, #q) == q or string.sub(string.lower(id), 1, #q) == q\n"
    "  if doc and not hit then hit = string.sub(string.lower(cjson.decode(doc).email), 1, #q) == q end\n"
    "  if doc and hit then return doc end\n"
    "end)\n"};

/* ARGV: student, cursor ("" = start), limit. The student's classes newest
 * first, skipping inactive ones: {class JSON..., next member or false}. */
static gw_script_t student_script = {.source =
    "local key = '" CLASSES_KEY_SCLASSES "' .. ARGV[1]\n"
    "local limit = tonumber(ARGV[3])\n"
    "local max = '+'\n"
    "if ARGV[2] ~= '' then max = '(' .. ARGV[2] end\n"
    GW_LUA_SCAN
    "return scan('ZREVRANGEBYLEX', key, max, '-', limit, function(m)\n"
    "  local h = redis.call('HMGET', '" CLASSES_KEY_CLASS "' .. string.sub(m, " GW_CLASSES_MEMBER_ID_AT "), '"
    CLASSES_FIELD_STATUS "', '" CLASSES_FIELD_JSON "')\n"
    "  if h[1] == 'active' and h[2] then return h[2] end\n"
    "end)\n"};

/* ---- pages ---- */

static void hex_encode(sms_buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        sms_buf_putc(b, hex[(unsigned char)s[i] >> 4]);
        sms_buf_putc(b, hex[(unsigned char)s[i] & 15]);
    }
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decodes a roster cursor into out (cap bytes); returns its length, or -1. */
static long hex_decode(const char *s, char *out, size_t cap) {
    size_t n = strlen(s);
    if (n == 0 || n % 2 || n > CURSOR_HEX_MAX || n / 2 > cap) return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i / 2] = (char)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

/* Answers {"items": [...], "next_cursor": ...} from a {docs, next|false}
 * script reply; hex_cursor: the next member is hex-encoded. */
static void respond_page(gw_request_t *req, redisReply *r, bool hex_cursor) {
    if (!gw_page_reply_ok(r)) {
        gw_respond_redis_down(req);
        return;
    }
    sms_buf_t b;
    sms_buf_init(&b);
    gw_page_items(&b, r->element[0]);
    redisReply *next = r->element[1];
    if (next->type == REDIS_REPLY_STRING && hex_cursor) {
        sms_buf_putc(&b, '"');
        hex_encode(&b, next->str, next->len);
        sms_buf_putc(&b, '"');
    } else if (next->type == REDIS_REPLY_STRING) {
        sms_buf_json_str(&b, next->str, next->len);
    } else {
        sms_buf_puts(&b, "null");
    }
    sms_buf_putc(&b, '}');
    gw_respond(req, 200, "application/json", b.data, b.len, NULL);
    sms_buf_close(&b);
}

/* ---- GET /lecturer/students/{class_id} ---- */

static void on_roster(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (r && r->type == REDIS_REPLY_INTEGER) { /* missing, or another lecturer's: the same answer */
        gw_respond_problem(req, 404, "not_found", "no such class", NULL, 0);
        return;
    }
    respond_page(req, r, true);
}

static void list_roster(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    sms_problem_error_t errs[4];
    size_t n_errs = 0;
    gw_page_query_t page;
    /* Its errors are counted in n_errs, checked below. */
    (void)gw_query_limit(req, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, &page, errs, &n_errs);
    /* The cursor is hex-encoded (a roster member), not a list cursor. */
    char cursor[CURSOR_HEX_MAX / 2];
    long cn = 0;
    const char *c = gw_req_query(req, "cursor");
    if (c && *c && (cn = hex_decode(c, cursor, sizeof cursor)) < 0)
        errs[n_errs++] = (sms_problem_error_t){"cursor", "is not a cursor this API returned"};
    char qlower[GW_QUERY_Q_MAX + 1];
    size_t qn = gw_query_search(req, qlower, errs, &n_errs);
    if (n_errs) {
        gw_respond_bad_query(req, errs, n_errs);
        return;
    }
    const char *cid = gw_req_param(req, "class_id"), *user = gw_req_user(req);
    const char *argv[] = {cid, user, qlower, cursor, page.limit_s};
    size_t lens[] = {strlen(cid), strlen(user), qn, (size_t)cn, strlen(page.limit_s)};
    gw_read_script(app, req, &roster_script, 5, argv, lens, on_roster);
}

/* ---- GET /student/classes ---- */

static void on_student_classes(redisReply *r, void *data) { respond_page(gw_read_finish(data), r, false); }

/* Cursors are "<13 digits>:<class id>" (the lecturer lists' format). */
static bool valid_class_cursor(const char *c) { return gw_valid_cursor(c, 13); }

static void student_classes(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    gw_page_query_t page;
    if (!gw_query_page_checked(req, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, valid_class_cursor, &page)) return;
    const char *user = gw_req_user(req);
    const char *argv[] = {user, page.cursor, page.limit_s};
    size_t lens[] = {strlen(user), strlen(page.cursor), strlen(page.limit_s)};
    gw_read_script(app, req, &student_script, 3, argv, lens, on_student_classes);
}

/* ---- writes ---- */

/* The media type of ct (parameters dropped) equals type, case-insensitively. */
static bool media_type_is(const char *ct, const char *type) {
    if (ct == NULL) return false;
    while (*ct == ' ') ct++;
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0) return false;
    ct += n;
    while (*ct == ' ') ct++;
    return *ct == '\0' || *ct == ';';
}

static bool is_json_type(const char *ct) {
    if (media_type_is(ct, "application/json")) return true;
    if (ct == NULL || strncasecmp(ct, "application/", 12) != 0) return false;
    const char *end = strchr(ct, ';');
    size_t n = end ? (size_t)(end - ct) : strlen(ct);
    while (n && ct[n - 1] == ' ') n--;
    return n > 17 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

/* Turns a text/csv body (header student_id,name,email in any order) into
 * {"students": [...]}, or answers 400 and returns NULL. */
static cJSON *csv_to_students(gw_request_t *req) {
    size_t len;
    const char *body = gw_req_body(req, &len);
    sms_csv_t csv;
    size_t line = 0;
    int rc = sms_csv_parse(body, len, ROSTER_MAX + 2, &csv, &line);
    cJSON *out = NULL;
    char fields[CSV_MAX_ERRORS][48], messages[CSV_MAX_ERRORS][160];
    sms_problem_error_t errs[CSV_MAX_ERRORS];
    size_t n_errs = 0;
    if (rc == SMS_ETOOMANY) {
        errs[n_errs++] = (sms_problem_error_t){"students", "must hold 1 to 500 students"};
        gw_respond_problem(req, 400, "validation", "too many rows: at most 500 students per upload", errs, n_errs);
        goto out;
    }
    if (rc == SMS_EWIDE) { /* a roster has 3 columns: a row this wide is not one, and is not read further */
        snprintf(fields[0], sizeof fields[0], "line %zu", line);
        errs[n_errs++] = (sms_problem_error_t){fields[0], sms_strerror(rc)};
        gw_respond_problem(req, 413, "payload_too_large", "a CSV row has more than 64 fields", errs, n_errs);
        goto out;
    }
    if (rc != 0) {
        snprintf(fields[0], sizeof fields[0], "line %zu", line);
        snprintf(messages[0], sizeof messages[0], "%s", sms_strerror(rc));
        errs[n_errs++] = (sms_problem_error_t){fields[0], messages[0]};
        gw_respond_problem(req, 400, "malformed_csv", "the body is not valid CSV", errs, n_errs);
        goto out;
    }
    static const char *const names[] = {"student_id", "name", "email"};
    int col[3] = {-1, -1, -1};
    if (csv.n > 0) {
        for (size_t f = 0; f < csv.records[0].n; f++) {
            const char *h = csv.records[0].fields[f];
            size_t hn = csv.records[0].lens[f];
            trim(&h, &hn);
            for (int k = 0; k < 3; k++)
                if (hn == strlen(names[k]) && strncasecmp(h, names[k], hn) == 0 && col[k] < 0) col[k] = (int)f;
        }
    }
    if (csv.n == 0 || csv.records[0].n != 3 || col[0] < 0 || col[1] < 0 || col[2] < 0) {
        errs[n_errs++] = (sms_problem_error_t){"line 1", "the header must be student_id,name,email"};
        gw_respond_problem(req, 400, "malformed_csv", "the CSV header row is missing or wrong", errs, n_errs);
        goto out;
    }
    out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "students");
    for (size_t r = 1; r < csv.n; r++) {
        const sms_csv_record_t *rec = &csv.records[r];
        if (rec->n != 3) {
            if (n_errs < CSV_MAX_ERRORS) {
                snprintf(fields[n_errs], sizeof fields[n_errs], "students[%zu]", r - 1);
                snprintf(messages[n_errs], sizeof messages[n_errs], "line %zu has %zu fields, expected 3", rec->line,
                         rec->n);
                errs[n_errs] = (sms_problem_error_t){fields[n_errs], messages[n_errs]};
                n_errs++;
            }
            continue;
        }
        cJSON *s = cJSON_CreateObject();
        for (int k = 0; k < 3; k++) {
            const char *v = rec->fields[col[k]];
            size_t vn = rec->lens[col[k]];
            trim(&v, &vn);
            char *copy = sms_strndup(v, vn);
            cJSON_AddStringToObject(s, names[k], copy);
            sms_free(copy);
        }
        cJSON_AddItemToArray(list, s);
    }
    if (n_errs) {
        gw_respond_problem(req, 400, "validation", "the roster is invalid; nothing was enrolled", errs, n_errs);
        cJSON_Delete(out);
        out = NULL;
    }
out:
    sms_csv_close(&csv);
    return out;
}

static void send_enroll(gw_app_t *app, gw_request_t *req, cJSON *body) {
    gw_bus_send(app->bus, req, "classes", "roster.enroll", gw_req_param(req, "id"), body);
    cJSON_Delete(body);
}

static void enroll(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *ct = gw_req_header(req, "Content-Type");
    cJSON *body = NULL;
    if (is_json_type(ct)) body = gw_parse_json_object(req);
    else if (media_type_is(ct, "text/csv")) body = csv_to_students(req);
    else {
        gw_respond_problem(req, 415, "unsupported_media_type", "The body must be application/json or text/csv.", NULL,
                           0);
        return;
    }
    if (!body) return; /* answered */
    /* A row naming a student account's email reaches that account's roster id (routes_identity.c). */
    gw_identity_link_students(app, req, body, send_enroll);
}

static void unenroll(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "student_id", gw_req_param(req, "student_id"));
    gw_bus_send(app->bus, req, "classes", "roster.unenroll", gw_req_param(req, "id"), body);
    cJSON_Delete(body);
}

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_roster_scripts[] = {&roster_script, &student_script, NULL};

int gw_routes_roster(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&roster_script);
    gw_script_init(&student_script);
    const unsigned auth = GW_ROUTE_AUTH; /* enroll checks its own media types: JSON or CSV */
    int rc = 0;
    rc |= gw_router_add(router, "POST", "/lecturer/classes/{id}/students", auth, GW_ROLE_LECTURER, enroll, app);
    rc |= gw_router_add(router, "DELETE", "/lecturer/classes/{id}/students/{student_id}", auth, GW_ROLE_LECTURER,
                        unenroll, app);
    rc |= gw_router_add(router, "GET", "/lecturer/students/{class_id}", auth, GW_ROLE_LECTURER, list_roster, app);
    rc |= gw_router_add(router, "GET", "/student/classes", auth, GW_ROLE_STUDENT, student_classes, app);
    return rc ? -1 : 0;
}
