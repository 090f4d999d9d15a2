/* jwk.c - JWKS parsing to OpenSSL 3 EVP_PKEYs and RS256/ES256 checks (see jwk.h).
 *
 * Called by the gateway's OIDC verifier: sms_jwks_parse on its fetch thread,
 * sms_jws_verify on the loop. Keys are built with EVP_PKEY_fromdata from the
 * JWK's base64url members (n, e; crv, x, y) and checked with EVP_DigestVerify. */
#include "jwk.h"

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BYTES 1024 /* 8192-bit modulus */
#define P256_COORD 32

typedef enum { KTY_RSA = 1, KTY_EC_P256 = 2 } kty_t;

struct sms_jwk_s {
    char kid[SMS_JWK_KID_MAX];
    kty_t kty;
    sms_jws_alg_t alg; /* the JWK's own "alg", 0 if it names none */
    EVP_PKEY *pkey;
};

struct sms_jwks_s {
    size_t n;
    sms_jwk_t keys[SMS_JWKS_MAX_KEYS];
};

sms_jws_alg_t sms_jws_alg_from_name(const char *name) {
    if (name == NULL) return 0;
    if (strcmp(name, "RS256") == 0) return SMS_JWS_RS256;
    if (strcmp(name, "ES256") == 0) return SMS_JWS_ES256;
    return 0;
}

int sms_b64url_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

long sms_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap) {
    if (n % 4 == 1) return -1;
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > cap) return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = sms_b64url_value((unsigned char)in[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    return (long)o;
}

/* Decodes the base64url string member name of jwk into buf (cap bytes).
 * Returns the length, or -1 if absent, not a string or not base64url. */
static long member_bytes(const cJSON *jwk, const char *name, unsigned char *buf, size_t cap) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(jwk, name);
    if (!cJSON_IsString(m)) return -1;
    return sms_b64url_decode(m->valuestring, strlen(m->valuestring), buf, cap);
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld) {
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/* An RSA public key from n and e, or NULL (missing, malformed, under 2048 bits). */
static EVP_PKEY *rsa_key(const cJSON *jwk) {
    unsigned char n[RSA_MAX_BYTES], e[16];
    long nlen = member_bytes(jwk, "n", n, sizeof n), elen = member_bytes(jwk, "e", e, sizeof e);
    if (nlen <= 0 || elen <= 0) return NULL;
    BIGNUM *bn_n = BN_bin2bn(n, (int)nlen, NULL), *bn_e = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bn_n && bn_e && bld && BN_num_bits(bn_n) >= RSA_MIN_BITS && BN_is_odd(bn_e) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1)
        pkey = pkey_from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/* A P-256 public key from x and y, or NULL (not on the curve included). */
static EVP_PKEY *p256_key(const cJSON *jwk) {
    const cJSON *crv = cJSON_GetObjectItemCaseSensitive(jwk, "crv");
    if (!cJSON_IsString(crv) || strcmp(crv->valuestring, "P-256") != 0) return NULL;
    unsigned char point[1 + 2 * P256_COORD];
    point[0] = 0x04; /* uncompressed: 04 || x || y (SEC 1 2.3.3) */
    if (member_bytes(jwk, "x", point + 1, P256_COORD) != P256_COORD ||
        member_bytes(jwk, "y", point + 1 + P256_COORD, P256_COORD) != P256_COORD)
        return NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point) == 1)
        pkey = pkey_from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    if (pkey) {
        /* fromdata does not promise the point is on the curve: an invalid
         * point is the classic way to make ECDSA checks lie. */
        EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new(pkey, NULL);
        int ok = chk && EVP_PKEY_public_check(chk) == 1;
        EVP_PKEY_CTX_free(chk);
        if (!ok) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
    return pkey;
}

/* Fills key from one JWK object. Returns 1 if it is a usable signing key. */
static int load_key(const cJSON *jwk, sms_jwk_t *key) {
    if (!cJSON_IsObject(jwk)) return 0;
    const cJSON *kty = cJSON_GetObjectItemCaseSensitive(jwk, "kty");
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");
    const cJSON *use = cJSON_GetObjectItemCaseSensitive(jwk, "use");
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(jwk, "alg");
    if (!cJSON_IsString(kty) || !cJSON_IsString(kid)) return 0;
    size_t kid_len = strlen(kid->valuestring);
    if (kid_len == 0 || kid_len >= sizeof key->kid) return 0;
    if (use != NULL && (!cJSON_IsString(use) || strcmp(use->valuestring, "sig") != 0)) return 0;
    memset(key, 0, sizeof *key);
    if (alg != NULL) {
        /* A key pinned to another algorithm (RSA-OAEP, PS256, ...) is not one we may use. */
        if (!cJSON_IsString(alg) || (key->alg = sms_jws_alg_from_name(alg->valuestring)) == 0) return 0;
    }
    if (strcmp(kty->valuestring, "RSA") == 0) {
        key->kty = KTY_RSA;
        key->pkey = rsa_key(jwk);
    } else if (strcmp(kty->valuestring, "EC") == 0) {
        key->kty = KTY_EC_P256;
        key->pkey = p256_key(jwk);
    }
    if (key->pkey == NULL) return 0;
    if ((key->alg == SMS_JWS_RS256 && key->kty != KTY_RSA) || (key->alg == SMS_JWS_ES256 && key->kty != KTY_EC_P256)) {
        EVP_PKEY_free(key->pkey);
        key->pkey = NULL;
        return 0;
    }
    memcpy(key->kid, kid->valuestring, kid_len + 1);
    return 1;
}

int sms_jwks_parse(const char *json, size_t len, sms_jwks_t **out, size_t *skipped, char *err, size_t errlen) {
    *out = NULL;
    if (skipped) *skipped = 0;
    cJSON *doc = cJSON_ParseWithLength(json, len);
    const cJSON *keys = doc ? cJSON_GetObjectItemCaseSensitive(doc, "keys") : NULL;
    if (!cJSON_IsObject(doc) || !cJSON_IsArray(keys)) {
        snprintf(err, errlen, "not a JWKS document (a JSON object with a \"keys\" array)");
        cJSON_Delete(doc);
        return SMS_EPARSE;
    }
    sms_jwks_t *set = sms_calloc(1, sizeof *set);
    size_t left_out = 0;
    const cJSON *jwk;
    cJSON_ArrayForEach(jwk, keys) {
        if (set->n < SMS_JWKS_MAX_KEYS && load_key(jwk, &set->keys[set->n])) {
            /* Two keys with one kid: the first wins, the later is left out. */
            if (sms_jwks_find(set, set->keys[set->n].kid, 0, NULL) == NULL) {
                set->n++;
                continue;
            }
            EVP_PKEY_free(set->keys[set->n].pkey);
            set->keys[set->n].pkey = NULL;
        }
        left_out++;
    }
    cJSON_Delete(doc);
    ERR_clear_error(); /* left-out keys' reasons: counted, not reported */
    if (skipped) *skipped = left_out;
    *out = set;
    return SMS_OK;
}

void sms_jwks_free(sms_jwks_t *set) {
    if (set == NULL) return;
    for (size_t i = 0; i < set->n; i++) EVP_PKEY_free(set->keys[i].pkey);
    sms_free(set);
}

size_t sms_jwks_count(const sms_jwks_t *set) { return set ? set->n : 0; }

static int key_fits(const sms_jwk_t *key, sms_jws_alg_t alg) {
    if (key->alg != 0 && key->alg != alg) return 0;
    return (alg == SMS_JWS_RS256 && key->kty == KTY_RSA) || (alg == SMS_JWS_ES256 && key->kty == KTY_EC_P256);
}

const sms_jwk_t *sms_jwks_find(const sms_jwks_t *set, const char *kid, sms_jws_alg_t alg, int *alg_ok) {
    if (alg_ok) *alg_ok = 0;
    if (set == NULL || kid == NULL) return NULL;
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->keys[i].kid, kid) != 0) continue;
        if (alg_ok) *alg_ok = key_fits(&set->keys[i], alg);
        return &set->keys[i];
    }
    return NULL;
}

/* ES256 signatures are r || s, 32 bytes each (RFC 7518 3.4); OpenSSL wants DER. */
static int es256_der(const unsigned char *sig, unsigned char *der, size_t cap, size_t *der_len) {
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, P256_COORD, NULL), *s = BN_bin2bn(sig + P256_COORD, P256_COORD, NULL);
    int ok = 0;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        int n = i2d_ECDSA_SIG(es, NULL);
        if (n > 0 && (size_t)n <= cap) {
            unsigned char *p = der;
            *der_len = (size_t)i2d_ECDSA_SIG(es, &p);
            ok = *der_len == (size_t)n;
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return ok;
}

int sms_jws_verify(const sms_jwk_t *key, sms_jws_alg_t alg, const char *input, size_t n, const unsigned char *sig,
                   size_t sig_len) {
    if (key == NULL || !key_fits(key, alg)) return SMS_EBADALG;
    unsigned char der[80];
    if (alg == SMS_JWS_ES256) {
        if (sig_len != 2 * P256_COORD || !es256_der(sig, der, sizeof der, &sig_len)) return SMS_EBADSIG;
        sig = der;
    } else if (sig_len != (size_t)EVP_PKEY_get_size(key->pkey)) {
        return SMS_EBADSIG;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
             EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)input, n) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) ERR_clear_error(); /* a forged token must not grow this thread's error queue */
    return ok ? SMS_OK : SMS_EBADSIG;
}
