/* Bilinear resize of the last two axes, PyTorch align_corners=False (cl/resize.cl). */
#ifndef CASPNET_OPS_RESIZE_H
#define CASPNET_OPS_RESIZE_H

#include "runtime/tensor.h"

/* Bilinear resize of the last two axes, PyTorch align_corners=False semantics
 * (F.interpolate mode='bilinear'); leading axes must match. accumulate=1 adds
 * the resized values to y instead of overwriting it. x and y may each be
 * float or half (CN_F16); the blend and the sum are float, rounded once into
 * a half y. */
int cn_resize_bilinear(cn_ctx *ctx, const cn_tensor *x, cn_tensor *y, int accumulate);

#endif
