/* command_table.c - runs a batch of commands through a service's table
 * (see command_table.h). */
#include "command_table.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "decision.h"

/* One command of the batch: its row, its decoded args, or why it failed
 * before deciding (validation, unknown type). */
typedef struct slot_s {
    const sms_command_t *cmd;
    const sms_command_row_t *row; /* NULL: unknown type */
    void *args;                   /* row->args_size bytes, or NULL */
    bool invalid;                 /* failure holds the answer */
    sms_decision_t failure;
} slot_t;

struct sms_command_batch_s {
    const sms_command_table_t *table;
    void *state;
    slot_t *slots;
    size_t n;
    size_t cursor; /* decisions come in the batch's order: the next slot to look at */
};

int sms_command_record_parse(const char *summary, sms_command_record_t *rec) {
    memset(rec, 0, sizeof *rec);
    size_t len = strlen(summary);
    if (len == 0 || len >= sizeof rec->text) return -1;
    memcpy(rec->text, summary, len + 1);
    char *p = rec->text, *end = rec->text + len;
    char *sp = memchr(p, ' ', (size_t)(end - p));
    char *status_end = sp ? sp : end;
    if (status_end - p != 3) return -1;
    int status = 0;
    for (char *q = p; q < status_end; q++) {
        if (*q < '0' || *q > '9') return -1;
        status = status * 10 + (*q - '0');
    }
    if (status < 100 || status > 599) return -1;
    rec->status = status;
    p = sp ? sp + 1 : end;
    while (p < end) {
        if (rec->argc == SMS_COMMAND_RECORD_WORDS) return -1;
        char *w_end = memchr(p, ' ', (size_t)(end - p));
        if (w_end == NULL) w_end = end;
        if (w_end == p) return -1; /* two spaces in a row (a trailing space only ends the record) */
        rec->argv[rec->argc++] = (sms_str_t){p, (size_t)(w_end - p)};
        *w_end = '\0';
        p = w_end + 1;
    }
    return 0;
}

int sms_command_record_u64(const sms_command_record_t *rec, size_t i, uint64_t *out) {
    if (i >= rec->argc || rec->argv[i].len == 0 || rec->argv[i].len > 19) return -1;
    uint64_t v = 0;
    for (size_t k = 0; k < rec->argv[i].len; k++) {
        char c = rec->argv[i].ptr[k];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (uint64_t)(c - '0'); /* 19 digits cannot overflow */
    }
    *out = v;
    return 0;
}

int sms_command_record_is(const sms_command_record_t *rec, size_t i, const char *s) {
    return i < rec->argc && rec->argv[i].len == strlen(s) && memcmp(rec->argv[i].ptr, s, rec->argv[i].len) == 0;
}

const sms_command_row_t *sms_command_find(const sms_command_table_t *t, sms_str_t type) {
    for (size_t i = 0; i < t->n_rows; i++)
        if (strlen(t->rows[i].type) == type.len && memcmp(t->rows[i].type, type.ptr, type.len) == 0)
            return &t->rows[i];
    return NULL;
}

/* Finds cmd's row and decodes its data; a failure stays in the slot. */
static void slot_validate(const sms_command_table_t *t, slot_t *s) {
    s->row = sms_command_find(t, s->cmd->type);
    if (s->row == NULL) {
        sms_decision_init(&s->failure);
        sms_decision_fail(&s->failure, 400, "unknown_command", "unknown command type %.*s", (int)s->cmd->type.len,
                          s->cmd->type.ptr);
        s->invalid = true;
        return;
    }
    if (s->row->args_size) s->args = sms_calloc(1, s->row->args_size);
    if (s->row->validate == NULL) return;
    sms_decision_init(&s->failure);
    if (s->row->validate(s->cmd, s->args, &s->failure) != 0) {
        s->invalid = true;
        return;
    }
    sms_decision_close(&s->failure);
}

static void slot_close(slot_t *s) {
    if (s->args && s->row && s->row->args_clear) s->row->args_clear(s->args);
    sms_free(s->args);
    if (s->invalid) sms_decision_close(&s->failure);
}

sms_command_batch_t *sms_command_batch_begin(const sms_command_table_t *t, redisContext *rc,
                                             const sms_command_t *const *cmds, size_t n) {
    sms_command_batch_t *b = sms_calloc(1, sizeof *b);
    b->table = t;
    b->n = n;
    b->slots = sms_calloc(n ? n : 1, sizeof *b->slots);
    b->state = t->state_new(rc);
    for (size_t i = 0; i < n; i++) {
        slot_t *s = &b->slots[i];
        s->cmd = cmds[i];
        slot_validate(t, s);
        if (!s->invalid && s->row->prefetch) s->row->prefetch(b->state, s->cmd, s->args);
    }
    if (t->state_fetch(b->state) != 0) {
        sms_command_batch_end(b);
        return NULL;
    }
    return b;
}

void *sms_command_batch_state(sms_command_batch_t *b) { return b->state; }

/* The slot of cmd: decisions come in the batch's order (some skipped), so
 * the search starts where the last one was found. */
static slot_t *find_slot(sms_command_batch_t *b, const sms_command_t *cmd) {
    for (size_t k = 0; k < b->n; k++) {
        size_t i = (b->cursor + k) % b->n;
        if (b->slots[i].cmd == cmd) {
            b->cursor = i + 1;
            return &b->slots[i];
        }
    }
    return NULL;
}

void sms_command_batch_decide(sms_command_batch_t *b, const sms_command_t *cmd, int64_t now_ms, sms_decision_t *d) {
    slot_t *s = find_slot(b, cmd);
    if (s == NULL) {
        sms_decision_fail(d, 500, "internal", "a command decided outside its batch");
        return;
    }
    if (s->invalid) {
        sms_decision_move(d, &s->failure);
        sms_decision_init(&s->failure); /* moved: the slot's close frees an empty one */
        return;
    }
    s->row->decide(b->state, cmd, s->args, now_ms, d);
}

void sms_command_batch_end(sms_command_batch_t *b) {
    if (b == NULL) return;
    for (size_t i = 0; i < b->n; i++) slot_close(&b->slots[i]);
    if (b->state) b->table->state_free(b->state);
    sms_free(b->slots);
    sms_free(b);
}

void sms_command_replay(const sms_command_table_t *t, redisContext *rc, const sms_command_t *cmd,
                        const char *summary, sms_decision_t *d) {
    const sms_command_row_t *row = sms_command_find(t, cmd->type);
    sms_command_record_t rec;
    if (row == NULL || row->reply == NULL || sms_command_record_parse(summary, &rec) != 0) {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
        return;
    }
    row->reply(rc, cmd, &rec, d);
}
