/* csv.h - a small RFC 4180 reader: comma-separated fields, double-quoted
 * fields that may hold commas, line breaks and doubled quotes (""), records
 * ending in CRLF or LF, an optional UTF-8 BOM. Used by the gateway to turn
 * uploaded text/csv into JSON; knows no domain. Pure, no I/O. */
#ifndef SMS_CSV_H
#define SMS_CSV_H

#include <stddef.h>

#include "error.h"

/* Errors (error.h): SMS_EQUOTE (a quoted field is not closed), SMS_EAFTER
 * (something other than , or a line break follows a closing quote),
 * SMS_EBARE (a quote inside an unquoted field), SMS_ETOOMANY (more records
 * than max_records), SMS_EWIDE (a record with more than SMS_CSV_FIELDS_MAX
 * fields). A parse allocates a bounded number of times (O(log) of its
 * size), whatever the number of fields. */

#define SMS_CSV_FIELDS_MAX 64

typedef struct sms_csv_record_s {
    char **fields;  /* NUL-terminated copies (a field may contain NUL bytes: see lens); point into the sms_csv_t */
    size_t *lens;
    size_t n;
    size_t line;    /* 1-based line where the record starts */
} sms_csv_record_t;

/* Caller-owned: sms_csv_parse fills it, sms_csv_close frees it. */
typedef struct sms_csv_s {
    sms_csv_record_t *records;
    size_t n;
    /* The storage the records point into (one block each). */
    char *text;
    char **field_ptrs;
    size_t *field_lens;
} sms_csv_t;

/* Parses len bytes of data into out (always initialised; close it even on
 * error). Blank lines (nothing between two line breaks) are skipped. At most
 * max_records records. Returns 0, or a negative SMS_E* (above) with *err_line
 * (may be NULL) the 1-based line of the problem. */
int sms_csv_parse(const char *data, size_t len, size_t max_records, sms_csv_t *out, size_t *err_line);
void sms_csv_close(sms_csv_t *csv);


#endif
