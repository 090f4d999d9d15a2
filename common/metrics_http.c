/* metrics_http.c - the listener thread behind metrics_http.h: accept, read
 * the request head (2 s limit, 8 KiB), answer, close. Calls metrics.c. */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"

#define HEAD_MAX 8192

struct sms_metrics_http_s {
    sms_metrics_t *m;
    const char *token;
    int fd;
    int stop_pipe[2];
    int port;
    pthread_t thread;
};

static void send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* the scraper went away: nothing to tell it */
        p += w;
        n -= (size_t)w;
    }
}

static void answer(int fd, int status, const char *reason, const char *ctype, const char *body, size_t len,
                   bool head_only) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     status, reason, ctype, len, status == 401 ? "WWW-Authenticate: Bearer\r\n" : "");
    send_all(fd, head, (size_t)n);
    if (!head_only) send_all(fd, body, len);
}

/* Whether head carries "Authorization: Bearer <token>". */
static bool authorized(const char *head, const char *token) {
    if (token == NULL || *token == '\0') return true;
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, "authorization:", 14) != 0) continue;
        const char *v = line + 14;
        while (*v == ' ' || *v == '\t') v++;
        size_t tl = strlen(token);
        return strncasecmp(v, "bearer ", 7) == 0 && strncmp(v + 7, token, tl) == 0 &&
               (v[7 + tl] == '\r' || v[7 + tl] == ' ');
    }
    return false;
}

static void serve_one(sms_metrics_http_t *h, int fd) {
    struct timeval tv = {.tv_sec = 2};
    /* A stuck client must not hold the listener longer than this. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
        return;
    char head[HEAD_MAX + 1];
    size_t len = 0;
    while (len < HEAD_MAX) {
        ssize_t r = recv(fd, head + len, HEAD_MAX - len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        len += (size_t)r;
        head[len] = '\0';
        if (strstr(head, "\r\n\r\n")) break;
    }
    head[len] = '\0';
    static const char text[] = "text/plain; charset=utf-8";
    bool is_head = strncmp(head, "HEAD ", 5) == 0;
    if (!is_head && strncmp(head, "GET ", 4) != 0) {
        answer(fd, 405, "Method Not Allowed", text, "GET /metrics only\n", 18, false);
        return;
    }
    const char *path = head + (is_head ? 5 : 4);
    if (strncmp(path, "/metrics ", 9) != 0 && strncmp(path, "/metrics?", 9) != 0) {
        answer(fd, 404, "Not Found", text, "GET /metrics only\n", 18, is_head);
        return;
    }
    if (!authorized(head, h->token)) {
        answer(fd, 401, "Unauthorized", text, "bearer token required\n", 22, is_head);
        return;
    }
    sms_buf_t b;
    sms_buf_init(&b);
    sms_metrics_render(h->m, &b);
    answer(fd, 200, "OK", SMS_METRICS_CONTENT_TYPE, b.data ? b.data : "", b.len, is_head);
    sms_buf_close(&b);
}

static void *run(void *arg) {
    sms_metrics_http_t *h = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = h->fd, .events = POLLIN}, {.fd = h->stop_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            sms_log(SMS_LOG_ERROR, "metrics_listener_failed", "poll: %s", strerror(errno));
            return NULL;
        }
        if (p[1].revents) return NULL;
        if (!(p[0].revents & POLLIN)) continue;
        int fd = accept(h->fd, NULL, NULL);
        if (fd < 0) continue; /* EAGAIN, ECONNABORTED, EMFILE: try the next one */
        serve_one(h, fd);
        close(fd);
    }
}

int sms_metrics_http_start(sms_metrics_t *m, const char *host, int port, const char *token,
                           sms_metrics_http_t **out) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -EINVAL;
    sms_metrics_http_t *h = sms_calloc(1, sizeof *h);
    h->m = m;
    h->token = token;
    h->stop_pipe[0] = h->stop_pipe[1] = -1;
    int rc = 0, one = 1;
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (h->fd < 0) goto fail_errno;
    if (setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) goto fail_errno;
    if (bind(h->fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(h->fd, 16) != 0) goto fail_errno;
    socklen_t sl = sizeof sa;
    if (getsockname(h->fd, (struct sockaddr *)&sa, &sl) != 0) goto fail_errno;
    h->port = ntohs(sa.sin_port);
    if (pipe2(h->stop_pipe, O_CLOEXEC) != 0) goto fail_errno;
    /* The thread inherits this mask: every signal stays the main thread's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&h->thread, NULL, run, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        rc = -rc;
        goto fail;
    }
    *out = h;
    return 0;
fail_errno:
    rc = -errno;
fail:
    if (h->fd >= 0) close(h->fd);
    if (h->stop_pipe[0] >= 0) close(h->stop_pipe[0]);
    if (h->stop_pipe[1] >= 0) close(h->stop_pipe[1]);
    sms_free(h);
    return rc;
}

int sms_metrics_http_port(const sms_metrics_http_t *h) { return h->port; }

void sms_metrics_http_stop(sms_metrics_http_t *h) {
    if (h == NULL) return;
    ssize_t w;
    do w = write(h->stop_pipe[1], "x", 1);
    while (w < 0 && errno == EINTR);
    if (w == 1) pthread_join(h->thread, NULL);
    else pthread_detach(h->thread); /* cannot happen: a fresh pipe has room; never free under the thread */
    close(h->fd);
    close(h->stop_pipe[0]);
    close(h->stop_pipe[1]);
    if (w == 1) sms_free(h);
}
