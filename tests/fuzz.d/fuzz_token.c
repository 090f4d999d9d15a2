/* fuzz_token.c - libFuzzer target for common/token.c (sms_token_verify, the
 * gateway's bearer-token check): any bytes as the token, verified with a fixed
 * secret. Checks the contract: only documented errors, and a token that
 * verifies has a known role, a non-empty sub and an exp after now. Built by
 * tests/fuzz.d/CMakeLists.txt (-DSMS_FUZZ=ON). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

#define SECRET "fuzz-secret"
#define NOW_S 1700000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sms_token_claims_t claims;
    int rc = sms_token_verify((const char *)data, size, SECRET, NOW_S, &claims);
    switch (rc) {
    case SMS_OK:
        if (claims.sub[0] == '\0' || claims.exp <= NOW_S) abort();
        if (strcmp(claims.role, "lecturer") != 0 && strcmp(claims.role, "student") != 0 &&
            strcmp(claims.role, "admin") != 0)
            abort();
        break;
    case SMS_EPARSE: case SMS_EBADALG: case SMS_EBADSIG: case SMS_EEXPIRED: case SMS_EBADCLAIMS: break;
    default: abort(); /* an error the header does not name */
    }
    return 0;
}
