/* number.c - strict readers of client numbers (see number.h).
 *
 * Every check is made on the value as received (an integer compared as an
 * integer, a double compared as a double) before it is converted or
 * multiplied: that order is what keeps 1e17 from becoming INT64_MIN. */
#include "number.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

static int64_t clamp(int64_t v) {
    if (v > SMS_NUMBER_SAFE_MAX) return SMS_NUMBER_SAFE_MAX;
    if (v < -SMS_NUMBER_SAFE_MAX) return -SMS_NUMBER_SAFE_MAX;
    return v;
}

int sms_number_double_int(double d, int64_t min, int64_t max, int64_t *out) {
    min = clamp(min);
    max = clamp(max);
    if (!isfinite(d)) return SMS_ETYPE;
    /* min and max are exact doubles (|x| < 2^53), so these compare exactly. */
    if (d < (double)min || d > (double)max) return SMS_ERANGE;
    if (d != floor(d)) return SMS_EWHOLE;
    *out = (int64_t)d; /* in range, whole: exact; -0.0 becomes 0 */
    return SMS_OK;
}

int sms_number_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *out) {
    if (o == NULL) return SMS_ETYPE;
    min = clamp(min);
    max = clamp(max);
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        /* Compared as unsigned first: a u64 past INT64_MAX must not wrap negative. */
        if (max < 0 || o->via.u64 > (uint64_t)max) return SMS_ERANGE;
        if ((int64_t)o->via.u64 < min) return SMS_ERANGE;
        *out = (int64_t)o->via.u64;
        return SMS_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        if (o->via.i64 < min || o->via.i64 > max) return SMS_ERANGE;
        *out = o->via.i64;
        return SMS_OK;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return sms_number_double_int(o->via.f64, min, max, out);
    default: return SMS_ETYPE;
    }
}

int sms_number_json_int(const cJSON *v, int64_t min, int64_t max, int64_t *out) {
    if (!cJSON_IsNumber(v)) return SMS_ETYPE;
    return sms_number_double_int(v->valuedouble, min, max, out);
}

int sms_number_parse_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out) {
    min = clamp(min);
    max = clamp(max);
    size_t i = 0;
    bool neg = n > 0 && s[0] == '-';
    if (neg) i = 1;
    if (i == n) return SMS_ETYPE;
    uint64_t v = 0;
    bool big = false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return SMS_ETYPE; /* checked to the end: garbage beats size */
        /* Past SAFE_MAX nothing can be in range; stop before v could overflow. */
        if (v > (uint64_t)SMS_NUMBER_SAFE_MAX) big = true;
        else v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (neg && v == 0) return SMS_ETYPE; /* "-0": no text form of a version or cursor has it */
    if (big || v > (uint64_t)SMS_NUMBER_SAFE_MAX) return SMS_ERANGE;
    int64_t x = neg ? -(int64_t)v : (int64_t)v;
    if (x < min || x > max) return SMS_ERANGE;
    *out = x;
    return SMS_OK;
}

int sms_number_double_hundredths(double d, int64_t min_h, int64_t max_h, int64_t *out) {
    min_h = clamp(min_h);
    max_h = clamp(max_h);
    if (!isfinite(d)) return SMS_ETYPE;
    /* Half a hundredth of slack either side lets the rounding below decide
     * the edges; anything outside is refused before it is multiplied, so
     * d * 100 stays within about 2^53 and llround cannot overflow. */
    if (d < ((double)min_h - 0.5) / 100.0 || d > ((double)max_h + 0.5) / 100.0) return SMS_ERANGE;
    int64_t h = (int64_t)llround(d * 100.0);
    if (h < min_h || h > max_h) return SMS_ERANGE;
    *out = h;
    return SMS_OK;
}

int sms_number_hundredths(const msgpack_object *o, int64_t min_h, int64_t max_h, int64_t *out) {
    if (o == NULL) return SMS_ETYPE;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        /* Past 2^53 a u64 is not exact as a double, and is out of any range anyway. */
        if (o->via.u64 > (uint64_t)SMS_NUMBER_SAFE_MAX) return SMS_ERANGE;
        return sms_number_double_hundredths((double)o->via.u64, min_h, max_h, out);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        if (o->via.i64 < -SMS_NUMBER_SAFE_MAX) return SMS_ERANGE;
        return sms_number_double_hundredths((double)o->via.i64, min_h, max_h, out);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return sms_number_double_hundredths(o->via.f64, min_h, max_h, out);
    default: return SMS_ETYPE;
    }
}

const char *sms_number_hundredths_text(char *buf, size_t cap, int64_t h) {
    /* |h| <= INT64_MAX as unsigned, so INT64_MIN does not overflow on negation. */
    uint64_t a = h < 0 ? (uint64_t)0 - (uint64_t)h : (uint64_t)h;
    const char *sign = h < 0 ? "-" : "";
    unsigned long long whole = a / 100, frac = a % 100;
    if (frac == 0) snprintf(buf, cap, "%s%llu", sign, whole);
    else if (frac % 10 == 0) snprintf(buf, cap, "%s%llu.%llu", sign, whole, frac / 10);
    else snprintf(buf, cap, "%s%llu.%02llu", sign, whole, frac);
    return buf;
}

const char *sms_number_int_message(char *buf, size_t cap, int64_t min, int64_t max) {
    snprintf(buf, cap, "must be an integer from %lld to %lld", (long long)clamp(min), (long long)clamp(max));
    return buf;
}

const char *sms_number_hundredths_message(char *buf, size_t cap, int64_t min_h, int64_t max_h) {
    char lo[24], hi[24];
    snprintf(buf, cap, "must be a number from %s to %s", sms_number_hundredths_text(lo, sizeof lo, clamp(min_h)),
             sms_number_hundredths_text(hi, sizeof hi, clamp(max_h)));
    return buf;
}
