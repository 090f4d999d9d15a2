/* test_router.c - the gateway's route table: pattern validation, duplicate
 * detection, 404/405 (Allow list), literal-over-parameter precedence, HEAD
 * fallback and path parameter extraction. No network. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static void h1(gw_request_t *req, void *data) { (void)req; (void)data; }
static void h2(gw_request_t *req, void *data) { (void)req; (void)data; }

static int match(const gw_router_t *r, const char *method, const char *path, gw_match_t *m) {
    return gw_router_match(r, method, path, strlen(path), m);
}

static void test_add_rejects_bad_patterns(void **state) {
    (void)state;
    gw_router_t *r = gw_router_new();
    static const char *const bad[] = {"", "noslash", "/a/", "//", "/a//b", "/{", "/{}", "/{a b}", "/a{b}", "/{x}/{x}",
                                      "/a}", "/{x", "/ä", "/a b", "/{x-y}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gw_router_add(r, "GET", bad[i], 0, 0, h1, NULL), -EINVAL);
    assert_int_equal(gw_router_add(r, "FOO", "/a", 0, 0, h1, NULL), -EINVAL);
    assert_int_equal(gw_router_add(r, "HEAD", "/a", 0, 0, h1, NULL), -EINVAL);
    assert_int_equal(gw_router_add(r, "get", "/a", 0, 0, h1, NULL), -EINVAL);
    assert_int_equal(gw_router_add(r, "GET", "/a", 0, 0, NULL, NULL), -EINVAL);
    assert_int_equal(gw_router_add(r, "GET", "/a", GW_ROUTE_AUTH, 0, h1, NULL), -EINVAL); /* no role allowed */
    char deep[256] = "";
    for (int i = 0; i < GW_ROUTER_MAX_SEGMENTS + 1; i++) strcat(deep, "/s");
    assert_int_equal(gw_router_add(r, "GET", deep, 0, 0, h1, NULL), -EINVAL);
    assert_int_equal(gw_router_count(r), 0);
    gw_router_free(r);
}

static void test_add_duplicates(void **state) {
    (void)state;
    gw_router_t *r = gw_router_new();
    assert_int_equal(gw_router_add(r, "GET", "/a/{x}", 0, 0, h1, NULL), 0);
    assert_int_equal(gw_router_add(r, "GET", "/a/{y}", 0, 0, h2, NULL), -EEXIST);
    assert_int_equal(gw_router_add(r, "GET", "/a/{x}", 0, 0, h1, NULL), -EEXIST);
    assert_int_equal(gw_router_add(r, "PUT", "/a/{x}", 0, 0, h1, NULL), 0);
    assert_int_equal(gw_router_add(r, "GET", "/a/b", 0, 0, h1, NULL), 0);
    assert_int_equal(gw_router_add(r, "GET", "/", 0, 0, h1, NULL), 0);
    assert_int_equal(gw_router_add(r, "GET", "/", 0, 0, h1, NULL), -EEXIST);
    assert_int_equal(gw_router_count(r), 4);
    gw_router_free(r);
}

static void test_match_params_and_flags(void **state) {
    (void)state;
    gw_router_t *r = gw_router_new();
    int data = 7;
    assert_int_equal(gw_router_add(r, "GET", "/lecturer/classes/{id}", GW_ROUTE_AUTH, GW_ROLE_LECTURER, h1, &data), 0);
    assert_int_equal(gw_router_add(r, "PUT", "/lecturer/classes/{id}", GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY,
                                   GW_ROLE_LECTURER | GW_ROLE_ADMIN, h2, NULL),
                     0);
    assert_int_equal(gw_router_add(r, "GET", "/x/{a}/y/{b}", 0, 0, h1, NULL), 0);
    gw_match_t m;
    assert_int_equal(match(r, "GET", "/lecturer/classes/abc-123", &m), 0);
    assert_non_null(m.route);
    assert_ptr_equal(m.route->fn, h1);
    assert_ptr_equal(m.route->data, &data);
    assert_int_equal(m.route->flags, GW_ROUTE_AUTH);
    assert_int_equal(m.route->roles, GW_ROLE_LECTURER);
    assert_string_equal(m.route->pattern, "/lecturer/classes/{id}");
    assert_string_equal(m.route->method, "GET");
    assert_int_equal(m.n_params, 1);
    assert_string_equal(m.params[0].name, "id");
    assert_int_equal(m.params[0].len, 7);
    assert_memory_equal(m.params[0].value, "abc-123", 7);

    assert_int_equal(match(r, "PUT", "/lecturer/classes/9", &m), 0);
    assert_ptr_equal(m.route->fn, h2);
    assert_int_equal(m.route->flags, GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY);

    assert_int_equal(match(r, "GET", "/x/1/y/22", &m), 0);
    assert_int_equal(m.n_params, 2);
    assert_string_equal(m.params[0].name, "a");
    assert_memory_equal(m.params[0].value, "1", 1);
    assert_string_equal(m.params[1].name, "b");
    assert_int_equal(m.params[1].len, 2);
    assert_memory_equal(m.params[1].value, "22", 2);

    /* Path given by length: a query string after it is not looked at. */
    const char *with_query = "/x/1/y/22?z=1";
    assert_int_equal(gw_router_match(r, "GET", with_query, 9, &m), 0);
    assert_int_equal(m.params[1].len, 2);
    gw_router_free(r);
}

static void test_match_404_405(void **state) {
    (void)state;
    gw_router_t *r = gw_router_new();
    assert_int_equal(gw_router_add(r, "GET", "/c/{id}", 0, 0, h1, NULL), 0);
    assert_int_equal(gw_router_add(r, "PUT", "/c/{id}", 0, 0, h1, NULL), 0);
    assert_int_equal(gw_router_add(r, "DELETE", "/c/{id}", 0, 0, h1, NULL), 0);
    assert_int_equal(gw_router_add(r, "POST", "/c", 0, 0, h1, NULL), 0);
    gw_match_t m;
    assert_int_equal(match(r, "GET", "/nope", &m), 404);
    assert_null(m.route);
    assert_int_equal(match(r, "GET", "/c/1/extra", &m), 404);
    assert_int_equal(match(r, "GET", "/c/", &m), 404);  /* empty parameter */
    assert_int_equal(match(r, "GET", "/c//", &m), 404);
    assert_int_equal(match(r, "GET", "", &m), 404);
    assert_int_equal(match(r, "GET", "c/1", &m), 404);
    assert_int_equal(match(r, "PATCH", "/c/1", &m), 405);
    assert_null(m.route);
    assert_string_equal(m.allow, "GET, HEAD, PUT, DELETE");
    assert_int_equal(match(r, "GET", "/c", &m), 405);
    assert_string_equal(m.allow, "POST");
    assert_int_equal(match(r, "OPTIONS", "/c", &m), 405);
    char deep[256] = "";
    for (int i = 0; i < GW_ROUTER_MAX_SEGMENTS + 4; i++) strcat(deep, "/c");
    assert_int_equal(match(r, "GET", deep, &m), 404);
    gw_router_free(r);
}

static void test_literal_beats_param(void **state) {
    (void)state;
    gw_router_t *r = gw_router_new();
    /* Registered parameter-first on purpose: order must not matter. */
    assert_int_equal(gw_router_add(r, "GET", "/c/{id}", 0, 0, h1, NULL), 0);
    assert_int_equal(gw_router_add(r, "GET", "/c/new", 0, 0, h2, NULL), 0);
    assert_int_equal(gw_router_add(r, "GET", "/{a}/b/{c}", 0, 0, h1, NULL), 0);
    assert_int_equal(gw_router_add(r, "GET", "/{a}/{b}/c", 0, 0, h2, NULL), 0);
    assert_int_equal(gw_router_add(r, "POST", "/d/new", 0, 0, h2, NULL), 0);
    assert_int_equal(gw_router_add(r, "GET", "/d/{id}", 0, 0, h1, NULL), 0);
    gw_match_t m;
    assert_int_equal(match(r, "GET", "/c/new", &m), 0);
    assert_ptr_equal(m.route->fn, h2);
    assert_int_equal(m.n_params, 0);
    assert_int_equal(match(r, "GET", "/c/old", &m), 0);
    assert_ptr_equal(m.route->fn, h1);
    assert_int_equal(match(r, "GET", "/x/b/c", &m), 0); /* earlier literal wins */
    assert_string_equal(m.route->pattern, "/{a}/b/{c}");
    /* The literal route exists only for POST: GET falls to the parameter route. */
    assert_int_equal(match(r, "GET", "/d/new", &m), 0);
    assert_string_equal(m.route->pattern, "/d/{id}");
    gw_router_free(r);
}

static void test_head_and_root(void **state) {
    (void)state;
    gw_router_t *r = gw_router_new();
    assert_int_equal(gw_router_add(r, "GET", "/", 0, 0, h1, NULL), 0);
    assert_int_equal(gw_router_add(r, "GET", "/healthz", 0, 0, h2, NULL), 0);
    gw_match_t m;
    assert_int_equal(match(r, "GET", "/", &m), 0);
    assert_ptr_equal(m.route->fn, h1);
    assert_int_equal(match(r, "HEAD", "/healthz", &m), 0);
    assert_ptr_equal(m.route->fn, h2);
    assert_int_equal(match(r, "GET", "/healthz/", &m), 404); /* no trailing-slash folding */
    gw_router_free(r);
    gw_router_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_rejects_bad_patterns),
        cmocka_unit_test(test_add_duplicates),
        cmocka_unit_test(test_match_params_and_flags),
        cmocka_unit_test(test_match_404_405),
        cmocka_unit_test(test_literal_beats_param),
        cmocka_unit_test(test_head_and_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
