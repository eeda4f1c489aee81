/* NumPy .npy reader (float32/float64/float16/uint8 to float32), atomic float32 writer and streaming writer. */
#ifndef CASPNET_NPY_H
#define CASPNET_NPY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CN_NPY_MAX_DIMS 6
/* numpy itself writes headers of a few hundred bytes at most for plain
 * arrays; anything near this cap is hostile, not data. */
#define CN_NPY_MAX_HEADER (1u << 20)

/* Reads a C-order .npy file, versions 1.0, 2.0 and 3.0, with dtype '<f4',
 * '<f8', '<f2', '|u1' (uint8 values become 0..255), or the big-endian float
 * forms '>f4', '>f8', '>f2', which are byte-swapped. *data is a malloc'd
 * float32 array of prod(shape) elements (at least one float is allocated, so
 * it is never NULL on success; a 0-d array has ndim 0 and one element);
 * shape[ndim..5] are set to 0. The caller frees *data.
 * Errors (CN_ERR_FORMAT naming the path): bad magic or version, header not a
 * dict with exactly 'descr', 'fortran_order' and 'shape', other dtypes,
 * fortran_order True, more than 6 dims, a shape whose byte size overflows,
 * and a data section that is shorter (truncated) or longer (trailing
 * garbage) than the shape says; both report expected and actual bytes.
 * Unreadable files are CN_ERR_IO. */
int cn_npy_read(const char *path, float **data, int *ndim, int64_t shape[6]);

/* Writes '<f4', version 1.0, header padded with spaces to a 64-byte boundary
 * and ended by a newline, as numpy does. Written to a temporary name and
 * renamed over path, so a failure never leaves a partial file. */
int cn_npy_write(const char *path, const float *data, int ndim, const int64_t *shape);

/* A float32 array written a row at a time when the number of rows is known
 * only at the end (a video's maps): rows of row_shape (ndim <= 5 dims) go to
 * a temporary file beside path; close writes the final shape (rows, ...) into
 * the header and renames the file over path. Until then path is untouched.
 * open fails with CN_ERR_IO when the temporary cannot be created. close and
 * abort free the stream whatever happens; abort removes the temporary. */
typedef struct cn_npy_stream cn_npy_stream;
int cn_npy_stream_open(const char *path, int ndim, const int64_t *row_shape, cn_npy_stream **out);
int cn_npy_stream_append(cn_npy_stream *s, const float *rows, int64_t n);
int cn_npy_stream_close(cn_npy_stream *s);
void cn_npy_stream_abort(cn_npy_stream *s);

#ifdef __cplusplus
}
#endif
#endif
