/* handlers.c - the prefetch and decide phases of the classes commands (see
 * commands.h): what each command reads, then, on its validated args and the
 * batch state, its reply, its event and the overlay the batch's later
 * commands see. Reads only the batch state. */
#include "commands.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "msgpack_util.h"

static char *(*id_source)(char out[SMS_ID_SIZE]) = sms_id_new;

void classes_decide_set_id_source(char *(*fn)(char out[SMS_ID_SIZE])) { id_source = fn ? fn : sms_id_new; }

static bool is_role(const sms_command_t *cmd, const char *role) {
    return cmd->role.len == strlen(role) && memcmp(cmd->role.ptr, role, cmd->role.len) == 0;
}

/* ---- prefetch ---- */

void classes_prefetch_class(void *state, const sms_command_t *cmd, const void *args) {
    (void)args;
    classes_state_want_class(state, cmd->key);
}

void classes_prefetch_class_code(void *state, const sms_command_t *cmd, const void *args) {
    const classes_class_args_t *a = args;
    classes_state_want_class(state, cmd->key);
    if (a->has[CLASSES_F_CODE]) classes_state_want_code(state, cmd->actor, a->field[CLASSES_F_CODE]);
}

void classes_prefetch_enroll(void *state, const sms_command_t *cmd, const void *args) {
    const classes_enroll_args_t *a = args;
    classes_state_want_class(state, cmd->key);
    for (size_t i = 0; i < a->n; i++) classes_state_want_enrolled(state, cmd->key, a->students[i].student_id);
}

void classes_prefetch_unenroll(void *state, const sms_command_t *cmd, const void *args) {
    const classes_unenroll_args_t *a = args;
    classes_state_want_class(state, cmd->key);
    classes_state_want_enrolled(state, cmd->key, a->student_id);
}

void classes_prefetch_post_update(void *state, const sms_command_t *cmd, const void *args) {
    const classes_post_update_args_t *a = args;
    classes_state_want_class(state, cmd->key);
    classes_state_want_post(state, a->post_id);
}

/* A student's access to the chat is its enrolment; a lecturer's, the class. */
void classes_prefetch_chat(void *state, const sms_command_t *cmd, const void *args) {
    (void)args;
    classes_state_want_class(state, cmd->key);
    if (is_role(cmd, "student") && cmd->actor.len <= CLASSES_STUDENT_ID_MAX)
        classes_state_want_enrolled(state, cmd->key, cmd->actor);
}

/* ---- classes ---- */

static const char *const field_names[CLASSES_N_FIELDS] = {"code", "name", "description", "term"};

static void event_class(sms_decision_t *d, const sms_command_t *cmd, int64_t now, const char *type,
                        const classes_class_t *c, const char *const *changed, size_t n_changed) {
    msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now, type, CLASSES_EVENT_VERSION, SMS_STR(c->id));
    classes_pack_snapshot(&pk, c, changed, n_changed);
}

static void fail_code_taken(sms_decision_t *d, const char *code, const char *holder) {
    sms_decision_fail(d, 409, "code_taken", "you already have an active class with code %s (id %s)", code, holder);
    sms_decision_error(d, "code", 4, "already used by one of your active classes");
}

void classes_decide_create(void *state, const sms_command_t *cmd, const void *args, int64_t now, sms_decision_t *d) {
    classes_state_t *st = state;
    const classes_class_args_t *a = args;
    char new_id[SMS_ID_SIZE];
    classes_class_t c;
    memset(&c, 0, sizeof c);
    id_source(new_id);
    classes_set(&c.id, new_id, strlen(new_id));
    classes_set(&c.lecturer_id, cmd->actor.ptr, cmd->actor.len);
    classes_set(&c.status, "active", 6);
    char **fields[CLASSES_N_FIELDS] = {&c.code, &c.name, &c.description, &c.term};
    for (size_t i = 0; i < CLASSES_N_FIELDS; i++) /* code and name are required: validated */
        classes_set(fields[i], a->has[i] ? a->field[i].ptr : "", a->has[i] ? a->field[i].len : 0);
    c.created_at = c.updated_at = now;
    c.version = 1;
    const char *holder = classes_state_code_holder(st, c.lecturer_id, c.code);
    if (holder) {
        fail_code_taken(d, c.code, holder);
    } else {
        classes_reply_class(d, 201, &c);
        event_class(d, cmd, now, "class.created", &c, NULL, 0);
        classes_state_apply(st, classes_state_class(st, cmd->key), &c); /* later commands see it */
    }
    classes_class_clear(&c);
}

/* The caller's class or fails with 404 (another lecturer's class is not shown to exist). */
static const classes_class_t *owned_class(classes_state_t *st, const sms_command_t *cmd, sms_decision_t *d) {
    const classes_class_t *cur = classes_state_class(st, cmd->key);
    if (cur == NULL || strlen(cur->lecturer_id) != cmd->actor.len ||
        memcmp(cur->lecturer_id, cmd->actor.ptr, cmd->actor.len) != 0) {
        sms_decision_fail(d, 404, "not_found", "no class %.*s", (int)cmd->key.len, cmd->key.ptr);
        return NULL;
    }
    return cur;
}

/* The caller's class at the version If-Match names (when given), or fails 404/412. */
static const classes_class_t *owned_class_at(classes_state_t *st, const sms_command_t *cmd, sms_decision_t *d) {
    const classes_class_t *cur = owned_class(st, cmd, d);
    if (cur && cmd->has_if_match && cmd->if_match != cur->version) {
        sms_decision_fail(d, 412, "precondition_failed", "If-Match is %lld but the class is at version %lld",
                          (long long)cmd->if_match, (long long)cur->version);
        return NULL;
    }
    return cur;
}

void classes_decide_update(void *state, const sms_command_t *cmd, const void *args, int64_t now, sms_decision_t *d) {
    classes_state_t *st = state;
    const classes_class_args_t *a = args;
    const classes_class_t *cur = owned_class_at(st, cmd, d);
    if (cur == NULL) return;
    if (strcmp(cur->status, "active") != 0) {
        sms_decision_fail(d, 409, "class_inactive", "class %s is inactive and cannot be changed", cur->id);
        return;
    }
    classes_class_t c;
    classes_class_copy(&c, cur);
    char **fields[CLASSES_N_FIELDS] = {&c.code, &c.name, &c.description, &c.term};
    const char *changed[CLASSES_N_FIELDS];
    size_t n_changed = 0;
    for (size_t i = 0; i < CLASSES_N_FIELDS; i++) {
        if (!a->has[i] || (strlen(*fields[i]) == a->field[i].len &&
                           memcmp(*fields[i], a->field[i].ptr, a->field[i].len) == 0))
            continue;
        classes_set(fields[i], a->field[i].ptr, a->field[i].len);
        changed[n_changed++] = field_names[i];
    }
    const char *holder = NULL;
    if (n_changed && strcasecmp(cur->code, c.code) != 0) {
        holder = classes_state_code_holder(st, c.lecturer_id, c.code);
        if (holder && strcmp(holder, c.id) == 0) holder = NULL;
    }
    if (holder) {
        fail_code_taken(d, c.code, holder);
    } else if (n_changed == 0) { /* nothing to change: answer the current class, emit nothing */
        classes_reply_class(d, 200, &c);
    } else {
        c.version = cur->version + 1;
        c.updated_at = now > cur->updated_at ? now : cur->updated_at + 1;
        classes_reply_class(d, 200, &c);
        event_class(d, cmd, now, "class.updated", &c, changed, n_changed);
        classes_state_apply(st, cur, &c);
    }
    classes_class_clear(&c);
}

void classes_decide_deactivate(void *state, const sms_command_t *cmd, const void *args, int64_t now,
                               sms_decision_t *d) {
    (void)args;
    classes_state_t *st = state;
    const classes_class_t *cur = owned_class_at(st, cmd, d);
    if (cur == NULL) return;
    if (strcmp(cur->status, "inactive") == 0) { /* deleting twice is not an error */
        classes_reply_class(d, 200, cur);
        return;
    }
    classes_class_t c;
    classes_class_copy(&c, cur);
    classes_set(&c.status, "inactive", 8);
    c.version = cur->version + 1;
    c.updated_at = now > cur->updated_at ? now : cur->updated_at + 1;
    classes_reply_class(d, 200, &c);
    event_class(d, cmd, now, "class.deactivated", &c, NULL, 0);
    classes_state_apply(st, cur, &c);
    classes_class_clear(&c);
}

/* ---- rosters ---- */

/* The caller's class, active, or fails 404/409 (what: what cannot change). */
static const classes_class_t *active_owned_class(classes_state_t *st, const sms_command_t *cmd, sms_decision_t *d,
                                                 const char *what) {
    const classes_class_t *cur = owned_class(st, cmd, d);
    if (cur == NULL) return NULL;
    if (strcmp(cur->status, "active") != 0) {
        sms_decision_fail(d, 409, "class_inactive", "class %s is inactive: %s", cur->id, what);
        return NULL;
    }
    return cur;
}

void classes_decide_enroll(void *state, const sms_command_t *cmd, const void *args, int64_t now, sms_decision_t *d) {
    classes_state_t *st = state;
    const classes_enroll_args_t *a = args;
    const classes_class_t *cur = active_owned_class(st, cmd, d, "its roster cannot be changed");
    if (cur == NULL) return;
    const classes_student_t *added[CLASSES_ROSTER_MAX];
    size_t n_added = 0, already = 0;
    for (size_t i = 0; i < a->n; i++) {
        /* An enrolled student is left as is: name/email updates are out of scope. */
        if (classes_state_enrolled(st, cur->id, a->students[i].student_id)) already++;
        else added[n_added++] = &a->students[i];
    }
    classes_reply_enroll(d, n_added, already);
    if (n_added == 0) return;
    int64_t roster_version = cur->roster_version + 1;
    msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now, "class.students_enrolled", CLASSES_EVENT_VERSION,
                                                SMS_STR(cur->id));
    classes_pack_students_enrolled(&pk, cur, roster_version, added, n_added, now, already);
    for (size_t i = 0; i < n_added; i++) classes_state_set_enrolled(st, cur->id, added[i]->student_id, true);
    classes_state_set_roster_version(st, cur->id, roster_version);
}

void classes_decide_unenroll(void *state, const sms_command_t *cmd, const void *args, int64_t now,
                             sms_decision_t *d) {
    classes_state_t *st = state;
    const classes_unenroll_args_t *a = args;
    const classes_class_t *cur = active_owned_class(st, cmd, d, "its roster cannot be changed");
    if (cur == NULL) return;
    bool enrolled = classes_state_enrolled(st, cur->id, a->student_id);
    classes_reply_unenroll(d, enrolled);
    if (!enrolled) return; /* not enrolled: nothing to do */
    int64_t roster_version = cur->roster_version + 1;
    msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now, "class.student_unenrolled", CLASSES_EVENT_VERSION,
                                                SMS_STR(cur->id));
    classes_pack_student_unenrolled(&pk, cur, roster_version, a->student_id);
    classes_state_set_enrolled(st, cur->id, a->student_id, false);
    classes_state_set_roster_version(st, cur->id, roster_version);
}

/* ---- posts ---- */

/* post.created goes to the public posts topic (key = class id), not sms.events.classes. */
void classes_decide_post(void *state, const sms_command_t *cmd, const void *args, int64_t now, sms_decision_t *d) {
    const classes_post_args_t *a = args;
    const classes_class_t *cur = active_owned_class(state, cmd, d, "nothing can be posted to it");
    if (cur == NULL) return;
    char new_id[SMS_ID_SIZE];
    classes_post_t p = {.id = SMS_STR(id_source(new_id)),
                        .class_id = SMS_STR(cur->id),
                        .lecturer_id = SMS_STR(cur->lecturer_id),
                        .author_id = cmd->actor,
                        .title = a->title,
                        .body = a->body,
                        .pinned = a->pinned,
                        .created_at = now};
    classes_reply_post(d, &p);
    msgpack_packer pk =
        sms_decision_event_head(d, CLASSES_POSTS_TOPIC, cmd, now, "post.created", CLASSES_EVENT_VERSION, p.class_id);
    classes_pack_post(&pk, &p);
}

/* The fields of an edit applied to p; whether anything changed. */
static bool post_edit(classes_post_t *p, const classes_post_update_args_t *a) {
    bool changed = false;
    if (a->has_title && !(p->title.len == a->title.len && memcmp(p->title.ptr, a->title.ptr, a->title.len) == 0)) {
        p->title = a->title;
        changed = true;
    }
    if (a->has_body && !(p->body.len == a->body.len && memcmp(p->body.ptr, a->body.ptr, a->body.len) == 0)) {
        p->body = a->body;
        changed = true;
    }
    if (a->has_pinned && p->pinned != a->pinned) {
        p->pinned = a->pinned;
        changed = true;
    }
    return changed;
}

/* post.updated, like post.created, goes to the posts topic (key = class id)
 * and carries the whole new post; an edit that changes nothing answers the
 * post as it is and writes nothing. */
void classes_decide_post_update(void *state, const sms_command_t *cmd, const void *args, int64_t now,
                                sms_decision_t *d) {
    const classes_post_update_args_t *a = args;
    const classes_class_t *cur = active_owned_class(state, cmd, d, "its posts cannot be changed");
    if (cur == NULL) return;
    classes_post_t p;
    if (!classes_state_post(state, a->post_id, &p) || p.class_id.len != cmd->key.len ||
        memcmp(p.class_id.ptr, cmd->key.ptr, cmd->key.len) != 0) {
        sms_decision_fail(d, 404, "not_found", "no post %.*s", (int)a->post_id.len, a->post_id.ptr);
        return;
    }
    if (cmd->has_if_match && cmd->if_match != p.version) {
        sms_decision_fail(d, 412, "precondition_failed", "If-Match is %lld but the post is at version %lld",
                          (long long)cmd->if_match, (long long)p.version);
        return;
    }
    p.lecturer_id = SMS_STR(cur->lecturer_id);
    if (!post_edit(&p, a)) {
        classes_reply_post_updated(d, &p);
        return;
    }
    p.version++;
    p.updated_at = now > p.updated_at ? now : p.updated_at + 1;
    classes_reply_post_updated(d, &p);
    msgpack_packer pk =
        sms_decision_event_head(d, CLASSES_POSTS_TOPIC, cmd, now, "post.updated", CLASSES_EVENT_VERSION, p.class_id);
    classes_pack_post_updated(&pk, &p);
    classes_state_set_post(state, &p); /* last: p's strings may be the old document's */
}

/* ---- chat ---- */

/* The class a chat author may write to: its own lecturer, or an enrolled
 * student. Anyone else gets the answer a missing class gets (404). */
static const classes_class_t *chat_class(classes_state_t *st, const sms_command_t *cmd, sms_decision_t *d) {
    const classes_class_t *cur = classes_state_class(st, cmd->key);
    bool allowed = false;
    if (cur && is_role(cmd, "lecturer"))
        allowed = strlen(cur->lecturer_id) == cmd->actor.len &&
                  memcmp(cur->lecturer_id, cmd->actor.ptr, cmd->actor.len) == 0;
    else if (cur)
        allowed = classes_state_enrolled(st, cur->id, cmd->actor);
    if (!allowed) {
        sms_decision_fail(d, 404, "not_found", "no class %.*s", (int)cmd->key.len, cmd->key.ptr);
        return NULL;
    }
    if (strcmp(cur->status, "active") != 0) {
        sms_decision_fail(d, 409, "class_inactive", "class %s is inactive: its chat is closed", cur->id);
        return NULL;
    }
    return cur;
}

/* The sequence is decided here, by the one consumer of the class's command
 * partition: the view's last chat_seq plus the batch's earlier messages
 * (the overlay moves it on after each accepted message).
 * chat.message_posted goes to the chat topic (key = class id). */
void classes_decide_chat(void *state, const sms_command_t *cmd, const void *args, int64_t now, sms_decision_t *d) {
    const classes_chat_args_t *a = args;
    const classes_class_t *cur = chat_class(state, cmd, d);
    if (cur == NULL) return;
    char new_id[SMS_ID_SIZE];
    classes_chat_t m = {.id = SMS_STR(id_source(new_id)),
                        .class_id = SMS_STR(cur->id),
                        .seq = cur->chat_seq + 1,
                        .author_id = cmd->actor,
                        .author_role = cmd->role,
                        .text = a->text,
                        .created_at = now};
    d->status = 201;
    msgpack_packer body = sms_decision_body(d);
    classes_pack_chat_public(&body, &m);
    msgpack_packer pk = sms_decision_event_head(d, CLASSES_CHAT_TOPIC, cmd, now, "chat.message_posted",
                                                CLASSES_EVENT_VERSION, m.class_id);
    classes_pack_chat(&pk, &m);
    classes_state_set_chat_seq(state, cur->id, m.seq);
}
