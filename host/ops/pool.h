/* Max pooling, 3D and 2D, in PyTorch floor mode (padding never wins) (cl/pool.cl). */
#ifndef CASPNET_OPS_POOL_H
#define CASPNET_OPS_POOL_H

#include "runtime/tensor.h"

/* x and y may each be float or half (CN_F16); the max itself is exact. */

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

#endif
