/* The linear layer y = x w^T + b (+ ReLU): a GEMM and a bias/ReLU pass (cl/linear.cl). */
#ifndef CASPNET_OPS_LINEAR_H
#define CASPNET_OPS_LINEAR_H

#include "runtime/tensor.h"

/* y = x w^T + b, then ReLU if relu. x (N, in), w (out, in), b (out) or NULL,
 * y (N, out). */
int cn_linear(cn_ctx *ctx, const cn_tensor *x, const cn_tensor *w, const cn_tensor *b, int relu,
              cn_tensor *y);

#endif
