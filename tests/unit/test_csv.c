/* test_csv.c - common/csv: RFC 4180 records, quoting, line endings, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "csv.h"

static void assert_record(const sms_csv_t *c, size_t r, size_t n, const char *const *want) {
    assert_true(r < c->n);
    assert_int_equal(c->records[r].n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(c->records[r].lens[i], strlen(want[i]));
        assert_string_equal(c->records[r].fields[i], want[i]);
    }
}

static void test_plain_lf_and_crlf(void **state) {
    (void)state;
    static const char *const inputs[] = {"a,b,c\n1,2,3\n", "a,b,c\r\n1,2,3\r\n", "a,b,c\n1,2,3", "\xEF\xBB\xBF" "a,b,c\r\n1,2,3"};
    for (size_t k = 0; k < 4; k++) {
        sms_csv_t c;
        assert_int_equal(sms_csv_parse(inputs[k], strlen(inputs[k]), 10, &c, NULL), 0);
        assert_int_equal(c.n, 2);
        assert_record(&c, 0, 3, (const char *const[]){"a", "b", "c"});
        assert_record(&c, 1, 3, (const char *const[]){"1", "2", "3"});
        assert_int_equal(c.records[1].line, 2);
        sms_csv_close(&c);
    }
}

static void test_quotes(void **state) {
    (void)state;
    const char *in = "id,name\r\n7,\"Doe, Jane \"\"JD\"\"\"\r\n8,\"two\nlines\"\n9,\"\"\n\n10,x,\n";
    sms_csv_t c;
    assert_int_equal(sms_csv_parse(in, strlen(in), 10, &c, NULL), 0);
    assert_int_equal(c.n, 5);
    assert_record(&c, 1, 2, (const char *const[]){"7", "Doe, Jane \"JD\""});
    assert_record(&c, 2, 2, (const char *const[]){"8", "two\nlines"});
    assert_record(&c, 3, 2, (const char *const[]){"9", ""});
    assert_record(&c, 4, 3, (const char *const[]){"10", "x", ""}); /* the blank line was skipped */
    assert_int_equal(c.records[4].line, 7);
    sms_csv_close(&c);
}

static void test_errors(void **state) {
    (void)state;
    static const struct {
        const char *in;
        int err;
        size_t line;
    } cases[] = {
        {"a,b\n\"open,x\n", SMS_EQUOTE, 2},
        {"a,\"b\"c\n", SMS_EAFTER, 1},
        {"a,b\nc,d\"e\n", SMS_EBARE, 2},
        {"a\nb\nc\n", SMS_ETOOMANY, 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sms_csv_t c;
        size_t line = 0;
        assert_int_equal(sms_csv_parse(cases[k].in, strlen(cases[k].in), 2, &c, &line), cases[k].err);
        assert_int_equal(line, cases[k].line);
        assert_non_null(sms_strerror(cases[k].err));
        sms_csv_close(&c);
    }
    sms_csv_t c;
    assert_int_equal(sms_csv_parse("", 0, 2, &c, NULL), 0);
    assert_int_equal(c.n, 0);
    sms_csv_close(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_lf_and_crlf),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
