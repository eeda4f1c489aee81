/* Matrix products through our own OpenCL GEMM kernel or CLBlast, chosen per device by measurement (cl/gemm.cl), and the linear layer. */
#ifndef CASPNET_OPS_GEMM_H
#define CASPNET_OPS_GEMM_H

#include "../tensor.h"

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

/* y = x w^T + b, then ReLU if relu. x (N, in), w (out, in), b (out) or NULL,
 * y (N, out). */
int cn_linear(cn_ctx *ctx, const cn_tensor *x, const cn_tensor *w, const cn_tensor *b, int relu,
              cn_tensor *y);

#endif
