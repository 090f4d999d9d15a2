/* routes_docs.c - the API documented where operators and integrators look:
 *
 *   GET /docs                          an HTML page: Redoc rendering /openapi.yaml
 *   GET /docs/redoc.standalone.js      Redoc's standalone bundle (no CDN at run time)
 *   GET /openapi.yaml, /asyncapi.yaml  the HTTP and Kafka contracts (schemas/)
 *
 * The files are read once, at start, from SMS_DOCS_DIR (deploy/ctl copies
 * the schemas and the bundle deploy/install fetched there), so a request never
 * touches the disk and the loop never blocks. Public (no token), with a
 * strong ETag and If-None-Match -> 304. app.c registers these routes. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "route_kit.h"
#include "routes.h"

#define DOC_MAX_BYTES (16 * 1024 * 1024) /* refuse to load anything bigger: not ours */

/* One served document: its bytes (sms_malloc'd, kept for the process's
 * life: served until exit, so never freed) and its ETag header line. */
typedef struct doc_s {
    const char *file;         /* name in SMS_DOCS_DIR; NULL for the built-in page */
    const char *content_type;
    const char *body;
    size_t len;
    char etag[72];            /* "\"<32 hex>\"" */
    char headers[160];        /* ETag and Cache-Control lines */
    int load_error;           /* 0, or the negative errno of the failed load */
} doc_t;

/* The page: Redoc reads the contract from /openapi.yaml itself. Everything
 * it needs is served here; nothing is fetched from elsewhere. */
static const char page_html[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "  <meta charset=\"utf-8\">\n"
    "  <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "  <title>sms HTTP API</title>\n"
    "  <style>body { margin: 0; padding: 0; }</style>\n"
    "</head>\n"
    "<body>\n"
    "  <redoc spec-url=\"/openapi.yaml\" hide-download-button=\"false\"></redoc>\n"
    "  <script src=\"/docs/redoc.standalone.js\"></script>\n"
    "</body>\n"
    "</html>\n";

enum { DOC_PAGE, DOC_REDOC, DOC_OPENAPI, DOC_ASYNCAPI, N_DOCS };

static doc_t docs[N_DOCS] = {
    [DOC_PAGE] = {NULL, "text/html; charset=utf-8", NULL, 0, "", "", 0},
    [DOC_REDOC] = {"redoc.standalone.js", "text/javascript; charset=utf-8", NULL, 0, "", "", 0},
    /* application/yaml: RFC 9512. */
    [DOC_OPENAPI] = {"openapi.yaml", "application/yaml", NULL, 0, "", "", 0},
    [DOC_ASYNCAPI] = {"asyncapi.yaml", "application/yaml", NULL, 0, "", "", 0},
};

/* The ETag: the first 128 bits of the body's SHA-256, quoted. */
static int doc_tag(doc_t *d) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(d->body, d->len, md, &n, EVP_sha256(), NULL) != 1 || n < 16) return -EIO;
    char *p = d->etag;
    *p++ = '"';
    for (int i = 0; i < 16; i++) p += sprintf(p, "%02x", md[i]);
    *p++ = '"';
    *p = '\0';
    /* no-cache: clients keep it but ask again (a 304 costs a few bytes), so a
     * new contract after a restart is seen at once. */
    snprintf(d->headers, sizeof d->headers, "ETag: %s\r\nCache-Control: no-cache\r\n", d->etag);
    return 0;
}

/* Reads dir/d->file into d. Returns 0 or a negative errno (-EFBIG past DOC_MAX_BYTES). */
static int doc_load(doc_t *d, const char *dir) {
    char path[512];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, d->file) >= sizeof path) return -ENAMETOOLONG;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return -errno;
    int rc = 0;
    sms_buf_t b;
    sms_buf_init(&b);
    char chunk[64 * 1024];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > DOC_MAX_BYTES) {
            rc = -EFBIG;
            goto out;
        }
        sms_buf_append(&b, chunk, n);
    }
    if (ferror(f)) {
        rc = -EIO;
        goto out;
    }
    d->body = sms_buf_take(&b, &d->len);
out:
    sms_buf_close(&b);
    if (fclose(f) != 0 && rc == 0) rc = -errno;
    return rc;
}

/* If-None-Match names the current tag (a list, or "*"): the client has it. */
static int client_has(const gw_request_t *req, const doc_t *d) {
    const char *inm = gw_req_header(req, "If-None-Match");
    if (inm == NULL) return 0;
    if (strcmp(inm, "*") == 0) return 1;
    /* Weak comparison (RFC 9110 13.1.2): W/"x" matches "x". */
    for (const char *p = strstr(inm, d->etag + 1); p; p = strstr(p + 1, d->etag + 1))
        if (p > inm && p[-1] == '"') return 1;
    return 0;
}

static void serve(gw_request_t *req, void *data) {
    const doc_t *d = data;
    if (d->body == NULL) {
        char detail[200];
        snprintf(detail, sizeof detail, "%s is not installed on this gateway (SMS_DOCS_DIR: %s)", d->file,
                 d->load_error ? strerror(-d->load_error) : "not set");
        gw_respond_problem(req, 404, "docs_not_installed", detail, NULL, 0);
        return;
    }
    if (client_has(req, d)) {
        gw_respond(req, 304, NULL, NULL, 0, d->headers);
        return;
    }
    gw_respond(req, 200, d->content_type, d->body, d->len, d->headers);
}

int gw_routes_docs(gw_app_t *app, gw_router_t *router) {
    const char *dir = app->cfg->docs_dir;
    docs[DOC_PAGE].body = page_html;
    docs[DOC_PAGE].len = sizeof page_html - 1;
    for (int i = 0; i < N_DOCS; i++) {
        doc_t *d = &docs[i];
        if (d->file != NULL && d->body == NULL) {
            d->load_error = dir[0] ? doc_load(d, dir) : 0;
            if (d->body == NULL) {
                /* Not fatal: the API works without its docs; the route says why. */
                sms_log(SMS_LOG_WARN, "docs_missing", "%s/%s: %s; it answers 404", dir[0] ? dir : "(SMS_DOCS_DIR unset)",
                        d->file, d->load_error ? strerror(-d->load_error) : "not loaded");
                continue;
            }
        }
        if (d->etag[0] == '\0' && doc_tag(d) != 0) return -1;
    }
    int rc = 0;
    rc |= gw_router_add(router, "GET", "/docs", GW_ROUTE_PUBLIC, 0, serve, &docs[DOC_PAGE]);
    rc |= gw_router_add(router, "GET", "/docs/redoc.standalone.js", GW_ROUTE_PUBLIC, 0, serve, &docs[DOC_REDOC]);
    rc |= gw_router_add(router, "GET", "/openapi.yaml", GW_ROUTE_PUBLIC, 0, serve, &docs[DOC_OPENAPI]);
    rc |= gw_router_add(router, "GET", "/asyncapi.yaml", GW_ROUTE_PUBLIC, 0, serve, &docs[DOC_ASYNCAPI]);
    return rc ? -1 : 0;
}
