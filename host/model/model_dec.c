/* CPC (predictive coding with three adjoint updates) and the SalDecoder with its head. */
#include "model/model_internal.h"

#define C CN_SPEC_C
#define G CN_SPEC_DEC_GROWTH
#define D CN_SPEC_DEC_W
#define CPC_ITERS 3
#define CPC_ALPHA 0.1f

static int conv3(cn_model *m, cn_unit *u, const cn_tensor *x, const cn_tensor *res, float alpha,
                 int relu, cn_tensor *y)
{
    cn_conv_args a = {0};
    a.x = x;
    a.y = y;
    a.residual = res;
    a.alpha = alpha;
    a.relu = relu;
    a.pad[0] = a.pad[1] = a.pad[2] = 1;
    return unit_conv(m, u, &a, 3);
}

/* v = F4 (N, 256, T, h, w), fa (N, 128) -> out = F4' (N, 256, T, h, w) */
int model_cpc(cn_model *m, const cn_tensor *v, const cn_tensor *fa, cn_tensor *out)
{
    cn_unit *ua, *p1, *p2, *t1, *t2;
    int64_t N = v->shape[0], T = v->shape[2], h = v->shape[3], w = v->shape[4];
    int64_t nc[2] = {N, C};
    cn_tensor av = {0}, a = {0}, mu1 = {0}, mu2 = {0}, e0 = {0}, e1 = {0};
    cn_tensor *bufs[4] = {&mu1, &mu2, &e0, &e1};
    int st;
    TRY_DONE(unit_find(m, &ua, "cpc.audio_proj"));
    TRY_DONE(unit_find(m, &p1, "cpc.phi1"));
    TRY_DONE(unit_find(m, &p2, "cpc.phi2"));
    TRY_DONE(unit_find(m, &t1, "cpc.theta1"));
    TRY_DONE(unit_find(m, &t2, "cpc.theta2"));
    TRY_DONE(model_alloc(m, &av, 2, nc));
    TRY_DONE(unit_linear(m, ua, fa, 0, &av)); // (N, 256)
    TRY_DONE(model_alloc5(m, &a, N, C, T, h, w));
    TRY_DONE(ENQ(m, cn_broadcast_nc(m->ctx, &av, &a))); // (N, 256, T, h, w)
    cn_tensor_release(m->ctx, &av);
    for (int i = 0; i < 4; i++)
        TRY_DONE(model_alloc5(m, bufs[i], N, C, T, h, w)); // each (N, 256, T, h, w)
    TRY_DONE(conv3(m, p1, v, NULL, 0, 1, &mu1));
    TRY_DONE(conv3(m, p2, &mu1, NULL, 0, 1, &mu2));
    for (int it = 0; it < CPC_ITERS; it++) {
        /* both errors from the values at the start of the step */
        TRY_DONE(conv3(m, t1, &mu1, &a, -1.0f, 0, &e0)); /* e0 = a - theta1(mu1) */
        TRY_DONE(conv3(m, t2, &mu2, &mu1, -1.0f, 0, &e1)); /* e1 = mu1 - theta2(mu2) */
        /* mu <- relu(mu + alpha thetaT(e)), in place (residual == y) */
        cn_conv_args g = {0};
        g.pad[0] = g.pad[1] = g.pad[2] = 1;
        g.alpha = CPC_ALPHA;
        g.relu = 1;
        g.x = &e0, g.y = &mu1, g.residual = &mu1, g.tag = "cpc.theta1T";
        TRY_DONE(unit_conv_weight_only(m, t1, &g));
        g.x = &e1, g.y = &mu2, g.residual = &mu2, g.tag = "cpc.theta2T";
        TRY_DONE(unit_conv_weight_only(m, t2, &g));
    }
    TRY_DONE(model_alloc5(m, out, N, C, T, h, w));
    TRY_DONE(conv3(m, t1, &mu1, v, 0, 0, out)); /* F4' = v + theta1(mu1) */
done:
    cn_tensor_release(m->ctx, &av);
    cn_tensor_release(m->ctx, &a);
    for (int i = 0; i < 4; i++)
        cn_tensor_release(m->ctx, bufs[i]);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, out);
    return st;
}

/* One decoder block: dense block, transition with the mean over T, fusion
 * with the deeper block, feature generation.
 * f (N, 256, T, h, w), prev (N, 64, 1, h', w') or NULL -> g (N, 64, 1, h, w) */
static int dec_block(cn_model *m, int k, const cn_tensor *f, const cn_tensor *prev, cn_tensor *g)
{
    int64_t N = f->shape[0], T = f->shape[2], h = f->shape[3], w = f->shape[4];
    cn_tensor cat = {0}, tr = {0}, mt = {0};
    cn_unit *u;
    int st;
    TRY_DONE(model_alloc5(m, &cat, N, CN_SPEC_DEC_CAT, T, h, w)); // (N, 352, T, h, w)
    TRY_DONE(ENQ(m, cn_copy_channels(m->ctx, f, &cat, 0)));
    for (int j = 0; j < CN_SPEC_DEC_LAYERS; j++) {
        /* each layer reads channels [0, 256 + 32j) and appends 32 in place */
        TRY_DONE(unit_find(m, &u, "dec.%d.dense.%d.conv", k, j));
        cn_conv_args a = {0};
        a.x = &cat;
        a.y = &cat;
        a.y_c_off = C + G * j;
        a.pad[1] = a.pad[2] = 1;
        TRY_DONE(unit_conv(m, u, &a, 3));
    }
    TRY_DONE(unit_find(m, &u, "dec.%d.trans.conv", k));
    {
        cn_conv_args a = {0};
        a.x = &cat;
        TRY_DONE(unit_conv_new(m, u, &a, 3, &tr)); // (N, 64, T, h, w)
    }
    cn_tensor_release(m->ctx, &cat);
    TRY_DONE(model_alloc5(m, &mt, N, D, 1, h, w)); // (N, 64, 1, h, w)
    TRY_DONE(ENQ(m, cn_mean_axes(m->ctx, &tr, 2, 3, &mt)));
    cn_tensor_release(m->ctx, &tr);
    if (prev) /* mt += upsampled deeper block */
        TRY_DONE(ENQ(m, cn_resize_bilinear(m->ctx, prev, &mt, 1)));
    TRY_DONE(unit_find(m, &u, "dec.%d.gen.conv", k));
    {
        cn_conv_args a = {0};
        a.x = &mt;
        a.pad[1] = a.pad[2] = 1;
        TRY_DONE(unit_conv_new(m, u, &a, 3, g)); // (N, 64, 1, h, w)
    }
done:
    cn_tensor_release(m->ctx, &cat);
    cn_tensor_release(m->ctx, &tr);
    cn_tensor_release(m->ctx, &mt);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, g);
    return st;
}

/* F[k] (N, 256, T_k, h_k, w_k), consumed (released) block by block -> sal (N, 1, H, W) */
int model_decoder(cn_model *m, cn_tensor F[4], int H, int W, cn_tensor *sal)
{
    cn_tensor prev = {0}, g = {0}, z = {0}, zr = {0};
    cn_unit *u;
    int64_t s4[4] = {F[0].shape[0], 1, H, W};
    int st;
    for (int k = CN_SPEC_STAGES; k >= 1; k--) {
        model_group(m, CN_MOD_DEC, k);
        st = dec_block(m, k, &F[k - 1], k < CN_SPEC_STAGES ? &prev : NULL, &g);
        cn_tensor_release(m->ctx, &F[k - 1]); /* nothing reads F_k after its block */
        cn_tensor_release(m->ctx, &prev);
        if (st != CN_OK)
            goto done;
        prev = g; // (N, 64, 1, h_k, w_k)
        g = (cn_tensor){0};
    }
    TRY_DONE(unit_find(m, &u, "dec.1.head"));
    {
        cn_conv_args a = {0};
        a.x = &prev;
        a.pad[1] = a.pad[2] = 1;
        TRY_DONE(unit_conv_new(m, u, &a, 3, &z)); // logits (N, 1, 1, H/4, W/4)
    }
    cn_tensor_release(m->ctx, &prev);
    TRY_DONE(model_alloc5(m, &zr, s4[0], 1, 1, H, W)); // (N, 1, 1, H, W)
    TRY_DONE(ENQ(m, cn_resize_bilinear(m->ctx, &z, &zr, 0)));
    cn_tensor_release(m->ctx, &z);
    TRY_DONE(model_alloc(m, sal, 4, s4));
    TRY_DONE(cn_tensor_reshape(&zr, 4, s4));
    TRY_DONE(ENQ(m, cn_sigmoid(m->ctx, &zr, sal))); // (N, 1, H, W)
done:
    for (int k = 0; k < CN_SPEC_STAGES; k++)
        cn_tensor_release(m->ctx, &F[k]);
    cn_tensor_release(m->ctx, &prev);
    cn_tensor_release(m->ctx, &g);
    cn_tensor_release(m->ctx, &z);
    cn_tensor_release(m->ctx, &zr);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, sal);
    return st;
}
