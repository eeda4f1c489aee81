/* Host side of cl/conv_im2col.cl: convolutions as im2col + cn_gemm + epilogue, transposed ones as cn_gemm + col2im, chosen by -DCONV_VARIANT=im2col (CPC's small, deep convs on CPUs). */
#include "ops/conv3d.h"
#include "ops/gemm.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Scratch cap (floats) for im2col's B, the product C and col2im's Z: 32 MiB
 * each. A convolution whose one-position column already exceeds it, or a
 * transposed one whose Z does, runs the direct kernels instead. */
#define IM2COL_MAX_FLOATS ((int64_t)8 << 20)


static int opts_im2col(const char *opts)
{
    const char *p = strstr(opts, "-DCONV_VARIANT=");
    return p && strncmp(p + strlen("-DCONV_VARIANT="), "im2col", 6) == 0;
}

int cn_conv_im2col_wanted_(const cn_ctx *ctx, const cn_conv_geom *g)
{
    const char *opts = cn_conv_opts_(ctx, g);
    if (opts_im2col(opts))
        return 1;
    if (strstr(opts, "-DCONV_VARIANT="))
        return 0;
    const char *env = getenv("CASPNET_CONV_VARIANT");
    return env && strcmp(env, "im2col") == 0;
}

/* The storage options of x, res and y (cl/storage.h) for one launch. */
static void storage(char *opts, size_t n, const cn_tensor *x, const cn_tensor *res,
                    const cn_tensor *y)
{
    opts[0] = '\0';
    cn_storage_opts(opts, n, 3, "X_H", x, "R_H", res, "Y_H", y);
}

int cn_conv_im2col_(cn_ctx *ctx, const cn_conv_geom *g, const cn_conv_args *a,
                    const cn_tensor *wk, int *done)
{
    *done = 0;
    const int KS = g->k[0] * g->k[1] * g->k[2];
    const int64_t K = (int64_t)g->Ci * KS, L = (int64_t)g->To * g->Ho * g->Wo, P = g->N * L;
    /* wk: the (K, Co) packed weight (positions along the product's rows);
     * else the plain (Co, K) one as stored, unless the caller holds the
     * weight only packed in another layout (the direct kernels read that) */
    if ((wk && wk->dtype != CN_F32) || (!wk && a->w->dtype != CN_F32) ||
        (!wk && a->w_packed && a->w_packed->buf == a->w->buf) || K > IM2COL_MAX_FLOATS ||
        (int64_t)g->Co > IM2COL_MAX_FLOATS)
        return CN_OK;
    const int t = wk != NULL;
    int64_t np = IM2COL_MAX_FLOATS / (K > g->Co ? K : g->Co);
    if (np > P)
        np = P;
    const char *tag = a->tag ? a->tag : "conv3d";
    char sopts[96];
    storage(sopts, sizeof sopts, a->x, a->residual, a->y);
    cl_kernel kc, ke;
    CN_TRY(cn_kernel(ctx, "conv_im2col", sopts, t ? "im2col_t" : "im2col", &kc));
    CN_TRY(cn_kernel(ctx, "conv_im2col", sopts, t ? "conv_epi_t" : "conv_epi", &ke));
    cn_tensor B = {0}, C = {0};
    int64_t sb = K * np, sc = (int64_t)g->Co * np;
    int st = cn_tensor_alloc(ctx, &B, 1, &sb);
    if (st == CN_OK)
        st = cn_tensor_alloc(ctx, &C, 1, &sc);
    cl_mem ps = g->pscale ? g->pscale : g->x, sh = g->pshift ? g->pshift : g->x;
    cl_mem bias = g->bias ? g->bias : g->x, res = g->res ? g->res : g->x;
    cl_mem wbuf = t ? wk->buf : g->w;
    const size_t wbytes = t ? cn_tensor_bytes(wk) : cn_tensor_bytes(a->w);
    const int iL = (int)L;
    for (int64_t p0 = 0; st == CN_OK && p0 < P; p0 += np) {
        const int n = (int)(P - p0 < np ? P - p0 : np), ip0 = (int)p0;
        const int iargs[] = {g->Ci, g->Cx, g->xoff, g->T, g->H, g->W, g->To, g->Ho, g->Wo,
                             g->k[0], g->k[1], g->k[2], g->s[0], g->s[1], g->s[2], g->p[0],
                             g->p[1], g->p[2], g->d[0], g->d[1], g->d[2], ip0, n,
                             g->flags & (F_PSCALE | F_PSHIFT | F_PRELU)};
        cl_uint ai = 0;
        for (size_t i = 0; st == CN_OK && i < sizeof iargs / sizeof iargs[0]; i++, ai++)
            st = CN_ARG(kc, ai, iargs[i]);
        cl_mem bufs[4] = {g->x, ps, sh, B.buf};
        for (int i = 0; st == CN_OK && i < 4; i++, ai++)
            st = CN_ARG(kc, ai, bufs[i]);
        const size_t gl[2] = {(size_t)n, t ? (size_t)KS : (size_t)K};
        if (st == CN_OK)
            st = cn_launch(ctx, kc, tag, 2, gl, NULL);
        cn_gemm_desc d = {0};
        if (t) { /* Ct (n x Co) = Bt (n x K) * Wk (K x Co) */
            d.M = n, d.N = g->Co, d.K = K;
            d.lda = K, d.ldb = g->Co, d.ldc = g->Co;
        } else { /* C (Co x n) = W (Co x K) * B (K x n) */
            d.M = g->Co, d.N = n, d.K = K;
            d.lda = K, d.ldb = n, d.ldc = n;
        }
        d.alpha = 1.0f, d.beta = 0.0f, d.tag = tag;
        if (st == CN_OK)
            st = t ? cn_gemm(ctx, &d, B.buf, cn_tensor_bytes(&B), wbuf, wbytes, C.buf,
                             cn_tensor_bytes(&C))
                   : cn_gemm(ctx, &d, wbuf, wbytes, B.buf, cn_tensor_bytes(&B), C.buf,
                             cn_tensor_bytes(&C));
        const int eargs[] = {g->Co, iL, ip0, n, g->Cy, g->yoff, g->Cr, g->roff,
                             g->flags & (F_BIAS | F_RES | F_RELU)};
        ai = 0;
        for (size_t i = 0; st == CN_OK && i < sizeof eargs / sizeof eargs[0]; i++, ai++)
            st = CN_ARG(ke, ai, eargs[i]);
        if (st == CN_OK)
            st = CN_ARG(ke, ai, g->alpha);
        ai++;
        cl_mem ebufs[4] = {C.buf, bias, res, g->y};
        for (int i = 0; st == CN_OK && i < 4; i++, ai++)
            st = CN_ARG(ke, ai, ebufs[i]);
        const size_t ge[2] = {(size_t)n, (size_t)g->Co};
        if (st == CN_OK)
            st = cn_launch(ctx, ke, tag, 2, ge, NULL);
    }
    /* the queue is in order: whoever takes these buffers next runs after us */
    cn_tensor_release(ctx, &B);
    cn_tensor_release(ctx, &C);
    if (st == CN_OK)
        *done = 1;
    return st;
}

int cn_conv_transpose_im2col_(cn_ctx *ctx, const cn_conv_geom *g, const cn_conv_args *a,
                              int *done)
{
    *done = 0;
    const int KS = g->k[0] * g->k[1] * g->k[2];
    const int64_t THW = (int64_t)g->T * g->H * g->W, Pin = g->N * THW;
    const int64_t M = (int64_t)g->Co * KS;
    /* Z = W^T x needs x as it is (no pre-activation) and float operands */
    if (a->w->dtype != CN_F32 || a->x->dtype != CN_F32 ||
        (g->flags & (F_PSCALE | F_PSHIFT | F_PRELU)) || M * Pin > IM2COL_MAX_FLOATS)
        return CN_OK;
    const char *tag = a->tag ? a->tag : "conv_transpose3d";
    char sopts[96];
    storage(sopts, sizeof sopts, NULL, a->residual, a->y);
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "conv_im2col", sopts, "col2im_epi", &k));
    cn_tensor Z = {0};
    int64_t sz = M * Pin;
    int st = cn_tensor_alloc(ctx, &Z, 1, &sz);
    /* Zt[n] (THW x Co*KS) = x[n]^T (THW x Ci) * W (Ci x Co*KS, as stored) */
    cn_gemm_desc d = {0};
    d.trans_a = 1;
    d.M = THW, d.N = M, d.K = g->Ci, d.alpha = 1.0f, d.beta = 0.0f;
    d.lda = THW, d.ldb = M, d.ldc = M;
    d.off_a = (int64_t)g->xoff * THW;
    d.batch = g->N, d.stride_a = (int64_t)g->Cx * THW, d.stride_b = 0, d.stride_c = M * THW;
    d.tag = tag;
    if (st == CN_OK)
        st = cn_gemm(ctx, &d, g->x, cn_tensor_bytes(a->x), g->w, cn_tensor_bytes(a->w), Z.buf,
                     cn_tensor_bytes(&Z));
    const int iargs[] = {g->Co, g->Cy, g->yoff, g->T, g->H, g->W, g->To, g->Ho, g->Wo,
                         g->k[0], g->k[1], g->k[2], g->s[0], g->s[1], g->s[2], g->p[0], g->p[1],
                         g->p[2], g->d[0], g->d[1], g->d[2]};
    cl_uint ai = 0;
    for (size_t i = 0; st == CN_OK && i < sizeof iargs / sizeof iargs[0]; i++, ai++)
        st = CN_ARG(k, ai, iargs[i]);
    cl_mem bias = g->bias ? g->bias : Z.buf, res = g->res ? g->res : Z.buf;
    cl_mem bufs[3] = {Z.buf, bias, res};
    for (int i = 0; st == CN_OK && i < 3; i++, ai++)
        st = CN_ARG(k, ai, bufs[i]);
    const int flags = g->flags & (F_BIAS | F_RES | F_RELU);
    if (st == CN_OK)
        st = CN_ARG(k, ai, g->Cr);
    ai++;
    if (st == CN_OK)
        st = CN_ARG(k, ai, g->roff);
    ai++;
    if (st == CN_OK)
        st = CN_ARG(k, ai, flags);
    ai++;
    if (st == CN_OK)
        st = CN_ARG(k, ai, g->alpha);
    ai++;
    if (st == CN_OK)
        st = CN_ARG(k, ai, g->y);
    const size_t gl[3] = {(size_t)g->To * g->Ho * g->Wo, (size_t)g->Co, (size_t)g->N};
    if (st == CN_OK)
        st = cn_launch(ctx, k, tag, 3, gl, NULL);
    cn_tensor_release(ctx, &Z);
    if (st == CN_OK)
        *done = 1;
    return st;
}
