/* Plain-C double-precision references for cn_gemm and cn_linear. */
#ifndef CASPNET_GEMM_REF_H
#define CASPNET_GEMM_REF_H
#include <stdint.h>

#include "ops/gemm.h"

/* Floats of a buffer that the description touches (0 when empty). */
int64_t ref_gemm_extent_a(const cn_gemm_desc *d);
int64_t ref_gemm_extent_b(const cn_gemm_desc *d);
int64_t ref_gemm_extent_c(const cn_gemm_desc *d);

/* out (c_len values) = the C buffer after the strided-batched product of d,
 * in double; elements outside the product keep c0's value. With beta 0, c0
 * is not read inside the product (it may hold NaN there). If mag is not
 * NULL it receives, per element, |alpha| * sum_k |op(A)[m,k] op(B)[k,n]|, the
 * scale of the product's rounding error (0 outside the product). */
void ref_gemm(const cn_gemm_desc *d, const float *A, const float *B, const float *c0,
              int64_t c_len, double *out, double *mag);

/* y (n, out) = x (n, in) w (out, in)^T + b (NULL: none), then ReLU if relu;
 * mag (optional) receives sum_k |x w| + |b| per element. */
void ref_linear(int64_t n, int64_t in, int64_t out, const float *x, const float *w,
                const float *b, int relu, double *y, double *mag);
#endif
