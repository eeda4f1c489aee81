/* The one tensor type every op uses, and the arena that recycles device buffers between layers. */
#ifndef CASPNET_TENSOR_H
#define CASPNET_TENSOR_H

#include "runtime/half.h"
#include "runtime/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CN_MAX_DIMS 6

/* How a tensor's elements are stored on the device. The host side of every
 * call below is float32 whatever the dtype: CN_F16 tensors (IEEE binary16)
 * are converted on upload (round to nearest even) and download (exact).
 * Kernels read half storage with vload_half and write it with vstore_half
 * (OpenCL 1.2 core, no extension needed) and compute in float. */
typedef enum cn_dtype { CN_F32 = 0, CN_F16 = 1 } cn_dtype;

/* Bytes per element: 4 or 2. */
size_t cn_dtype_size(cn_dtype d);
/* "f32" or "f16". */
const char *cn_dtype_name(cn_dtype d);

/* A dense row-major device tensor. `buf` belongs to the arena (or to whoever
 * created it with cn_tensor_wrap); give it back with cn_tensor_release. A
 * zero-initialised cn_tensor is "empty" and safe to release. */
typedef struct cn_tensor {
    cl_mem buf;
    int ndim;
    int64_t shape[CN_MAX_DIMS];
    cn_dtype dtype;
    size_t cap;  /* bytes of the underlying buffer (>= cn_tensor_bytes) */
    int owned;   /* 1: arena buffer, returned on release; 0: borrowed */
} cn_tensor;

int64_t cn_numel(const cn_tensor *t);
size_t cn_tensor_bytes(const cn_tensor *t);
/* "2x3x16x64x96" into buf; returns buf. */
const char *cn_shape_str(const cn_tensor *t, char *buf, size_t n);
int cn_same_shape(const cn_tensor *a, const cn_tensor *b);

/* Takes a float32 buffer of at least `shape` elements from the arena. On failure
 * *t is left empty. */
int cn_tensor_alloc(cn_ctx *ctx, cn_tensor *t, int ndim, const int64_t *shape);
/* The same for elements of `dtype` (a CN_F16 tensor takes half the bytes). */
int cn_tensor_alloc_as(cn_ctx *ctx, cn_tensor *t, cn_dtype dtype, int ndim, const int64_t *shape);

/* Views an existing buffer (not owned: release only forgets it) as float32;
 * set t->dtype afterwards for another storage. */
void cn_tensor_wrap(cn_tensor *t, cl_mem buf, size_t cap, int ndim, const int64_t *shape);

/* Returns the buffer to the arena (or forgets a borrowed one); empties *t. */
void cn_tensor_release(cn_ctx *ctx, cn_tensor *t);

/* Reinterprets the shape without moving data (numel must match). */
int cn_tensor_reshape(cn_tensor *t, int ndim, const int64_t *shape);

/* Blocking host<->device copies of the whole tensor, numel floats on the
 * host; a CN_F16 tensor is converted in slices through a bounded staging
 * buffer (no host copy of the whole tensor). */
int cn_tensor_upload(cn_ctx *ctx, cn_tensor *t, const float *host);
int cn_tensor_download(cn_ctx *ctx, const cn_tensor *t, float *host);
/* cn_tensor_alloc + cn_tensor_upload. */
int cn_tensor_from_host(cn_ctx *ctx, cn_tensor *t, int ndim, const int64_t *shape,
                        const float *host);
/* cn_tensor_alloc_as + cn_tensor_upload. */
int cn_tensor_from_host_as(cn_ctx *ctx, cn_tensor *t, cn_dtype dtype, int ndim,
                           const int64_t *shape, const float *host);

/* The storage macros of cl/storage.h for one launch: appends " -DNAME=1" to
 * opts (a NUL-terminated string in n bytes) for every NAME whose tensor is
 * CN_F16. Float and absent (NULL) tensors add nothing, so a launch on float
 * tensors keeps the options (and the compiled program) it always had. The
 * variable arguments are `count` pairs (const char *NAME, const cn_tensor *t). */
void cn_storage_opts(char *opts, size_t n, int count, ...);

/* Frees every idle buffer held by the arena (device memory goes back to the driver). */
void cn_arena_trim(cn_ctx *ctx);
/* Bytes held by tensors now (excluding idle arena buffers). */
uint64_t cn_arena_in_use(cn_ctx *ctx);
/* Test switch: with reuse off (on = 0) the arena keeps no idle buffers and
 * every tensor takes a fresh device buffer, so each tensor allocation is a
 * device allocation (cn_ctx_fail_alloc_after then reaches every one). On by
 * default. */
void cn_arena_set_reuse(cn_ctx *ctx, int on);

#ifdef __cplusplus
}
#endif
#endif
