/* Status codes and the per-thread error message every library call sets on failure. */
#ifndef CASPNET_STATUS_H
#define CASPNET_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Every fallible library function returns one of these; 0 is success.
 * On failure the function has called cn_fail(), so cn_last_error() says what
 * went wrong (file name, tensor name, OpenCL call, ...). */
typedef enum cn_status {
    CN_OK = 0,
    CN_ERR_ARG = -1,         /* bad argument from the caller */
    CN_ERR_SHAPE = -2,       /* tensor shapes do not fit the op */
    CN_ERR_CL = -3,          /* an OpenCL call failed */
    CN_ERR_OOM = -4,         /* host or device memory exhausted */
    CN_ERR_IO = -5,          /* file could not be opened, read or written */
    CN_ERR_FORMAT = -6,      /* file content is malformed */
    CN_ERR_BUILD = -7,       /* an OpenCL program failed to build */
    CN_ERR_UNSUPPORTED = -8, /* valid request this build/device cannot do */
    CN_ERR_MISMATCH = -9     /* weights do not match the model spec */
} cn_status;

/* Records a printf-style message for this thread and returns `st`, so a
 * failing path reads `return cn_fail(CN_ERR_IO, "%s: cannot open", path);`. */
int cn_fail(int st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Message of the most recent failure on this thread ("" if none). The
 * pointer stays valid until the next cn_fail on the same thread. */
const char *cn_last_error(void);

/* Clears the thread's message. */
void cn_clear_error(void);

/* Short constant name of a status ("CN_ERR_SHAPE"). */
const char *cn_status_name(int st);

/* Propagate a failure: evaluates `expr` once and returns its status if non-zero. */
#define CN_TRY(expr)                 \
    do {                             \
        int cn_try_st_ = (expr);     \
        if (cn_try_st_ != CN_OK)     \
            return cn_try_st_;       \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
