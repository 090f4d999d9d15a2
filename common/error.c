/* error.c - the sentences of the SMS_E* codes (see error.h). */
#include "error.h"

#include <string.h>

const char *sms_strerror(int err) {
    switch (err) {
    case SMS_OK: return "ok";
    case SMS_EPARSE: return "malformed";
    case SMS_EFIELD: return "a required field is missing or has the wrong type";
    case SMS_ETYPE: return "not a number";
    case SMS_EWHOLE: return "not a whole number";
    case SMS_ERANGE: return "out of range";
    case SMS_EQUEUE: return "queue full";
    case SMS_EQUOTE: return "a quoted field is not closed";
    case SMS_EAFTER: return "a closing quote must be followed by a comma or a line break";
    case SMS_EBARE: return "a quote inside an unquoted field (quote the whole field and double the quote)";
    case SMS_ETOOMANY: return "too many rows";
    case SMS_EWIDE: return "a row has more than 64 fields";
    case SMS_EBADALG: return "unsupported algorithm";
    case SMS_EBADSIG: return "bad signature";
    case SMS_EEXPIRED: return "expired";
    case SMS_EBADCLAIMS: return "invalid claims";
    default: break;
    }
    if (err < 0 && err > SMS_E_FIRST) return strerror(-err);
    return "unknown error";
}
