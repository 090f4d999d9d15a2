/* event_check.h - the shared parts of every service's event validator
 * (services/<svc>/validate.c, the ops.validate hook of worker.h): a table of
 * {topic, type, version, check} rows and its look-up, field getters that
 * check presence, msgpack type and bounds, and one error message format.
 * Pure functions over a decoded event; no allocation, no I/O.
 *
 * A check function runs its getters one after another; the first failure is
 * kept (the later getters do nothing) and becomes the error:
 *   "grade.changed v1: data.score must be a number from 0 to 1000000 (got -9.2233720368547758e+16)" */
#ifndef SMS_EVENT_CHECK_H
#define SMS_EVENT_CHECK_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

/* Bounds shared by every event of the contract (schemas/asyncapi.yaml). */
#define SMS_EVENT_TIME_MAX 253402300799999LL       /* ms: 9999-12-31T23:59:59.999Z (RFC 3339 has 4-digit years) */
#define SMS_EVENT_COUNTER_MAX 9007199254740991LL   /* 2^53 - 1: the views' Lua compares versions as doubles */
#define SMS_EVENT_ID_MAX 64                        /* aggregate and student ids: bytes of [A-Za-z0-9._-] */
#define SMS_EVENT_USER_MAX 127                     /* user ids are token subs (common/token.h: sub[128]) */
#define SMS_EVENT_EVENT_ID_MAX 128                 /* an envelope's id */
#define SMS_EVENT_SCORE_MAX 1000000.0              /* the largest max_score (assignments) and so grade score */
/* The most elements a view accepts in a roster event's students: what one
 * script call applies. The classes decider writes at most 500, but other
 * producers (the e2e seeders write 1000) may write more, and a view must
 * not refuse an event its projection can apply. */
#define SMS_EVENT_LIST_MAX 10000

/* What a string field must look like. */
typedef enum {
    SMS_CHECK_BYTES = 0, /* min..max bytes, no NUL byte */
    SMS_CHECK_TEXT,      /* valid UTF-8 without control characters but \t \n \r (common/text.h), min..max characters */
    SMS_CHECK_ID,        /* min..max bytes of A-Z a-z 0-9 . _ - (aggregate and student ids) */
    SMS_CHECK_USER,      /* min..max bytes, no control byte (a token sub) */
    SMS_CHECK_ULID,      /* exactly 26 of 0-9 A-Z (common/id.h); min/max ignored */
    SMS_CHECK_HEX,       /* min..max lower-case hex digits */
} sms_check_kind_t;

/* Flags of a getter. */
#define SMS_CHECK_OPTIONAL 1u /* an absent field is valid */
#define SMS_CHECK_NULLABLE 2u /* nil is valid */

#define SMS_CHECK_PATH_MAX 96

/* One validation in progress. Caller-owned; set up by sms_check_event (or
 * sms_check_init for a check run by hand). */
typedef struct sms_check_s {
    const sms_event_t *ev;
    char *err;                      /* the first failure, NUL-terminated */
    size_t errlen;
    bool failed;
    char path[SMS_CHECK_PATH_MAX];  /* prefix of field names: "data." or "data.students[3]." */
    size_t path_len;
} sms_check_t;

/* One event type a view applies (a row of the service's table). */
typedef struct sms_event_rule_s {
    const char *topic;  /* the topic it is applied from; NULL: any topic the view tails */
    const char *type;
    int64_t v;
    /* The service writes this type: a version without a row is invalid (the
     * view cannot apply it). A learned type of an unknown version is not for
     * this view (valid). */
    bool own;
    /* Checks ev->data (c->ev) with the getters below. */
    void (*check)(sms_check_t *c, const msgpack_object *data);
} sms_event_rule_t;

/* Validates ev, read from (or about to be written to) topic, against the
 * table rules[0..n): runs the row of its type and version (after the
 * envelope's checks: time 0..SMS_EVENT_TIME_MAX, id 1..128 bytes). Returns
 * 0 (valid, or not an event this table names), or -1 with the reason in
 * err (NUL-terminated, cut to errlen). topic NULL or "" matches only rows
 * whose topic is NULL. Pure: the same event always gets the same answer. */
int sms_check_event(const sms_event_rule_t *rules, size_t n, const char *topic, const sms_event_t *ev, char *err,
                    size_t errlen);

/* Starts a check of ev by hand (sms_check_event does it for a table). */
void sms_check_init(sms_check_t *c, const sms_event_t *ev, char *err, size_t errlen);
/* 0 if nothing failed, else -1 (the error is in c->err). */
int sms_check_result(const sms_check_t *c);

/* Records a failure on field (under the current path) unless one is
 * recorded already; always returns false. */
bool sms_check_fail(sms_check_t *c, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Getters: each looks field up in map m, checks it and returns true when it
 * is valid (an absent OPTIONAL field: true, *out untouched). On a failure,
 * or when an earlier one failed, they return false and set nothing. out
 * may be NULL. */
bool sms_check_str(sms_check_t *c, const msgpack_object *m, const char *field, sms_check_kind_t kind, unsigned flags,
                   size_t min, size_t max, sms_str_t *out);
/* An integer (msgpack int that fits int64) in min..max. */
bool sms_check_i64(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags, int64_t min,
                   int64_t max, int64_t *out);
/* A time: ms since the epoch, 0..SMS_EVENT_TIME_MAX. */
bool sms_check_time(sms_check_t *c, const msgpack_object *m, const char *field, int64_t *out);
/* A version counter: 1..SMS_EVENT_COUNTER_MAX. */
bool sms_check_counter(sms_check_t *c, const msgpack_object *m, const char *field, int64_t *out);
/* A number (msgpack int or float), finite, min..max (above min when
 * min_exclusive). */
bool sms_check_number(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags, double min,
                      bool min_exclusive, double max, double *out);
/* A score in points, 0..SMS_EVENT_SCORE_MAX: its hundredths are then
 * 0..10^8, exact in an int64 and in a Lua number. */
bool sms_check_score(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags, double *out);
bool sms_check_bool(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags, bool *out);
/* A string equal to one of values (NULL-terminated). */
bool sms_check_enum(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags,
                    const char *const *values, sms_str_t *out);
/* An array of min..max elements. */
bool sms_check_array(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags, size_t min,
                     size_t max, const msgpack_object **out);
/* A map. */
bool sms_check_map(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags,
                   const msgpack_object **out);
/* Each element of array arr (the value of field) is a string of kind and
 * min..max, or (values != NULL) one of values; errors name field[i]. */
bool sms_check_each_str(sms_check_t *c, const msgpack_object *arr, const char *field, sms_check_kind_t kind,
                        size_t min, size_t max, const char *const *values);

/* Field names under a nested value: sms_check_enter(c, "students", 3) makes
 * the next names "data.students[3].<field>" (index -1: "data.<name>.<field>").
 * Returns the path to give back to sms_check_leave. */
size_t sms_check_enter(sms_check_t *c, const char *field, long index);
void sms_check_leave(sms_check_t *c, size_t saved);
/* Element i of array arr (the value of field) when it is a map: returns it
 * and enters it (sms_check_enter(c, field, i), *saved for sms_check_leave);
 * NULL, with the error, when it is not a map or an earlier check failed. */
const msgpack_object *sms_check_item(sms_check_t *c, const msgpack_object *arr, const char *field, uint32_t i,
                                     size_t *saved);

/* The roster events as every view that learns them reads them
 * (class.students_enrolled / class.student_unenrolled v1): class_id,
 * roster_version and student ids of 1..SMS_EVENT_ID_MAX, at most
 * SMS_EVENT_LIST_MAX students. student (NULL: none) checks what else one view
 * reads of each student; its failures name students[i]. */
void sms_check_enrolled(sms_check_t *c, const msgpack_object *d,
                        void (*student)(sms_check_t *c, const msgpack_object *s));
void sms_check_unenrolled(sms_check_t *c, const msgpack_object *d);

#endif
