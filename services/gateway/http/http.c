/* http.c - the server: listening socket, accepting connections (503 over
 * max_connections), graceful shutdown, request ids and the Date line.
 *
 * main.c creates, listens, shuts down and frees it (see http.h); each
 * accepted connection is handed to conn.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "http_internal.h"
#include "log.h"

#define REJECTING_MAX 256 /* over-capacity connections answered at once; beyond, closed unanswered */

int gw_server_new(uv_loop_t *loop, const sms_config_t *cfg, const gw_router_t *router, gw_server_t **out) {
    *out = NULL;
    if (loop == NULL || cfg == NULL || router == NULL) return -EINVAL;
    gw_server_t *srv = sms_calloc(1, sizeof *srv);
    srv->loop = loop;
    srv->cfg = cfg;
    srv->router = router;
    srv->port = -1;
    srv->auth_cache = gw_auth_cache_new();
    char err[256];
    if (gw_auth_cache_set_keys_dir(srv->auth_cache, cfg->jwt_keys_dir, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "jwt_keys_unreadable", "%s", err);
        gw_auth_cache_free(srv->auth_cache);
        sms_free(srv);
        return -EINVAL;
    }
    if (uv_random(NULL, NULL, &srv->id_seed, sizeof srv->id_seed, 0, NULL) != 0)
        srv->id_seed = sms_mono_us() ^ ((uint64_t)getpid() << 32); /* ids need uniqueness, not secrecy */
    *out = srv;
    return 0;
}

void gw_server_free(gw_server_t *srv) {
    if (srv == NULL) return;
    gw__req_pool_free(srv);
    gw_auth_cache_free(srv->auth_cache);
    sms_free(srv->route_stats);
    sms_free(srv);
}

void gw_server_set_hooks(gw_server_t *srv, const gw_server_hooks_t *hooks) {
    if (hooks) srv->hooks = *hooks;
    else memset(&srv->hooks, 0, sizeof srv->hooks);
}

int gw_server_port(const gw_server_t *srv) { return srv->port; }
size_t gw_server_connections(const gw_server_t *srv) { return srv->n_conns; }
size_t gw_server_inflight(const gw_server_t *srv) { return srv->n_inflight; }

static void maybe_done(gw_server_t *srv);

static void on_drain_timer_closed(uv_handle_t *h) {
    gw_server_t *srv = h->data;
    srv->drain_timer_open = 0;
    maybe_done(srv);
}

static void on_listener_closed(uv_handle_t *h) {
    gw_server_t *srv = h->data;
    srv->listener_open = 0;
    maybe_done(srv);
}

static void maybe_done(gw_server_t *srv) {
    if (!srv->draining || srv->done_called) return;
    if (srv->listener_open || srv->n_conns || srv->n_rejecting) return;
    if (srv->drain_timer_open) {
        if (!uv_is_closing((uv_handle_t *)&srv->drain_timer))
            uv_close((uv_handle_t *)&srv->drain_timer, on_drain_timer_closed);
        return;
    }
    srv->done_called = 1;
    sms_log(SMS_LOG_INFO, "http_stopped", "all connections closed");
    if (srv->done) srv->done(srv->done_data);
}

static void log_rejected(gw_server_t *srv) {
    srv->n_rejected_total++;
    uint64_t now = uv_now(srv->loop);
    if (srv->rejected_logged_ms && now - srv->rejected_logged_ms < 1000) return; /* once a second at most */
    srv->rejected_logged_ms = now;
    sms_log(SMS_LOG_WARN, "over_capacity", "%zu connections open (SMS_MAX_CONNECTIONS=%d); %llu refused so far",
            srv->n_conns, srv->cfg->max_connections, (unsigned long long)srv->n_rejected_total);
}

static void on_connection(uv_stream_t *listener, int status) {
    gw_server_t *srv = listener->data;
    if (status < 0) {
        /* EMFILE and friends: libuv keeps the listener usable; say it once a second at most. */
        uint64_t now = uv_now(srv->loop);
        if (now - srv->rejected_logged_ms >= 1000) {
            srv->rejected_logged_ms = now;
            sms_log(SMS_LOG_WARN, "accept_failed", "%s", uv_strerror(status));
        }
        return;
    }
    gw_conn_t *c = sms_calloc(1, sizeof *c);
    c->srv = srv;
    (void)uv_tcp_init(srv->loop, &c->tcp);     /* cannot fail without flags */
    (void)uv_timer_init(srv->loop, &c->timer); /* always 0 */
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    c->rejected = srv->n_conns >= (size_t)srv->cfg->max_connections;
    if (c->rejected) srv->n_rejecting++;
    else srv->n_conns++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        gw__conn_close(c);
        return;
    }
    if (!c->rejected && srv->hooks.conn_open) {
        int len = sizeof c->peer;
        if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) != 0 ||
            srv->hooks.conn_open(srv->hooks.ctx, &c->peer) != 0) {
            /* Over a per-client cap (or already gone): a reset, before any
             * read or answer, is the cheapest refusal; it counts as a
             * rejection, not as an open connection. */
            srv->n_conns--;
            srv->n_rejecting++;
            c->rejected = 1;
            gw__conn_close_reset(c);
            return;
        }
        c->peer_counted = 1;
    }
    if (c->rejected) {
        log_rejected(srv);
        if (srv->n_rejecting > REJECTING_MAX) { /* a flood: do not spend memory answering it */
            gw__conn_close(c);
            return;
        }
    }
    gw__conn_start(srv, c);
}

void gw__server_conn_closed(gw_server_t *srv, gw_conn_t *c) {
    if (c->prev) c->prev->next = c->next;
    else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->rejected) srv->n_rejecting--;
    else srv->n_conns--;
    if (c->peer_counted && srv->hooks.conn_closed) srv->hooks.conn_closed(srv->hooks.ctx, &c->peer);
    maybe_done(srv);
}

int gw_server_listen(gw_server_t *srv, const char *host, int port) {
    struct sockaddr_storage addr;
    if (srv->listener_open || srv->draining) return UV_EALREADY;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0)
        return UV_EINVAL;
    int rc = uv_tcp_init(srv->loop, &srv->listener);
    if (rc != 0) return rc;
    srv->listener.data = srv;
    srv->listener_open = 1;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc == 0) {
        struct sockaddr_storage bound;
        int len = sizeof bound;
        rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
        if (rc == 0)
            srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                          : ((struct sockaddr_in *)&bound)->sin_port);
    }
    if (rc != 0) uv_close((uv_handle_t *)&srv->listener, on_listener_closed); /* listener_open clears in the cb */
    return rc;
}

static void on_drain_timeout(uv_timer_t *t) {
    gw_server_t *srv = t->data;
    sms_log(SMS_LOG_WARN, "drain_timeout", "closing %zu connections with %zu requests still in flight",
            srv->n_conns + srv->n_rejecting, srv->n_inflight);
    for (gw_conn_t *c = srv->conns; c; c = c->next) gw__conn_close(c); /* unlinked only in close callbacks */
}

void gw_server_shutdown(gw_server_t *srv, void (*done)(void *), void *data) {
    if (srv->draining) return;
    srv->draining = 1;
    srv->done = done;
    srv->done_data = data;
    sms_log(SMS_LOG_INFO, "http_draining", "%zu connections, %zu requests in flight", srv->n_conns, srv->n_inflight);
    if (srv->listener_open && !uv_is_closing((uv_handle_t *)&srv->listener))
        uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    (void)uv_timer_init(srv->loop, &srv->drain_timer); /* always 0 */
    srv->drain_timer.data = srv;
    srv->drain_timer_open = 1;
    (void)uv_timer_start(&srv->drain_timer, on_drain_timeout, (uint64_t)srv->cfg->reply_timeout_ms + 1000, 0);
    uv_unref((uv_handle_t *)&srv->drain_timer); /* it bounds the drain; it is no reason to keep running */
    gw_conn_t *next;
    for (gw_conn_t *c = srv->conns; c; c = next) {
        next = c->next; /* drain may close c; it stays linked until its close callback */
        gw__conn_drain(c);
    }
    maybe_done(srv);
}

void gw__server_new_id(gw_server_t *srv, char *out) {
    static const char hex[] = "0123456789abcdef";
    /* splitmix64 over a counter: distinct for every request of this process,
     * and a random seed keeps processes apart. */
    uint64_t z = srv->id_seed + ++srv->id_counter * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[z & 15];
        z >>= 4;
    }
    out[16] = '\0';
}

const char *gw__server_date_line(gw_server_t *srv) {
    time_t now = time(NULL);
    if (now != (time_t)srv->date_sec || srv->date_line[0] == '\0') {
        struct tm tm;
        gmtime_r(&now, &tm);
        /* The line is 37 bytes for every date: it always fits. */
        (void)strftime(srv->date_line, sizeof srv->date_line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        srv->date_sec = (int64_t)now;
    }
    return srv->date_line;
}
