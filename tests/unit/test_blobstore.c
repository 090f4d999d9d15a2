/* test_blobstore.c - common/blobstore on a temp directory and a private uv
 * loop: write in chunks, SHA-256, commit, stat, read back; one writer per
 * id (-EEXIST), committed ids refused, aborts (also with an append in
 * flight) and failed commits leave nothing behind; the start-up sweep
 * removes only old leftovers. No network. */
#include <errno.h>
#include <openssl/sha.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <cmocka.h>
#include <uv.h>

#include "blobstore.h"

typedef struct result_s {
    int calls;
    int status;
    sms_blob_writer_t *w;
    sms_blob_reader_t *r;
    ssize_t n;
    uint64_t size;
    char meta[256];
} result_t;

static uv_loop_t loop;
static char dir[64];

static void on_open(void *data, sms_blob_writer_t *w, int status) {
    result_t *res = data;
    res->calls++;
    res->status = status;
    res->w = w;
}

static void on_done(void *data, int status) {
    result_t *res = data;
    res->calls++;
    res->status = status;
}

static void on_ropen(void *data, sms_blob_reader_t *r, int status) {
    result_t *res = data;
    res->calls++;
    res->status = status;
    res->r = r;
}

static void on_read(void *data, ssize_t n) {
    result_t *res = data;
    res->calls++;
    res->n = n;
}

static void on_stat(void *data, int status, uint64_t size, const char *meta, size_t len) {
    result_t *res = data;
    res->calls++;
    res->status = status;
    res->size = size;
    snprintf(res->meta, sizeof res->meta, "%.*s", (int)len, meta ? meta : "");
}

/* Names in dir, sorted and joined with ' '. */
static const char *listing(void) {
    static char out[1024];
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            if (out[0]) strcat(out, " ");
            strcat(out, names[i]->d_name);
        }
        free(names[i]);
    }
    free(names);
    return out;
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sms-blob-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(uv_loop_init(&loop), 0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0); /* nothing left running */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static sms_blob_writer_t *create(sms_blobstore_t *bs, const char *id, int want) {
    result_t res = {0};
    assert_int_equal(sms_blob_create(bs, id, on_open, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.status, want);
    return res.w;
}

static void test_write_commit_read(void **state) {
    (void)state;
    sms_blobstore_t bs;
    char sub[96];
    snprintf(sub, sizeof sub, "%s/a/b/", dir); /* created, trailing slash dropped */
    assert_int_equal(sms_blobstore_init(&bs, &loop, sub), 0);
    sms_blobstore_close(&bs);
    assert_int_equal(sms_blobstore_init(&bs, &loop, dir), 0);

    static unsigned char data[300000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 31 + 7);
    sms_blob_writer_t *w = create(&bs, "blob-1", 0);
    assert_string_equal(listing(), "a blob-1.part");
    result_t res = {0};
    for (size_t off = 0; off < sizeof data; off += 100000) {
        assert_int_equal(sms_blob_append(w, data + off, 100000, on_done, &res), 0);
        assert_int_equal(sms_blob_append(w, data, 1, on_done, &res), -EBUSY); /* one at a time */
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(res.status, 0);
    }
    assert_int_equal(res.calls, 3);
    assert_int_equal(sms_blob_writer_size(w), sizeof data);
    char hex[65], want[65];
    unsigned char md[32];
    SHA256(data, sizeof data, md);
    for (int i = 0; i < 32; i++) snprintf(want + 2 * i, 3, "%02x", md[i]);
    assert_int_equal(sms_blob_writer_sha256(w, hex), 0);
    assert_string_equal(hex, want);
    assert_int_equal(sms_blob_append(w, data, 1, on_done, &res), -EINVAL); /* digested: closed for appends */
    const char meta[] = "{\"k\":\"v\"}";
    res = (result_t){0};
    assert_int_equal(sms_blob_commit(w, meta, sizeof meta - 1, on_done, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.status, 0);
    assert_string_equal(listing(), "a blob-1.bin blob-1.json");

    res = (result_t){0};
    assert_int_equal(sms_blob_stat(&bs, "blob-1", on_stat, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.size, sizeof data);
    assert_string_equal(res.meta, meta);

    res = (result_t){0};
    assert_int_equal(sms_blob_open(&bs, "blob-1", on_ropen, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.status, 0);
    sms_blob_reader_t *r = res.r;
    assert_int_equal(sms_blob_reader_size(r), sizeof data);
    size_t mlen;
    assert_string_equal(sms_blob_reader_meta(r, &mlen), meta);
    assert_int_equal(mlen, sizeof meta - 1);
    static unsigned char back[sizeof data + 1]; /* + 1: the last read asks for more than is left */
    size_t got = 0;
    for (;;) {
        res = (result_t){0};
        assert_int_equal(sms_blob_read(r, back + got, 65536 < sizeof data - got ? 65536 : sizeof data - got + 1,
                                       on_read, &res),
                         0);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(res.calls, 1);
        assert_true(res.n >= 0);
        if (res.n == 0) break;
        got += (size_t)res.n;
    }
    assert_int_equal(got, sizeof data);
    assert_memory_equal(back, data, sizeof data);
    sms_blob_close(r);

    /* Committed: no second writer. */
    assert_null(create(&bs, "blob-1", -EEXIST));
    sms_blobstore_close(&bs);
}

static void test_conflicts_and_aborts(void **state) {
    (void)state;
    sms_blobstore_t bs;
    assert_int_equal(sms_blobstore_init(&bs, &loop, dir), 0);
    result_t res = {0};
    assert_int_equal(sms_blob_create(&bs, "../x", on_open, &res), -EINVAL);
    assert_int_equal(sms_blob_open(&bs, "", on_ropen, &res), -EINVAL);
    assert_int_equal(res.calls, 0);
    assert_int_equal(sms_blob_open(&bs, "nope", on_ropen, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.status, -ENOENT);
    assert_null(res.r);

    /* One writer per id: the .part file is the lock. */
    sms_blob_writer_t *w = create(&bs, "b2", 0);
    assert_null(create(&bs, "b2", -EEXIST));
    sms_blob_abort(w);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_string_equal(listing(), "");

    /* Abort with an append in flight: the append's callback still runs, then
     * nothing is left. */
    w = create(&bs, "b2", 0);
    static char chunk[1 << 20];
    res = (result_t){0};
    assert_int_equal(sms_blob_append(w, chunk, sizeof chunk, on_done, &res), 0);
    sms_blob_abort(w);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.calls, 1);
    assert_string_equal(listing(), "");

    /* A commit that finds the id committed meanwhile (a .bin with its .json)
     * is refused and removes only its own files. */
    w = create(&bs, "b3", 0);
    char p[128];
    snprintf(p, sizeof p, "%s/b3.bin", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(p, sizeof p, "%s/b3.json", dir);
    f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    res = (result_t){0};
    assert_int_equal(sms_blob_append(w, "abc", 3, on_done, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    res = (result_t){0};
    assert_int_equal(sms_blob_commit(w, "{}", 2, on_done, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.status, -EEXIST);
    assert_string_equal(listing(), "b3.bin b3.json");

    /* A .bin without its .json (a crash mid-commit) does not block the id. */
    unlink(p);
    w = create(&bs, "b3", 0);
    res = (result_t){0};
    assert_int_equal(sms_blob_append(w, "abcd", 4, on_done, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(sms_blob_commit(w, "{}", 2, on_done, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.status, 0);
    res = (result_t){0};
    assert_int_equal(sms_blob_stat(&bs, "b3", on_stat, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.size, 4);
    sms_blobstore_close(&bs);
}

static void touch(const char *name, time_t age_s) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    struct utimbuf t = {.actime = time(NULL) - age_s, .modtime = time(NULL) - age_s};
    assert_int_equal(utime(p, &t), 0);
}

static void test_sweep(void **state) {
    (void)state;
    touch("old.part", 7200);
    touch("old.json.tmp", 7200);
    touch("orphan.bin", 7200);   /* no .json: a commit that died */
    touch("kept.bin", 7200);
    touch("kept.json", 7200);
    touch("young.part", 10);     /* maybe another gateway's upload in progress */
    sms_blobstore_t bs;
    assert_int_equal(sms_blobstore_init(&bs, &loop, dir), 0);
    assert_string_equal(listing(), "kept.bin kept.json young.part");
    sms_blobstore_close(&bs);
}

typedef struct listed_s {
    int calls, status;
    char ids[512];
} listed_t;

static void on_list(void *data, int status, char (*ids)[SMS_BLOB_ID_MAX + 1], size_t n) {
    listed_t *l = data;
    l->calls++;
    l->status = status;
    l->ids[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(l->ids, " ");
        strcat(l->ids, ids[i]);
    }
}

static const char *list_page(sms_blobstore_t *bs, const char *after, int64_t before_s, size_t max) {
    static listed_t l;
    memset(&l, 0, sizeof l);
    assert_int_equal(sms_blob_list_committed_before(bs, after, before_s, max, on_list, &l), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.status, 0);
    return l.ids;
}

/* Pruning's two halves: old committed blobs listed a page at a time in id
 * order (young ones, temp files and bytes without metadata left out), and
 * a delete that uncommits first. */
static void test_list_old_and_delete(void **state) {
    (void)state;
    const char *old[] = {"e", "b", "d", "a", "c"};
    for (size_t i = 0; i < 5; i++) {
        char n[16];
        snprintf(n, sizeof n, "%s.bin", old[i]);
        touch(n, 7200);
        snprintf(n, sizeof n, "%s.json", old[i]);
        touch(n, 7200);
    }
    touch("young.bin", 10);
    touch("young.json", 10);
    touch("f.json.tmp", 7200);
    sms_blobstore_t bs;
    assert_int_equal(sms_blobstore_init(&bs, &loop, dir), 0);
    int64_t cutoff = (int64_t)time(NULL) - 3600;
    assert_string_equal(list_page(&bs, "", cutoff, 2), "a b");
    assert_string_equal(list_page(&bs, "b", cutoff, 2), "c d");
    assert_string_equal(list_page(&bs, "d", cutoff, 2), "e");
    assert_string_equal(list_page(&bs, "", cutoff, 100), "a b c d e");
    result_t res = {0};
    assert_int_equal(sms_blob_delete(&bs, "c", on_done, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.status, 0);
    assert_int_equal(sms_blob_delete(&bs, "c", on_done, &res), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.status, -ENOENT);
    assert_int_equal(sms_blob_delete(&bs, "../x", on_done, &res), -EINVAL);
    assert_string_equal(listing(), "a.bin a.json b.bin b.json d.bin d.json e.bin e.json young.bin young.json");
    sms_blobstore_close(&bs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_commit_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_and_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_old_and_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
