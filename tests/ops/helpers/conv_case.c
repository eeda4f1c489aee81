/* Device-side case runner shared by the conv3d, conv2d and transposed-conv3d op families: random operands, a guarded output, the C reference. */
#include "ops/helpers/conv_case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_ref.h"

static cn_tensor upload(cn_ctx *ctx, int nd, const int64_t *shape, const float *h)
{
    cn_tensor t = {0};
    TU_OK(cn_tensor_from_host(ctx, &t, nd, shape, h));
    return t;
}

static cn_tensor upload_as(cn_ctx *ctx, cn_dtype dt, int nd, const int64_t *shape, const float *h)
{
    cn_tensor t = {0};
    TU_OK(cn_tensor_from_host_as(ctx, &t, dt, nd, shape, h));
    return t;
}

/* Shape with the T axis dropped for 2D. */
static int shape_of(int mode, int64_t a, int64_t b, const int64_t sp[3], int64_t *out)
{
    int n = 0;
    out[n++] = a;
    out[n++] = b;
    for (int i = mode == 1 ? 1 : 0; i < 3; i++)
        out[n++] = sp[i];
    return n;
}

int conv_run_case(cn_ctx *ctx, tu_rng *r, const conv_case *cc)
{
    const int before = tu_failures;
    const int m2 = cc->mode == 1;
    ref_conv_desc c = {0};
    c.transposed = cc->mode == 2;
    c.N = cc->N, c.Ci = cc->Ci, c.Co = cc->Co;
    c.Cx = cc->Ci + cc->cx_extra, c.x_c_off = cc->xoff;
    c.Cy = cc->Co + cc->cy_extra, c.y_c_off = cc->yoff;
    for (int i = 0; i < 3; i++) {
        int two = m2 && i == 0;
        c.in[i] = two ? 1 : cc->in[i];
        c.k[i] = two ? 1 : cc->k[i];
        c.s[i] = two || !cc->s[i] ? 1 : cc->s[i];
        c.d[i] = two || !cc->d[i] ? 1 : cc->d[i];
        c.p[i] = two ? 0 : cc->p[i];
        c.op[i] = two ? 0 : cc->op[i];
    }
    int64_t out[3];
    ref_conv_out(&c, out);
    const int64_t ks = c.k[0] * c.k[1] * c.k[2], K = c.Ci * ks;
    const int64_t isp = c.in[0] * c.in[1] * c.in[2], osp = out[0] * out[1] * out[2];
    const int64_t nx = c.N * c.Cx * isp, ny = c.N * c.Cy * osp, nw = c.Co * K;

    float *x = tu_rand_array(r, nx, -1, 1);
    /* weights ~ 1/sqrt(fan-in) keep outputs of order one for any K */
    const double wsc = 1.0 / sqrt((double)(c.transposed ? c.Co * ks : K));
    float *w = tu_rand_array(r, nw, -wsc, wsc);
    float *bias = tu_rand_array(r, c.Co, -0.5, 0.5);
    float *psc = tu_rand_array(r, c.Ci, 0.5, 1.5), *psh = tu_rand_array(r, c.Ci, -0.5, 0.5);
    float *res = tu_rand_array(r, c.N * c.Co * osp, -1, 1);
    float *prefill = tu_rand_array(r, ny, -1, 1);
    float *got = malloc((size_t)ny * sizeof *got);
    double *want = malloc((size_t)ny * sizeof *want), *mag = calloc((size_t)ny, sizeof *mag);
    /* what the kernel reads of half tensors: the reference gets the same */
    tu_half_inputs(cc->xt, x, nx);
    tu_half_inputs(cc->wt, w, nw);
    tu_half_inputs(cc->rt, res, c.N * c.Co * osp);
    tu_half_inputs(cc->yt, prefill, ny);
    for (int64_t i = 0; i < ny; i++)
        want[i] = prefill[i];

    int64_t xs[5], ws[5], ys[5], rs[5];
    const int nd = shape_of(cc->mode, c.N, c.Cx, c.in, xs);
    const int64_t k3[3] = {c.k[0], c.k[1], c.k[2]};
    shape_of(cc->mode, c.transposed ? c.Ci : c.Co, c.transposed ? c.Co : c.Ci, k3, ws);
    shape_of(cc->mode, c.N, c.Cy, out, ys);
    shape_of(cc->mode, c.N, c.Co, out, rs);
    /* packed: the kernel must read the packed copy, so the plain weight
     * holds NaN wherever the packed one is used (pointwise convs never are) */
    const int pw = c.k[0] == 1 && c.k[1] == 1 && c.k[2] == 1 && c.s[0] == 1 && c.s[1] == 1 &&
                   c.s[2] == 1 && c.p[0] == 0 && c.p[1] == 0 && c.p[2] == 0;
    const int packed = cc->packed && !c.transposed;
    cn_tensor tx = upload_as(ctx, cc->xt, nd, xs, x), tw = {0}, twp = {0};
    if (packed) {
        int64_t ps[3];
        /* the block of the weight's kernel shape under the context's tuning,
         * as the model packs (per shape class when a per-class tuning is set) */
        TU_OK(cn_conv_pack_shape_of(ctx, nd, ws, ps));
        float *hp = malloc((size_t)(ps[0] * ps[1] * ps[2]) * sizeof *hp);
        TU_OK(cn_conv_pack_of(ctx, nd, ws, w, hp));
        twp = upload_as(ctx, cc->wt, 3, ps, hp);
        free(hp);
        float *nan = malloc((size_t)nw * sizeof *nan);
        for (int64_t i = 0; i < nw; i++)
            nan[i] = pw ? w[i] : NAN;
        tw = upload_as(ctx, cc->wt, nd, ws, nan);
        free(nan);
    } else {
        tw = upload_as(ctx, cc->wt, nd, ws, w);
    }
    if (cc->packed && c.transposed) {
        /* the equivalent convolution's weight, kernels flipped, packed beside
         * the plain one (which the other variants and strides read) */
        int64_t fs[5], ps[3];
        memcpy(fs, ws, sizeof fs);
        fs[0] = ws[1], fs[1] = ws[0];
        const int64_t taps = nw / (ws[0] * ws[1]);
        float *f = malloc((size_t)nw * sizeof *f);
        for (int64_t ci = 0; ci < ws[0]; ci++)
            for (int64_t o = 0; o < ws[1]; o++)
                for (int64_t k = 0; k < taps; k++)
                    f[(o * ws[0] + ci) * taps + k] = w[(ci * ws[1] + o) * taps + taps - 1 - k];
        TU_OK(cn_conv_pack_shape_of(ctx, nd, fs, ps));
        float *hp = malloc((size_t)(ps[0] * ps[1] * ps[2]) * sizeof *hp);
        TU_OK(cn_conv_pack_of(ctx, nd, fs, f, hp));
        twp = upload_as(ctx, cc->wt, 3, ps, hp);
        free(f), free(hp);
    }
    cn_tensor tb = upload(ctx, 1, &c.Co, bias), tr = upload_as(ctx, cc->rt, nd, rs, res);
    cn_tensor tps = upload(ctx, 1, &c.Ci, psc), tsh = upload(ctx, 1, &c.Ci, psh);
    tu_guarded g;
    TU_OK(tu_guarded_alloc_as(ctx, &g, cc->yt, nd, ys));
    TU_OK(cn_tensor_upload(ctx, &g.t, prefill));

    cn_conv_args a = {0};
    a.x = &tx, a.w = &tw, a.y = &g.t;
    a.w_packed = packed || (cc->packed && c.transposed) ? &twp : NULL;
    a.bias = cc->bias ? &tb : NULL;
    a.pre_scale = cc->pre_scale ? &tps : NULL;
    a.pre_shift = cc->pre_shift ? &tsh : NULL;
    a.residual = cc->residual == 1 ? &tr : cc->residual == 2 ? &g.t : NULL;
    a.pre_relu = cc->pre_relu, a.relu = cc->relu, a.alpha = cc->alpha;
    a.x_c_off = cc->xoff, a.y_c_off = cc->yoff;
    for (int i = 0; i < 3; i++)
        a.stride[i] = cc->s[i], a.pad[i] = cc->p[i], a.dil[i] = cc->d[i], a.out_pad[i] = cc->op[i];

    int64_t shp[5];
    int st = cc->mode == 0 ? cn_conv3d_out_shape(&a, shp)
             : cc->mode == 1 ? cn_conv2d_out_shape(&a, shp)
                             : cn_conv_transpose3d_out_shape(&a, shp);
    TU_CHECK(st == CN_OK, "%s: out_shape: %s", cc->name, cn_last_error());
    for (int i = 0; st == CN_OK && i < nd; i++)
        TU_CHECK(shp[i] == rs[i], "%s: out_shape dim %d is %lld, want %lld", cc->name, i,
                 (long long)shp[i], (long long)rs[i]);

    st = cc->mode == 0 ? cn_conv3d(ctx, &a) : cc->mode == 1 ? cn_conv2d(ctx, &a)
                                                             : cn_conv_transpose3d(ctx, &a);
    TU_CHECK(st == CN_OK, "%s: %s", cc->name, cn_last_error());
    TU_OK(cn_ctx_finish(ctx));
    tu_guard_check(ctx, &g, got, cc->name);

    c.x = x, c.w = w;
    c.bias = cc->bias ? bias : NULL;
    c.pre_scale = cc->pre_scale ? psc : NULL;
    c.pre_shift = cc->pre_shift ? psh : NULL;
    c.pre_relu = cc->pre_relu, c.relu = cc->relu, c.alpha = cc->alpha;
    if (cc->residual == 1)
        c.residual = res, c.res_C = c.Co, c.res_off = 0;
    else if (cc->residual == 2)
        c.residual = prefill, c.res_C = c.Cy, c.res_off = c.y_c_off;
    ref_conv(&c, want, mag);

    /* A float32 sum of K products drifts from the exact one by a random walk
     * of K roundings, each at most 2^-24 of the running sum: about
     * sqrt(K) * 6e-8 * sum|products|. atol allows 16x that (1e-6*sqrt(K)),
     * scaled by alpha; rtol covers the few roundings of the epilogue. An
     * indexing error moves outputs by O(0.1), far outside this. */
    double smax = 0;
    for (int64_t i = 0; i < ny; i++)
        smax = mag[i] > smax ? mag[i] : smax;
    const double alpha = cc->alpha != 0 ? fabs(cc->alpha) : 1.0;
    double atol = 1e-6 * sqrt((double)K) * smax * alpha + 1e-7, rtol = 1e-5;
    if (cc->yt == CN_F16) {
        /* A half y is the float result rounded once (TU_HALF_U relative).
         * A pointwise conv run as a GEMM stores alpha*conv (+ the in-place
         * residual) first and adds bias and ReLU in a second pass, a second
         * rounding of a value at most alpha*(sum|products| + |bias|) +
         * |residual| in magnitude (ReLU does not enlarge an error). */
        const int two_pass = pw && !c.transposed && !cc->pre_scale && !cc->pre_shift &&
                             !cc->pre_relu && cc->residual != 1 && (cc->bias || cc->relu);
        rtol += TU_HALF_U;
        atol += TU_HALF_ABS * 2;
        if (two_pass)
            atol += TU_HALF_U * (alpha * (smax + 0.5) + 1.0);
    }
    char what[200];
    snprintf(what, sizeof what, "%s%s%s", cc->name, cc->packed ? " [packed weight]" : "",
             cc->xt || cc->wt || cc->rt || cc->yt ? " [half]" : "");
    tu_compare(what, got, want, ny, atol, rtol);

    cn_tensor *ts[] = {&tx, &tw, &twp, &tb, &tr, &tps, &tsh};
    for (int i = 0; i < 7; i++)
        cn_tensor_release(ctx, ts[i]);
    tu_guarded_free(&g);
    free(x), free(w), free(bias), free(psc), free(psh), free(res), free(prefill);
    free(got), free(want), free(mag);
    return tu_failures - before;
}
