/* schema.h - grading's shapes: scores (kept in hundredths of a point), the
 * grade record its view stores, and the msgpack data of its events
 * (grade.changed, grade.released, grade.corrected on sms.events.grades).
 * Used by handlers.c, projection.c and validate.c; no I/O. */
#ifndef GRADING_SCHEMA_H
#define GRADING_SCHEMA_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "envelope.h"

#define GRADING_EVENT_VERSION 1
#define GRADING_EVENTS_TOPIC "sms.events.grades"
/* The event types grading writes (named here for the decider, the
 * projection and the validator alike). */
#define GRADING_EVENT_CHANGED "grade.changed"
#define GRADING_EVENT_RELEASED "grade.released"
#define GRADING_EVENT_CORRECTED "grade.corrected"

#define GRADING_MAX_ITEMS 1000      /* grades per update-grades request */
#define GRADING_FEEDBACK_MAX 2000   /* characters (code points) */
#define GRADING_STUDENT_ID_MAX 64
#define GRADING_REASON_MAX 500     /* characters of a correction's reason */

/* A student's current grade for one assignment. feedback is owned
 * (sms_strdup), freed by grading_grade_clear. */
typedef struct grading_grade_s {
    int64_t version;  /* grade_version: 1 for the first change, +1 per change or release */
    int64_t score;    /* hundredths of a point */
    bool released;
    char *feedback;
} grading_grade_t;

void grading_grade_clear(grading_grade_t *g);

/* Points -> hundredths, rounded half away from zero. */
int64_t grading_hundredths(double points);
/* Packs hundredths as points: an int when whole, else a float. */
void grading_pack_score(msgpack_packer *pk, int64_t hundredths);
/* Appends hundredths as a JSON number ("87", "87.5", "87.25"). */
void grading_score_json(sms_buf_t *b, int64_t hundredths);

/* The view's grade record (hash g:<assignment> field <student>, see
 * view.h): "<version>|<score>|<released 0/1>|<updated_at>|<released_at>|<feedback>".
 * Parses one into out (feedback copied). 0, or -1 if malformed. */
int grading_record_parse(const char *s, size_t n, grading_grade_t *out);

/* One change a decision makes to one student's grade. Strings are borrowed
 * (from the command or the batch state) for the life of the decision. */
typedef struct grading_change_s {
    sms_str_t student_id;
    bool had_previous;
    int64_t previous_score;          /* hundredths, when had_previous */
    const char *previous_feedback;   /* when had_previous */
    int64_t score;                   /* hundredths */
    sms_str_t feedback;
    bool released;
    int64_t grade_version;
} grading_change_t;

/* grade.changed data: {assignment_id, class_id, student_id, previous_score
 * (nil if none), score, previous_feedback (nil if none), feedback, released,
 * changed_by, changed_at (ms), grade_version}. */
void grading_pack_changed(msgpack_packer *pk, const char *assignment_id, const char *class_id,
                          const grading_change_t *c, sms_str_t changed_by, int64_t changed_at);
/* grade.corrected data: grade.changed's fields plus reason (str) and
 * repairs (the quarantined position it repairs, or nil). changed_by is the
 * admin. */
void grading_pack_corrected(msgpack_packer *pk, const char *assignment_id, const char *class_id,
                            const grading_change_t *c, sms_str_t changed_by, int64_t changed_at, sms_str_t reason,
                            sms_str_t repairs);
/* grade.released data: {assignment_id, class_id, student_id, score, feedback, grade_version}. */
void grading_pack_released(msgpack_packer *pk, const char *assignment_id, const char *class_id,
                           const grading_change_t *c);

#endif
