/* csv.c - RFC 4180 records out of a byte buffer (see csv.h).
 *
 * Allocation is per parse, not per field: every field's bytes go into one
 * growing text buffer (NUL after each), their offsets and lengths into two
 * growing arrays, and only at the end are the records' pointers laid over
 * them. So a body of a million empty fields costs a few dozen reallocations
 * (and is refused at SMS_CSV_FIELDS_MAX per record anyway), not a million
 * mallocs. */
#include "csv.h"

#include <string.h>

#include "alloc.h"
#include "buf.h"

typedef struct parse_s {
    sms_buf_t text;      /* every field's bytes, each followed by a NUL */
    size_t *offs, *lens; /* per field, in order of appearance */
    size_t n_fields, cap_fields;
    size_t record_start; /* index of the current record's first field */
    size_t *starts;      /* per record: index of its first field */
    size_t cap_records;
} parse_t;

static void end_field(parse_t *p, const char *bytes, size_t n) {
    if (p->n_fields == p->cap_fields) {
        p->cap_fields = p->cap_fields ? p->cap_fields * 2 : 16;
        p->offs = sms_realloc(p->offs, p->cap_fields * sizeof *p->offs);
        p->lens = sms_realloc(p->lens, p->cap_fields * sizeof *p->lens);
    }
    p->offs[p->n_fields] = p->text.len;
    p->lens[p->n_fields++] = n;
    sms_buf_append(&p->text, bytes, n);
    sms_buf_putc(&p->text, '\0');
}

/* A record's pointers are set by finish(): the arrays move while they grow. */
static void end_record(parse_t *p, sms_csv_t *out, size_t line) {
    if (out->n == p->cap_records) {
        p->cap_records = p->cap_records ? p->cap_records * 2 : 16;
        out->records = sms_realloc(out->records, p->cap_records * sizeof *out->records);
        p->starts = sms_realloc(p->starts, p->cap_records * sizeof *p->starts);
    }
    p->starts[out->n] = p->record_start;
    out->records[out->n++] = (sms_csv_record_t){NULL, NULL, p->n_fields - p->record_start, line};
    p->record_start = p->n_fields;
}

static void finish(parse_t *p, sms_csv_t *out) {
    out->text = p->text.data ? p->text.data : sms_strdup("");
    p->text.data = NULL;
    out->field_ptrs = sms_malloc((p->n_fields ? p->n_fields : 1) * sizeof *out->field_ptrs);
    for (size_t i = 0; i < p->n_fields; i++) out->field_ptrs[i] = out->text + p->offs[i];
    out->field_lens = p->lens;
    p->lens = NULL;
    for (size_t r = 0; r < out->n; r++) {
        out->records[r].fields = out->field_ptrs + p->starts[r];
        out->records[r].lens = out->field_lens + p->starts[r];
    }
}

/* Reads one field starting at data[*i] into field (reset first). */
static int read_field(const char *data, size_t len, size_t *i, size_t *line, sms_buf_t *field) {
    sms_buf_reset(field);
    if (data[*i] == '"') {
        size_t open_line = *line;
        (*i)++;
        for (;;) {
            if (*i == len) {
                *line = open_line;
                return SMS_EQUOTE;
            }
            if (data[*i] == '"') {
                if (*i + 1 < len && data[*i + 1] == '"') {
                    sms_buf_putc(field, '"');
                    *i += 2;
                    continue;
                }
                (*i)++;
                break;
            }
            if (data[*i] == '\n') (*line)++;
            sms_buf_putc(field, data[(*i)++]);
        }
        size_t k = *i;
        if (k < len && data[k] != ',' && data[k] != '\n' && !(data[k] == '\r' && k + 1 < len && data[k + 1] == '\n') &&
            !(data[k] == '\r' && k + 1 == len))
            return SMS_EAFTER;
        return 0;
    }
    size_t start = *i;
    while (*i < len && data[*i] != ',' && data[*i] != '\n' && data[*i] != '\r') {
        if (data[*i] == '"') return SMS_EBARE;
        (*i)++;
    }
    sms_buf_append(field, data + start, *i - start);
    return 0;
}

int sms_csv_parse(const char *data, size_t len, size_t max_records, sms_csv_t *out, size_t *err_line) {
    memset(out, 0, sizeof *out);
    parse_t p = {0};
    sms_buf_t field;
    sms_buf_init(&p.text);
    sms_buf_init(&field);
    size_t line = 1, start_line = 1, i = 0;
    int rc = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < len) {
        /* At the start of a field. */
        if (p.n_fields == p.record_start && (data[i] == '\n' || data[i] == '\r')) { /* blank line */
            i += data[i] == '\r' && i + 1 < len && data[i + 1] == '\n' ? 2 : 1;
            line++;
            start_line = line;
            continue;
        }
        if ((rc = read_field(data, len, &i, &line, &field)) != 0) goto done;
        if (p.n_fields - p.record_start == SMS_CSV_FIELDS_MAX) {
            rc = SMS_EWIDE;
            goto done;
        }
        end_field(&p, field.data ? field.data : "", field.len);
        if (i < len && data[i] == ',') {
            i++;
            if (i < len) continue;
            /* "a," at the very end: an empty last field */
            if (p.n_fields - p.record_start == SMS_CSV_FIELDS_MAX) {
                rc = SMS_EWIDE;
                goto done;
            }
            end_field(&p, "", 0);
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
        end_record(&p, out, start_line);
        start_line = line;
    }
done:
    if (rc && err_line) *err_line = line;
    finish(&p, out);
    sms_buf_close(&field);
    sms_buf_close(&p.text);
    sms_free(p.offs);
    sms_free(p.lens);
    sms_free(p.starts);
    return rc;
}

void sms_csv_close(sms_csv_t *csv) {
    sms_free(csv->records);
    sms_free(csv->text);
    sms_free(csv->field_ptrs);
    sms_free(csv->field_lens);
    memset(csv, 0, sizeof *csv);
}
