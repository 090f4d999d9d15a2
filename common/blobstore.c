/* blobstore.c - the local-directory blob store (see blobstore.h).
 *
 * Chunk writes and reads are uv_fs_write/uv_fs_read on the caller's loop.
 * Create, commit, abort and open are short sequences of blocking syscalls
 * that run together as one uv_queue_work item on libuv's thread pool; while
 * one runs, only that work function touches the writer or reader. */
#include "blobstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"

#define PATH_CAP (sizeof(((sms_blobstore_t *)0)->root) + SMS_BLOB_ID_MAX + 16)
#define STALE_AFTER_S 3600 /* a temp file untouched this long belongs to a writer that died */

struct sms_blob_writer_s {
    uv_loop_t *loop;
    uv_fs_t fs;
    uv_work_t work;
    int fd;
    int status;               /* result of the work item */
    EVP_MD_CTX *md;
    uint64_t size;
    const char *wbuf;         /* rest of the append in flight */
    size_t wleft;
    sms_blob_open_cb open_cb;
    sms_blob_done_cb done_cb;
    void *data;
    char *meta;
    size_t meta_len;
    unsigned busy : 1;        /* an append is in flight */
    unsigned aborting : 1;    /* sms_blob_abort was called during it */
    unsigned failed : 1;      /* an append failed: only abort is left */
    unsigned digested : 1;
    char part[PATH_CAP], bin[PATH_CAP], json[PATH_CAP], json_tmp[PATH_CAP];
};

struct sms_blob_reader_s {
    uv_loop_t *loop;
    uv_fs_t fs;
    uv_work_t work;
    int fd;
    int status;
    uint64_t size, pos;
    char *meta;
    size_t meta_len;
    sms_blob_read_open_cb open_cb;
    sms_blob_stat_cb stat_cb; /* set: a stat, the file is closed by the work item */
    sms_blob_read_cb read_cb;
    void *data;
    unsigned busy : 1;
    unsigned closing : 1;
    char bin[PATH_CAP], json[PATH_CAP];
};

/* ---- paths and start-up ---- */

int sms_blob_id_valid(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > SMS_BLOB_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static void path_of(char *out, const sms_blobstore_t *bs, const char *id, const char *suffix) {
    /* Cannot truncate: root, id and suffix are bounded by PATH_CAP. */
    snprintf(out, PATH_CAP, "%s/%s%s", bs->root, id, suffix);
}

static int mkdir_p(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0750);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -errno;
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST) return -errno;
    return 0;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Removes what writers that died mid-way left: temp files, and a .bin whose
 * commit never renamed its .json into place. Only old ones: another gateway
 * sharing the directory may be writing the young ones right now. */
static void sweep(const sms_blobstore_t *bs) {
    DIR *d = opendir(bs->root);
    if (d == NULL) return; /* nothing to sweep is not an error worth failing start-up */
    time_t cutoff = time(NULL) - STALE_AFTER_S;
    struct dirent *e;
    char path[PATH_CAP + 256], json[PATH_CAP + 256];
    while ((e = readdir(d)) != NULL) {
        int temp = has_suffix(e->d_name, ".part") || has_suffix(e->d_name, ".tmp");
        int bin = has_suffix(e->d_name, ".bin");
        if (!temp && !bin) continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", bs->root, e->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime > cutoff) continue;
        if (bin) {
            snprintf(json, sizeof json, "%.*s.json", (int)(strlen(path) - 4), path);
            if (access(json, F_OK) == 0 || errno != ENOENT) continue; /* committed */
        }
        (void)unlink(path); /* best effort: a leftover we cannot remove is retried next start */
    }
    closedir(d);
}

int sms_blobstore_init(sms_blobstore_t *bs, uv_loop_t *loop, const char *root) {
    memset(bs, 0, sizeof *bs);
    bs->loop = loop;
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') n--;
    if (n == 0 || n >= sizeof bs->root) return -ENAMETOOLONG;
    memcpy(bs->root, root, n);
    bs->root[n] = '\0';
    int rc = mkdir_p(bs->root);
    if (rc != 0) return rc;
    sweep(bs);
    return 0;
}

void sms_blobstore_close(sms_blobstore_t *bs) { bs->loop = NULL; }

/* ---- small blocking helpers for the work items (thread pool only) ---- */

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads the whole file at path (at most SMS_BLOB_META_MAX bytes) into a
 * NUL-terminated heap string. */
static int read_small(const char *path, char **out, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &st) != 0) rc = -errno;
    else if (st.st_size > SMS_BLOB_META_MAX) rc = -EFBIG;
    if (rc == 0) {
        buf = sms_malloc((size_t)st.st_size + 1);
        while (got < (size_t)st.st_size) {
            ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                rc = r < 0 ? -errno : -EIO;
                break;
            }
            got += (size_t)r;
        }
    }
    close(fd);
    if (rc != 0) {
        sms_free(buf);
        return rc;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

/* ---- writer ---- */

static void writer_free(sms_blob_writer_t *w) {
    if (w->md) EVP_MD_CTX_free(w->md);
    sms_free(w->meta);
    sms_free(w);
}

static void create_work(uv_work_t *req) {
    sms_blob_writer_t *w = req->data;
    struct stat st;
    if (stat(w->json, &st) == 0) {
        w->status = -EEXIST; /* committed already */
        return;
    }
    if (errno != ENOENT) {
        w->status = -errno;
        return;
    }
    /* O_EXCL: the .part file is the lock that keeps a second writer of the
     * same id out until this one has committed or aborted. */
    w->fd = open(w->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    w->status = w->fd < 0 ? -errno : 0;
}

static void create_done(uv_work_t *req, int status) {
    sms_blob_writer_t *w = req->data;
    if (status == 0 && w->status == 0) {
        w->md = EVP_MD_CTX_new();
        if (w->md == NULL || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) w->status = -ENOMEM;
    }
    int rc = status < 0 ? status : w->status;
    if (rc != 0) {
        if (w->fd >= 0) {
            /* Only reachable if the digest could not start: undo the create. */
            (void)close(w->fd);
            (void)unlink(w->part);
        }
        sms_blob_open_cb cb = w->open_cb;
        void *data = w->data;
        writer_free(w);
        cb(data, NULL, rc);
        return;
    }
    w->open_cb(w->data, w, 0);
}

int sms_blob_create(sms_blobstore_t *bs, const char *id, sms_blob_open_cb cb, void *data) {
    if (!sms_blob_id_valid(id) || cb == NULL || bs->loop == NULL) return -EINVAL;
    sms_blob_writer_t *w = sms_calloc(1, sizeof *w);
    w->loop = bs->loop;
    w->fd = -1;
    w->open_cb = cb;
    w->data = data;
    path_of(w->part, bs, id, ".part");
    path_of(w->bin, bs, id, ".bin");
    path_of(w->json, bs, id, ".json");
    path_of(w->json_tmp, bs, id, ".json.tmp");
    w->work.data = w;
    int rc = uv_queue_work(w->loop, &w->work, create_work, create_done);
    if (rc != 0) {
        writer_free(w);
        return rc;
    }
    return 0;
}

static void abort_work(uv_work_t *req) {
    sms_blob_writer_t *w = req->data;
    if (w->fd >= 0) (void)close(w->fd); /* the file is removed next: nothing to flush */
    (void)unlink(w->part);              /* best effort; a leftover is swept at the next start */
}

static void abort_done(uv_work_t *req, int status) {
    (void)status; /* cancelled or not, abort_work's effect is all there is */
    writer_free(req->data);
}

static void start_abort(sms_blob_writer_t *w) {
    w->work.data = w;
    if (uv_queue_work(w->loop, &w->work, abort_work, abort_done) != 0) {
        /* Cannot happen with a live loop and a work callback; never leak the file. */
        abort_work(&w->work);
        writer_free(w);
    }
}

static int write_next(sms_blob_writer_t *w);

static void append_finish(sms_blob_writer_t *w, int status) {
    w->busy = 0;
    if (status < 0) w->failed = 1;
    int aborting = w->aborting;
    w->done_cb(w->data, status);
    if (aborting) start_abort(w); /* abort was asked for while we were busy */
}

static void on_write(uv_fs_t *fs) {
    sms_blob_writer_t *w = fs->data;
    ssize_t n = fs->result;
    uv_fs_req_cleanup(fs);
    if (n < 0) {
        append_finish(w, (int)n);
        return;
    }
    if (n == 0) {
        append_finish(w, -EIO);
        return;
    }
    w->size += (uint64_t)n;
    w->wbuf += n;
    w->wleft -= (size_t)n;
    if (w->wleft == 0) {
        append_finish(w, 0);
        return;
    }
    int rc = write_next(w); /* a short write: the rest */
    if (rc < 0) append_finish(w, rc);
}

static int write_next(sms_blob_writer_t *w) {
    size_t n = w->wleft > (1u << 30) ? (1u << 30) : w->wleft;
    uv_buf_t b = uv_buf_init((char *)w->wbuf, (unsigned)n);
    w->fs.data = w;
    return uv_fs_write(w->loop, &w->fs, w->fd, &b, 1, (int64_t)w->size, on_write);
}

int sms_blob_append(sms_blob_writer_t *w, const void *buf, size_t len, sms_blob_done_cb cb, void *data) {
    if (w->busy || w->aborting) return -EBUSY;
    if (w->failed || w->digested || len == 0 || cb == NULL) return -EINVAL;
    if (EVP_DigestUpdate(w->md, buf, len) != 1) return -ENOMEM;
    w->busy = 1;
    w->wbuf = buf;
    w->wleft = len;
    w->done_cb = cb;
    w->data = data;
    int rc = write_next(w);
    if (rc < 0) {
        w->busy = 0;
        w->failed = 1; /* the digest already has these bytes */
        return rc;
    }
    return 0;
}

uint64_t sms_blob_writer_size(const sms_blob_writer_t *w) { return w->size; }

int sms_blob_writer_sha256(sms_blob_writer_t *w, char *hex) {
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    hex[0] = '\0';
    if (w->busy || w->digested) return -EBUSY;
    if (EVP_DigestFinal_ex(w->md, md, &n) != 1 || n != 32) return -EINVAL;
    w->digested = 1;
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * n] = '\0';
    return 0;
}

static void commit_work(uv_work_t *req) {
    sms_blob_writer_t *w = req->data;
    int st = 0, mfd = -1, linked = 0;
    if (fsync(w->fd) != 0) st = -errno;
    if (close(w->fd) != 0 && st == 0) st = -errno;
    w->fd = -1;
    if (st == 0) {
        mfd = open(w->json_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (mfd < 0) st = -errno;
    }
    if (st == 0) st = write_all(mfd, w->meta, w->meta_len);
    if (st == 0 && fsync(mfd) != 0) st = -errno;
    if (mfd >= 0 && close(mfd) != 0 && st == 0) st = -errno;
    if (st == 0) {
        int err = link(w->part, w->bin) == 0 ? 0 : errno;
        if (err == 0) {
            linked = 1;
        } else if (err == EEXIST && access(w->json, F_OK) != 0 && errno == ENOENT) {
            /* A .bin without its .json is what a crash mid-commit leaves. Our
             * .part is the lock, so no other commit of this id is running:
             * the old .bin is garbage and may go. */
            if (unlink(w->bin) == 0 && link(w->part, w->bin) == 0) linked = 1;
            else st = -errno;
        } else {
            st = -err; /* EEXIST: committed by another writer meanwhile */
        }
    }
    /* The .json appears last: from here on the blob is committed. */
    if (st == 0 && rename(w->json_tmp, w->json) != 0) st = -errno;
    if (st != 0) {
        (void)unlink(w->json_tmp); /* best effort cleanup; the sweep catches leftovers */
        if (linked) (void)unlink(w->bin);
    }
    /* On success the bytes live on as .bin (a second link to the same inode). */
    (void)unlink(w->part);
    w->status = st;
}

static void commit_done(uv_work_t *req, int status) {
    sms_blob_writer_t *w = req->data;
    int rc = status < 0 ? status : w->status;
    sms_blob_done_cb cb = w->done_cb;
    void *data = w->data;
    writer_free(w);
    cb(data, rc);
}

int sms_blob_commit(sms_blob_writer_t *w, const char *meta, size_t meta_len, sms_blob_done_cb cb, void *data) {
    if (w->busy || w->aborting) return -EBUSY;
    if (w->failed || cb == NULL || meta_len > SMS_BLOB_META_MAX) return -EINVAL;
    w->meta = sms_malloc(meta_len + 1);
    memcpy(w->meta, meta, meta_len);
    w->meta[meta_len] = '\0';
    w->meta_len = meta_len;
    w->done_cb = cb;
    w->data = data;
    w->work.data = w;
    int rc = uv_queue_work(w->loop, &w->work, commit_work, commit_done);
    if (rc != 0) {
        sms_free(w->meta);
        w->meta = NULL;
        return rc;
    }
    return 0;
}

void sms_blob_abort(sms_blob_writer_t *w) {
    if (w->busy) {
        w->aborting = 1; /* append_finish starts the cleanup */
        return;
    }
    start_abort(w);
}

/* ---- reader ---- */

static void reader_free(sms_blob_reader_t *r) {
    sms_free(r->meta);
    sms_free(r);
}

static void open_work(uv_work_t *req) {
    sms_blob_reader_t *r = req->data;
    int rc = read_small(r->json, &r->meta, &r->meta_len);
    if (rc != 0) {
        r->status = rc;
        return;
    }
    r->fd = open(r->bin, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        r->status = -errno;
        return;
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        r->status = -errno;
    } else {
        r->size = (uint64_t)st.st_size;
        r->status = 0;
    }
    if (r->status != 0 || r->stat_cb) {
        (void)close(r->fd); /* read-only: nothing to lose */
        r->fd = -1;
    }
}

static void open_done(uv_work_t *req, int status) {
    sms_blob_reader_t *r = req->data;
    int rc = status < 0 ? status : r->status;
    if (r->stat_cb) {
        if (rc == 0) r->stat_cb(r->data, 0, r->size, r->meta, r->meta_len);
        else r->stat_cb(r->data, rc, 0, NULL, 0);
        reader_free(r);
        return;
    }
    if (rc != 0) {
        if (r->fd >= 0) (void)close(r->fd); /* only if the work was cancelled after opening */
        sms_blob_read_open_cb cb = r->open_cb;
        void *data = r->data;
        reader_free(r);
        cb(data, NULL, rc);
        return;
    }
    r->open_cb(r->data, r, 0);
}

static int reader_start(sms_blobstore_t *bs, const char *id, sms_blob_read_open_cb open_cb, sms_blob_stat_cb stat_cb,
                        void *data) {
    if (!sms_blob_id_valid(id) || bs->loop == NULL) return -EINVAL;
    sms_blob_reader_t *r = sms_calloc(1, sizeof *r);
    r->loop = bs->loop;
    r->fd = -1;
    r->open_cb = open_cb;
    r->stat_cb = stat_cb;
    r->data = data;
    path_of(r->bin, bs, id, ".bin");
    path_of(r->json, bs, id, ".json");
    r->work.data = r;
    int rc = uv_queue_work(r->loop, &r->work, open_work, open_done);
    if (rc != 0) {
        reader_free(r);
        return rc;
    }
    return 0;
}

int sms_blob_open(sms_blobstore_t *bs, const char *id, sms_blob_read_open_cb cb, void *data) {
    if (cb == NULL) return -EINVAL;
    return reader_start(bs, id, cb, NULL, data);
}

int sms_blob_stat(sms_blobstore_t *bs, const char *id, sms_blob_stat_cb cb, void *data) {
    if (cb == NULL) return -EINVAL;
    return reader_start(bs, id, NULL, cb, data);
}

uint64_t sms_blob_reader_size(const sms_blob_reader_t *r) { return r->size; }

const char *sms_blob_reader_meta(const sms_blob_reader_t *r, size_t *len) {
    if (len) *len = r->meta_len;
    return r->meta;
}

static void on_closed(uv_fs_t *fs) {
    sms_blob_reader_t *r = fs->data;
    uv_fs_req_cleanup(fs); /* a failed close of a read-only file loses nothing */
    reader_free(r);
}

static void start_close(sms_blob_reader_t *r) {
    r->fs.data = r;
    if (uv_fs_close(r->loop, &r->fs, r->fd, on_closed) != 0) {
        (void)close(r->fd); /* cannot happen with a live loop; never leak the fd */
        reader_free(r);
    }
}

static void on_read(uv_fs_t *fs) {
    sms_blob_reader_t *r = fs->data;
    ssize_t n = fs->result;
    uv_fs_req_cleanup(fs);
    r->busy = 0;
    if (n > 0) r->pos += (uint64_t)n;
    int closing = r->closing;
    r->read_cb(r->data, n);
    if (closing) start_close(r);
}

int sms_blob_read(sms_blob_reader_t *r, void *buf, size_t len, sms_blob_read_cb cb, void *data) {
    if (r->busy || r->closing) return -EBUSY;
    if (len == 0 || cb == NULL) return -EINVAL;
    uv_buf_t b = uv_buf_init(buf, (unsigned)(len > (1u << 30) ? (1u << 30) : len));
    r->read_cb = cb;
    r->data = data;
    r->fs.data = r;
    int rc = uv_fs_read(r->loop, &r->fs, r->fd, &b, 1, (int64_t)r->pos, on_read);
    if (rc < 0) return rc;
    r->busy = 1;
    return 0;
}

void sms_blob_close(sms_blob_reader_t *r) {
    if (r->busy) {
        r->closing = 1; /* on_read closes after its callback */
        return;
    }
    start_close(r);
}

/* ---- pruning ---- */

typedef struct list_op_s {
    uv_work_t work;
    char root[sizeof(((sms_blobstore_t *)0)->root)];
    time_t before;
    char after[SMS_BLOB_ID_MAX + 1];
    size_t max, n;
    int status;
    char (*ids)[SMS_BLOB_ID_MAX + 1];
    sms_blob_list_cb cb;
    void *data;
} list_op_t;

static void list_work(uv_work_t *req) {
    list_op_t *op = req->data;
    DIR *d = opendir(op->root);
    if (d == NULL) {
        op->status = -errno;
        return;
    }
    struct dirent *e;
    char path[PATH_CAP + 256];
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (!has_suffix(e->d_name, ".json") || len - 5 > SMS_BLOB_ID_MAX) continue;
        char id[SMS_BLOB_ID_MAX + 1];
        memcpy(id, e->d_name, len - 5);
        id[len - 5] = '\0';
        if (!sms_blob_id_valid(id) || strcmp(id, op->after) <= 0) continue;
        /* Keep the max smallest ids (sorted): a page of the store in id order. */
        if (op->n == op->max && strcmp(id, op->ids[op->n - 1]) >= 0) continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", op->root, e->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime >= op->before) continue;
        size_t at = op->n < op->max ? op->n++ : op->n - 1;
        while (at > 0 && strcmp(op->ids[at - 1], id) > 0) {
            memcpy(op->ids[at], op->ids[at - 1], sizeof op->ids[at]);
            at--;
        }
        memcpy(op->ids[at], id, len - 4);
    }
    closedir(d);
}

static void list_done(uv_work_t *req, int status) {
    list_op_t *op = req->data;
    if (status < 0 && op->status == 0) op->status = status;
    op->cb(op->data, op->status, op->ids, op->status == 0 ? op->n : 0);
    sms_free(op->ids);
    sms_free(op);
}

int sms_blob_list_committed_before(sms_blobstore_t *bs, const char *after, int64_t before_s, size_t max,
                                   sms_blob_list_cb cb, void *data) {
    if (bs->loop == NULL || cb == NULL || max == 0 || after == NULL || strlen(after) > SMS_BLOB_ID_MAX) return -EINVAL;
    list_op_t *op = sms_calloc(1, sizeof *op);
    memcpy(op->after, after, strlen(after) + 1);
    memcpy(op->root, bs->root, sizeof op->root);
    op->before = (time_t)before_s;
    op->max = max;
    op->ids = sms_calloc(max, sizeof *op->ids);
    op->cb = cb;
    op->data = data;
    op->work.data = op;
    int rc = uv_queue_work(bs->loop, &op->work, list_work, list_done);
    if (rc != 0) {
        sms_free(op->ids);
        sms_free(op);
    }
    return rc;
}

typedef struct delete_op_s {
    uv_work_t work;
    char json[PATH_CAP], bin[PATH_CAP];
    int status;
    sms_blob_done_cb cb;
    void *data;
} delete_op_t;

static void delete_work(uv_work_t *req) {
    delete_op_t *op = req->data;
    if (unlink(op->json) != 0) {
        op->status = -errno;
        if (op->status != -ENOENT) return; /* still committed: keep its bytes too */
    }
    if (unlink(op->bin) != 0 && errno != ENOENT && op->status == 0) op->status = -errno;
}

static void delete_done(uv_work_t *req, int status) {
    delete_op_t *op = req->data;
    if (status < 0 && op->status == 0) op->status = status;
    if (op->cb) op->cb(op->data, op->status);
    sms_free(op);
}

int sms_blob_delete(sms_blobstore_t *bs, const char *id, sms_blob_done_cb cb, void *data) {
    if (bs->loop == NULL || !sms_blob_id_valid(id)) return -EINVAL;
    delete_op_t *op = sms_calloc(1, sizeof *op);
    path_of(op->json, bs, id, ".json");
    path_of(op->bin, bs, id, ".bin");
    op->cb = cb;
    op->data = data;
    op->work.data = op;
    int rc = uv_queue_work(bs->loop, &op->work, delete_work, delete_done);
    if (rc != 0) sms_free(op);
    return rc;
}
