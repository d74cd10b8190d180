/* Filling a clip_error: every failing function sets status and a one-line message. */
#ifndef CLIP_CORE_ERROR_H
#define CLIP_CORE_ERROR_H
#include "clip.h"

/* Sets err (if non-NULL) and returns status, so callers can `return clip_fail(...)`. */
int clip_fail(clip_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void clip_error_clear(clip_error *err);

#endif
