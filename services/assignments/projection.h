/* projection.h - assignment, submission and upload events (and the facts this
 * service learns from sms.events.classes and sms.events.grades) -> the Redis view the gateway reads.
 *
 * Keys (all under sms:assignments:):
 *   a:<id>          hash: class_id, lecturer_id, title, description, status
 *                   (open|deleted), due_at, max_score ("%.17g"), created_at,
 *                   updated_at, version (ms ints as text), doc (the public JSON
 *                   without status, counts and closing brace: see
 *                   assignments_render_doc), dm/cm (its members below),
 *                   submission_count, graded_count (0 until later events bump them),
 *                   due_set_at (updated_at of the event that set the current due_at)
 *   d:<class id>    zset (score 0) of "<due_at ms, 15 digits>:<id>", assignments
 *                   not deleted; lex order = due order
 *   n:<class id>    zset (score 0) of "<created_at ms, 15 digits>:<id>", same set;
 *                   lex order = creation order
 *   cls:<class id>  hash: lecturer_id, status (active|inactive), version: the class
 *                   as sms.events.classes last said (version-gated); roster_version
 *                   (the roster events' gate)
 *   roster:<class id>  set of the enrolled student ids (class.students_enrolled /
 *                   class.student_unenrolled, roster_version-gated)
 *   sv:<assignment id>  hash: student -> latest submission version (the gate)
 *   s:<assignment id>   hash: student -> latest submission as the lecturer's list
 *                   item (JSON: student_id, version, submitted_at, late, text, upload_ids)
 *   m:<assignment id>   hash: student -> {version, submitted_at, late} (JSON), the
 *                   student's my_submission
 *   ss:<assignment id>  zset (score 0) of the students who submitted; lex order
 *   upload:<upload id>  hash: owner (student id), filename, content_type, size,
 *                   sha256, stored_at (ms), doc (the public file JSON: upload_id,
 *                   filename, content_type, size, sha256; readers add the
 *                   download URL); written once, from upload.completed
 *   remind          zset: assignment id -> due_at (score), the assignments the
 *                   reminder scan may remind: open, class not inactive, no
 *                   assignment.due_soon yet for the current due_at
 *   rem:<assignment id>  set of the due_at values (ms as text) an
 *                   assignment.due_soon was written for
 *   gr:<assignment id>  hash: student -> grade record learned from
 *                   sms.events.grades: "<grade_version>|<released 0/1>|
 *                   <released_at RFC 3339, "" while a draft>|<score JSON>|
 *                   <feedback JSON>"; gated on grade_version. graded_count of
 *                   a:<id> = HLEN of this hash (no event deletes a grade)
 *   cmds, offsets, meta  the worker's bookkeeping (common/worker.h); cmds values
 *                   are "<status> <assignment id>", for submissions
 *                   "201 <assignment id> <version> <submitted_at ms> <late 0|1>",
 *                   for uploads "200 <upload id>"
 * Each event is applied by one Lua script (atomic, version-gated, recording
 * the partition offset in the same step); no clock is read, so the view is a
 * pure function of the log ("closed" is decided by readers from due_at).
 * Blocking hiredis; called by the worker. */
#ifndef ASSIGNMENTS_PROJECTION_H
#define ASSIGNMENTS_PROJECTION_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define ASSIGNMENTS_KEY_PREFIX "sms:assignments:"
#define ASSIGNMENTS_EVENTS_TOPIC "sms.events.assignments"
#define ASSIGNMENTS_CLASSES_TOPIC "sms.events.classes"
#define ASSIGNMENTS_GRADES_TOPIC "sms.events.grades"

/* Loads the scripts. 0, or -1 with err. */
int assignments_projection_init(redisContext *rc, char *err, size_t errlen);

/* The worker's project operation (see common/worker.h): appends the
 * application of ev read from topic at partition/offset (partition < 0:
 * applied right after production, offsets left alone). Returns 1 if a
 * command was appended, 0 if ev is nothing this view keeps (other class
 * event types, unknown types). */
int assignments_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                                  int64_t offset);

#endif
