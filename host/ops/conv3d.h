/* 3D and 2D convolution and transposed 3D convolution, with fused pre-activation and epilogue (cl/conv3d.cl, cl/conv_transpose3d.cl). */
#ifndef CASPNET_OPS_CONV3D_H
#define CASPNET_OPS_CONV3D_H

#include "runtime/tensor.h"

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
    /* Optional, conv3d/conv2d: the same weight as w in cn_conv_pack's layout.
     * Used where the convolution is not 1x1x1-pointwise and its shape matches
     * the current tuning's block (cn_conv_pack_shape); otherwise w is used.
     * conv_transpose3d: the weight of the stride-1 convolution it equals
     * ((Co, Ci, k), every kernel flipped) packed in one block, (1, Ci*k, Co);
     * read by the im2col variant at stride 1, ignored otherwise (w is used). */
    const cn_tensor *w_packed;
} cn_conv_args;

/* Details the description above leaves open, as implemented:
 * - pre_scale and pre_shift may each be NULL (scale 1, shift 0); pre_relu
 *   applies on its own as well (the conv then sees relu(x)).
 * - y may share x's buffer when x and y have identical shapes and the two
 *   channel windows do not overlap: a dense block can append a layer's
 *   output to the concatenation it reads from.
 * - stride, pad and dilation above 65535 are rejected (CN_ERR_ARG).
 * - A launcher enqueues one kernel and allocates nothing, except under
 *   -DCONV_VARIANT=im2col (cn_conv_im2col_ below: three launches, arena scratch)
 *   and for pointwise convs run as cn_gemm (a bias/ReLU pass after it). */

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

/* Tuning of cl/conv3d.cl for this context (each context has its own):
 * `options` is the -D macro string its programs are built with (see the
 * macros documented in cl/conv3d.cl); NULL or "" restores the measured
 * defaults. Meant for benchmarks and tests; set it before loading weights
 * (packed weights follow the tuning, see below). Returns CN_ERR_ARG if the
 * string is too long. */
int cn_conv_set_tuning(cn_ctx *ctx, const char *options);
/* The context's tuning string; the defaults for a NULL context. Valid until
 * the next cn_conv_set_tuning on that context. */
const char *cn_conv_tuning(const cn_ctx *ctx);

/* Which kernels run this context's convolutions: "im2col" (host/ops/conv_im2col.c,
 * -DCONV_VARIANT=im2col), "tiled" (cl/conv_tiled.cl,
 * shaped for GPUs: local-memory tiles, 64-256 work-items per group) or
 * "direct" (cl/conv3d.cl and, for pointwise convs, cn_gemm: shaped for CPUs).
 * Chosen by the -DCONV_VARIANT=tiled|direct|auto token of the tuning string,
 * else $CASPNET_CONV_VARIANT, else auto: tiled on GPU and accelerator devices,
 * direct on CPUs. The tiled kernel's tiles come from -DCT_TM, -DCT_TN,
 * -DCT_TK, -DCT_WM, -DCT_WN in the same string (cl/conv_tiled.cl); after its
 * build, a configuration the kernel or device cannot run (work-group size,
 * local memory) falls back to a smaller work-group, then under auto to the
 * direct kernels (a note under CASPNET_VERBOSE). A forced tiled variant that
 * cannot run at all is an error. Both variants read the same weights (plain
 * or packed, see below), so the model packs the same way for either.
 * Returns NULL (cn_last_error says why) on a bad token or a failed build.
 * This is the context-wide choice; under a per-class tuning (host/ops/
 * tuning.h) each shape class's string may name its own variant. */
const char *cn_conv_variant(cn_ctx *ctx);

/* Packed weights for the general (not 1x1x1) convolution kernel: w (co, ci,
 * taps) with taps = kT*kH*kW becomes (ceil(co/R), taps, ci, R), R being the
 * output-channel block of ctx's tuning (R_RM, cn_conv_pack_block(ctx); a
 * NULL ctx means the default tuning), zero past co, so the R weights a
 * work-item reads for one (tap, ci) are adjacent instead of ci*taps floats
 * apart. The packed tensor's shape is
 * (ceil(co/R), taps*ci, R) (cn_conv_pack_shape); out holds its numel floats,
 * written by the caller to a device tensor of that shape. A packed weight
 * made under another tuning no longer matches and is ignored (w is used),
 * unless w shares the packed tensor's buffer (a caller that keeps only the
 * packed copy): that is an error (CN_ERR_ARG), never a silent misread. */
int cn_conv_pack_block(const cn_ctx *ctx);
int cn_conv_pack_shape(const cn_ctx *ctx, int64_t co, int64_t ci, int64_t taps,
                       int64_t shape[3]);
int cn_conv_pack(const cn_ctx *ctx, const float *w, int64_t co, int64_t ci, int64_t taps,
                 float *out);
/* The same for a weight of shape wshape, (Co, Ci, kT, kH, kW) (ndim 5) or
 * (Co, Ci, kH, kW) (ndim 4), under the context's per-class tuning (host/ops/
 * tuning.h): the block is R_RM of the class that owns the weight's kernel
 * shape, so every convolution of that kernel reads it. What the model packs
 * with; without a per-class tuning (or with cn_conv_set_tuning) these equal
 * the functions above. */
int cn_conv_pack_block_of(const cn_ctx *ctx, int ndim, const int64_t *wshape);
/* 1 when such a weight is packed in one block (its convolutions run the
 * im2col variant), the (K, Co) matrix that variant multiplies fastest. A
 * transposed convolution's (Ci, Co, k) weight packed so (as a conv3d weight)
 * is what its adjoint, cn_conv3d with that weight, reads: the model keeps
 * both copies of CPC's theta then (host/model/model.c). */
int cn_conv_pack_whole_of(const cn_ctx *ctx, int ndim, const int64_t *wshape);
int cn_conv_pack_shape_of(const cn_ctx *ctx, int ndim, const int64_t *wshape, int64_t shape[3]);
int cn_conv_pack_of(const cn_ctx *ctx, int ndim, const int64_t *wshape, const float *w,
                    float *out);

/* ---- internal: shared by host/ops/conv3d.c and conv_transpose3d.c ---------- */

#include "../../cl/conv_flags.h" /* the F_* bits of cn_conv_geom.flags, as the kernels read them */

/* A validated convolution, every size as the kernels take it: input
 * T/H/W, output To/Ho/Wo and the op's own kernel size, stride, padding,
 * dilation and output padding (index 0/1/2 = T/H/W; a 2D op has T = 1). */
typedef struct cn_conv_geom {
    int N, Ci, Co, Cx, xoff, Cy, yoff, Cr, roff;
    int T, H, W, To, Ho, Wo, k[3], s[3], p[3], d[3], op[3];
    int flags; /* F_* of cl/conv_flags.h */
    float alpha;
    cl_mem x, w, bias, pscale, pshift, res, y;
    cn_dtype xt, wt, rt, yt; /* storage of x, w (as read: plain or packed), res, y */
} cn_conv_geom;

/* mode: 0 conv3d, 1 conv2d, 2 conv_transpose3d. Validates a->x, a->w and the
 * parameters, and with `full` also y, bias, pre_scale/shift and residual. */
int cn_conv_prepare_(const char *op, const cn_conv_args *a, int mode, int full, cn_conv_geom *g);
/* opts followed by the storage macros (-DX_H=1, -DW_H=1, -DR_H=1, -DY_H=1)
 * of g's half tensors, into buf (n bytes). */
const char *cn_conv_storage_opts_(const char *opts, const cn_conv_geom *g, char *buf, size_t n);
/* Runs the implicit-GEMM kernels of cl/conv3d.cl. The weight element for
 * (output channel m, input channel c, tap t,h,w) is
 * w[wbase + (m/R)*ws[5] + (m%R)*ws[0] + c*ws[1] + t*ws[2] + h*ws[3] + w*ws[4]]
 * in the general kernel (R = its output-channel block; ws[5] 0 means R*ws[0],
 * a plain layout) and w[wbase + m*ws[0] + c*ws[1]] in the pointwise one. */
int cn_conv_gemm_(cn_ctx *ctx, const cn_conv_geom *g, int wbase, const int ws[6],
                  const char *tag);

/* The tuning string a convolution of geometry g runs with: the context's
 * cn_conv_set_tuning string when set, else its per-class tuning for g's
 * shape class (cn_tuning_conv_opts), else the defaults. g NULL: the
 * context-wide string. */
const char *cn_conv_opts_(const cn_ctx *ctx, const cn_conv_geom *g);
/* Whether opts is a valid conv tuning string for the tuner and the tuning
 * files: the variant token, vector width, block sizes, tile constraints
 * (host/ops/conv_tiled.c). */
int cn_conv_check_tuning_(cn_ctx *ctx, const char *opts);

/* The tiled variant (host/ops/conv_tiled.c). The tile configuration checked
 * for one tuning string (key), kept in the context's CN_OPS_CONV state; a
 * few strings at once, since each shape class may have its own. */
typedef struct cn_conv_tiled_cache {
    int checked, ok;
    int cfg_tm, cfg_tn, cfg_wm, cfg_wn;
    char opts[128];
    char key[512];
} cn_conv_tiled_cache;
#define CN_CONV_TILED_CACHE_ 8
/* The entry for tuning string `key`, else a recycled one with checked 0
 * (the context's conv state is made with the default tuning if it has none
 * yet); NULL when out of host memory. */
cn_conv_tiled_cache *cn_conv_tiled_cache_(cn_ctx *ctx, const char *key);
/* *use = 1 when convolutions of geometry g (NULL: the context-wide string)
 * run the tiled variant on this context (see cn_conv_variant). */
int cn_conv_tiled_pick_(cn_ctx *ctx, const cn_conv_geom *g, int *use);
/* Runs cl/conv_tiled.cl on g with the weight strides of cn_conv_gemm_ (R:
 * the output-channel block of a packed weight, 1 or R_RM for a plain one
 * with ws[5] 0); transposed: g is a transposed convolution's own geometry
 * (any stride) and ws the strides of its (Ci, Co, k) weight. */
int cn_conv_tiled_(cn_ctx *ctx, const cn_conv_geom *g, int wbase, const int ws[6], int R,
                   int transposed, const char *tag);

/* The explicit-GEMM variant (host/ops/conv_im2col.c), -DCONV_VARIANT=im2col
 * in g's tuning string (or $CASPNET_CONV_VARIANT=im2col when the string names
 * no variant). cn_conv_im2col_ runs a convolution as im2col + cn_gemm +
 * epilogue (wk: the weight packed in one block, (1, K, Co), or NULL for the
 * plain one), cn_conv_transpose_im2col_ a transposed one (any stride) as
 * cn_gemm + col2im; each takes scratch from the arena (released before it
 * returns, the queue being in order) and sets *done = 0 without enqueuing
 * anything where it does not apply (a weight held only packed, half weights,
 * a transposed conv with pre-activation or half input, scratch over 32 MiB):
 * the caller then runs the direct kernels. */
int cn_conv_im2col_wanted_(const cn_ctx *ctx, const cn_conv_geom *g);
int cn_conv_im2col_(cn_ctx *ctx, const cn_conv_geom *g, const cn_conv_args *a,
                    const cn_tensor *wk, int *done);
int cn_conv_transpose_im2col_(cn_ctx *ctx, const cn_conv_geom *g, const cn_conv_args *a,
                              int *done);

#endif
