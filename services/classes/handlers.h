/* handlers.h - the class aggregate's decisions: one function per command
 * type validates the body, checks it against the current state and says
 * what happens: a reply status, and (when something changes) the event.
 * Pure with respect to the outside world: reads only the batch state. */
#ifndef CLASSES_HANDLERS_H
#define CLASSES_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "problem.h"
#include "schema.h"
#include "state.h"
#include "verdict.h"

#define CLASSES_MAX_ERRORS 16 /* listed in a 400 (the verdict's limit) */

/* What kind of reply an outcome carries. */
typedef enum classes_reply_kind_e {
    CLASSES_REPLY_CLASS = 0, /* the class (after) */
    CLASSES_REPLY_ENROLL,    /* {"enrolled": n, "already_enrolled": m} */
    CLASSES_REPLY_UNENROLL,  /* {"unenrolled": bool} */
    CLASSES_REPLY_POST,      /* the post (201) */
    CLASSES_REPLY_CHAT,      /* the chat message (201) */
} classes_reply_kind_t;

/* A roster command's result. Pointers borrow the command's data. */
typedef struct classes_roster_outcome_s {
    size_t enrolled, already;                        /* enroll: new and already-enrolled students */
    const msgpack_object *added[CLASSES_ROSTER_MAX]; /* enroll: the new students' maps, body order */
    int64_t enrolled_at;                             /* enroll: the new students' enrolled_at */
    sms_str_t student_id;                            /* unenroll */
    bool unenrolled;
    int64_t roster_version;                          /* the class's roster_version after (when an event) */
} classes_roster_outcome_t;

typedef struct classes_outcome_s {
    sms_verdict_t verdict;       /* the reply status; on failure the problem and its errors */
    classes_reply_kind_t kind;
    classes_roster_outcome_t roster;
    /* post.create: the new post; strings borrow the command, new_id and after */
    classes_post_t post;
    /* chat.post: the new message; strings borrow the command, new_id and after */
    classes_chat_t chat;
    const char *event_type;      /* "class.created", "class.students_enrolled"...; NULL when nothing changes */
    classes_class_t after;       /* the class to return (and to put in the event) */
    bool has_class;              /* after is filled */
    const char *changed[8];      /* class.updated: the fields that changed */
    size_t n_changed;
} classes_outcome_t;

/* Decides cmd at now_ms with new_id as the id a created class gets. Fills out
 * (release with classes_outcome_clear). */
void classes_decide(classes_state_t *st, const sms_command_t *cmd, int64_t now_ms, const char *new_id,
                    classes_outcome_t *out);
void classes_outcome_clear(classes_outcome_t *out);

/* Validates a create (require_all) or update body. Adds errors to out and
 * returns the number of errors. Exposed for unit tests. */
size_t classes_validate_body(const msgpack_object *data, bool is_create, classes_outcome_t *out);

/* Validates a roster.enroll body {"students": [{student_id, name, email}]}
 * (1..CLASSES_ROSTER_MAX rows, duplicates reported per row, fields named
 * like students[3].email). Adds errors to out; returns their number. */
size_t classes_validate_roster(const msgpack_object *data, classes_outcome_t *out);

/* Validates a post.create body {title (1..200), body (1..10000), pinned
 * (bool, optional)}; unknown fields are errors. Adds errors to out; returns
 * their number. */
size_t classes_validate_post(const msgpack_object *data, classes_outcome_t *out);

/* Validates a chat.post body {text (1..CLASSES_CHAT_TEXT_MAX characters, not
 * blank)}; unknown fields are errors. Adds errors to out; returns their number. */
size_t classes_validate_chat(const msgpack_object *data, classes_outcome_t *out);

/* Syntax checks, exposed for unit tests. */
bool classes_valid_student_id(const char *s, size_t n);
bool classes_valid_email(const char *s, size_t n);

#endif
