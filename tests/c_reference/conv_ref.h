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

/* ---- device-side case runner shared by the three conv tests ---------------- */

struct cn_ctx;
struct tu_rng;

/* A test case: random x, w, bias, pre-activation and residual as requested,
 * run through cn_conv3d (mode 0), cn_conv2d (1) or cn_conv_transpose3d (2)
 * into a guarded, randomly prefilled y of Co + cy_extra channels, then
 * compared with ref_conv over the whole of y (channels outside the window
 * must come back untouched). For mode 1 entry 0 of in/k/s/p/d is ignored. */
typedef struct conv_case {
    const char *name;
    int mode;
    int N, Ci, Co, cx_extra, xoff, cy_extra, yoff;
    int in[3], k[3], s[3], p[3], d[3], op[3];
    int bias, pre_scale, pre_shift, pre_relu, relu;
    int residual; /* 0 none, 1 separate tensor, 2 y itself (in place) */
    float alpha;
    int packed; /* modes 0/1: also pass the weight packed (cn_conv_pack) */
} conv_case;

/* Returns the number of failed checks it added to tu_failures. */
int conv_run_case(struct cn_ctx *ctx, struct tu_rng *r, const conv_case *cc);

#endif
