/* log.c - JSON-lines logger (see log.h): formats a line, writes it with
 * one write(2) under a mutex, and rotates the log file by size when one is
 * configured (sms_log_output, from sms_config_load). */
#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"

sms_log_level_t sms_log_min_level = SMS_LOG_INFO;
static char service_name[64] = "sms";

static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

/* The output: guarded by out_mu (a rotation must not interleave a write). */
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static char out_path[256];       /* "" = no rotation */
static long out_max, out_size;   /* bytes: the limit, and the current file's size */
static int out_keep = 1;
static int out_stderr_too;       /* stderr was the log file too: it follows the rotation */
static int request_sample = 1;
static unsigned long request_seq;

static int same_file(int fd, const struct stat *st) {
    struct stat fs;
    return fstat(fd, &fs) == 0 && fs.st_dev == st->st_dev && fs.st_ino == st->st_ino;
}

void sms_log_output(const sms_log_output_t *o) {
    pthread_mutex_lock(&out_mu);
    __atomic_store_n(&request_sample, o->request_sample < 0 ? 1 : o->request_sample, __ATOMIC_RELAXED);
    out_path[0] = '\0';
    if (o->file && o->file[0] && strlen(o->file) < sizeof out_path - 8) {
        struct stat st;
        if (stat(o->file, &st) != 0 || !same_file(STDOUT_FILENO, &st)) {
            /* stdout is not that file yet: open it and make it stdout. */
            int fd = open(o->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
            if (fd >= 0) {
                (void)dup2(fd, STDOUT_FILENO); /* on failure stdout stays as it was */
                close(fd);
            }
        }
        if (stat(o->file, &st) == 0 && same_file(STDOUT_FILENO, &st)) {
            snprintf(out_path, sizeof out_path, "%s", o->file);
            out_size = (long)st.st_size;
            out_stderr_too = same_file(STDERR_FILENO, &st);
        }
    }
    out_max = o->max_bytes;
    out_keep = o->keep < 1 ? 1 : o->keep;
    pthread_mutex_unlock(&out_mu);
}

/* Under out_mu: shifts the old files up and starts a new one on stdout. */
static void rotate(void) {
    char from[300], to[300];
    for (int i = out_keep - 1; i >= 1; i--) {
        snprintf(from, sizeof from, "%s.%d", out_path, i);
        snprintf(to, sizeof to, "%s.%d", out_path, i + 1);
        (void)rename(from, to); /* a missing one (fewer rotations so far) is fine */
    }
    snprintf(to, sizeof to, "%s.1", out_path);
    out_size = 0; /* whatever happens next, try again only after another max_bytes */
    if (rename(out_path, to) != 0) return; /* keep writing where we are */
    int fd = open(out_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return; /* lines go on to <file>.1 until the next try */
    (void)dup2(fd, STDOUT_FILENO);
    if (out_stderr_too) (void)dup2(fd, STDERR_FILENO);
    close(fd);
}

void sms_log_init(const char *service, sms_log_level_t min_level) {
    snprintf(service_name, sizeof service_name, "%s", service);
    sms_log_min_level = min_level;
}

int sms_log_level_parse(const char *s, sms_log_level_t *out) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) { *out = (sms_log_level_t)i; return 0; }
    }
    return -1;
}

static void line_start(sms_buf_t *b, sms_log_level_t level) {
    char ts[SMS_RFC3339_LEN];
    sms_buf_printf(b, "{\"timestamp\":\"%s\",\"level\":\"%s\",\"service\":",
                   sms_rfc3339(sms_now_ms(), ts), level_names[level]);
    sms_buf_json_str(b, service_name, strlen(service_name));
}

static void line_write(sms_buf_t *b) {
    sms_buf_puts(b, "}\n");
    size_t off = 0;
    pthread_mutex_lock(&out_mu);
    while (off < b->len) {
        ssize_t n = write(STDOUT_FILENO, b->data + off, b->len - off);
        if (n <= 0) break; /* stdout gone: nowhere left to report it */
        off += (size_t)n;
    }
    out_size += (long)off;
    if (out_path[0] && out_max > 0 && out_size >= out_max) rotate();
    pthread_mutex_unlock(&out_mu);
    sms_buf_close(b);
}

void sms_log_emit(sms_log_level_t level, const char *event, const char *fmt, ...) {
    sms_buf_t b, msg;
    sms_buf_init(&b);
    sms_buf_init(&msg);
    line_start(&b, level);
    sms_buf_puts(&b, ",\"event\":");
    sms_buf_json_str(&b, event, strlen(event));
    va_list ap;
    va_start(ap, fmt);
    sms_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    if (msg.len) {
        sms_buf_puts(&b, ",\"message\":");
        sms_buf_json_str(&b, msg.data, msg.len);
    }
    sms_buf_close(&msg);
    line_write(&b);
}

void sms_log_request(const sms_log_request_t *r) {
    sms_log_level_t level = r->status >= 500 ? SMS_LOG_ERROR : SMS_LOG_INFO;
    if (level < sms_log_min_level) return;
    int sample = __atomic_load_n(&request_sample, __ATOMIC_RELAXED);
    if (r->status < 400) {
        if (sample == 0) return;
        if (sample > 1 && __atomic_fetch_add(&request_seq, 1, __ATOMIC_RELAXED) % (unsigned long)sample != 0) return;
    }
    sms_buf_t b;
    sms_buf_init(&b);
    line_start(&b, level);
    sms_buf_puts(&b, ",\"event\":\"request\",\"userId\":");
    if (r->user_id) sms_buf_json_str(&b, r->user_id, strlen(r->user_id));
    else sms_buf_puts(&b, "null");
    sms_buf_puts(&b, ",\"endpoint\":");
    sms_buf_json_str(&b, r->endpoint, strlen(r->endpoint));
    sms_buf_printf(&b, ",\"latency\":%.3f,\"statusCode\":%d,\"method\":", r->latency_ms, r->status);
    sms_buf_json_str(&b, r->method, strlen(r->method));
    sms_buf_puts(&b, ",\"requestId\":");
    sms_buf_json_str(&b, r->request_id, strlen(r->request_id));
    if (r->status < 400 && sample > 1) sms_buf_printf(&b, ",\"sample\":%d", sample);
    line_write(&b);
}
