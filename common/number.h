/* number.h - strict readers of the numbers a client sends: a msgpack or
 * cJSON number, or decimal text (query parameters, headers), into a bounded
 * int64 before any arithmetic is done with it.
 *
 * Every handler and gateway route reads client numbers through these, so no
 * overflow, NaN, infinity or precision loss can reach a decision or an event.
 * Pure functions, no allocation, no I/O. */
#ifndef SMS_NUMBER_H
#define SMS_NUMBER_H

#include <cjson/cJSON.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* 2^53 - 1: the largest integer every JSON reader (a double) holds exactly.
 * The readers clamp the caller's bounds to +-this, so 2^53 + 1, which a JSON
 * parser has already turned into 2^53, is never taken for a valid value. */
#define SMS_NUMBER_SAFE_MAX INT64_C(9007199254740991)

/* Room for any message sms_number_*_message writes. */
#define SMS_NUMBER_MESSAGE_MAX 96

/* Readers return SMS_OK or (error.h): SMS_ETYPE (not a number: absent
 * (NULL), another type, NaN or infinite; text: not -?[0-9]+), SMS_EWHOLE
 * (integer readers: a finite number in range with a fraction: 0.5, 5e-324),
 * SMS_ERANGE (a number outside [min, max]; hundredths: after rounding). */

/* ---- integers ----
 * A whole number in [min, max] (bounds clamped to +-SMS_NUMBER_SAFE_MAX).
 * msgpack ints are compared as integers (2^64 - 1 is out of range, never
 * wrapped); floats are accepted when whole, because the JSON edge cannot tell
 * 5 from 5.0 (json_msgpack.c packs both as the int 5) and other clients should
 * read the same. -0 and -0.0 are 0. On success sets *out and returns
 * SMS_OK; otherwise returns one of those errors and leaves *out alone. */
int sms_number_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *out);
int sms_number_json_int(const cJSON *v, int64_t min, int64_t max, int64_t *out);
int sms_number_double_int(double d, int64_t min, int64_t max, int64_t *out);

/* Decimal text s[0..n): an optional '-', then 1 or more digits (leading zeros
 * allowed); no '+', spaces, exponent or fraction, and no "-0" (ETYPE: unlike
 * JSON's -0, text that writes a sign for zero is not something we issued).
 * Digits past int64 are ERANGE, never wrapped or saturated into range. */
int sms_number_parse_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out);

/* ---- amounts kept to two decimals (scores, max_score) ----
 * A finite number rounded to the nearest hundredth, halves away from zero
 * (round(x * 100) in binary floating point: 100.004 is 10000, 100.005 is
 * 10001), and then checked against [min_h, max_h] hundredths (bounds clamped
 * to +-SMS_NUMBER_SAFE_MAX). The range is checked on the value before it is
 * multiplied, so 1e17 or 1e308 is ERANGE, never an overflowed product.
 * Tiny values, subnormals included, round to 0 like any other (5e-324 is 0,
 * in range when min_h <= 0); -0 is 0. Sets *out (hundredths) on success. */
int sms_number_hundredths(const msgpack_object *o, int64_t min_h, int64_t max_h, int64_t *out);
int sms_number_double_hundredths(double d, int64_t min_h, int64_t max_h, int64_t *out);

/* ---- messages for the field errors ----
 * "must be an integer from <min> to <max>" and "must be a number from <min>
 * to <max>" (hundredths written as points: 1 -> 0.01, 10000 -> 100), the same
 * for every failure, so a client learns the rule rather than the reason code.
 * Write at most cap bytes (SMS_NUMBER_MESSAGE_MAX is enough); return buf. */
const char *sms_number_int_message(char *buf, size_t cap, int64_t min, int64_t max);
const char *sms_number_hundredths_message(char *buf, size_t cap, int64_t min_h, int64_t max_h);

/* Hundredths as a decimal number, fit for JSON: 8750 -> "87.5", 1 -> "0.01",
 * -5 -> "-0.05". Writes at most cap bytes (24 is enough); returns buf. */
const char *sms_number_hundredths_text(char *buf, size_t cap, int64_t h);

#endif
