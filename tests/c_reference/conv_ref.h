/* Plain-C double-precision references for conv3d, conv2d and transposed conv3d with every fused feature. */
#ifndef CASPNET_CONV_REF_H
#define CASPNET_CONV_REF_H
#include <stdint.h>

/* One description for all three ops; a 2D convolution is a 3D one with
 * in[0] = k[0] = 1 (and s/p/d of axis 0 left at 1/0/1). Axis order T, H, W.
 *   x (N, Cx, in), channels [x_c_off, x_c_off+Ci) are the input;
 *   w (Co, Ci, k) direct, (Ci, Co, k) transposed;
 *   bias (Co), pre_scale/pre_shift (Ci) or NULL;
 *   residual (N, res_C, out) read at channels [res_off, res_off+Co) or NULL;
 *   y (N, Cy, out): channels [y_c_off, y_c_off+Co) are overwritten, the
 *   others are left as they are. */
typedef struct ref_conv_desc {
    int transposed;
    int64_t N, Cx, x_c_off, Ci, Co, Cy, y_c_off, res_C, res_off;
    int64_t in[3], k[3];
    int s[3], p[3], d[3], op[3];
    const float *x, *w, *bias, *pre_scale, *pre_shift, *residual;
    int pre_relu, relu;
    double alpha; /* 0 means 1, as in the library */
} ref_conv_desc;

/* Output size along each axis (PyTorch's formulas); 0 or less if empty. */
void ref_conv_out(const ref_conv_desc *c, int64_t out[3]);

/* Computes y as described. `absy`, if not NULL, receives per output element
 * the sum of |w*x| over the products (before the epilogue), the scale that
 * float32 rounding error grows with. */
void ref_conv(const ref_conv_desc *c, double *y, double *absy);

#endif
