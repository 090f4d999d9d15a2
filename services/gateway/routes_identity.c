/* routes_identity.c - accounts and login (services/identity). Every write
 * is a command to the identity service, answered once its event is durable
 * and in the view; argon2id runs there, never on this loop. The login,
 * refresh and logout routes are public: their commands are sent as actor
 * "anonymous" with role "public", keyed in Kafka by what orders them (the
 * lower-cased email; a hash of the refresh token) so that one account's
 * logins, and one token's uses, are decided in order by one consumer.
 * The admin list reads the view (services/identity/view.h). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "identity/view.h"
#include "log.h"
#include "protect.h"
#include "route_kit.h"
#include "routes.h"
#include "token.h"

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 200
#define EMAIL_KEY_MAX 254

/* ARGV: 1 role filter ("" = any), 2 q prefix (lower-cased, "" = none),
 * 3 cursor (the last email of the previous page, "" = start), 4 limit.
 * Email order. Each document is the account's JSON with its status. */
static gw_script_t list_script = {.source =
    "local p = '" IDENTITY_KEY_PREFIX "'\n"
    GW_LUA_VIEW_STATE
    GW_LUA_SCAN
    "local vs = view_state({})\n"
    "if vs then return vs end\n"
    "local role, q, limit = ARGV[1], ARGV[2], tonumber(ARGV[4])\n"
    "local from = '-'\n"
    "if q ~= '' then from = '[' .. q end\n"
    "if ARGV[3] ~= '' and ARGV[3] >= q then from = '(' .. ARGV[3] end\n"
    "local to = '+'\n"
    "if q ~= '' then to = '[' .. q .. '\\255' end\n"
    "local function doc_of(email)\n"
    "  local id = redis.call('GET', '" IDENTITY_KEY_EMAIL "' .. email)\n"
    "  if not id then return nil end\n"
    "  local f = redis.call('HMGET', '" IDENTITY_KEY_USER "' .. id, '" IDENTITY_FIELD_ROLE "', '" IDENTITY_FIELD_STATUS "',\n"
    "    '" IDENTITY_FIELD_JSON "')\n"
    "  if not f[3] or (role ~= '' and f[1] ~= role) then return nil end\n"
    "  return string.sub(f[3], 1, -2) .. ',\"status\":\"' .. f[2] .. '\"}'\n"
    "end\n"
    "local r = scan('ZRANGEBYLEX', '" IDENTITY_KEY_USERS "', from, to, limit, doc_of)\n"
    "return r\n"};

/* ARGV[1]: lower-cased emails, one per line (one argument: a roster has up
 * to 500 rows; an email holding a line break is sent as an empty line). For
 * each line, the subject of the active student account with that email (its
 * student_id, else its id: the tokens' sub, services/identity/tokens.c), or
 * "" when there is none. */
static gw_script_t link_script = {.source =
    "local s, out, start = ARGV[1], {}, 1\n"
    "while true do\n"
    "  local nl = string.find(s, '\\n', start, true)\n"
    "  local email = string.sub(s, start, (nl or (#s + 1)) - 1)\n"
    "  local subject = ''\n"
    "  local id = email ~= '' and redis.call('GET', '" IDENTITY_KEY_EMAIL "' .. email)\n"
    "  if id then\n"
    "    local f = redis.call('HMGET', '" IDENTITY_KEY_USER "' .. id, '" IDENTITY_FIELD_ROLE "', '" IDENTITY_FIELD_STATUS "',\n"
    "      '" IDENTITY_FIELD_STUDENT_ID "')\n"
    "    if f[1] == 'student' and f[2] == 'active' then\n"
    "      if f[3] and f[3] ~= '' then subject = f[3] else subject = id end\n"
    "    end\n"
    "  end\n"
    "  out[#out + 1] = subject\n"
    "  if not nl then break end\n"
    "  start = nl + 1\n"
    "end\n"
    "return out\n"};

typedef struct link_s {
    gw_read_t *rd;
    cJSON *body;
    void (*then)(gw_app_t *, gw_request_t *, cJSON *);
} link_t;

static void on_linked(redisReply *r, void *data) {
    link_t *l = data;
    gw_app_t *app = l->rd->app;
    gw_request_t *req = gw_read_finish(l->rd);
    cJSON *list = cJSON_GetObjectItemCaseSensitive(l->body, "students");
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        gw_respond_redis_down(req);
        cJSON_Delete(l->body);
    } else {
        size_t k = 0;
        cJSON *row;
        cJSON_ArrayForEach(row, list) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(row, "email");
            if (!cJSON_IsString(e) || strlen(e->valuestring) > EMAIL_KEY_MAX) continue;
            if (k < r->elements && r->element[k]->type == REDIS_REPLY_STRING && r->element[k]->len > 0) {
                cJSON *sid = cJSON_CreateString(r->element[k]->str);
                if (cJSON_GetObjectItemCaseSensitive(row, "student_id")) cJSON_ReplaceItemInObjectCaseSensitive(row, "student_id", sid);
                else cJSON_AddItemToObject(row, "student_id", sid);
            }
            k++;
        }
        l->then(app, req, l->body); /* it frees the body */
    }
    sms_free(l);
}

void gw_identity_link_students(gw_app_t *app, gw_request_t *req, cJSON *body,
                               void (*then)(gw_app_t *, gw_request_t *, cJSON *)) {
    cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "students");
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (n <= 0 || n > 1000) {
        then(app, req, body); /* nothing to link: the service judges the shape */
        return;
    }
    sms_buf_t emails;
    sms_buf_init(&emails);
    int argc = 0; /* rows with an email to look up */
    cJSON *row;
    cJSON_ArrayForEach(row, list) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(row, "email");
        if (!cJSON_IsString(e) || strlen(e->valuestring) > EMAIL_KEY_MAX) continue;
        if (argc++) sms_buf_putc(&emails, '\n');
        if (strchr(e->valuestring, '\n')) continue; /* an empty line: no account */
        for (size_t i = 0; e->valuestring[i]; i++) sms_buf_putc(&emails, (char)tolower((unsigned char)e->valuestring[i]));
    }
    if (argc == 0) {
        then(app, req, body);
    } else {
        link_t *l = sms_malloc(sizeof *l);
        *l = (link_t){gw_read_new(app, req), body, then};
        const char *argv[] = {emails.data ? emails.data : ""};
        size_t lens[] = {emails.len};
        if (gw_script_call(app, &link_script, 1, argv, lens, on_linked, l) != 0) {
            gw_respond_redis_down(gw_read_finish(l->rd));
            cJSON_Delete(body);
            sms_free(l);
        }
    }
    sms_buf_close(&emails);
}

/* The lower-cased "email" string of body into out (cut to EMAIL_KEY_MAX),
 * "" when absent: the Kafka key of the account's commands. */
static void email_key(const cJSON *body, char out[EMAIL_KEY_MAX + 1]) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "email");
    out[0] = '\0';
    if (!cJSON_IsString(e)) return;
    size_t i = 0;
    for (; e->valuestring[i] && i < EMAIL_KEY_MAX; i++) out[i] = (char)tolower((unsigned char)e->valuestring[i]);
    out[i] = '\0';
}

static const gw_bus_from_t *anonymous(const char *kafka_key, gw_bus_from_t *from) {
    *from = (gw_bus_from_t){.actor = "anonymous", .role = "public", .kafka_key = kafka_key[0] ? kafka_key : NULL};
    return from;
}

static void create_user(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    cJSON *body = gw_parse_json_object(req);
    if (!body) return; /* answered */
    char key[EMAIL_KEY_MAX + 1];
    email_key(body, key);
    gw_bus_send_from(app->bus, req, "identity", "user.create", "", body,
                     &(gw_bus_from_t){.kafka_key = key[0] ? key : NULL});
    cJSON_Delete(body);
}

static void deactivate_user(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *id = gw_req_param(req, "user_id");
    cJSON *body = cJSON_CreateObject();
    if (body == NULL || cJSON_AddStringToObject(body, "id", id) == NULL) {
        cJSON_Delete(body);
        gw_respond_problem(req, 500, "internal", "out of memory", NULL, 0);
        return;
    }
    gw_bus_send(app->bus, req, "identity", "user.deactivate", id, body);
    cJSON_Delete(body);
}

static void list_users(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    sms_problem_error_t errs[4];
    size_t n_errs = 0;
    gw_page_query_t page;
    (void)gw_query_limit(req, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, &page, errs, &n_errs); /* counted in n_errs */
    const char *role = gw_req_query(req, "role");
    if (role == NULL) role = "";
    if (role[0] && strcmp(role, "lecturer") && strcmp(role, "student") && strcmp(role, "admin"))
        errs[n_errs++] = (sms_problem_error_t){"role", "must be lecturer, student or admin"};
    char q[GW_QUERY_Q_MAX + 1];
    size_t qn = gw_query_search(req, q, errs, &n_errs);
    const char *cursor = gw_req_query(req, "cursor");
    if (cursor == NULL) cursor = "";
    if (strlen(cursor) > EMAIL_KEY_MAX) errs[n_errs++] = (sms_problem_error_t){"cursor", "is not a cursor this API returned"};
    if (n_errs) {
        gw_respond_bad_query(req, errs, n_errs);
        return;
    }
    const char *argv[] = {role, q, cursor, page.limit_s};
    size_t lens[] = {strlen(role), qn, strlen(cursor), strlen(page.limit_s)};
    gw_read_script(app, req, &list_script, 4, argv, lens, gw_on_page_reply);
}

static void login(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    cJSON *body = gw_parse_json_object(req);
    if (!body) return;
    /* The client's address, for sms-identity's per-address throttle: set
     * here, over anything the client sent under that name. */
    char peer[GW_IP_STR_MAX];
    cJSON_DeleteItemFromObjectCaseSensitive(body, "client_ip");
    gw_client_ip(&app->protect->proxies, req, peer, sizeof peer); /* X-Forwarded-For only from SMS_TRUSTED_PROXIES */
    if (peer[0]) cJSON_AddStringToObject(body, "client_ip", peer);
    char key[EMAIL_KEY_MAX + 1];
    gw_bus_from_t from;
    email_key(body, key);
    gw_bus_send_from(app->bus, req, "identity", "auth.login", "", body, anonymous(key, &from));
    cJSON_Delete(body);
}

/* refresh and logout: keyed by the first 32 hex digits of the token's SHA-256. */
static void token_command(gw_request_t *req, gw_app_t *app, const char *type) {
    cJSON *body = gw_parse_json_object(req);
    if (!body) return;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "refresh_token");
    char key[33] = "";
    if (cJSON_IsString(t)) {
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, (const unsigned char *)t->valuestring, strlen(t->valuestring));
        sodium_bin2hex(key, sizeof key, h, 16);
    }
    gw_bus_from_t from;
    gw_bus_send_from(app->bus, req, "identity", type, "", body, anonymous(key, &from));
    cJSON_Delete(body);
}

static void refresh(gw_request_t *req, void *data) { token_command(req, data, "auth.refresh"); }
static void logout(gw_request_t *req, void *data) { token_command(req, data, "auth.logout"); }

/* The public keys of SMS_JWT_KEYS_DIR as JWKS, re-read when the directory
 * changed (a stat per request; the files are read only after a rotation). */
static sms_token_keys_t *jwks_keys;
static char *jwks_doc;

static void jwks(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *dir = app->cfg->jwt_keys_dir;
    if (dir[0] && (jwks_doc == NULL || sms_token_keys_stale(jwks_keys, dir))) {
        char err[256];
        sms_token_keys_t *k = NULL;
        char *doc = NULL;
        if (sms_token_keys_load(dir, false, &k, err, sizeof err) == 0 && sms_token_jwks(k, &doc) == 0) {
            sms_token_keys_free(jwks_keys);
            sms_free(jwks_doc);
            jwks_keys = k;
            jwks_doc = doc;
        } else {
            sms_token_keys_free(k);
            sms_log(SMS_LOG_WARN, "jwt_keys_unreadable", "%s", err); /* the keys read before are still served */
        }
    }
    const char *body = jwks_doc ? jwks_doc : "{\"keys\":[]}";
    gw_respond(req, 200, "application/json", body, strlen(body), "Cache-Control: public, max-age=60\r\n");
}

static void change_password(gw_request_t *req, void *data) {
    gw_send_json_body(data, req, "identity", "auth.password", "");
}

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_identity_scripts[] = {&list_script, &link_script, NULL};

int gw_routes_identity(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&list_script);
    gw_script_init(&link_script);
    const unsigned auth = GW_ROUTE_AUTH, json = GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY;
    const unsigned public_json = GW_ROUTE_PUBLIC | GW_ROUTE_JSON_BODY;
    int rc = 0;
    rc |= gw_router_add(router, "POST", "/admin/users", json, GW_ROLE_ADMIN, create_user, app);
    rc |= gw_router_add(router, "GET", "/admin/users", auth, GW_ROLE_ADMIN, list_users, app);
    rc |= gw_router_add(router, "DELETE", "/admin/users/{user_id}", auth, GW_ROLE_ADMIN, deactivate_user, app);
    rc |= gw_router_add(router, "POST", "/auth/login", public_json, 0, login, app);
    rc |= gw_router_add(router, "POST", "/auth/refresh", public_json, 0, refresh, app);
    rc |= gw_router_add(router, "POST", "/auth/logout", public_json, 0, logout, app);
    rc |= gw_router_add(router, "POST", "/auth/password", json, GW_ROLE_ANY, change_password, app);
    rc |= gw_router_add(router, "GET", "/.well-known/jwks.json", GW_ROUTE_PUBLIC, 0, jwks, app);
    return rc ? -1 : 0;
}
