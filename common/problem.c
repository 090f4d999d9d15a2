/* problem.c - RFC 9457 problem documents in JSON and msgpack (see problem.h). */
#include "problem.h"

#include <stdio.h>
#include <string.h>

#include "msgpack_util.h"

const char *sms_http_reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

void sms_problem_render(sms_buf_t *out, const sms_problem_t *p) {
    const char *title = sms_http_reason(p->status);
    sms_buf_puts(out, "{\"type\":\"" SMS_PROBLEM_TYPE_BASE);
    sms_buf_puts(out, p->code); /* codes are fixed ASCII slugs, never user input */
    sms_buf_puts(out, "\",\"title\":");
    sms_buf_json_str(out, title, strlen(title));
    sms_buf_printf(out, ",\"status\":%d", p->status);
    if (p->detail) {
        sms_buf_puts(out, ",\"detail\":");
        sms_buf_json_str(out, p->detail, strlen(p->detail));
    }
    if (p->n_errors) {
        sms_buf_puts(out, ",\"errors\":[");
        for (size_t i = 0; i < p->n_errors; i++) {
            if (i) sms_buf_putc(out, ',');
            sms_buf_puts(out, "{\"field\":");
            sms_buf_json_str(out, p->errors[i].field, strlen(p->errors[i].field));
            sms_buf_puts(out, ",\"message\":");
            sms_buf_json_str(out, p->errors[i].message, strlen(p->errors[i].message));
            sms_buf_putc(out, '}');
        }
        sms_buf_putc(out, ']');
    }
    if (p->idempotency_key) {
        sms_buf_puts(out, ",\"idempotency_key\":");
        sms_buf_json_str(out, p->idempotency_key, strlen(p->idempotency_key));
    }
    if (p->request_id) {
        sms_buf_puts(out, ",\"request_id\":");
        sms_buf_json_str(out, p->request_id, strlen(p->request_id));
    }
    sms_buf_putc(out, '}');
}

void sms_problem_json(sms_buf_t *out, int status, const char *code, const char *detail,
                      const sms_problem_error_t *errors, size_t n_errors, const char *request_id) {
    sms_problem_render(out, &(sms_problem_t){.status = status,
                                             .code = code,
                                             .detail = detail,
                                             .errors = errors,
                                             .n_errors = n_errors,
                                             .request_id = request_id});
}

void sms_problem_pack(msgpack_packer *pk, int status, const char *code, const char *detail,
                      const sms_problem_error_t *errors, size_t n_errors) {
    char type[128];
    size_t n = 3 + (detail != NULL) + (n_errors != 0);
    snprintf(type, sizeof type, SMS_PROBLEM_TYPE_BASE "%s", code);
    msgpack_pack_map(pk, n);
    sms_mp_pack_str(pk, "type");
    sms_mp_pack_str(pk, type);
    sms_mp_pack_str(pk, "title");
    sms_mp_pack_str(pk, sms_http_reason(status));
    sms_mp_pack_str(pk, "status");
    msgpack_pack_int(pk, status);
    if (detail) {
        sms_mp_pack_str(pk, "detail");
        sms_mp_pack_str(pk, detail);
    }
    if (n_errors) {
        sms_mp_pack_str(pk, "errors");
        msgpack_pack_array(pk, n_errors);
        for (size_t i = 0; i < n_errors; i++) {
            msgpack_pack_map(pk, 2);
            sms_mp_pack_str(pk, "field");
            sms_mp_pack_str(pk, errors[i].field);
            sms_mp_pack_str(pk, "message");
            sms_mp_pack_str(pk, errors[i].message);
        }
    }
}
