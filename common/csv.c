/* csv.c - RFC 4180 records out of a byte buffer (see csv.h). */
#include "csv.h"

#include <string.h>

#include "alloc.h"
#include "buf.h"

typedef struct record_builder_s {
    sms_buf_t field;
    char **fields;
    size_t *lens;
    size_t n, cap;
} record_builder_t;

static void end_field(record_builder_t *b) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->fields = sms_realloc(b->fields, b->cap * sizeof *b->fields);
        b->lens = sms_realloc(b->lens, b->cap * sizeof *b->lens);
    }
    b->lens[b->n] = b->field.len;
    b->fields[b->n++] = sms_strndup(b->field.data ? b->field.data : "", b->field.len);
    sms_buf_reset(&b->field);
}

static void end_record(record_builder_t *b, sms_csv_t *out, size_t *cap, size_t line) {
    if (out->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        out->records = sms_realloc(out->records, *cap * sizeof *out->records);
    }
    out->records[out->n++] = (sms_csv_record_t){b->fields, b->lens, b->n, line};
    b->fields = NULL;
    b->lens = NULL;
    b->n = b->cap = 0;
}

static void builder_close(record_builder_t *b) {
    for (size_t i = 0; i < b->n; i++) sms_free(b->fields[i]);
    sms_free(b->fields);
    sms_free(b->lens);
    sms_buf_close(&b->field);
}

int sms_csv_parse(const char *data, size_t len, size_t max_records, sms_csv_t *out, size_t *err_line) {
    memset(out, 0, sizeof *out);
    record_builder_t b = {0};
    sms_buf_init(&b.field);
    size_t cap = 0, line = 1, start_line = 1, i = 0;
    int rc = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < len) {
        /* At the start of a field. */
        if (b.n == 0 && (data[i] == '\n' || data[i] == '\r')) { /* blank line */
            i += data[i] == '\r' && i + 1 < len && data[i + 1] == '\n' ? 2 : 1;
            line++;
            start_line = line;
            continue;
        }
        if (data[i] == '"') {
            size_t open_line = line;
            i++;
            for (;;) {
                if (i == len) {
                    rc = SMS_EQUOTE;
                    line = open_line;
                    goto done;
                }
                if (data[i] == '"') {
                    if (i + 1 < len && data[i + 1] == '"') {
                        sms_buf_putc(&b.field, '"');
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (data[i] == '\n') line++;
                sms_buf_putc(&b.field, data[i++]);
            }
            if (i < len && data[i] != ',' && data[i] != '\n' && !(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') &&
                !(data[i] == '\r' && i + 1 == len)) {
                rc = SMS_EAFTER;
                goto done;
            }
        } else {
            while (i < len && data[i] != ',' && data[i] != '\n' && data[i] != '\r') {
                if (data[i] == '"') {
                    rc = SMS_EBARE;
                    goto done;
                }
                sms_buf_putc(&b.field, data[i++]);
            }
        }
        end_field(&b);
        if (i < len && data[i] == ',') {
            i++;
            if (i == len) end_field(&b); /* "a," at the very end: an empty last field */
            else continue;
        }
        /* End of record: a line break or the end of the data. */
        if (i < len) {
            i += data[i] == '\r' && i + 1 < len && data[i + 1] == '\n' ? 2 : 1;
            line++;
        }
        if (out->n == max_records) {
            rc = SMS_ETOOMANY;
            line = start_line;
            goto done;
        }
        end_record(&b, out, &cap, start_line);
        start_line = line;
    }
done:
    if (rc && err_line) *err_line = line;
    builder_close(&b);
    return rc;
}

void sms_csv_close(sms_csv_t *csv) {
    for (size_t r = 0; r < csv->n; r++) {
        for (size_t f = 0; f < csv->records[r].n; f++) sms_free(csv->records[r].fields[f]);
        sms_free(csv->records[r].fields);
        sms_free(csv->records[r].lens);
    }
    sms_free(csv->records);
    memset(csv, 0, sizeof *csv);
}

