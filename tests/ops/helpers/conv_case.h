/* Device-side case runner shared by the conv3d, conv2d and transposed-conv3d op families: random operands, a guarded output, the C reference. */
#ifndef CASPNET_CONV_CASE_H
#define CASPNET_CONV_CASE_H

#include "testutil.h"

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
    /* Storage of x, w (plain and packed), the separate residual and y: 0
     * (CN_F32) or CN_F16. Half inputs are rounded on the host first and the
     * reference runs on the rounded values; a half y adds its rounding to the
     * tolerance (see conv_run_case). Bias and pre-activation stay float. */
    cn_dtype xt, wt, rt, yt;
} conv_case;

/* Returns the number of failed checks it added to tu_failures. */
int conv_run_case(cn_ctx *ctx, tu_rng *r, const conv_case *cc);

#endif
