/* Matrix products through our own OpenCL GEMM kernel or CLBlast, chosen per device by measurement (cl/gemm.cl). */
#ifndef CASPNET_OPS_GEMM_H
#define CASPNET_OPS_GEMM_H

#include "runtime/tensor.h"

typedef enum cn_gemm_backend {
    CN_GEMM_AUTO = 0,  /* measured once per device, choice cached on disk */
    CN_GEMM_OWN = 1,   /* cl/gemm.cl */
    CN_GEMM_CLBLAST = 2
} cn_gemm_backend;

/* Row-major, strided-batched:
 *   for b < batch: C_b = alpha * op(A_b) * op(B_b) + beta * C_b
 * op(A_b) is M x K, op(B_b) is K x N; A_b starts at element off_a + b*stride_a
 * of buffer A (likewise B, C); lda/ldb/ldc are row strides of the stored
 * matrices (before transposition). beta 0 means C is write-only. */
typedef struct cn_gemm_desc {
    int trans_a, trans_b;
    int64_t M, N, K;
    float alpha, beta;
    int64_t lda, ldb, ldc;
    int64_t off_a, off_b, off_c;
    int64_t batch; /* 0 means 1 */
    int64_t stride_a, stride_b, stride_c;
    const char *tag;
    /* Storage of each matrix (0, CN_F32, by default): with a CN_F16 operand
     * the sizes and offsets count halves, the own kernels run (CLBlast is
     * float only here) and every product and sum stays float. */
    cn_dtype a_type, b_type, c_type;
} cn_gemm_desc;

/* Validates the description against the buffers' sizes (bytes) and enqueues. */
int cn_gemm(cn_ctx *ctx, const cn_gemm_desc *d, cl_mem A, size_t a_bytes, cl_mem B,
            size_t b_bytes, cl_mem C, size_t c_bytes);

/* Forces a backend for this context (tests, benchmarks); AUTO restores the
 * measured choice. */
void cn_gemm_set_backend(cn_ctx *ctx, cn_gemm_backend b);
/* The backend AUTO resolves to on this device (measures on first use). */
int cn_gemm_resolve_backend(cn_ctx *ctx, cn_gemm_backend *out);
const char *cn_gemm_backend_name(cn_gemm_backend b);

/* ---- additions: tuning, choice introspection (tests, benchmarks) ---------- */

/* Notes on the calls above:
 * - The first AUTO product on a device whose choice is not cached times both
 *   backends on a few representative products (about 1 s, plus CLBlast's
 *   kernel builds, up to ~30 s on PoCL with a cold compiler cache): that
 *   call waits for the device. cn_gemm_resolve_backend does it up front.
 * - $CASPNET_GEMM = own | clblast | auto overrides AUTO (not a backend
 *   forced with cn_gemm_set_backend).
 * - AUTO decides separately for skinny products (min(M, N) small, GEMV-like)
 *   and for the others; cn_gemm_resolve_backend reports the latter.
 * - Products with K = 0 (C = beta C) always run on the own kernels. */

/* Tuning of the own kernel: "-DNAME=value" tokens for the macros documented in
 * cl/gemm.cl (GEMM_VW, GEMM_NV, GEMM_WM, GEMM_LOCAL, GEMM_TK, GEMM_LM, GEMM_LN,
 * GEMM_SK_RP, GEMM_SK_PV) and two launch knobs, GEMM_WGM (work-items per group
 * along m without GEMM_LOCAL) and GEMM_SKINNY (largest min(M, N) that takes
 * the skinny kernels). Tokens override the per-device defaults for this
 * context only; NULL or "" restores them. An AUTO choice this context has
 * already made is kept (set the tuning before the first product). */
int cn_gemm_set_tuning(cn_ctx *ctx, const char *options);
/* The effective tuning for this context's device, as passed to the compiler. */
const char *cn_gemm_tuning(cn_ctx *ctx, char *buf, size_t n);

/* How this context's AUTO choice was obtained: 0 not yet, 1 measured, 2 read
 * from the on-disk cache. */
int cn_gemm_choice_origin(cn_ctx *ctx);
/* Measurements made by this process so far, over all its contexts (each one
 * times both backends): a process counter, so that a test can see that a
 * second context read the cache instead of measuring. */
long cn_gemm_choice_measurements(void);
/* The file that holds the choice for this context's device ("" when the cache
 * is off). */
const char *cn_gemm_choice_file(cn_ctx *ctx, char *buf, size_t n);
/* ---- internal to host/ops/gemm*.c ----------------------------------------- */

/* Classes of products timed and chosen for separately: skinny ones (a GEMV
 * with a few right-hand sides is memory-bound and the own skinny kernels
 * read the matrix once) and all others. */
enum { CN_GEMM_GENERAL_ = 0, CN_GEMM_SKINNY_ = 1, CN_GEMM_NCLS_ = 2 };

/* A context's GEMM state, in its CN_OPS_GEMM slot (see cn_ctx_op_state). */
typedef struct cn_gemm_state {
    char tuning[512];       /* cn_gemm_set_tuning's overrides; "" none */
    cn_gemm_backend forced; /* cn_gemm_set_backend */
    int origin;             /* cn_gemm_choice_origin */
    cn_gemm_backend choice[CN_GEMM_NCLS_]; /* AUTO per class, once origin != 0 */
} cn_gemm_state;
/* The context's state; with `create` made (all defaults) when absent. NULL
 * when absent and not to be created, or when out of host memory. */
cn_gemm_state *cn_gemm_state_(cn_ctx *ctx, int create);

/* The effective own-kernel tuning of one class (skinny 0: general), as
 * cn_gemm_tuning prints it; and whether opts is a valid tuning string for
 * this device (host/ops/tuning.c checks the per-class strings with it). */
const char *cn_gemm_tuning_class_(cn_ctx *ctx, int skinny, char *buf, size_t n);
int cn_gemm_check_tuning_(cn_ctx *ctx, const char *opts);

/* Enqueue an already validated product (batch >= 1, M, N >= 1). */
int cn_gemm_own_(cn_ctx *ctx, const cn_gemm_desc *d, cl_mem A, cl_mem B, cl_mem C);
int cn_gemm_clblast_(cn_ctx *ctx, const cn_gemm_desc *d, cl_mem A, cl_mem B, cl_mem C);
/* Whether the own kernels treat this product as skinny (min(M, N) small). */
int cn_gemm_is_skinny_(cn_ctx *ctx, const cn_gemm_desc *d);
/* The backend that runs a validated product: forced, $CASPNET_GEMM, or the
 * measured choice for its class (skinny or general). */
int cn_gemm_pick_(cn_ctx *ctx, int skinny, cn_gemm_backend *out);

#endif
