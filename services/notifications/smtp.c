/* smtp.c - a plain-text mail over SMTP with libcurl (see smtp.h). The
 * message is built in memory with CRLF line ends; libcurl does the SMTP
 * dialogue and the dot-stuffing of the body. */
#include "smtp.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"

typedef struct reader_s {
    const char *data;
    size_t len, off;
} reader_t;

static size_t read_cb(char *out, size_t size, size_t n, void *data) {
    reader_t *r = data;
    size_t want = size * n, left = r->len - r->off;
    if (want > left) want = left;
    memcpy(out, r->data + r->off, want);
    r->off += want;
    return want;
}

/* Appends s with every CR/LF replaced by a space (header values). */
static void put_header_value(sms_buf_t *b, const char *s) {
    for (; *s; s++) sms_buf_putc(b, (*s == '\r' || *s == '\n') ? ' ' : *s);
}

static void put_body(sms_buf_t *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\r') continue;
        if (*s == '\n') sms_buf_puts(b, "\r\n");
        else sms_buf_putc(b, *s);
    }
}

int notif_smtp_send(const sms_config_t *cfg, const notif_mail_t *m, char *err, size_t errlen) {
    char date[64], from[300], to[300];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(from, sizeof from, "<%s>", cfg->smtp_from);
    snprintf(to, sizeof to, "<%s>", m->to);
    sms_buf_t msg;
    sms_buf_init(&msg);
    sms_buf_printf(&msg, "Date: %s\r\nFrom: %s\r\nTo: %s\r\nMessage-ID: <%s>\r\nSubject: ", date, cfg->smtp_from, m->to,
                   m->message_id);
    put_header_value(&msg, m->subject);
    sms_buf_puts(&msg, "\r\nX-SMS-Notification-Ids: ");
    put_header_value(&msg, m->ids_header);
    sms_buf_puts(&msg, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: 8bit\r\n\r\n");
    put_body(&msg, m->text);
    sms_buf_puts(&msg, "\r\n");

    int rc = -1;
    reader_t r = {msg.data, msg.len, 0};
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *c = curl_easy_init();
    if (c == NULL || rcpt == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &r);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)NOTIF_SMTP_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode code = curl_easy_perform(c);
    if (code != CURLE_OK) {
        snprintf(err, errlen, "smtp: %s", errbuf[0] ? errbuf : curl_easy_strerror(code));
        goto out;
    }
    rc = 0;
out:
    if (c) curl_easy_cleanup(c);
    curl_slist_free_all(rcpt);
    sms_buf_close(&msg);
    return rc;
}
