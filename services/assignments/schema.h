/* schema.h - the assignment aggregate's shapes: the snapshot carried by every
 * assignment event (msgpack, int ms timestamps), the public representation
 * (HTTP JSON / reply body, RFC 3339 timestamps) and the view's stored
 * document. Used by handlers.c, ops.c, state.c and projection.c. */
#ifndef ASSIGNMENTS_SCHEMA_H
#define ASSIGNMENTS_SCHEMA_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "envelope.h"

#define ASSIGNMENTS_EVENT_VERSION 1

/* The topics: the one this service writes, and those its view learns from. */
#define ASSIGNMENTS_EVENTS_TOPIC "sms.events.assignments"
#define ASSIGNMENTS_CLASSES_TOPIC "sms.events.classes"
#define ASSIGNMENTS_GRADES_TOPIC "sms.events.grades"

#define ASSIGNMENTS_TITLE_MAX 200
#define ASSIGNMENTS_DESCRIPTION_MAX 5000
#define ASSIGNMENTS_MAX_SCORE_DEFAULT 100.0
#define ASSIGNMENTS_MAX_SCORE_MAX 1000000.0
/* due_at must lie in [1970-01-01, 9999-12-31]: list members pad it to 15 digits. */
#define ASSIGNMENTS_DUE_MAX 253402300799999LL

/* One assignment. Strings are owned (sms_strdup) and freed by
 * assignments_assignment_clear. status is "open" or "deleted" (what the log
 * says; "closed" exists only at read time, from due_at). The counts are the
 * view's, kept by later (submission/grade) events; events do not carry them. */
typedef struct assignments_assignment_s {
    char *id, *class_id, *lecturer_id, *title, *description, *status;
    int64_t due_at, created_at, updated_at, version;
    double max_score;
    int64_t submission_count, graded_count;
} assignments_assignment_t;

void assignments_assignment_clear(assignments_assignment_t *a);
void assignments_assignment_copy(assignments_assignment_t *dst, const assignments_assignment_t *src);
/* Replaces one string field (takes a copy of value, len bytes). */
void assignments_set(char **field, const char *value, size_t len);

/* Packs max_score as msgpack: an int when whole, else a float64. */
void assignments_pack_score(msgpack_packer *pk, double score);

/* Packs the event data map (the snapshot; "changed" appended when changed
 * != NULL, n_changed names). */
void assignments_pack_snapshot(msgpack_packer *pk, const assignments_assignment_t *a, const char *const *changed,
                               size_t n_changed);
/* Packs the assignment.due_soon data map: the snapshot, then window_s (the
 * reminder window the scan used, seconds). */
void assignments_pack_due_soon(msgpack_packer *pk, const assignments_assignment_t *a, int64_t window_s);
/* Reads a snapshot out of an event's data map (counts set to 0). 0, or -1 if
 * a field is missing or has the wrong type. */
int assignments_read_snapshot(const msgpack_object *data, assignments_assignment_t *out);

/* The public status at now_ms: "deleted", else "closed" once due, else "open". */
const char *assignments_public_status(const assignments_assignment_t *a, int64_t now_ms);
/* Packs the public representation at now_ms (reply body). */
void assignments_pack_public(msgpack_packer *pk, const assignments_assignment_t *a, int64_t now_ms);
/* Appends the view's stored document: the public JSON without status, the
 * counts and the closing brace, which readers add at read time
 * (`,"status":..,"submission_count":..,"graded_count":..}`). */
void assignments_render_doc(const assignments_assignment_t *a, sms_buf_t *out);

/* ---- submissions ---- */

#define ASSIGNMENTS_SUBMISSION_TEXT_MAX 20000
#define ASSIGNMENTS_SUBMISSION_UPLOADS_MAX 10

/* One submission (a version of one student's work on one assignment). The
 * text and upload ids are borrowed from the command or event they came from
 * (upload_ids: a msgpack array of strings, or NULL for none) and live as long
 * as it does. The decision checked each upload id against the view's
 * upload:<id> (completed, the student's own, listed once). */
typedef struct assignments_submission_s {
    sms_str_t assignment_id, class_id, student_id;
    int64_t version;          /* 1, 2, ... per (assignment, student); the latest counts */
    int64_t submitted_at;     /* ms */
    bool late;                /* submitted_at > the assignment's due_at */
    sms_str_t text;
    const msgpack_object *upload_ids;
} assignments_submission_t;

/* Packs the submission.created data map: assignment_id, class_id, student_id,
 * version, text, upload_ids, submitted_at (ms), late. */
void assignments_pack_submission_data(msgpack_packer *pk, const assignments_submission_t *s);
/* Reads submission.created data (borrowing from data). 0, or -1 if a field is
 * missing or has the wrong type. */
int assignments_read_submission(const msgpack_object *data, assignments_submission_t *out);
/* The reply body of a submission: assignment_id, student_id, version, text,
 * upload_ids, submitted_at (RFC 3339), late. */
void assignments_pack_submission_public(msgpack_packer *pk, const assignments_submission_t *s);
/* Appends the lecturer list's item as JSON: student_id, version, submitted_at,
 * late, text, upload_ids. */
void assignments_render_submission_item(const assignments_submission_t *s, sms_buf_t *out);
/* Appends the student's own summary as JSON: version, submitted_at, late. */
void assignments_render_my_submission(const assignments_submission_t *s, sms_buf_t *out);


/* ---- uploads ---- */

#define ASSIGNMENTS_UPLOAD_ID_LEN 26
#define ASSIGNMENTS_FILENAME_MAX 1020      /* bytes: 255 characters of up to 4 bytes */
#define ASSIGNMENTS_CONTENT_TYPE_MAX 127

/* A completed upload: the metadata of a stored file (upload.completed data).
 * Strings are borrowed from the command or event they came from. */
typedef struct assignments_upload_s {
    sms_str_t upload_id, student_id, filename, content_type, sha256;
    int64_t size;      /* bytes */
    int64_t stored_at; /* ms: when the gateway committed the bytes */
} assignments_upload_t;

/* Packs the upload.completed data map: upload_id, student_id, filename,
 * content_type, size, sha256, stored_at (ms). */
void assignments_pack_upload_data(msgpack_packer *pk, const assignments_upload_t *u);
/* Reads upload.completed data (or an upload.complete command's data, whose
 * student_id is the actor's and passed in student) borrowing from data. 0, or
 * -1 if a field is missing or has the wrong type or form (sha256: 64 lower-case hex). */
int assignments_read_upload(const msgpack_object *data, sms_str_t student, assignments_upload_t *out);
/* Packs the public file document (the reply body of upload.complete):
 * upload_id, filename, content_type, size, sha256. */
void assignments_pack_upload_public(msgpack_packer *pk, const assignments_upload_t *u);
/* Appends the same document as JSON: what the view keeps in upload:<id> doc
 * and readers extend with a download URL. */
void assignments_render_upload_doc(const assignments_upload_t *u, sms_buf_t *out);

#endif
