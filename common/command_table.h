/* command_table.h - a service's commands, named once, in one table.
 *
 * Every service lists the commands it accepts as rows of a
 * sms_command_table_t (services/<svc>/commands.c), the way Redis lists its
 * commands in one table and nginx a module's directives in an ngx_command_t
 * array: a row names the type ("class.create") and the functions of each
 * phase of that command's life. The worker (worker.h, ops.commands) runs a
 * batch through the table; no service matches a command type as a string
 * anywhere else.
 *
 * A command's life, and who calls what (all on the worker's thread):
 *
 *   begin    sms_command_batch_begin: the table's state_new(rc); then for
 *            each new command of the batch, in order: find its row (unknown
 *            type: answered 400 unknown_command), validate(cmd, args, d)
 *            decodes its data once into the row's typed args (args_size
 *            bytes, zeroed; a failure fills d and the command is answered
 *            with it), then prefetch(state, cmd, args) notes what it will
 *            read; then state_fetch(state) reads all of it (one pipeline).
 *   decide   sms_command_batch_decide, in the batch's order: decide(state,
 *            cmd, args, now_ms, d) says what happens (reply, events) and
 *            records its effect in the state for the batch's later
 *            commands (the overlay).
 *   reply    sms_command_replay, for a command handled before (its id is
 *            in the view's cmds hash): reply(rc, cmd, record, d) answers it
 *            again from the view and the record its projection wrote.
 *   end      sms_command_batch_end: args_clear(args) for each row that has
 *            one, then state_free(state).
 *
 * Events are not in this table: a view projects events by their type
 * (projection.c's own table), and they are not one-to-one with commands (a
 * view projects other services' events; a fan-out writes events no command
 * names). */
#ifndef SMS_COMMAND_TABLE_H
#define SMS_COMMAND_TABLE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

struct sms_decision_s; /* decision.h */

/* The record a projection wrote for a command in the view's cmds hash, read
 * back: "<status> <word> <word> ...", words separated by one space. The
 * words' meaning is the row's (its reply function and its projection agree
 * on it); argv point into the record's own copy. */
#define SMS_COMMAND_RECORD_WORDS 8
/* Bytes a record may have: a webhook registration's record holds its URL
 * (up to 2048 bytes, twice that JSON-escaped). */
#define SMS_COMMAND_RECORD_MAX 8192
typedef struct sms_command_record_s {
    int status;
    size_t argc;
    sms_str_t argv[SMS_COMMAND_RECORD_WORDS];
    char text[SMS_COMMAND_RECORD_MAX]; /* the words' storage (a longer record is refused) */
} sms_command_record_t;

/* Reads summary into rec. 0, or -1 when it is not "<status> words..."
 * (status 100..599, at most SMS_COMMAND_RECORD_WORDS words, fits text). */
int sms_command_record_parse(const char *summary, sms_command_record_t *rec);
/* Word i as an unsigned decimal (0, or -1 if absent or not a number). */
int sms_command_record_u64(const sms_command_record_t *rec, size_t i, uint64_t *out);
/* Whether word i is s. */
int sms_command_record_is(const sms_command_record_t *rec, size_t i, const char *s);

typedef struct sms_command_row_s {
    const char *type;  /* "class.create": the command envelope's type */
    size_t args_size;  /* bytes of the typed args validate fills (0: none) */
    /* Decodes and checks cmd's data into args (zeroed, args_size bytes;
     * may borrow from cmd, which outlives the batch's use of args). 0, or
     * -1 after filling d with the failure (sms_decision_fail/_error). */
    int (*validate)(const sms_command_t *cmd, void *args, struct sms_decision_s *d);
    /* Optional: notes in state what decide will read (state_fetch reads it). */
    void (*prefetch)(void *state, const sms_command_t *cmd, const void *args);
    /* Decides a validated command at now_ms: fills d (status, body, events;
     * or the failure) and records the effect in state for later commands. */
    void (*decide)(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                   struct sms_decision_s *d);
    /* Answers again a command handled before, from the view (rc) and its
     * record; cmd is the command at hand (same id, same data). */
    void (*reply)(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                  struct sms_decision_s *d);
    /* Optional: frees what validate allocated in args. */
    void (*args_clear)(void *args);
} sms_command_row_t;

typedef struct sms_command_table_s {
    const sms_command_row_t *rows;
    size_t n_rows;
    /* The batch's decider state: created empty, filled by the rows'
     * prefetch calls and one state_fetch (0, or -1 when Redis failed: the
     * batch is fetched again), freed at the end of the batch. */
    void *(*state_new)(redisContext *rc);
    int (*state_fetch)(void *state);
    void (*state_free)(void *state);
} sms_command_table_t;

#define SMS_COMMAND_ROWS(rows) (rows), (sizeof(rows) / sizeof((rows)[0]))

/* The row for type, or NULL. */
const sms_command_row_t *sms_command_find(const sms_command_table_t *t, sms_str_t type);

/* One batch run through a table. */
typedef struct sms_command_batch_s sms_command_batch_t;

/* Creates the state, validates and prefetches cmds[0..n) (pointers kept:
 * they must outlive the batch). NULL when the state could not be read
 * (Redis): nothing is held then. */
sms_command_batch_t *sms_command_batch_begin(const sms_command_table_t *t, redisContext *rc,
                                             const sms_command_t *const *cmds, size_t n);
/* The decider state (the notifications fan-out decides with it too). */
void *sms_command_batch_state(sms_command_batch_t *b);
/* Decides cmd, one of the batch's cmds, into d (initialised by the worker):
 * its validation failure, unknown_command, or its row's decide. */
void sms_command_batch_decide(sms_command_batch_t *b, const sms_command_t *cmd, int64_t now_ms,
                              struct sms_decision_s *d);
void sms_command_batch_end(sms_command_batch_t *b);

/* Answers cmd again from its record (summary, as the view stores it). */
void sms_command_replay(const sms_command_table_t *t, redisContext *rc, const sms_command_t *cmd,
                        const char *summary, struct sms_decision_s *d);

#endif
