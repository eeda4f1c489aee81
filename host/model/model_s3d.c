/* The encoders, run from the spec's layer tables: S3D on the clip (taps X1..X4) and VGGish on the log-mel (fA). */
#include "model/model_internal.h"

#include <stdio.h>

/* A conv unit from x into a new tensor *y, or into channels [y_off, ...) of
 * *into when it is given. */
static int conv_into(cn_model *m, cn_unit *u, const cn_tensor *x, const int stride[3],
                     const int pad[3], cn_tensor *into, int64_t y_off, cn_tensor *y)
{
    cn_conv_args a = {0};
    a.x = x;
    for (int d = 0; d < 3; d++) {
        a.stride[d] = stride ? stride[d] : 1;
        a.pad[d] = pad ? pad[d] : 0;
    }
    if (!into)
        return unit_conv_new(m, u, &a, 3, y);
    a.y = into;
    a.y_c_off = y_off;
    return unit_conv(m, u, &a, 3);
}

/* SepConv3d "<p>": conv_s (1, kH, kW) stride (1, sH, sW) pad (0, pH, pW), then
 * conv_t (kT, 1, 1) stride (sT, 1, 1) pad (pT, 0, 0), each with BN and ReLU. */
static int sepconv(cn_model *m, const char *p, const cn_tensor *x, const int s[3], const int pad[3],
                   cn_tensor *into, int64_t y_off, cn_tensor *y)
{
    cn_unit *us, *ut;
    CN_TRY(unit_find(m, &us, "%s.conv_s", p));
    CN_TRY(unit_find(m, &ut, "%s.conv_t", p));
    int ss[3] = {1, s[1], s[2]}, ps[3] = {0, pad[1], pad[2]}, st_[3] = {s[0], 1, 1},
        pt[3] = {pad[0], 0, 0};
    int st;
    cn_tensor mid = {0};
    TRY_DONE(conv_into(m, us, x, ss, ps, NULL, 0, &mid)); // (N, Co, T, H/sH, W/sW)
    TRY_DONE(conv_into(m, ut, &mid, st_, pt, into, y_off, y)); // (N, Co, T/sT, H/sH, W/sW)
done:
    cn_tensor_release(m->ctx, &mid);
    return st;
}

static int maxpool(cn_model *m, const cn_tensor *x, const int k[3], const int s[3], const int p[3],
                   cn_tensor *y)
{
    int64_t o[5];
    CN_TRY(model_pool_shape(m, x, 3, k, s, p, o));
    CN_TRY(model_alloc(m, y, 5, o));
    int st = ENQ(m, cn_maxpool3d(m->ctx, k, s, p, x, y));
    if (st != CN_OK)
        cn_tensor_release(m->ctx, y);
    return st;
}

/* x (N, cin, T, H, W) -> y (N, a + c + e + f, T, H, W), each branch writing its channels. */
static int mixed(cn_model *m, int i, const cn_mixed_spec *ms, const cn_tensor *x, cn_tensor *y)
{
    static const int k3[3] = {CN_SPEC_MIXED_K, CN_SPEC_MIXED_K, CN_SPEC_MIXED_K},
                     one[3] = {1, 1, 1}, half[3] = {CN_SPEC_MIXED_K / 2, CN_SPEC_MIXED_K / 2,
                                                    CN_SPEC_MIXED_K / 2};
    const int64_t off[4] = {0, ms->a, ms->a + ms->c, ms->a + ms->c + ms->e};
    char p[64];
    cn_unit *u;
    int st;
    cn_tensor t = {0};
    TRY_DONE(model_alloc5(m, y, x->shape[0], off[3] + ms->f, x->shape[2], x->shape[3],
                          x->shape[4]));
    TRY_DONE(unit_find(m, &u, "video.base.%d.branch0.0.conv", i));
    TRY_DONE(conv_into(m, u, x, NULL, NULL, y, off[0], NULL));
    /* branches 1 and 2: 1x1x1 reduction (N, b|d, T, H, W), then the separable conv */
    for (int b = 1; b <= 2; b++) {
        TRY_DONE(unit_find(m, &u, "video.base.%d.branch%d.0.conv", i, b));
        TRY_DONE(conv_into(m, u, x, NULL, NULL, NULL, 0, &t));
        snprintf(p, sizeof p, "video.base.%d.branch%d.1", i, b);
        TRY_DONE(sepconv(m, p, &t, one, half, y, off[b], NULL));
        cn_tensor_release(m->ctx, &t);
    }
    TRY_DONE(maxpool(m, x, k3, one, half, &t)); // (N, cin, T, H, W)
    TRY_DONE(unit_find(m, &u, "video.base.%d.branch3.1.conv", i));
    TRY_DONE(conv_into(m, u, &t, NULL, NULL, y, off[3], NULL));
done:
    cn_tensor_release(m->ctx, &t);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, y);
    return st;
}

/* Row i of cn_spec_s3d on x into a new tensor *y. */
static int s3d_layer(cn_model *m, int i, const cn_tensor *x, cn_tensor *y)
{
    const cn_s3d_layer *l = &cn_spec_s3d[i];
    char p[32];
    cn_unit *u;
    snprintf(p, sizeof p, "video.base.%d", i);
    switch (l->op) {
    case CN_S3D_SEP:
        return sepconv(m, p, x, l->s, l->p, NULL, 0, y);
    case CN_S3D_CONV:
        CN_TRY(unit_find(m, &u, "%s.conv", p));
        return conv_into(m, u, x, NULL, NULL, NULL, 0, y);
    case CN_S3D_POOL:
        return maxpool(m, x, l->k, l->s, l->p, y);
    case CN_S3D_MIXED:
        return mixed(m, i, l->mixed, x, y);
    }
    return cn_fail(CN_ERR_ARG, "S3D layer %d: unknown op %d", i, (int)l->op);
}

int model_s3d(cn_model *m, const cn_tensor *clip, cn_tensor X[4])
{
    /* cur holds the last output unless it is a tap, which X owns (the next
     * layer reads it, and it stays alive for its AVIM) */
    cn_tensor cur = {0}, nxt = {0};
    const cn_tensor *in = clip;
    int st = CN_OK;
    for (int i = 0; i < CN_SPEC_S3D_LAYERS; i++) {
        if (i > 0 && cn_spec_s3d[i - 1].tap)
            model_group(m, CN_MOD_VIDEO, cn_spec_s3d[i - 1].tap + 1);
        TRY_DONE(s3d_layer(m, i, in, &nxt)); // shapes: the table in modelspec.c
        cn_tensor_release(m->ctx, &cur);
        int tap = cn_spec_s3d[i].tap;
        if (tap) {
            X[tap - 1] = nxt;
            in = &X[tap - 1];
        } else {
            cur = nxt;
            in = &cur;
        }
        nxt = (cn_tensor){0};
    }
done:
    cn_tensor_release(m->ctx, &cur);
    cn_tensor_release(m->ctx, &nxt);
    if (st != CN_OK)
        for (int i = 0; i < 4; i++)
            cn_tensor_release(m->ctx, &X[i]);
    return st;
}

int model_vggish(cn_model *m, const cn_tensor *logmel, cn_tensor *fa)
{
    static const int k[2] = {2, 2}, s[2] = {2, 2}, p[2] = {0, 0};
    cn_tensor cur = {0}, nxt = {0};
    const cn_tensor *in = logmel; // (N, 1, 96, 64)
    cn_unit *u;
    int st = CN_OK;
    for (int i = 0; i < CN_SPEC_VGGISH_CONVS; i++) { // shapes: the table in modelspec.c
        TRY_DONE(unit_find(m, &u, "audio.features.%d", cn_spec_vggish_conv[i].index));
        cn_conv_args a = {0};
        a.x = in;
        a.pad[1] = a.pad[2] = 1;
        a.relu = 1;
        TRY_DONE(unit_conv_new(m, u, &a, 2, &nxt));
        cn_tensor_release(m->ctx, &cur);
        cur = nxt;
        nxt = (cn_tensor){0};
        in = &cur;
        if (cn_spec_vggish_conv[i].pool_after) {
            int64_t po[4];
            TRY_DONE(model_pool_shape(m, &cur, 2, k, s, p, po));
            TRY_DONE(model_alloc(m, &nxt, 4, po));
            TRY_DONE(ENQ(m, cn_maxpool2d(m->ctx, k, s, p, &cur, &nxt)));
            cn_tensor_release(m->ctx, &cur);
            cur = nxt;
            nxt = (cn_tensor){0};
        }
    }
    /* (N, 512, 6, 4) read as (N, 12288) in (c, h, w) order: the first
     * embedding's columns were permuted at load to match */
    int64_t flat[2] = {logmel->shape[0], cn_spec_vggish_flat()};
    TRY_DONE(cn_tensor_reshape(&cur, 2, flat));
    for (int i = 0; i < CN_SPEC_VGGISH_FCS; i++) { // (N, 4096), (N, 4096), (N, 128)
        TRY_DONE(unit_find(m, &u, "audio.embeddings.%d", cn_spec_vggish_fc[i].index));
        int64_t o[2] = {logmel->shape[0], u->co};
        TRY_DONE(model_alloc(m, &nxt, 2, o));
        TRY_DONE(unit_linear(m, u, &cur, 1, &nxt));
        cn_tensor_release(m->ctx, &cur);
        cur = nxt;
        nxt = (cn_tensor){0};
    }
    *fa = cur;
    cur = (cn_tensor){0};
done:
    cn_tensor_release(m->ctx, &cur);
    cn_tensor_release(m->ctx, &nxt);
    return st;
}
