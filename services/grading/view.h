/* view.h - the grading view's Redis layout: the one statement of every key
 * sms-grading writes under sms:grading:, what each holds, and the hash fields
 * its readers (the gateway's Lua scripts, sms-admin) read. projection.c
 * writes it, state.c reads it for the decider; every other reader builds its
 * keys from these names (C format strings and Lua source alike, by string
 * concatenation), so the layout changes here or nowhere. Only macros, no
 * includes: any reader (the gateway too) includes it alone.
 *
 * Scores and totals are hundredths of a point (integers) everywhere. */
#ifndef GRADING_VIEW_H
#define GRADING_VIEW_H

#define GRADING_SERVICE "grading" /* sms.commands.grading, group sms-grading */
#define GRADING_VIEW_PREFIX "sms:" GRADING_SERVICE ":"

/* A key is GRADING_VIEW_PREFIX, its kind, then its id(s):
 * GRADING_VIEW_KEY(GRADING_VIEW_GRADES) "%s" is the format of g:<assignment>.
 * In Lua: local p = '<GRADING_VIEW_PREFIX>'; p .. '<kind>' .. id. */
#define GRADING_VIEW_KEY(kind) GRADING_VIEW_PREFIX kind

/* a:<assignment>  hash, learned from sms.events.assignments (version-gated):
 *   class_id, lecturer_id, max (max_score in hundredths), status ("open" |
 *   "deleted"), title, version */
#define GRADING_VIEW_ASSIGNMENT "a:"
#define GRADING_VIEW_A_CLASS_ID "class_id"
#define GRADING_VIEW_A_LECTURER_ID "lecturer_id"
#define GRADING_VIEW_A_MAX "max"
#define GRADING_VIEW_A_STATUS "status"
#define GRADING_VIEW_A_TITLE "title"
#define GRADING_VIEW_A_VERSION "version"
#define GRADING_VIEW_A_DELETED "deleted" /* the status of a deleted assignment */

/* cls:<class>  hash: roster_version (the roster events applied, gated by it) */
#define GRADING_VIEW_ROSTER "cls:"
#define GRADING_VIEW_ROSTER_VERSION "roster_version"
/* students:<class>  zset (score 0) of enrolled student ids (lex order = list order) */
#define GRADING_VIEW_STUDENTS "students:"
/* names:<class>  hash: student id -> name */
#define GRADING_VIEW_NAMES "names:"

/* g:<assignment>  hash: student id -> grade record
 *   "<grade_version>|<score>|<released 0/1>|<updated_at>|<released_at>|<feedback>"
 *   (timestamps RFC 3339, released_at "" while a draft; feedback may hold '|':
 *   it is the rest of the record). Lua reads it with GRADING_VIEW_RECORD_LUA. */
#define GRADING_VIEW_GRADES "g:"
#define GRADING_VIEW_RECORD_LUA "'^(%d+)|(%d+)|(%d)|([^|]*)|([^|]*)|(.*)$'"
/* h:<assignment>:<student>  list: one JSON history entry per change, oldest
 * first ({score, previous_score, feedback, released, changed_by, changed_at,
 * reason?}), rendered by the projection so reads only concatenate */
#define GRADING_VIEW_HISTORY "h:"
/* sg:<student>  hash: assignment id -> class id, for every released grade */
#define GRADING_VIEW_STUDENT_GRADES "sg:"
/* tot:<class>  hash: student id -> released total over non-deleted
 * assignments (no zeros kept) */
#define GRADING_VIEW_TOTALS "tot:"
/* rank:<class>  zset: enrolled student -> tot (0 when none): the ranking */
#define GRADING_VIEW_RANK "rank:"

/* The worker's bookkeeping (common/worker.h, common/quarantine.h), under the
 * same prefix. cmds values are "200 <grade events of that command applied>"
 * (the grade scripts' count; a replay's reply reads it). */
#define GRADING_VIEW_CMDS "cmds"
#define GRADING_VIEW_OFFSETS "offsets"
#define GRADING_VIEW_META "meta"
#define GRADING_VIEW_QUARANTINE "quarantine"
#define GRADING_VIEW_INCOMPLETE "incomplete:" /* incomplete:<assignment> / :<class>: set of positions */

/* The view publishes nothing: no pub/sub channels. */

#endif
