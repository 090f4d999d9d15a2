/* token_keys.c - the ES256 key directory (see token.h): loading the keys
 * (the identity service its private keys, the gateway the public ones),
 * generating a new one (`sms-admin keys rotate`), and the JWKS document the
 * gateway serves. OpenSSL 3 for the keys; token.c signs and verifies. */
#include "token.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "alloc.h"
#include "buf.h"
#include "id.h"

#define KEYS_MAX 16
#define PEM_MAX 4096

typedef struct key_s {
    char kid[SMS_TOKEN_KID_MAX];
    char *private_pem; /* NULL when loaded from a .pub.pem */
    size_t private_len;
    char *public_pem;
    size_t public_len;
    unsigned char x[32], y[32];
} key_t_;

struct sms_token_keys_s {
    key_t_ keys[KEYS_MAX];
    size_t n;
    struct timespec mtime; /* the directory's, when loaded */
    bool with_private;
};

static bool kid_ok(const char *s, size_t n) {
    if (n == 0 || n >= SMS_TOKEN_KID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *buf = sms_malloc(PEM_MAX + 1);
    size_t n = fread(buf, 1, PEM_MAX, f);
    bool too_long = n == PEM_MAX && fgetc(f) != EOF;
    fclose(f);
    if (too_long || n == 0) {
        sms_free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* x and y of an EC P-256 key (32 bytes each, big-endian). 0 or -1. */
static int point_of(EVP_PKEY *pk, unsigned char x[32], unsigned char y[32]) {
    char curve[32];
    BIGNUM *bx = NULL, *by = NULL;
    int rc = -1;
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC) return -1;
    if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve, NULL) ||
        strcmp(curve, "prime256v1") != 0)
        return -1;
    if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &bx) && EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &by) &&
        BN_bn2binpad(bx, x, 32) == 32 && BN_bn2binpad(by, y, 32) == 32)
        rc = 0;
    BN_free(bx);
    BN_free(by);
    return rc;
}

/* Public PEM text of pk into k. 0 or -1. */
static int public_pem_of(EVP_PKEY *pk, key_t_ *k) {
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL || !PEM_write_bio_PUBKEY(b, pk)) {
        BIO_free(b);
        return -1;
    }
    char *data;
    long n = BIO_get_mem_data(b, &data);
    k->public_pem = sms_strndup(data, (size_t)n);
    k->public_len = (size_t)n;
    BIO_free(b);
    return 0;
}

/* Loads one key file into k. 0 or -1. */
static int load_key(const char *path, bool is_private, key_t_ *k) {
    size_t len = 0;
    char *pem = read_file(path, &len);
    if (pem == NULL) return -1;
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pk = b ? (is_private ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : PEM_read_bio_PUBKEY(b, NULL, NULL, NULL))
                     : NULL;
    BIO_free(b);
    int rc = -1;
    if (pk && point_of(pk, k->x, k->y) == 0) {
        if (is_private) {
            k->private_pem = pem;
            k->private_len = len;
            pem = NULL;
            rc = public_pem_of(pk, k);
        } else {
            k->public_pem = pem;
            k->public_len = len;
            pem = NULL;
            rc = 0;
        }
    }
    EVP_PKEY_free(pk);
    if (pem) {
        OPENSSL_cleanse(pem, len);
        sms_free(pem);
    }
    return rc;
}

static int by_kid(const void *a, const void *b) { return strcmp(((const key_t_ *)a)->kid, ((const key_t_ *)b)->kid); }

int sms_token_keys_load(const char *dir, bool with_private, sms_token_keys_t **out, char *err, size_t errlen) {
    *out = NULL;
    sms_token_keys_t *ks = sms_calloc(1, sizeof *ks);
    ks->with_private = with_private;
    struct stat st;
    DIR *d = dir && dir[0] ? opendir(dir) : NULL;
    if (d == NULL || fstat(dirfd(d), &st) != 0) {
        snprintf(err, errlen, "cannot read the key directory %s: %s", dir ? dir : "(unset)", strerror(errno));
        if (d) closedir(d);
        sms_free(ks);
        return -1;
    }
    ks->mtime = st.st_mtim;
    const char *suffix = with_private ? ".key.pem" : ".pub.pem";
    size_t sl = strlen(suffix);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL && rc == 0) {
        size_t n = strlen(e->d_name);
        if (n <= sl || strcmp(e->d_name + n - sl, suffix) != 0 || !kid_ok(e->d_name, n - sl)) continue;
        if (ks->n == KEYS_MAX) {
            snprintf(err, errlen, "%s holds more than %d keys: remove old ones", dir, KEYS_MAX);
            rc = -1;
            break;
        }
        key_t_ *k = &ks->keys[ks->n];
        memcpy(k->kid, e->d_name, n - sl);
        k->kid[n - sl] = '\0';
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (load_key(path, with_private, k) != 0) {
            snprintf(err, errlen, "%s is not a readable P-256 %s key", path, with_private ? "private" : "public");
            rc = -1;
            break;
        }
        ks->n++;
    }
    closedir(d);
    if (rc != 0) {
        sms_token_keys_free(ks);
        return -1;
    }
    qsort(ks->keys, ks->n, sizeof ks->keys[0], by_kid);
    *out = ks;
    return 0;
}

void sms_token_keys_free(sms_token_keys_t *ks) {
    if (ks == NULL) return;
    for (size_t i = 0; i < ks->n; i++) {
        if (ks->keys[i].private_pem) {
            OPENSSL_cleanse(ks->keys[i].private_pem, ks->keys[i].private_len);
            sms_free(ks->keys[i].private_pem);
        }
        sms_free(ks->keys[i].public_pem);
    }
    sms_free(ks);
}

size_t sms_token_keys_count(const sms_token_keys_t *ks) { return ks ? ks->n : 0; }

const char *sms_token_keys_signing_kid(const sms_token_keys_t *ks) {
    if (ks == NULL || ks->n == 0 || !ks->with_private) return NULL;
    return ks->keys[ks->n - 1].kid;
}

bool sms_token_keys_stale(const sms_token_keys_t *ks, const char *dir) {
    struct stat st;
    if (ks == NULL || dir == NULL || stat(dir, &st) != 0) return true;
    return st.st_mtim.tv_sec != ks->mtime.tv_sec || st.st_mtim.tv_nsec != ks->mtime.tv_nsec;
}

const char *sms_token_keys_public_pem(const sms_token_keys_t *ks, const char *kid, size_t *len) {
    for (size_t i = 0; ks && i < ks->n; i++)
        if (strcmp(ks->keys[i].kid, kid) == 0) {
            *len = ks->keys[i].public_len;
            return ks->keys[i].public_pem;
        }
    return NULL;
}

const char *sms_token_keys_private_pem(const sms_token_keys_t *ks, size_t *len, const char **kid) {
    if (sms_token_keys_signing_kid(ks) == NULL) return NULL;
    const key_t_ *k = &ks->keys[ks->n - 1];
    *len = k->private_len;
    *kid = k->kid;
    return k->private_pem;
}

static void b64url(const unsigned char *in, size_t n, sms_buf_t *out) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        sms_buf_putc(out, tbl[v >> 18 & 63]);
        sms_buf_putc(out, tbl[v >> 12 & 63]);
        if (i + 1 < n) sms_buf_putc(out, tbl[v >> 6 & 63]);
        if (i + 2 < n) sms_buf_putc(out, tbl[v & 63]);
    }
}

int sms_token_jwks(const sms_token_keys_t *ks, char **out) {
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"keys\":[");
    for (size_t i = 0; ks && i < ks->n; i++) {
        const key_t_ *k = &ks->keys[i];
        sms_buf_printf(&b, "%s{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"use\":\"sig\",\"alg\":\"ES256\",\"x\":\"",
                       i ? "," : "", k->kid);
        b64url(k->x, 32, &b);
        sms_buf_puts(&b, "\",\"y\":\"");
        b64url(k->y, 32, &b);
        sms_buf_puts(&b, "\"}");
    }
    sms_buf_puts(&b, "]}");
    *out = sms_strndup(b.data, b.len);
    sms_buf_close(&b);
    return 0;
}

/* Writes text to path with mode, exclusively (never over an existing key). 0 or -1. */
static int write_new(const char *path, const char *text, size_t n, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) return -1;
    bool ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    return close(fd) == 0 && ok ? 0 : -1;
}

int sms_token_key_generate(const char *dir, char kid_out[SMS_TOKEN_KID_MAX], char *err, size_t errlen) {
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    char id[SMS_ID_SIZE];
    snprintf(kid_out, SMS_TOKEN_KID_MAX, "k%s", sms_id_new(id));
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    BIO *priv = BIO_new(BIO_s_mem()), *pub = BIO_new(BIO_s_mem());
    int rc = -1;
    if (pk && priv && pub && PEM_write_bio_PrivateKey(priv, pk, NULL, NULL, 0, NULL, NULL) && PEM_write_bio_PUBKEY(pub, pk)) {
        char *pd, *ud;
        long pn = BIO_get_mem_data(priv, &pd), un = BIO_get_mem_data(pub, &ud);
        char ppath[1024], upath[1024];
        snprintf(ppath, sizeof ppath, "%s/%s.key.pem", dir, kid_out);
        snprintf(upath, sizeof upath, "%s/%s.pub.pem", dir, kid_out);
        /* The public half first: a verifier that sees the new kid in a
         * token must find its key, even while the private half is written. */
        if (write_new(upath, ud, (size_t)un, 0644) == 0 && write_new(ppath, pd, (size_t)pn, 0600) == 0) rc = 0;
        else snprintf(err, errlen, "cannot write the key files in %s: %s", dir, strerror(errno));
    } else {
        snprintf(err, errlen, "OpenSSL could not generate a P-256 key");
    }
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(pk);
    return rc;
}
