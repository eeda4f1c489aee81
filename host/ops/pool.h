/* Max pooling (padding never wins), mean over axes, and bilinear resizing (cl/pool.cl, cl/mean.cl, cl/resize.cl). */
#ifndef CASPNET_OPS_POOL_H
#define CASPNET_OPS_POOL_H

#include "../tensor.h"

/* PyTorch MaxPool3d (floor mode): k/s/p per T,H,W axis, padding is -inf.
 * x (N, C, T, H, W) -> y (N, C, To, Ho, Wo). */
int cn_maxpool3d_out_shape(const cn_tensor *x, const int k[3], const int s[3], const int p[3],
                           int64_t out[5]);
int cn_maxpool3d(cn_ctx *ctx, const int k[3], const int s[3], const int p[3], const cn_tensor *x,
                 cn_tensor *y);
/* MaxPool2d: x (N, C, H, W). */
int cn_maxpool2d_out_shape(const cn_tensor *x, const int k[2], const int s[2], const int p[2],
                           int64_t out[4]);
int cn_maxpool2d(cn_ctx *ctx, const int k[2], const int s[2], const int p[2], const cn_tensor *x,
                 cn_tensor *y);

/* Mean over the contiguous axes [axis_begin, axis_end) of x; y has x's rank
 * with those axes of size 1 (keepdim). Accumulates in double where the device
 * has fp64, else in float with pairwise partial sums. */
int cn_mean_axes(cn_ctx *ctx, const cn_tensor *x, int axis_begin, int axis_end, cn_tensor *y);
/* cn_mean_axes with the accumulator chosen by the caller, so one device can
 * exercise both kernel variants: fp64 = 1 accumulates in double (CN_ERR_UNSUPPORTED
 * where the device lacks cl_khr_fp64), fp64 = 0 in compensated float. */
int cn_mean_axes_acc(cn_ctx *ctx, const cn_tensor *x, int axis_begin, int axis_end, cn_tensor *y,
                     int fp64);

/* Bilinear resize of the last two axes, PyTorch align_corners=False semantics
 * (F.interpolate mode='bilinear'); leading axes must match. accumulate=1 adds
 * the resized values to y instead of overwriting it. */
int cn_resize_bilinear(cn_ctx *ctx, const cn_tensor *x, cn_tensor *y, int accumulate);

#endif
