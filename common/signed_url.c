/* signed_url.c - HMAC-SHA256 URL signatures (see signed_url.h). */
#include "signed_url.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

/* Builds the signed message into b; -EINVAL if a part is unusable. */
static int message(sms_buf_t *b, const sms_signed_url_t *u) {
    if (u->method == NULL || u->path == NULL || strchr(u->method, '\n') || strchr(u->path, '\n')) return -EINVAL;
    sms_buf_puts(b, "sms-url-v1\n");
    sms_buf_puts(b, u->method);
    sms_buf_putc(b, '\n');
    sms_buf_puts(b, u->path);
    sms_buf_putc(b, '\n');
    sms_buf_put_i64(b, u->expires);
    sms_buf_putc(b, '\n');
    if (u->size >= 0) sms_buf_put_i64(b, u->size);
    sms_buf_putc(b, '\n');
    if (u->bound) sms_buf_puts(b, u->bound);
    return 0;
}

static int mac(const char *secret, size_t secret_len, const sms_signed_url_t *u, unsigned char out[32]) {
    if (secret == NULL || secret_len == 0 || secret_len > INT32_MAX) return -EINVAL;
    sms_buf_t b;
    sms_buf_init(&b);
    int rc = message(&b, u);
    unsigned int n = 0;
    if (rc == 0 && (HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)b.data, b.len, out, &n) == NULL ||
                    n != 32))
        rc = -EINVAL;
    sms_buf_close(&b);
    return rc;
}

int sms_signed_url_sign(const char *secret, size_t secret_len, const sms_signed_url_t *u, char *sig) {
    static const char hex[] = "0123456789abcdef";
    unsigned char m[32];
    sig[0] = '\0';
    int rc = mac(secret, secret_len, u, m);
    if (rc != 0) return rc;
    for (int i = 0; i < 32; i++) {
        sig[2 * i] = hex[m[i] >> 4];
        sig[2 * i + 1] = hex[m[i] & 15];
    }
    sig[SMS_SIGNED_URL_SIG_LEN] = '\0';
    return 0;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int sms_signed_url_verify(const char *secret, size_t secret_len, const sms_signed_url_t *u,
                                              const char *sig, int64_t now_s) {
    unsigned char want[32], got[32];
    if (sig == NULL || strlen(sig) != SMS_SIGNED_URL_SIG_LEN) return SMS_EBADSIG;
    for (int i = 0; i < 32; i++) {
        int hi = hex_value(sig[2 * i]), lo = hex_value(sig[2 * i + 1]);
        if (hi < 0 || lo < 0) return SMS_EBADSIG;
        got[i] = (unsigned char)(hi << 4 | lo);
    }
    if (mac(secret, secret_len, u, want) != 0) return SMS_EBADSIG;
    /* Constant time: a byte-by-byte early exit would let a client find the
     * signature one byte at a time from response timings. */
    if (CRYPTO_memcmp(want, got, sizeof want) != 0) return SMS_EBADSIG;
    return now_s > u->expires ? SMS_EEXPIRED : SMS_OK;
}

int sms_signed_url_build(const char *secret, size_t secret_len, const sms_signed_url_t *u, const char *extra_query,
                         sms_buf_t *out) {
    char sig[SMS_SIGNED_URL_SIG_LEN + 1];
    int rc = sms_signed_url_sign(secret, secret_len, u, sig);
    if (rc != 0) return rc;
    sms_buf_puts(out, u->path);
    sms_buf_puts(out, "?expires=");
    sms_buf_put_i64(out, u->expires);
    if (u->size >= 0) {
        sms_buf_puts(out, "&size=");
        sms_buf_put_i64(out, u->size);
    }
    if (extra_query) sms_buf_puts(out, extra_query);
    sms_buf_puts(out, "&sig=");
    sms_buf_append(out, sig, SMS_SIGNED_URL_SIG_LEN);
    return 0;
}

void sms_url_encode(sms_buf_t *out, const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            sms_buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sms_buf_append(out, e, 3);
        }
    }
}
