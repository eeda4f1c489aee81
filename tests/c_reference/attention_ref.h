/* Plain-C double-precision references for the attention ops, straight from the formulas (full score matrix). */
#ifndef CASPNET_ATTENTION_REF_H
#define CASPNET_ATTENTION_REF_H
#include <stdint.h>

/* Channel-first q (n, d, lq), k (n, d, lk), v (n, dv, lk) -> y (n, dv, lq).
 * mag (may be NULL) receives, per output element, the same sum taken over
 * absolute values of every term: the scale of float rounding in any order. */
void ref_attention_linear(int64_t n, int64_t d, int64_t dv, int64_t lq, int64_t lk,
                          const float *q, const float *k, const float *v, double scale, double *y,
                          double *mag);
/* smax (may be NULL) receives max over (l, j) of |scale| * sum_d |q_dl k_dj|,
 * the bound on a score's magnitude that sets its rounding error. */
void ref_attention_quadratic(int64_t n, int64_t d, int64_t dv, int64_t lq, int64_t lk,
                             const float *q, const float *k, const float *v, double scale,
                             double *y, double *smax);
/* y[n, c, l] = x + s[n, l] * u[n, c] + b[c]; s or b may be NULL. */
void ref_rank1_residual(int64_t n, int64_t c, int64_t l, const float *x, const float *s,
                        const float *u, const float *b, double *y);
#endif
