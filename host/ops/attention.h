/* Linear and (streamed) quadratic attention, general and for the broadcast audio key (cl/attention.cl). */
#ifndef CASPNET_OPS_ATTENTION_H
#define CASPNET_OPS_ATTENTION_H

#include "runtime/tensor.h"

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

/* ---- additions: notes on the calls above ---------------------------------- */

/* - cn_attention_quadratic and cn_rank1_residual take each tensor float or
 *   half (CN_F16): scores, softmax and sums are float, and a half y is
 *   rounded once. cn_attention_linear takes float tensors only.
 * - q, k, v, y may carry any trailing dims (e.g. (N, D, T, H, W)); they are
 *   flattened to L. y must have q's trailing dims and v must have k's. Every
 *   dimension must be at least 1 (CN_ERR_SHAPE otherwise); scale must be finite.
 * - cn_attention_linear allocates temporaries from the arena (cn_tensor_alloc):
 *   phi(q) like q, phi(k) like k, and (N, D, Dv) for phi(K)^T V; they are
 *   released before it returns (the in-order queue makes that safe). Its
 *   products run through cn_gemm, so the context's GEMM backend applies.
 * - cn_attention_quadratic allocates nothing; it holds one block of
 *   ATT_KB (cl/attention.cl) keys' scores per work-group in local memory.
 * - cn_rank1_residual accepts s of any shape (N, ...) with N * L elements,
 *   so (N, 1, T, H, W) works as well as (N, L). */

#endif
