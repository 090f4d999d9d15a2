/* metrics_http.h - a tiny HTTP/1.0 listener serving one registry's
 * GET /metrics, for processes without an HTTP server (the worker services
 * and the delivery consumers; the gateway serves /metrics on its own port).
 *
 * Its own thread, blocking sockets, one connection at a time (a scraper
 * asks every few seconds): the worker's thread never waits for it and it
 * reads values only through metrics.h's atomics. Started by worker.c and the
 * delivery consumers' mains when SMS_METRICS_PORT is set. */
#ifndef SMS_METRICS_HTTP_H
#define SMS_METRICS_HTTP_H

#include "metrics.h"

typedef struct sms_metrics_http_s sms_metrics_http_t;

/* Binds host:port (port 0: an ephemeral one) and starts the thread. token:
 * NULL or "" = no auth, else requests must send "Authorization: Bearer
 * <token>" (401 otherwise). m and token are borrowed and must outlive the
 * listener. Answers GET (and HEAD) /metrics 200, other paths 404, other
 * methods 405. The thread blocks every signal (they stay the main thread's).
 * Returns 0 and *out (stop with sms_metrics_http_stop), or a negative errno. */
int sms_metrics_http_start(sms_metrics_t *m, const char *host, int port, const char *token,
                           sms_metrics_http_t **out);
/* The bound port. */
int sms_metrics_http_port(const sms_metrics_http_t *h);
/* Stops the thread, closes the socket, frees h. NULL is a no-op. */
void sms_metrics_http_stop(sms_metrics_http_t *h);

#endif
