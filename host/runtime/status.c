/* Per-thread error messages for the library's status codes. */
#include "runtime/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char cn_errbuf[2048];

int cn_fail(int st, const char *fmt, ...)
{
    /* format into a local buffer first: callers may pass cn_last_error() as
     * an argument to add context, and vsnprintf must not read what it writes */
    char tmp[sizeof cn_errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(cn_errbuf, tmp, sizeof tmp);
    return st;
}

const char *cn_last_error(void) { return cn_errbuf; }

void cn_clear_error(void) { cn_errbuf[0] = '\0'; }

const char *cn_status_name(int st)
{
    switch (st) {
    case CN_OK: return "CN_OK";
    case CN_ERR_ARG: return "CN_ERR_ARG";
    case CN_ERR_SHAPE: return "CN_ERR_SHAPE";
    case CN_ERR_CL: return "CN_ERR_CL";
    case CN_ERR_OOM: return "CN_ERR_OOM";
    case CN_ERR_IO: return "CN_ERR_IO";
    case CN_ERR_FORMAT: return "CN_ERR_FORMAT";
    case CN_ERR_BUILD: return "CN_ERR_BUILD";
    case CN_ERR_UNSUPPORTED: return "CN_ERR_UNSUPPORTED";
    case CN_ERR_MISMATCH: return "CN_ERR_MISMATCH";
    default: return "CN_ERR_UNKNOWN";
    }
}
