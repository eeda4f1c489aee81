/* Linear and (streamed) quadratic attention, general and for the broadcast audio key (cl/attention.cl). */
#ifndef CASPNET_OPS_ATTENTION_H
#define CASPNET_OPS_ATTENTION_H

#include "../tensor.h"

/* Channel-first layout: q (N, D, Lq), k (N, D, Lk), v (N, Dv, Lk), y (N, Dv, Lq).
 *   linear:    y[:, l] = sum_j (phi(q_l) . phi(k_j)) v_j * scale,  phi(x) = gelu(x) + 0.2
 *              (computed as phi(Q) @ (phi(K)^T V), never forming Lq x Lk)
 *   quadratic: y[:, l] = sum_j softmax_j(q_l . k_j * scale) v_j
 *              (streamed over key blocks with an online softmax, never forming Lq x Lk)
 * The model's scale is 1/L. */
int cn_attention_linear(cn_ctx *ctx, const cn_tensor *q, const cn_tensor *k, const cn_tensor *v,
                        float scale, cn_tensor *y);
int cn_attention_quadratic(cn_ctx *ctx, const cn_tensor *q, const cn_tensor *k,
                           const cn_tensor *v, float scale, cn_tensor *y);

/* y[n, c, l] = x[n, c, l] + s[n, l] * u[n, c] + b[c]: the attention output
 * when every key row is the same vector (the AVIM's broadcast audio key), where
 * the attention collapses to rank one. s may be NULL (taken as 1), b may be NULL.
 * x, y (N, C, L...) with any trailing dims flattened to L; s (N, L); u (N, C). */
int cn_rank1_residual(cn_ctx *ctx, const cn_tensor *x, const cn_tensor *s, const cn_tensor *u,
                      const cn_tensor *b, cn_tensor *y);

#endif
