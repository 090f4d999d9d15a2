/* clock.c - time sources and RFC 3339 formatting (see clock.h). */
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t sms_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t sms_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t sms_mono_ms(void) { return sms_mono_us() / 1000u; }

char *sms_rfc3339(int64_t ms, char *out) {
    time_t secs = (time_t)(ms / 1000);
    int millis = (int)(ms % 1000);
    if (millis < 0) { millis += 1000; secs -= 1; }
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* gcc cannot see that struct tm fields are small; format into room for any int. */
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    memcpy(out, tmp, SMS_RFC3339_LEN - 1);
    out[SMS_RFC3339_LEN - 1] = '\0';
    return out;
}
