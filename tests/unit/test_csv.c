/* test_csv.c - common/csv: RFC 4180 records, quoting, line endings, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "alloc.h"
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

/* Issue 12: a CSV of a million empty fields cost a million allocations
 * (one strndup per field). Now a parse allocates O(log n) times. */
static void test_a_million_empty_fields_cost_few_allocations(void **state) {
    (void)state;
    const size_t rows = 1000000 / SMS_CSV_FIELDS_MAX, width = SMS_CSV_FIELDS_MAX; /* 63 commas + LF per row */
    size_t len = rows * width;
    char *in = sms_malloc(len);
    for (size_t r = 0; r < rows; r++) {
        memset(in + r * width, ',', width - 1);
        in[r * width + width - 1] = '\n';
    }
    sms_csv_t c;
    size_t before = sms_alloc_calls();
    assert_int_equal(sms_csv_parse(in, len, rows, &c, NULL), 0);
    size_t calls = sms_alloc_calls() - before;
    assert_int_equal(c.n, rows);
    assert_int_equal(c.records[rows - 1].n, SMS_CSV_FIELDS_MAX);
    assert_int_equal(c.records[rows - 1].lens[SMS_CSV_FIELDS_MAX - 1], 0);
    assert_string_equal(c.records[rows - 1].fields[0], "");
    assert_true(calls < 200); /* was rows * width + growth */
    sms_csv_close(&c);
    sms_free(in);
}

/* One record of a million empty fields is refused at the width cap, early. */
static void test_a_record_wider_than_the_cap_is_refused(void **state) {
    (void)state;
    size_t len = 1000000;
    char *in = sms_malloc(len);
    memcpy(in, "a,b\n", 4);
    memset(in + 4, ',', len - 4);
    sms_csv_t c;
    size_t line = 0, before = sms_alloc_calls();
    assert_int_equal(sms_csv_parse(in, len, 10, &c, &line), SMS_EWIDE);
    assert_true(sms_alloc_calls() - before < 50);
    assert_int_equal(line, 2);
    assert_int_equal(c.n, 1); /* the record before it */
    assert_string_equal(c.records[0].fields[1], "b");
    sms_csv_close(&c);
    sms_free(in);
    /* exactly the cap is fine, one more is not; also for a trailing comma */
    char row[2 * SMS_CSV_FIELDS_MAX + 2];
    memset(row, ',', sizeof row);
    assert_int_equal(sms_csv_parse(row, SMS_CSV_FIELDS_MAX - 1, 10, &c, NULL), 0);
    assert_int_equal(c.records[0].n, SMS_CSV_FIELDS_MAX);
    sms_csv_close(&c);
    assert_int_equal(sms_csv_parse(row, SMS_CSV_FIELDS_MAX, 10, &c, NULL), SMS_EWIDE);
    sms_csv_close(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_million_empty_fields_cost_few_allocations),
        cmocka_unit_test(test_a_record_wider_than_the_cap_is_refused),
        cmocka_unit_test(test_plain_lf_and_crlf),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
