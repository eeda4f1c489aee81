/* Host launcher for the transposed 3D convolution: stride 1 runs the implicit-GEMM kernels of cl/conv3d.cl (or cl/conv_tiled.cl) on the flipped weight, other strides cl/conv_transpose3d.cl (or conv_tiled.cl's gather form). */
#include "ops/conv3d.h"

#define CT_OPTS "-DTRM=4"
#define CT_TRM 4

int cn_conv_transpose3d(cn_ctx *ctx, const cn_conv_args *a)
{
    const char *op = "conv_transpose3d";
    cn_conv_geom g;
    CN_TRY(cn_conv_prepare_(op, a, 2, 1, &g));
    const char *tag = a->tag ? a->tag : op;
    const int ks = g.k[0] * g.k[1] * g.k[2];
    if (cn_conv_im2col_wanted_(ctx, &g)) {
        int done = 0;
        const cn_tensor *wt = a->w_packed;
        if (wt && g.s[0] == 1 && g.s[1] == 1 && g.s[2] == 1 && wt->ndim == 3 &&
            wt->shape[0] == 1 && wt->shape[1] == (int64_t)g.Ci * ks && wt->shape[2] == g.Co &&
            wt->buf && wt->cap >= cn_tensor_bytes(wt)) {
            /* the equivalent convolution (below) on its packed weight */
            cn_conv_geom e = g;
            for (int i = 0; i < 3; i++)
                e.p[i] = g.d[i] * (g.k[i] - 1) - g.p[i];
            CN_TRY(cn_conv_im2col_(ctx, &e, a, wt, &done));
        }
        if (!done)
            CN_TRY(cn_conv_transpose_im2col_(ctx, &g, a, &done));
        if (done)
            return CN_OK;
    }
    if (g.s[0] == 1 && g.s[1] == 1 && g.s[2] == 1) {
        /* With stride 1, y[o] = sum_k x[o + p - k*d] w[k] is a direct
         * convolution with the kernel flipped and in/out channels swapped,
         * padded by d*(k-1) - p (negative padding just crops); out_pad only
         * makes the output longer, which the kernel's To/Ho/Wo already say. */
        cn_conv_geom e = g;
        for (int i = 0; i < 3; i++)
            e.p[i] = g.d[i] * (g.k[i] - 1) - g.p[i];
        const int ws[6] = {ks, g.Co * ks, -g.k[1] * g.k[2], -g.k[2], -1, 0};
        return cn_conv_gemm_(ctx, &e, ks - 1, ws, tag);
    }
    int tiled;
    CN_TRY(cn_conv_tiled_pick_(ctx, &g, &tiled));
    if (tiled) {
        /* the tiled kernel's gather form, on the (Ci, Co, k) weight as it is */
        const int ws[6] = {ks, g.Co * ks, g.k[1] * g.k[2], g.k[2], 1, 0};
        return cn_conv_tiled_(ctx, &g, 0, ws, 1, 1, tag);
    }
    cl_kernel k;
    char sopts[96];
    CN_TRY(cn_kernel(ctx, "conv_transpose3d", cn_conv_storage_opts_(CT_OPTS, &g, sopts, sizeof sopts),
                     "conv_transpose_gather", &k));
    const int iargs[] = {g.Ci, g.Co, g.Cx, g.xoff, g.Cy, g.yoff, g.T, g.H, g.W, g.To, g.Ho,
                         g.Wo, g.k[0], g.k[1], g.k[2], g.s[0], g.s[1], g.s[2], g.p[0], g.p[1],
                         g.p[2], g.d[0], g.d[1], g.d[2]};
    cl_uint ai = 0;
    for (size_t i = 0; i < sizeof iargs / sizeof iargs[0]; i++, ai++)
        CN_TRY(CN_ARG(k, ai, iargs[i]));
    /* absent optional buffers are passed as x: the flags keep them unread */
    cl_mem bufs[6] = {g.x, g.w, g.bias ? g.bias : g.x, g.pscale ? g.pscale : g.x,
                      g.pshift ? g.pshift : g.x, g.res ? g.res : g.x};
    for (int i = 0; i < 6; i++, ai++)
        CN_TRY(CN_ARG(k, ai, bufs[i]));
    CN_TRY(CN_ARG(k, ai, g.Cr)); ai++;
    CN_TRY(CN_ARG(k, ai, g.roff)); ai++;
    CN_TRY(CN_ARG(k, ai, g.flags)); ai++;
    CN_TRY(CN_ARG(k, ai, g.alpha)); ai++;
    CN_TRY(CN_ARG(k, ai, g.y));
    size_t gl[3] = {(size_t)g.To * g.Ho * g.Wo, (size_t)(g.Co + CT_TRM - 1) / CT_TRM,
                    (size_t)g.N};
    size_t lo[3] = {16, 1, 1};
    /* each output gathers the taps that land on it: about 1 / stride of them */
    const double flops = 2.0 * g.Ci * ks * (double)g.Co * g.To * (double)g.Ho * g.Wo * g.N /
                         ((double)g.s[0] * g.s[1] * g.s[2]);
    return cn_launch_cost(ctx, k, tag, 3, gl, lo, flops);
}
