#include "core/error.h"
#include <stdarg.h>
#include <stdio.h>

int clip_fail(clip_error *err, int status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void clip_error_clear(clip_error *err) {
    if (err) { err->status = 0; err->msg[0] = 0; }
}
