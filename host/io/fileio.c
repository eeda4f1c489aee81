/* Atomic file writing shared by every writer of whole files (weights, .npy, JSON and CSV reports). */
#include "io/fileio.h"
#include "runtime/status.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_uint cn_tmp_counter;

int cn_write_atomic(const char *path, int (*emit)(FILE *fp, void *arg), void *arg)
{
    if (!path || !emit)
        return cn_fail(CN_ERR_ARG, "cn_write_atomic: NULL path or emitter");
    size_t len = strlen(path) + 64;
    char *tmp = malloc(len);
    if (!tmp)
        return cn_fail(CN_ERR_OOM, "%s: out of memory", path);
    FILE *fp = NULL;
    /* Exclusive create: a leftover from a crashed process with a recycled
     * pid is skipped rather than clobbered; the counter separates threads. */
    for (int tries = 0; tries < 100 && !fp; tries++) {
        snprintf(tmp, len, "%s.tmp.%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&cn_tmp_counter, 1u));
        fp = fopen(tmp, "wbx");
        if (!fp && errno != EEXIST)
            break;
    }
    if (!fp) {
        int st = cn_fail(CN_ERR_IO, "%s: cannot create temporary file %s: %s", path, tmp,
                         strerror(errno));
        free(tmp);
        return st;
    }
    int st = emit(fp, arg);
    if (st == CN_OK && fflush(fp) != 0)
        st = cn_fail(CN_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    /* Durable before the rename, or a crash could leave path naming an empty file. */
    if (st == CN_OK && fsync(fileno(fp)) != 0)
        st = cn_fail(CN_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    if (fclose(fp) != 0 && st == CN_OK)
        st = cn_fail(CN_ERR_IO, "%s: closing %s failed: %s", path, tmp, strerror(errno));
    if (st == CN_OK && rename(tmp, path) != 0)
        st = cn_fail(CN_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
    if (st != CN_OK)
        remove(tmp);
    free(tmp);
    return st;
}


typedef struct text_job {
    const char *path, *text;
} text_job;

static int emit_text(FILE *fp, void *arg)
{
    const text_job *j = arg;
    size_t len = strlen(j->text);
    if (len && fwrite(j->text, 1, len, fp) != len)
        return cn_fail(CN_ERR_IO, "%s: write failed: %s", j->path, strerror(errno));
    return CN_OK;
}

int cn_write_text_atomic(const char *path, const char *text)
{
    if (!text)
        return cn_fail(CN_ERR_ARG, "%s: no text to write", path ? path : "(null)");
    text_job j = {path, text};
    return cn_write_atomic(path, emit_text, &j);
}
