/* Atomic file writing: the whole file under a temporary name beside the target, then renamed over it. */
#ifndef CASPNET_FILEIO_H
#define CASPNET_FILEIO_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Calls emit(fp, arg) on a fresh temporary file "<path>.tmp.<pid>.<n>" in
 * path's directory, then flushes, fsyncs and renames it over path. Any
 * failure (emit's status included) removes the temporary file and leaves
 * path untouched. emit returns a cn_status and uses cn_fail for messages. */
int cn_write_atomic(const char *path, int (*emit)(FILE *fp, void *arg), void *arg);

/* cn_write_atomic of a NUL-terminated text (JSON, CSV). */
int cn_write_text_atomic(const char *path, const char *text);

#ifdef __cplusplus
}
#endif
#endif
