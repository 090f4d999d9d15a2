/* schema.h - the class aggregate's shapes: the snapshot carried by every
 * class event (msgpack, int ms timestamps) and the public representation
 * (HTTP JSON / reply body, RFC 3339 timestamps). */
#ifndef CLASSES_SCHEMA_H
#define CLASSES_SCHEMA_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "envelope.h"

#define CLASSES_EVENT_VERSION 1

#define CLASSES_CODE_MAX 64
#define CLASSES_NAME_MAX 200
#define CLASSES_DESCRIPTION_MAX 2000
#define CLASSES_TERM_MAX 32

/* Rosters. */
#define CLASSES_ROSTER_MAX 500        /* students per enroll command */
#define CLASSES_STUDENT_ID_MAX 64
#define CLASSES_STUDENT_NAME_MAX 200  /* characters */
#define CLASSES_EMAIL_MAX 254

/* One class. Strings are owned (sms_strdup) and freed by classes_class_clear. */
typedef struct classes_class_s {
    char *id, *code, *name, *description, *term, *status, *lecturer_id;
    int64_t created_at, updated_at, version;
    /* Not part of the class's events or public form: the roster's own
     * counter (class.students_enrolled / class.student_unenrolled). */
    int64_t roster_version;
    /* Not part of the class's events either: the sequence of the class's
     * last chat message (chat.message_posted), 0 before the first. */
    int64_t chat_seq;
} classes_class_t;

/* One roster entry as events carry it (strings borrowed, not owned). */
typedef struct classes_student_s {
    sms_str_t student_id, name, email;
    int64_t enrolled_at;
} classes_student_t;

void classes_class_clear(classes_class_t *c);
void classes_class_copy(classes_class_t *dst, const classes_class_t *src);
/* Replaces one string field (takes a copy of value). */
void classes_set(char **field, const char *value, size_t len);

/* Packs the event data map (snapshot; "changed" appended when changed != NULL,
 * n_changed names). */
void classes_pack_snapshot(msgpack_packer *pk, const classes_class_t *c, const char *const *changed,
                           size_t n_changed);
/* Reads a snapshot out of an event's data map. 0, or -1 if a field is missing. */
int classes_read_snapshot(const msgpack_object *data, classes_class_t *out);
/* Packs the public representation (reply body). */
void classes_pack_public(msgpack_packer *pk, const classes_class_t *c);
/* Appends the public representation as JSON (the view's stored document). */
void classes_render_json(const classes_class_t *c, sms_buf_t *out);

/* Roster events. students_enrolled: data {class_id, lecturer_id,
 * roster_version, students: [{student_id, name, email, enrolled_at}],
 * already_enrolled}; students[0..n) are validated, all stamped enrolled_at
 * (their own enrolled_at is not read). */
void classes_pack_students_enrolled(msgpack_packer *pk, const classes_class_t *c, int64_t roster_version,
                                    const classes_student_t *const *students, size_t n, int64_t enrolled_at,
                                    size_t already_enrolled);
/* student_unenrolled: data {class_id, lecturer_id, roster_version, student_id}. */
void classes_pack_student_unenrolled(msgpack_packer *pk, const classes_class_t *c, int64_t roster_version,
                                     sms_str_t student_id);
/* Reads students[i] of a students_enrolled data map (strings point into data).
 * 0, or -1 if a field is missing or of the wrong type. */
int classes_read_student(const msgpack_object *item, classes_student_t *out);
/* Appends the public roster item {student_id, name, email, enrolled_at (RFC 3339)} as JSON. */
void classes_render_student_json(const classes_student_t *s, sms_buf_t *out);

/* Posts (announcements): post.created carries no version (a new post is
 * version 1); each post.update that changes it writes post.updated with the
 * post's whole new snapshot, its version (2, 3, ...) and updated_at. */
#define CLASSES_POSTS_TOPIC "sms.events.posts"
#define CLASSES_POST_TITLE_MAX 200   /* characters */
#define CLASSES_POST_BODY_MAX 10000  /* characters */

/* One post (strings borrowed, not owned: from a command or an event). */
typedef struct classes_post_s {
    sms_str_t id, class_id, lecturer_id, author_id, title, body;
    bool pinned;
    int64_t created_at;
    int64_t version, updated_at; /* 0 (or 1): never edited */
} classes_post_t;

/* post.created data: {id, class_id, lecturer_id, author_id, title, body, pinned, created_at}. */
void classes_pack_post(msgpack_packer *pk, const classes_post_t *p);
/* Reads a post.created data map (strings point into data). 0, or -1 if a
 * field is missing or of the wrong type. */
int classes_read_post(const msgpack_object *data, classes_post_t *out);
/* post.updated data: post.created's fields, then updated_at and version. */
void classes_pack_post_updated(msgpack_packer *pk, const classes_post_t *p);
/* Reads a post.updated data map (strings point into data). 0, or -1. */
int classes_read_post_updated(const msgpack_object *data, classes_post_t *out);
/* Packs the public form {id, class_id, author_id, title, body, pinned,
 * created_at (RFC 3339)}, plus updated_at and version once edited (version
 * > 1; a never-edited post's form is as it always was) (reply body). */
void classes_pack_post_public(msgpack_packer *pk, const classes_post_t *p);
/* Appends the public form as JSON (the view's stored document). */
void classes_render_post_json(const classes_post_t *p, sms_buf_t *out);

/* Class chat: one chat.message_posted per accepted chat.post, on its own
 * topic (key = class id) so that services which do not care about chat never
 * read it. seq is the class's chat sequence (1, 2, ...), decided by the one
 * consumer of the class's partition of sms.commands.classes (chat commands
 * are keyed by class id); the public cursor is its decimal string. */
#define CLASSES_CHAT_TOPIC "sms.events.chat"
#define CLASSES_CHAT_TEXT_MAX 2000 /* characters */
/* The Redis pub/sub channel the projection publishes on: view.h. */

/* One chat message (strings borrowed: from a command or an event). */
typedef struct classes_chat_s {
    sms_str_t id, class_id, author_id, author_role, text;
    int64_t seq, created_at;
} classes_chat_t;

/* chat.message_posted data: {id, class_id, seq, author_id, author_role, text, created_at}. */
void classes_pack_chat(msgpack_packer *pk, const classes_chat_t *m);
/* Reads a chat.message_posted data map (strings point into data). 0, or -1
 * if a field is missing or of the wrong type. */
int classes_read_chat(const msgpack_object *data, classes_chat_t *out);
/* Packs the public form {id, class_id, cursor (seq as a decimal string),
 * author_id, author_role, text, created_at (RFC 3339)} (reply body). */
void classes_pack_chat_public(msgpack_packer *pk, const classes_chat_t *m);
/* Appends the public form as JSON (the view's stored document). */
void classes_render_chat_json(const classes_chat_t *m, sms_buf_t *out);

#endif
