/* fuzz_csv.c - libFuzzer target for common/csv.c (sms_csv_parse): any bytes,
 * a record cap chosen from the first byte, and the parsed records checked
 * against the parser's own contract (each field NUL-terminated at its length, errors the header names,
 * lines non-decreasing). Built by tests/fuzz.d/CMakeLists.txt (-DSMS_FUZZ=ON). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t max_records = 1 + (size > 0 ? data[0] % 64 : 0) * 1000;
    sms_csv_t csv;
    size_t err_line = 0;
    int rc = sms_csv_parse((const char *)data, size, max_records, &csv, &err_line);
    if (rc == 0) {
        if (csv.n > max_records) abort();
        size_t last_line = 0;
        for (size_t i = 0; i < csv.n; i++) {
            const sms_csv_record_t *r = &csv.records[i];
            if (r->line < last_line || r->line == 0) abort();
            last_line = r->line;
            for (size_t f = 0; f < r->n; f++) {
                if (r->lens[f] > size) abort();
                if (r->fields[f][r->lens[f]] != '\0') abort();
            }
        }
    } else if (rc != SMS_EQUOTE && rc != SMS_EAFTER && rc != SMS_EBARE && rc != SMS_ETOOMANY && rc != SMS_EWIDE) {
        abort(); /* an error the header does not name */
    }
    sms_csv_close(&csv);
    return 0;
}
