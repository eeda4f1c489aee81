/* 3D and 2D convolution and transposed 3D convolution, with fused pre-activation and epilogue (cl/conv3d.cl, cl/conv_transpose3d.cl). */
#ifndef CASPNET_OPS_CONV3D_H
#define CASPNET_OPS_CONV3D_H

#include "../tensor.h"

/* One description for every convolution launcher. Index 0/1/2 of the int
 * arrays are the T/H/W axes; zero means the default (stride 1, pad 0, dil 1).
 * For cn_conv2d only entries 1 and 2 (H, W) are used.
 *
 * Computes, for output channels [y_c_off, y_c_off + Co) of y:
 *     xin = x channels [x_c_off, x_c_off + Ci)
 *     xin = pre_relu ? relu(pre_scale*xin + pre_shift) : pre_scale*xin + pre_shift
 *           (per input channel; skipped when pre_scale is NULL; zero padding is
 *            applied AFTER this, as PyTorch pads the conv's own input)
 *     y   = alpha * (conv(xin, w) + bias) + residual
 *     y   = relu(y) if relu
 * alpha 0 means 1. bias, pre_scale/pre_shift and residual may be NULL.
 *
 * Shapes: x (N, Cx, T, H, W) with Cx >= x_c_off + Ci; w (Co, Ci, kT, kH, kW)
 * for conv3d, (Ci, Co, kT, kH, kW) for conv_transpose3d; bias (Co);
 * pre_scale, pre_shift (Ci); residual (N, Co, To, Ho, Wo); y (N, Cy, To, Ho, Wo)
 * with Cy >= y_c_off + Co. 2D: drop the T axis everywhere. y must not alias x
 * or residual (except residual == y with the same channel window). */
typedef struct cn_conv_args {
    const cn_tensor *x, *w, *bias, *pre_scale, *pre_shift, *residual;
    cn_tensor *y;
    int stride[3], pad[3], dil[3];
    int out_pad[3]; /* transposed convolution only */
    int pre_relu, relu;
    float alpha;
    int64_t x_c_off, y_c_off;
    const char *tag; /* profile name; NULL: the op's name */
} cn_conv_args;

/* Output spatial shape (N, Co, To, Ho, Wo) of a conv3d / conv_transpose3d from
 * a->x, a->w and the parameters (a->y unused). 2D variant gives 4 dims. */
int cn_conv3d_out_shape(const cn_conv_args *a, int64_t out[5]);
int cn_conv2d_out_shape(const cn_conv_args *a, int64_t out[4]);
int cn_conv_transpose3d_out_shape(const cn_conv_args *a, int64_t out[5]);

int cn_conv3d(cn_ctx *ctx, const cn_conv_args *a);
int cn_conv2d(cn_ctx *ctx, const cn_conv_args *a);
/* PyTorch ConvTranspose3d semantics (stride 1 or 2, any pad/out_pad/dil).
 * Its adjoint (the gradient with respect to its input) is cn_conv3d with the
 * same weight tensor, same stride, pad and dilation. */
int cn_conv_transpose3d(cn_ctx *ctx, const cn_conv_args *a);

#endif
