/* Strict safetensors reader and atomic writer: float32 in memory, F32/F16/BF16 on disk. */
#ifndef CASPNET_SAFETENSORS_H
#define CASPNET_SAFETENSORS_H

#include <stdint.h>
#include <stdio.h>

#include "runtime/half.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most dimensions a tensor may have here; the model never needs more. */
#define CN_ST_MAX_DIMS 6
/* Largest header accepted: far above any real model and the same cap the
 * reference implementation uses, so a hostile length cannot force a huge
 * allocation. */
#define CN_ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

typedef enum cn_st_dtype { CN_ST_F32, CN_ST_F16, CN_ST_BF16 } cn_st_dtype;

typedef struct cn_st_tensor {
    char *name;
    cn_st_dtype dtype; /* dtype on disk; data is always float32 */
    int ndim;          /* 0 is a scalar (one element) */
    int64_t shape[CN_ST_MAX_DIMS];
    uint64_t begin, end; /* byte offsets into the data section */
    float *data;         /* float32, converted on load; never NULL after cn_st_read */
} cn_st_tensor;

typedef struct cn_st_file {
    char *path;
    int count;
    cn_st_tensor *tensors; /* in header order */
    int meta_count;        /* "__metadata__" entries, in header order */
    char **meta_keys;
    char **meta_values;
} cn_st_file;

/* Reads and validates the header and every tensor, converting to float32.
 * Validation rules (any violation is CN_ERR_FORMAT naming the path and the
 * tensor; an unreadable file is CN_ERR_IO):
 *  - 8-byte little-endian header length N, 2 <= N <= CN_ST_MAX_HEADER and
 *    8 + N <= file size;
 *  - the header is one JSON object, optionally surrounded by JSON whitespace
 *    (writers pad with spaces to align the data section); every other byte
 *    after it is an error;
 *  - each tensor entry has exactly "dtype", "shape", "data_offsets";
 *    dtype is F32, F16 or BF16; shape has at most 6 non-negative integer
 *    dims; data_offsets is [begin, end] with begin <= end and
 *    end - begin == numel * element size;
 *  - names are unique; "__metadata__", if present, maps strings to strings;
 *  - tensor byte ranges may appear in any order in the header but must not
 *    overlap, and together must cover the data section exactly: no gaps and
 *    no trailing bytes. This matches the reference implementation, so a file
 *    accepted here is accepted by the Python safetensors package, and a
 *    truncated or appended-to file is always caught. */
int cn_st_read(const char *path, cn_st_file **out);
void cn_st_free(cn_st_file *f);

/* NULL when f has no tensor of that name. */
const cn_st_tensor *cn_st_find(const cn_st_file *f, const char *name);
/* NULL if absent. */
const char *cn_st_meta(const cn_st_file *f, const char *key);

/* Elements in t (product of the shape; 1 for a scalar). */
int64_t cn_st_numel(const cn_st_tensor *t);
/* NaN and Inf values in t->data: not a format error, but worth a warning. */
int cn_st_count_nonfinite(const cn_st_tensor *t);
/* "F32", "F16", "BF16". */
const char *cn_st_dtype_name(cn_st_dtype d);

/* One tensor to write: float32 data in C order. */
typedef struct cn_st_out {
    const char *name;
    int ndim;
    const int64_t *shape;
    const float *data; /* may be NULL only when the tensor has no elements */
} cn_st_out;

/* Writes tensors (data stored as `dtype`: F16 and BF16 round to nearest,
 * ties to even; NaN stays NaN) and meta_kv[0..2*meta_pairs) as key, value
 * pairs. Data offsets follow the order of t. The file is written to a
 * temporary name next to path, synced and renamed over path, so a failure
 * never leaves a partial file and an existing path is only replaced by a
 * complete one. */
int cn_st_write(const char *path, const cn_st_out *t, int count, cn_st_dtype dtype,
                const char *const *meta_kv, int meta_pairs);

/* --- Helpers shared with npy.c --- */

/* bfloat16: exact widening; narrowing rounds to nearest, ties to even, and a
 * NaN stays a NaN. The binary16 pair, cn_f16_to_f32 and cn_f32_to_f16, is in
 * runtime/half.h (included above). */
float cn_bf16_to_f32(uint16_t b);
uint16_t cn_f32_to_bf16(float f);


#ifdef __cplusplus
}
#endif
#endif
