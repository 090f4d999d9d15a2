/* blobstore.h - where uploaded files live: write a blob in chunks, commit it
 * with a small metadata document, read it back in chunks.
 *
 * The gateway's upload and download routes (services/gateway/routes_files.c)
 * are the callers. Everything is asynchronous on the caller's libuv loop:
 * chunk I/O is uv_fs_write/uv_fs_read, multi-step work (create, commit,
 * open, abort) runs as one uv_queue_work item on libuv's thread pool, and
 * every callback runs on the loop thread. The loop never waits on the disk.
 *
 * Backend today: a local directory. For blob id X under root R:
 *   R/X.part      being written (created O_EXCL: it doubles as the writer's lock)
 *   R/X.bin       the committed bytes
 *   R/X.json      the metadata document; its presence is what "committed" means
 *   R/X.json.tmp  metadata being written during a commit
 * A commit is fsync(part), metadata to .json.tmp + fsync, link(part, bin),
 * rename(json.tmp, json), unlink(part); any failure undoes what it did. An
 * aborted or failed write leaves nothing behind. The interface says nothing
 * of files, so an S3-compatible backend can replace this one later (multipart
 * upload per writer, object metadata or a sidecar object for the document).
 *
 * Ids are 1..64 characters of [A-Za-z0-9_-] (the gateway uses sms_id_new).
 * Errors are negative errno values: -EEXIST (committed already, or being
 * written by another writer), -ENOENT (no such committed blob), -EINVAL (bad
 * id or argument), -EBUSY (an operation of this writer/reader is in flight),
 * anything else from the filesystem. Functions that return an error never
 * call their callback. Not thread-safe: use from the loop thread only. */
#ifndef SMS_BLOBSTORE_H
#define SMS_BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#define SMS_BLOB_ID_MAX 64
#define SMS_BLOB_META_MAX (64 * 1024) /* largest metadata document */

/* Caller-owned; the fields are the backend's. */
typedef struct sms_blobstore_s {
    uv_loop_t *loop;
    char root[512];
} sms_blobstore_t;

typedef struct sms_blob_writer_s sms_blob_writer_t;
typedef struct sms_blob_reader_s sms_blob_reader_t;

/* Prepares root (creating it and its parents) and removes leftovers of
 * writes that a crash interrupted (".part"/".tmp" files untouched for an
 * hour). Blocking: call at start-up, before the loop runs. Returns 0 or a
 * negative errno (-ENAMETOOLONG if root does not fit). */
int sms_blobstore_init(sms_blobstore_t *bs, uv_loop_t *loop, const char *root);
/* Nothing to release today; writers and readers do not refer to bs, so it
 * may be closed while their last operations finish. */
void sms_blobstore_close(sms_blobstore_t *bs);

/* True if id is usable as a blob id. */
int sms_blob_id_valid(const char *id);

/* ---- writing ---- */

/* status 0: w is open for sms_blob_append. Otherwise w is NULL and status
 * is -EEXIST (committed, or another writer has it) or another error. */
typedef void (*sms_blob_open_cb)(void *data, sms_blob_writer_t *w, int status);
typedef void (*sms_blob_done_cb)(void *data, int status);

/* Starts a new blob. Returns 0 (cb will run) or a negative errno. */
int sms_blob_create(sms_blobstore_t *bs, const char *id, sms_blob_open_cb cb, void *data);
/* Appends len (> 0) bytes; buf must stay valid until cb. One append at a
 * time. Also feeds the running SHA-256. cb gets 0 or a negative errno (the
 * writer is then only good for sms_blob_abort). */
int sms_blob_append(sms_blob_writer_t *w, const void *buf, size_t len, sms_blob_done_cb cb, void *data);
/* Bytes appended so far. */
uint64_t sms_blob_writer_size(const sms_blob_writer_t *w);
/* Lower-case hex SHA-256 of everything appended (65 bytes with the NUL).
 * Call once, after the last append; further appends are refused. */
int sms_blob_writer_sha256(sms_blob_writer_t *w, char *hex);
/* Makes the blob durable and visible with its metadata document (meta,
 * meta_len bytes, copied; at most SMS_BLOB_META_MAX). Takes w over: it is
 * freed before cb runs, whatever the outcome. cb gets 0, -EEXIST (someone
 * committed the same id meanwhile: this blob is discarded) or another error
 * (nothing is left behind). */
int sms_blob_commit(sms_blob_writer_t *w, const char *meta, size_t meta_len, sms_blob_done_cb cb, void *data);
/* Discards the blob. Takes w over; an append in flight finishes first (its
 * callback still runs), then the temp file is removed and w freed. */
void sms_blob_abort(sms_blob_writer_t *w);

/* ---- reading ---- */

/* status 0: r is open, with its size and metadata. Otherwise r is NULL and
 * status is -ENOENT (never committed) or another error. */
typedef void (*sms_blob_read_open_cb)(void *data, sms_blob_reader_t *r, int status);
/* n > 0 bytes were read into the buffer, 0 at the end, or a negative errno. */
typedef void (*sms_blob_read_cb)(void *data, ssize_t n);

int sms_blob_open(sms_blobstore_t *bs, const char *id, sms_blob_read_open_cb cb, void *data);
uint64_t sms_blob_reader_size(const sms_blob_reader_t *r);
/* The metadata document given to sms_blob_commit, NUL-terminated (not
 * counted in *len); owned by r. */
const char *sms_blob_reader_meta(const sms_blob_reader_t *r, size_t *len);
/* Reads up to len bytes at the reader's position into buf (valid until cb).
 * One read at a time. */
int sms_blob_read(sms_blob_reader_t *r, void *buf, size_t len, sms_blob_read_cb cb, void *data);
/* Takes r over and frees it once a read in flight has finished (its
 * callback still runs). */
void sms_blob_close(sms_blob_reader_t *r);

/* ---- metadata only ---- */

/* status 0 with the blob's size and metadata (valid during the call), or
 * -ENOENT / another error with size 0 and meta NULL. */
typedef void (*sms_blob_stat_cb)(void *data, int status, uint64_t size, const char *meta, size_t meta_len);
int sms_blob_stat(sms_blobstore_t *bs, const char *id, sms_blob_stat_cb cb, void *data);

/* ---- pruning (deleting files the rest of the system has let go of) ---- */

/* status 0 with n ids (valid during the call) of committed blobs whose
 * metadata is older than the cutoff, or a negative errno with n 0. */
typedef void (*sms_blob_list_cb)(void *data, int status, char (*ids)[SMS_BLOB_ID_MAX + 1], size_t n);
/* Lists, in id order, the first max committed blobs with an id after
 * `after` ("" = from the start) whose metadata was written before before_s
 * (seconds since the epoch), on the thread pool: calling again with the
 * last id walks the whole store a page at a time. 0 or a negative errno. */
int sms_blob_list_committed_before(sms_blobstore_t *bs, const char *after, int64_t before_s, size_t max,
                                   sms_blob_list_cb cb, void *data);
/* Deletes committed blob id: its metadata first (so it is no longer
 * committed: a reader opening it now gets -ENOENT), then its bytes. cb gets
 * 0 or a negative errno (-ENOENT: there was nothing). 0 or a negative errno. */
int sms_blob_delete(sms_blobstore_t *bs, const char *id, sms_blob_done_cb cb, void *data);

#endif
