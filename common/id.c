/* id.c - ULID-style ids from the wall clock and getrandom(2) (see id.h). */
#include "id.h"

#include <openssl/sha.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Renders ms and 80 bits of rnd in the ULID layout. */
static char *render(int64_t ms, const uint8_t rnd[10], char out[SMS_ID_SIZE]) {
    uint64_t t = (uint64_t)ms;
    for (int i = 9; i >= 0; i--) { /* 10 chars = 50 bits, top 2 always 0 */
        out[i] = alphabet[t & 31];
        t >>= 5;
    }
    /* 80 random bits -> 16 chars of 5 bits. */
    int bit = 0;
    for (int i = 0; i < 16; i++) {
        int v = 0;
        for (int k = 0; k < 5; k++, bit++) v = (v << 1) | ((rnd[bit / 8] >> (7 - bit % 8)) & 1);
        out[10 + i] = alphabet[v];
    }
    out[SMS_ID_LEN] = '\0';
    return out;
}

char *sms_id_at(int64_t ms, char out[SMS_ID_SIZE]) {
    uint8_t rnd[10];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
        if (n > 0) got += (size_t)n; /* EINTR: try again */
    }
    return render(ms, rnd, out);
}

char *sms_id_derive(int64_t ms, const void *seed, size_t n, char out[SMS_ID_SIZE]) {
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256(seed, n, h);
    return render(ms, h, out);
}

char *sms_id_new(char out[SMS_ID_SIZE]) { return sms_id_at(sms_now_ms(), out); }

bool sms_id_name_valid(const char *s, size_t n, size_t max) {
    if (n < 1 || n > max) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}
