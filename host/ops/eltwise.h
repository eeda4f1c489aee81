/* Elementwise ops, broadcast and channel copies (cl/eltwise.cl). */
#ifndef CASPNET_OPS_ELTWISE_H
#define CASPNET_OPS_ELTWISE_H

#include "runtime/tensor.h"

/* Every tensor here may be float or half (CN_F16), each its own: the kernels
 * load as float, compute in float and round once when they store to half;
 * cn_copy_channels between a float and a half tensor is the conversion. */

/* y = a*x + b*z  (z may be NULL, then y = a*x). Same shapes; y may alias x or z. */
int cn_axpby(cn_ctx *ctx, float a, const cn_tensor *x, float b, const cn_tensor *z, cn_tensor *y);
/* y = x + z */
int cn_add(cn_ctx *ctx, const cn_tensor *x, const cn_tensor *z, cn_tensor *y);
/* y = a*x */
int cn_scale(cn_ctx *ctx, float a, const cn_tensor *x, cn_tensor *y);

typedef enum cn_unary_op {
    CN_UNARY_RELU = 0,
    CN_UNARY_GELU = 1,    /* exact erf GELU */
    CN_UNARY_SIGMOID = 2
} cn_unary_op;
/* y = f(x) + shift  (shift is 0.2 for the attention's phi = gelu + 0.2). y may alias x. */
int cn_unary(cn_ctx *ctx, cn_unary_op op, float shift, const cn_tensor *x, cn_tensor *y);
int cn_gelu(cn_ctx *ctx, float shift, const cn_tensor *x, cn_tensor *y);
int cn_sigmoid(cn_ctx *ctx, const cn_tensor *x, cn_tensor *y);

/* Broadcast v (N, C) to y (N, C, d2, d3, ...): y[n,c,...] = v[n,c]. */
int cn_broadcast_nc(cn_ctx *ctx, const cn_tensor *v, cn_tensor *y);

/* Copies x (N, Cx, ...) into channels [c_off, c_off+Cx) of y (N, Cy, ...), same
 * trailing dims. Channel concatenation is one call per input. */
int cn_copy_channels(cn_ctx *ctx, const cn_tensor *x, cn_tensor *y, int64_t c_off);
/* y = concat(xs[0..n-1]) on axis 1. */
int cn_concat_channels(cn_ctx *ctx, const cn_tensor *xs, int n, cn_tensor *y);

#endif
