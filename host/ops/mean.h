/* Mean over contiguous axes with keepdim, accumulated in double or compensated float (cl/mean.cl). */
#ifndef CASPNET_OPS_MEAN_H
#define CASPNET_OPS_MEAN_H

#include "runtime/tensor.h"

/* Mean over the contiguous axes [axis_begin, axis_end) of x; y has x's rank
 * with those axes of size 1 (keepdim). Accumulates in double where the device
 * has fp64, else in float with pairwise partial sums. x and y may each be
 * float or half (CN_F16): the sum is double or compensated float either way,
 * and a half y is the mean rounded once. */
int cn_mean_axes(cn_ctx *ctx, const cn_tensor *x, int axis_begin, int axis_end, cn_tensor *y);
/* cn_mean_axes with the accumulator chosen by the caller, so one device can
 * exercise both kernel variants: fp64 = 1 accumulates in double (CN_ERR_UNSUPPORTED
 * where the device lacks cl_khr_fp64), fp64 = 0 in compensated float. */
int cn_mean_axes_acc(cn_ctx *ctx, const cn_tensor *x, int axis_begin, int axis_end, cn_tensor *y,
                     int fp64);

#endif
