/* CPC (predictive coding with three adjoint updates) and the SalDecoder with its head. */
#include "model/model_internal.h"

#include <math.h>

#include "model/modelspec.h"

#define C 256
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

int model_cpc(cn_model *m, const cn_tensor *v, const cn_tensor *fa, cn_tensor *out)
{
    cn_unit *ua, *p1, *p2, *t1, *t2;
    CN_TRY(unit_find(m, &ua, "cpc.audio_proj"));
    CN_TRY(unit_find(m, &p1, "cpc.phi1"));
    CN_TRY(unit_find(m, &p2, "cpc.phi2"));
    CN_TRY(unit_find(m, &t1, "cpc.theta1"));
    CN_TRY(unit_find(m, &t2, "cpc.theta2"));
    int64_t N = v->shape[0], T = v->shape[2], h = v->shape[3], w = v->shape[4];
    int64_t nc[2] = {N, C};
    cn_tensor av = {0}, a = {0}, mu1 = {0}, mu2 = {0}, e0 = {0}, e1 = {0};
    int st = model_alloc(m, &av, 2, nc);
    if (st == CN_OK)
        st = unit_linear(m, ua, fa, 0, &av);
    if (st == CN_OK)
        st = model_alloc5(m, &a, N, C, T, h, w);
    if (st == CN_OK)
        st = ENQ(m, cn_broadcast_nc(m->ctx, &av, &a));
    cn_tensor_release(m->ctx, &av);
    cn_tensor *bufs[4] = {&mu1, &mu2, &e0, &e1};
    for (int i = 0; st == CN_OK && i < 4; i++)
        st = model_alloc5(m, bufs[i], N, C, T, h, w);
    if (st == CN_OK)
        st = conv3(m, p1, v, NULL, 0, 1, &mu1);
    if (st == CN_OK)
        st = conv3(m, p2, &mu1, NULL, 0, 1, &mu2);
    for (int it = 0; st == CN_OK && it < CPC_ITERS; it++) {
        /* both errors from the values at the start of the step */
        st = conv3(m, t1, &mu1, &a, -1.0f, 0, &e0); /* e0 = a - theta1(mu1) */
        if (st == CN_OK)
            st = conv3(m, t2, &mu2, &mu1, -1.0f, 0, &e1); /* e1 = mu1 - theta2(mu2) */
        /* mu <- relu(mu + alpha thetaT(e)), in place (residual == y) */
        cn_conv_args g = {0};
        g.pad[0] = g.pad[1] = g.pad[2] = 1;
        g.alpha = CPC_ALPHA;
        g.relu = 1;
        g.x = &e0, g.y = &mu1, g.residual = &mu1, g.tag = "cpc.theta1T";
        if (st == CN_OK)
            st = unit_conv_weight_only(m, t1, &g);
        g.x = &e1, g.y = &mu2, g.residual = &mu2, g.tag = "cpc.theta2T";
        if (st == CN_OK)
            st = unit_conv_weight_only(m, t2, &g);
    }
    if (st == CN_OK)
        st = model_alloc5(m, out, N, C, T, h, w);
    if (st == CN_OK)
        st = conv3(m, t1, &mu1, v, 0, 0, out); /* F4' = v + theta1(mu1) */
    for (int i = 0; i < 4; i++)
        cn_tensor_release(m->ctx, bufs[i]);
    cn_tensor_release(m->ctx, &a);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, out);
    return st;
}

/* One decoder block: dense block, transition with the mean over T, fusion
 * with the deeper block, feature generation. */
static int dec_block(cn_model *m, int k, const cn_tensor *f, const cn_tensor *prev, cn_tensor *g)
{
    int64_t N = f->shape[0], T = f->shape[2], h = f->shape[3], w = f->shape[4];
    cn_tensor cat = {0}, tr = {0}, mt = {0};
    cn_unit *u;
    int st = model_alloc5(m, &cat, N, C + 96, T, h, w);
    if (st == CN_OK)
        st = ENQ(m, cn_copy_channels(m->ctx, f, &cat, 0));
    for (int j = 0; st == CN_OK && j < 3; j++) {
        /* each layer reads channels [0, 256 + 32j) and appends 32 in place */
        st = unit_find(m, &u, "dec.%d.dense.%d.conv", k, j);
        cn_conv_args a = {0};
        a.x = &cat;
        a.y = &cat;
        a.y_c_off = C + 32 * j;
        a.pad[1] = a.pad[2] = 1;
        if (st == CN_OK)
            st = unit_conv(m, u, &a, 3);
    }
    if (st == CN_OK)
        st = unit_find(m, &u, "dec.%d.trans.conv", k);
    if (st == CN_OK)
        st = model_alloc5(m, &tr, N, 64, T, h, w);
    if (st == CN_OK) {
        cn_conv_args a = {0};
        a.x = &cat;
        a.y = &tr;
        st = unit_conv(m, u, &a, 3);
    }
    cn_tensor_release(m->ctx, &cat);
    if (st == CN_OK)
        st = model_alloc5(m, &mt, N, 64, 1, h, w);
    if (st == CN_OK)
        st = ENQ(m, cn_mean_axes(m->ctx, &tr, 2, 3, &mt));
    cn_tensor_release(m->ctx, &tr);
    if (st == CN_OK && prev)
        st = ENQ(m, cn_resize_bilinear(m->ctx, prev, &mt, 1));
    if (st == CN_OK)
        st = unit_find(m, &u, "dec.%d.gen.conv", k);
    if (st == CN_OK)
        st = model_alloc5(m, g, N, 64, 1, h, w);
    if (st == CN_OK) {
        cn_conv_args a = {0};
        a.x = &mt;
        a.y = g;
        a.pad[1] = a.pad[2] = 1;
        st = unit_conv(m, u, &a, 3);
    }
    cn_tensor_release(m->ctx, &mt);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, g);
    return st;
}

/* Scales and shifts the head so the logits have mean 0 and std head_std. */
static int calib_head(cn_model *m, cn_unit *u, const cn_tensor *g, cn_tensor *z)
{
    cn_conv_args a = {0};
    a.x = g;
    a.y = z;
    a.pad[1] = a.pad[2] = 1;
    CN_TRY(unit_conv_raw(m, u, &a, 3));
    double mean, var;
    CN_TRY(calib_moments(m, z, &mean, &var));
    double s = m->head_std / fmax(sqrt(var), 1e-12);
    cn_weight *w, *b;
    CN_TRY(cn_weights_find(m->cal, &w, "dec.1.head.weight"));
    CN_TRY(cn_weights_find(m->cal, &b, "dec.1.head.bias"));
    for (int64_t j = 0; j < w->numel; j++)
        w->data[j] = (float)(w->data[j] * s);
    b->data[0] = (float)(-mean * s);
    u->calibrated = 1;
    return unit_upload(m, u, m->cal);
}

int model_decoder(cn_model *m, cn_tensor F[4], int H, int W, cn_tensor *sal)
{
    cn_tensor prev = {0}, g = {0}, z = {0}, zr = {0};
    int st = CN_OK;
    static const char *dec_g[4] = {"decoder.1", "decoder.2", "decoder.3", "decoder.4"};
    for (int k = 4; st == CN_OK && k >= 1; k--) {
        model_group(m, MOD_DEC, dec_g[k - 1]);
        st = dec_block(m, k, &F[k - 1], k < 4 ? &prev : NULL, &g);
        cn_tensor_release(m->ctx, &F[k - 1]); /* nothing reads F_k after its block */
        cn_tensor_release(m->ctx, &prev);
        prev = g;
        g = (cn_tensor){0};
    }
    cn_unit *u = NULL;
    int64_t N = prev.shape[0];
    if (st == CN_OK)
        st = unit_find(m, &u, "dec.1.head");
    if (st == CN_OK)
        st = model_alloc5(m, &z, N, 1, 1, prev.shape[3], prev.shape[4]);
    if (st == CN_OK && m->cal && !u->calibrated)
        st = calib_head(m, u, &prev, &z);
    if (st == CN_OK) {
        cn_conv_args a = {0};
        a.x = &prev;
        a.y = &z;
        a.pad[1] = a.pad[2] = 1;
        st = unit_conv(m, u, &a, 3);
    }
    cn_tensor_release(m->ctx, &prev);
    if (st == CN_OK)
        st = model_alloc5(m, &zr, N, 1, 1, H, W);
    if (st == CN_OK)
        st = ENQ(m, cn_resize_bilinear(m->ctx, &z, &zr, 0));
    cn_tensor_release(m->ctx, &z);
    int64_t s4[4] = {N, 1, H, W};
    if (st == CN_OK)
        st = model_alloc(m, sal, 4, s4);
    if (st == CN_OK) {
        cn_tensor zr4 = zr;
        st = cn_tensor_reshape(&zr4, 4, s4);
        if (st == CN_OK)
            st = ENQ(m, cn_sigmoid(m->ctx, &zr4, sal));
    }
    cn_tensor_release(m->ctx, &zr);
    return st;
}
