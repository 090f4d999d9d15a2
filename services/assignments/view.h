/* view.h - the assignments view's Redis layout: the one statement of the
 * keys, hash fields and record formats that sms-assignments writes
 * (projection.c), reads back (state.c, replies.c, reminders.c) and the
 * gateway's Lua reads. Only string literals and numbers, so C format strings
 * and Lua sources alike are built from them by concatenation:
 *   "HGETALL " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_ASSIGNMENT) "%b"
 *   "local p = '" ASSIGNMENTS_VIEW_PREFIX "'"  ...  "p .. '" ASSIGNMENTS_VIEW_ASSIGNMENT "' .. id"
 * Needs no library header.
 *
 * Keys (all under ASSIGNMENTS_VIEW_PREFIX, "sms:assignments:"):
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
 *   ubytes          hash: student id -> bytes of their completed uploads (the
 *                   per-user quota, SMS_UPLOAD_QUOTA_BYTES, is checked against it),
 *                   less those of expired ones
 *   attached        set of the upload ids some submission.created listed
 *   unattached      zset: upload id -> stored_at (score), completed uploads not
 *                   in attached; the expiry scan writes upload.expired for those
 *                   older than SMS_UPLOAD_ATTACH_TTL_S, whose projection removes
 *                   upload:<id> and its bytes from ubytes. (attached makes the
 *                   pair order-free: a rebuild may replay a submission before
 *                   the upload.completed it lists, which is on another partition.)
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
 *                   are the records below
 * No pub/sub channel: nothing is published from this view. */
#ifndef ASSIGNMENTS_VIEW_H
#define ASSIGNMENTS_VIEW_H

#include <stddef.h>
#include <stdint.h>

#define ASSIGNMENTS_VIEW_PREFIX "sms:assignments:"
/* The whole key of a part below (the id follows): ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_CLASS) "%s". */
#define ASSIGNMENTS_VIEW_KEY(part) ASSIGNMENTS_VIEW_PREFIX part

/* Key parts, each followed by its id (those without a colon stand alone). */
#define ASSIGNMENTS_VIEW_ASSIGNMENT "a:"
#define ASSIGNMENTS_VIEW_BY_DUE "d:"
#define ASSIGNMENTS_VIEW_BY_CREATION "n:"
#define ASSIGNMENTS_VIEW_CLASS "cls:"
#define ASSIGNMENTS_VIEW_ROSTER "roster:"
#define ASSIGNMENTS_VIEW_SUBMISSION_VERSIONS "sv:"
#define ASSIGNMENTS_VIEW_SUBMISSIONS "s:"
#define ASSIGNMENTS_VIEW_MY_SUBMISSION "m:"
#define ASSIGNMENTS_VIEW_SUBMITTERS "ss:"
#define ASSIGNMENTS_VIEW_UPLOAD "upload:"
#define ASSIGNMENTS_VIEW_UPLOAD_BYTES "ubytes"
#define ASSIGNMENTS_VIEW_UNATTACHED "unattached"
#define ASSIGNMENTS_VIEW_ATTACHED "attached"
#define ASSIGNMENTS_VIEW_REMIND "remind"
#define ASSIGNMENTS_VIEW_REMINDED "rem:"
#define ASSIGNMENTS_VIEW_GRADES "gr:"
#define ASSIGNMENTS_VIEW_CMDS "cmds"
#define ASSIGNMENTS_VIEW_OFFSETS "offsets"
#define ASSIGNMENTS_VIEW_META "meta"

/* Fields of a:<id> that readers use. */
#define ASSIGNMENTS_FIELD_CLASS_ID "class_id"
#define ASSIGNMENTS_FIELD_LECTURER_ID "lecturer_id"
#define ASSIGNMENTS_FIELD_STATUS "status"
#define ASSIGNMENTS_FIELD_DUE_AT "due_at"
#define ASSIGNMENTS_FIELD_MAX_SCORE "max_score"
#define ASSIGNMENTS_FIELD_DOC "doc" /* also upload:<id>'s public file JSON */
#define ASSIGNMENTS_FIELD_SUBMISSION_COUNT "submission_count"
#define ASSIGNMENTS_FIELD_GRADED_COUNT "graded_count"
#define ASSIGNMENTS_FIELD_DUE_SET_AT "due_set_at"
/* Fields of upload:<id> beside doc. */
#define ASSIGNMENTS_FIELD_OWNER "owner"
/* The meta field the worker sets once the view holds the whole log. */
#define ASSIGNMENTS_FIELD_BUILT "built"

/* d:/n: members: "<ms, 15 digits>:<id>" (C format, from a long long and
 * the id); the id starts at byte 17, string.sub(m, 17) in Lua. */
#define ASSIGNMENTS_VIEW_MEMBER_FORMAT "%015lld:%s"
#define ASSIGNMENTS_VIEW_MEMBER_ID_AT "17"

/* cmds records: "<status> <word> ..." (read back by sms_command_record_parse):
 *   assignment.create/update/delete  "<status> <assignment id>"
 *   submission.create  "201 <assignment id> <version> <submitted_at ms> <late 0|1>"
 *   upload.complete    "200 <upload id>"
 * The words' positions: */
#define ASSIGNMENTS_RECORD_ID 0           /* every record: the assignment or upload id */
#define ASSIGNMENTS_RECORD_SUB_VERSION 1  /* submission records */
#define ASSIGNMENTS_RECORD_SUB_AT 2
#define ASSIGNMENTS_RECORD_SUB_LATE 3
#define ASSIGNMENTS_RECORD_SUB_FORMAT "201 %.*s %lld %lld %d"

#endif
